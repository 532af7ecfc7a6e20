"""The e2e's notification destination: a container on the stack network (alias
alert-webhook) that prints every JSON body Apprise posts (json://alert-webhook:8099/hook),
one line each with its arrival time ("at", Unix seconds), to its log;
tests/e2e/test_alerts.py reads them back with `docker logs`."""

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        try:
            print(json.dumps({"at": time.time(), **json.loads(body)}), flush=True)
        except ValueError:
            print(json.dumps({"at": time.time(), "unparsed": body.decode(errors="replace")}),
                  flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    print("alert-webhook: listening on :8099", file=sys.stderr, flush=True)
    HTTPServer(("0.0.0.0", 8099), Handler).serve_forever()
