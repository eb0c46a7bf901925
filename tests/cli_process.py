"""`python -m r2w_db ARGS` as a real process, without paying Python's start-up each time.

The command-line tests run the command a few hundred times. A fresh interpreter costs about
0.2-0.3 s of CPU before the command does anything (starting Python, importing the package and
its libraries): a fifth of the suite's CPU. Here a small fork server, started once per pytest
process, imports the package and its libraries once (tests/cli_preload.py), and each call
forks a child from it: a process of its own, with its own environment, working directory,
stdin, stdout, stderr, signal handlers and exit status, as `subprocess.run(capture_output=True,
text=True)` gives. What a call cannot tell apart from `python -m r2w_db`: which modules are
already imported (tests of start-up imports run the real interpreter) and its parent process.

    run_cli(args, env=None, cwd=None, input=None, timeout=120, limit_bytes=None)
        -> subprocess.CompletedProcess(args, returncode, stdout, stderr)

`env` is the child's whole environment, as subprocess's is (None: this process's at the call);
`limit_bytes` the largest file the command may write (RLIMIT_FSIZE: a full disk). A fresh
interpreter runs the call instead when it sets a variable the package reads on import
(IMPORT_TIME_ENV) to another value than the server's, when it limits the file size (the
child's output goes to files, and the limit would cut them), or while another call is running
in this process (from a thread).
"""
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = "import tests.cli_process as c; c.serve()"
# read when the package is imported (module constants; tests/test_cli_process.py finds them)
IMPORT_TIME_ENV = ("R2W_BUSY_TIMEOUT_MS", "TZ")
_server, _server_env, _busy = None, None, threading.Lock()


def run_cli(args, env=None, cwd=None, input=None, timeout=120, limit_bytes=None):
    """Run `python -m r2w_db *args`; subprocess.run(capture_output=True, text=True)'s result."""
    command = [sys.executable, "-m", "r2w_db", *map(str, args)]
    env = dict(os.environ if env is None else env)
    cwd = str(cwd or os.getcwd())
    imported_with = _server_env or os.environ
    same_imports = all(env.get(k) == imported_with.get(k) for k in IMPORT_TIME_ENV)
    if not same_imports or limit_bytes is not None or not _busy.acquire(blocking=False):
        return _interpreter(command, env, cwd, input, timeout, limit_bytes)
    try:
        with tempfile.TemporaryDirectory(prefix="r2w-cli-") as folder:
            files = {n: os.path.join(folder, n) for n in ("stdin", "stdout", "stderr")}
            Path(files["stdin"]).write_text(input or "", encoding="utf-8")
            code = _forked(dict(args=command[3:], env=env, cwd=cwd, files=files), timeout,
                           command)
            out, err = (Path(files[n]).read_text(encoding="utf-8") for n in ("stdout", "stderr"))
        return subprocess.CompletedProcess(command, code, out, err)
    finally:
        _busy.release()


def _interpreter(command, env, cwd, input, timeout, limit_bytes):
    """The same in a fresh interpreter (subprocess.run)."""
    def limit():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, resource.RLIM_INFINITY))
    return subprocess.run(command, env=env, cwd=cwd, input=input, timeout=timeout, text=True,
                          capture_output=True, preexec_fn=None if limit_bytes is None else limit)


def _forked(request, timeout, command):
    """Send one request to the fork server; the child's exit status (negative: its signal)."""
    global _server, _server_env
    if _server is None or _server.poll() is not None:
        _server_env = dict(os.environ)
        # unbuffered: select() below must see every byte the server wrote (a buffered
        # reader may already hold the status line that select would wait for)
        _server = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, bufsize=0,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    _server.stdin.write(json.dumps(request).encode() + b"\n")
    pid = int(_server.stdout.readline())
    if not select.select([_server.stdout], [], [], timeout)[0]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:   # it ended meanwhile: its status is on its way
            pass
        _server.stdout.readline()
        raise subprocess.TimeoutExpired(command, timeout)
    return int(_server.stdout.readline())


def serve():
    """The fork server: import everything once, then one forked child per request line."""
    import tests.cli_preload  # noqa: F401  (its import is the point)

    for line in sys.stdin:
        pid = os.fork()
        if pid == 0:
            _command(**json.loads(line))
        print(pid, flush=True)
        print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), flush=True)


def _command(args, env, cwd, files):
    """In the child: become `python -m r2w_db ARGS` and exit with its status."""
    try:
        os.environ.clear()
        os.environ.update(env)
        os.chdir(cwd)
        for fd, name in enumerate(("stdin", "stdout", "stderr")):
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC if fd else os.O_RDONLY
            os.dup2(os.open(files[name], flags, 0o600), fd)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace",
                          closefd=False, buffering=1)
        sys.argv = [str(ROOT / "r2w_db" / "__main__.py"), *args]
        from r2w_db.cli.main import main

        code = main(args)
    except SystemExit as exc:
        code = exc.code
    except BaseException:  # what the interpreter prints for an uncaught exception
        import traceback

        traceback.print_exc()
        code = 1
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:   # a full disk: the interpreter would say so and exit 120
            code = 120
    os._exit(code)
