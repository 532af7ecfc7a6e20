#!/bin/sh
# Healthcheck of the monitoring services: probe.sh PORT PATH [TEXT]
# Exit 0 when GET http://127.0.0.1:PORT/PATH answers 200 (and its body contains TEXT).
# The official images carry busybox (nc, no bash, no curl); their local stand-ins carry
# bash (no nc): either is used. With PROBE_AUTH_FILE (base64 of user:password, written by
# the service's entrypoint) the request signs in, read from the file by the shell's own
# printf: no secret on a command line.
set -eu
port="$1" path="$2" text="${3:-}"
request() {
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n' "$path"
  if [ -n "${PROBE_AUTH_FILE:-}" ]; then
    read -r auth < "$PROBE_AUTH_FILE" || true  # no newline at the end: status 1, value read
    printf 'Authorization: Basic %s\r\n' "$auth"
  fi
  printf '\r\n'
}
if command -v bash >/dev/null 2>&1; then
  answer="$(request | bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && cat >&3 && cat <&3' probe "$port")"
else
  answer="$(request | nc 127.0.0.1 "$port")"
fi
case "$answer" in
  "HTTP/1."?" 200"*) ;;
  *) echo "GET :$port$path: $(printf '%s' "$answer" | head -n 1)"; exit 1 ;;
esac
[ -z "$text" ] || printf '%s' "$answer" | grep -q "$text" || { echo "no '$text' in :$port$path"; exit 1; }
