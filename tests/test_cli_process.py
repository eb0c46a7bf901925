"""tests/cli_process.py: a command run from the fork server is what `python -m r2w_db` gives,
and no module reads a setting on import that the server would keep from its own start."""
import json
import os
import re
import subprocess
import sys
import time

import pytest

from r2w_db.backends import migrations
from tests import cli_process
from tests.cli_process import IMPORT_TIME_ENV, ROOT, run_cli

COMMANDS = [
    ("check", "--json"),                           # JSON on stdout, exit 0
    ("health",),                                   # the text report; exit 1 or 2 on an empty file
    ("maintain", "no-such-task"),                  # a usage error: argparse's exit 2
    ("--db", "/nonexistent/r2w.db", "stats"),      # one line on stderr, exit 1
    ("hash-password",),                            # reads stdin (nothing: refused)
]


def interpreter(args, env, cwd):
    return subprocess.run([sys.executable, "-m", "r2w_db", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_the_same_output_and_status_as_a_fresh_interpreter(tmp_path, args):
    db = tmp_path / "r2w.db"
    migrations.init(db)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "HOME": str(tmp_path),
           "PYTHONPATH": str(ROOT)}
    forked, fresh = run_cli(args, env=env, cwd=tmp_path), interpreter(args, env, tmp_path)
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        fresh.returncode, fresh.stdout, fresh.stderr)


def test_environment_directory_and_stdin_are_the_call_s(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "elsewhere.db"))
    (tmp_path / "r2w.db").touch()
    got = run_cli(["--db", "r2w.db", "stats"], cwd=tmp_path, env={**os.environ, "HOME": "/"})
    assert got.returncode == 1 and "r2w.db holds none of the Resume2Website tables" in got.stderr
    typed = run_cli(["hash-password"], input="a long enough password\n" * 2)
    assert typed.returncode == 0 and typed.stdout.startswith("$2b$"), typed.stderr


def test_a_call_past_its_timeout_is_killed(tmp_path):
    db = tmp_path / "r2w.db"
    migrations.init(db)
    env = {**os.environ, "R2W_MONITOR_DB": str(tmp_path / "monitor.db")}
    with pytest.raises(subprocess.TimeoutExpired):
        run_cli(["--db", db, "watch", "--every", "1h", "--no-notify"], env=env, timeout=3)
    assert run_cli(["--db", db, "check"], env=env).returncode == 0   # the server goes on


def test_a_different_import_time_setting_runs_a_fresh_interpreter(tmp_path, monkeypatch):
    db = tmp_path / "r2w.db"
    env = {**os.environ, "R2W_BUSY_TIMEOUT_MS": "soon"}   # refused when a connection opens
    got = run_cli(["--db", db, "init"], env=env)
    assert got.returncode == 1 and "R2W_BUSY_TIMEOUT_MS='soon'" in got.stderr
    assert not db.exists()


SNAPSHOT = """
import importlib, json, pkgutil, r2w_db
found = {}
for info in pkgutil.walk_packages(r2w_db.__path__, "r2w_db."):
    if not info.name.endswith("__main__"):
        for name, value in vars(importlib.import_module(info.name)).items():
            shown = repr(value)
            if isinstance(value, (int, float, str, tuple, frozenset, type(None), BaseException)) \
                    and " at 0x" not in shown:   # not a tuple of functions
                found[f"{info.name}.{name}"] = shown
print(json.dumps(found))
"""


def module_constants(env):
    done = subprocess.run([sys.executable, "-c", SNAPSHOT], cwd=ROOT, env=env, timeout=120,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_only_the_listed_settings_are_read_on_import():
    """Every R2W_ variable the package names, set to another value, changes no module constant,
    except those in IMPORT_TIME_ENV (which the runner compares before forking)."""
    names = set()
    for source in (ROOT / "r2w_db").rglob("*.py"):
        names |= set(re.findall(r"\b(R2W_[A-Z0-9_]*[A-Z0-9])\b", source.read_text()))
    assert len(names) > 10
    base = {k: v for k, v in os.environ.items() if not k.startswith("R2W_")}
    unset = module_constants(base)
    others = module_constants(base | {n: "1234" for n in names - set(IMPORT_TIME_ENV)})
    assert {k for k in unset if unset[k] != others.get(k)} == set()
    listed = module_constants(base | {"R2W_BUSY_TIMEOUT_MS": "1234"})
    assert "r2w_db.backends.sqlite.connection.BUSY_TIMEOUT_MS" in {
        k for k in unset if unset[k] != listed.get(k)}


def test_a_call_from_a_second_thread_runs_alongside(tmp_path):
    """A call made while another runs (a thread) is a fresh interpreter, not a wait."""
    import threading

    db = tmp_path / "r2w.db"
    migrations.init(db)
    env = {**os.environ, "R2W_MONITOR_DB": str(tmp_path / "monitor.db")}
    results = []
    started = time.monotonic()
    slow = threading.Thread(target=lambda: results.append(pytest.raises(
        subprocess.TimeoutExpired, run_cli, ["--db", db, "watch", "--every", "1h"],
        env=env, timeout=8)))
    slow.start()
    while not cli_process._busy.locked():
        time.sleep(0.01)
    assert run_cli(["--db", db, "stats", "--json"], env=env).returncode == 0
    assert time.monotonic() - started < 8   # it did not wait for the watcher's timeout
    slow.join()
    assert results



def test_a_command_that_ends_before_its_pid_is_read_is_answered_at_once(tmp_path, monkeypatch):
    """Both of the server's lines (the pid, the status) already sent when the runner reads the
    first: the second must not be left in a reader's buffer while select() waits for it."""
    run_cli(["--db", tmp_path / "missing.db", "stats"])   # the server is running
    server = cli_process._server

    class Late:   # the runner reads the pid only after the command has ended
        def __init__(self, stream):
            self.stream = stream

        def readline(self):
            time.sleep(0.5)
            return self.stream.readline()

        def fileno(self):
            return self.stream.fileno()

    monkeypatch.setattr(server, "stdout", Late(server.stdout))
    started = time.monotonic()
    got = run_cli(["--db", tmp_path / "missing.db", "stats"], timeout=10)
    assert got.returncode == 1 and got.stderr.startswith("error: database not found")
    assert time.monotonic() - started < 5
