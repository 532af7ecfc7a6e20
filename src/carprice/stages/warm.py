"""Warm stage processes for local ``dvc repro``: import once, fork per stage.

DVC runs each dvc.yaml stage as its own process, and each one paid about 3 s importing
pandas, scikit-learn, MLflow and MLflow's SQL store before any work: some 30 s of a
50 s ``dvc repro``. So the first stage command starts a small local server that imports
them once. Every stage command then hands it the stage's arguments, environment and
working folder, and its own stdin/stdout/stderr; the server forks a child that runs the
stage exactly as ``python -m carprice.stages.<stage>`` would, and the command exits with
the stage's code.

- Local runs only: in the dvc-runner each stage runs in its own container.
- Private: the socket lives in a 0700 folder of this user, and other users' connections
  are refused. The server computes nothing before forking (OpenMP and BLAS thread pools
  must not exist at fork time).
- Never stale: the socket's name hashes the carprice sources, the installed packages and
  the thread settings it imported with, so edited code starts a new server. An idle
  server exits after IDLE_SECONDS.
- Optional: if the server cannot start or answer, the stage runs in the calling process.
  ``CARPRICE_WARM=0`` turns it off.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import importlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ENV_WARM = "CARPRICE_WARM"
IDLE_SECONDS = 60.0
SOCKET_PATH_MAX = 107  # bytes of an AF_UNIX socket path on Linux
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
START_SECONDS = 60.0  # the imports take 3-5 s; a loaded machine can take several times that
# Environment read when the libraries load (thread pools, locale, time zone), so part of
# the server's identity.
IMPORT_TIME_ENV = ("OMP_", "OPENBLAS_", "MKL_", "PYTHON", "LANG", "LC_", "TZ", "TMPDIR")
# What the stages import, lazily or not. A module missing here only costs its import time.
PRELOAD = ("pandas", "pyarrow.parquet", "sklearn.ensemble", "sklearn.model_selection",
           "sklearn.metrics", "matplotlib", "mlflow", "mlflow.pyfunc", "mlflow.sklearn",
           "mlflow.store.tracking.sqlalchemy_store",
           "mlflow.store.model_registry.sqlalchemy_store")


def enabled(env=os.environ) -> bool:
    return env.get(ENV_WARM, "1").strip().lower() not in {"0", "false", "no", "off"}


def private_dir() -> Path | None:
    """This user's folder for the sockets, or None if it is not private."""
    path = Path(tempfile.gettempdir()) / f"carprice-warm-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if path.is_symlink() or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    return path


def server_key(package: Path | None = None, env=os.environ) -> str:
    """What the server loaded: the interpreter, every carprice source file (path, size,
    mtime), the installed packages' folder and the thread settings."""
    if package is None:
        import carprice

        package = Path(carprice.__file__).parent
    digest = hashlib.sha256(sys.executable.encode())
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    site = Path(sysconfig.get_paths()["purelib"])
    with contextlib.suppress(OSError):
        digest.update(f"{site}:{site.stat().st_mtime_ns}\n".encode())
    for name in sorted(env):
        if name.startswith(IMPORT_TIME_ENV):
            digest.update(f"{name}={env[name]}\n".encode())
    return digest.hexdigest()[:20]


# --- the stage command's side ---------------------------------------------------------

def run(stage: str, flags: list[str]) -> int | None:
    """Run the stage in a warm child; its exit code, or None if no warm server can take it
    (the caller then runs the stage itself)."""
    folder = private_dir() if enabled() else None
    if folder is None:
        return None
    sock_path = folder / f"{server_key()}.sock"
    if len(os.fsencode(sock_path)) > SOCKET_PATH_MAX:  # a very long $TMPDIR
        return None
    conn = _connect(sock_path) or _start_and_connect(sock_path)
    if conn is None:
        return None
    with conn:
        return _hand_over(conn, stage, flags)


def _connect(path: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        return None
    return conn


def _start_and_connect(path: Path) -> socket.socket | None:
    """Start the server (one caller at a time: the others wait on the lock), then connect."""
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn = _connect(path)  # another caller may have started it meanwhile
        if conn is not None:
            return conn
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # left by a server that died: nothing answers on it
        # Its own session and folder, no inherited descriptors: it never holds the caller's
        # pipes or folder open. It imports the same carprice as the caller.
        import carprice

        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(carprice.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
        server = subprocess.Popen(
            [sys.executable, "-m", "carprice.stages.warm", str(path)], env=env, cwd=path.parent,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, close_fds=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline and server.poll() is None:
            conn = _connect(path)
            if conn is not None:
                return conn
            time.sleep(0.05)
        return None


def _hand_over(conn: socket.socket, stage: str, flags: list[str]) -> int | None:
    from carprice.pipeline import StageExit

    request = {"stage": stage, "flags": flags, "cwd": os.getcwd(), "env": dict(os.environ)}
    try:
        socket.send_fds(conn, [b"\0"], [0, 1, 2])
        conn.sendall(json.dumps(request).encode() + b"\n")
        replies = conn.makefile("rb")
        first = replies.readline()
    except OSError:
        return None
    if not first.startswith(b"pid "):  # gone before the stage started: nothing ran
        return None
    child = int(first.split()[1])
    for sig in FORWARDED:  # Ctrl-C reaches the stage (unless this process ignores it)
        if signal.getsignal(sig) != signal.SIG_IGN:
            signal.signal(sig, lambda signum, _frame: os.kill(child, signum))
    last = replies.readline()
    if not last.startswith(b"exit "):
        print(f"error: {stage} failed: its warm process {child} ended without an exit code "
              "(killed?)", file=sys.stderr)
        return int(StageExit.FAILED)
    return int(last.split()[1])


# --- the server's side ------------------------------------------------------------------

def serve(path: Path) -> None:
    for name in PRELOAD:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    from carprice import pipeline

    for stage in pipeline.STAGES:
        importlib.import_module(f"carprice.stages.{stage}")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(path))
    except OSError as exc:  # another server took the name first: it serves
        if exc.errno == errno.EADDRINUSE:
            return
        raise
    os.chmod(path, 0o600)
    listener.listen(16)
    listener.settimeout(IDLE_SECONDS)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reap themselves
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                break
            if _peer_uid(conn) != os.getuid():
                conn.close()
                continue
            if os.fork() == 0:
                code = 1
                try:
                    listener.close()
                    code = _child(conn)
                finally:  # whatever happens, the child never returns to this loop
                    os._exit(code)
            conn.close()
    finally:
        path.unlink(missing_ok=True)
        listener.close()  # callers still in the backlog see EOF and run the stage themselves


def _peer_uid(conn: socket.socket) -> int:
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _child(conn: socket.socket) -> int:
    """In the forked child: become the caller (fds, folder, environment), run the stage.
    Until "pid" is sent nothing has run, and the caller may still run the stage itself."""
    # The defaults of a new process: the stage may run subprocesses, and the caller
    # forwards only the signals it does not ignore itself.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for sig in FORWARDED[1:]:
        signal.signal(sig, signal.SIG_DFL)
    _, fds, _, _ = socket.recv_fds(conn, 1, 3)
    request = json.loads(conn.makefile("rb").readline())
    for target, fd in zip((0, 1, 2), fds, strict=True):
        os.dup2(fd, target)
        os.close(fd)
    sys.stdout.reconfigure(line_buffering=True)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    conn.sendall(f"pid {os.getpid()}\n".encode())
    from carprice import mlflow_env
    from carprice.stages import dvc_run

    sys.argv = [dvc_run.__file__, request["stage"], *request["flags"]]  # MLflow's source tag
    code = 1
    try:
        mlflow_env.apply_client_defaults()  # the caller's environment replaced the server's
        code = dvc_run.run_here(request["stage"], request["flags"])
    except KeyboardInterrupt:  # Ctrl-C, forwarded by the caller
        code = 130
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        with contextlib.suppress(OSError):
            conn.sendall(f"exit {code}\n".encode())
    return code


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
