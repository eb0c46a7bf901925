"""The maintenance commands: maintain, backup, backups, restore (the cron contract)."""
import getpass
import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

from r2w_db.backends import migrations
from r2w_db.monitor.store import MonitorStore

from .lockhelpers import held, within_busy_timeout
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
RESULT_KEYS = {"task", "rows", "dry_run", "seconds", "previewed", "bytes_reclaimed", "outcome",
               "backup", "message", "error"}


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    values = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "R2W_BACKUP_DIR")}
    values |= {"R2W_MONITOR_DB": str(tmp_path / "monitor.db")}
    return values


@pytest.fixture
def db(prod_db):
    path, _, _ = prod_db
    migrations.migrate(path)
    return path


def run(env, *args, stdin=""):
    return run_cli([*map(str, args)], cwd=ROOT, env=env, input=stdin, timeout=120)


def one_line_error(result, fragment):
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def user():
    try:
        return getpass.getuser()
    except Exception:
        return "cli"


def test_dry_run_json_writes_nothing(db, env):
    before = digest(db)
    for task in ("sessions", "cache", "anonymous", "vacuum", "analyze", "checkpoint", "integrity",
                 "backup"):
        result = run(env, "--db", db, "maintain", task, "--dry-run", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        assert RESULT_KEYS <= set(data) and data["task"] == task and data["dry_run"] is True
    assert json.loads(run(env, "--db", db, "maintain", "sessions", "--dry-run", "--json").stdout)["rows"] == 2
    assert digest(db) == before
    assert MonitorStore().recent_log() == []


def test_destructive_needs_yes_without_a_terminal(db, env):
    before = digest(db)
    for task in ("sessions", "cache", "anonymous", "vacuum"):
        one_line_error(run(env, "--db", db, "maintain", task), "--yes")
    assert digest(db) == before


def test_maintain_sessions_json_and_log(db, env):
    result = run(env, "--db", db, "maintain", "sessions", "--yes", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["rows"], data["previewed"], data["dry_run"], data["outcome"]) == (2, 2, False, "ok")
    assert data["seconds"] >= 0 and data["backup"] is None
    [entry] = MonitorStore().recent_log()
    assert (entry["task"], entry["user"], entry["rows"], entry["outcome"]) == ("sessions", user(), 2, "ok")
    again = json.loads(run(env, "--db", db, "maintain", "sessions", "--yes", "--json").stdout)
    assert again["rows"] == 0


def test_backup_first_and_days(db, env, tmp_path):
    result = run(env, "--db", db, "maintain", "anonymous", "--days", "35", "--yes", "--backup-first",
                 "--dest", tmp_path / "b", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] == 1 and Path(data["backup"]).parent == tmp_path / "b"
    assert data["parameters"] == {"days": 35, "backup_first": True}
    human = run(env, "--db", db, "maintain", "cache", "--yes")
    assert human.returncode == 0 and "deleted 1 unused cache entry" in human.stdout


def test_non_destructive_tasks_run_without_yes(db, env):
    for task in ("analyze", "checkpoint", "integrity"):
        result = run(env, "--db", db, "maintain", task, "--json", *(["--quick"] if task == "integrity" else []))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["outcome"] == "ok"


@pytest.mark.parametrize("args, fragment", [
    (("maintain", "sessions", "--days", "0"), "at least 1"),
    (("maintain", "sessions", "--days", "x"), "not a whole number"),
    (("maintain", "nonsense"), "invalid choice"),
])
def test_bad_arguments(db, env, args, fragment):
    result = run(env, "--db", db, *args)
    assert result.returncode == 2 and fragment in result.stderr


def test_missing_database_is_one_line(tmp_path, env):
    one_line_error(run(env, "--db", tmp_path / "nope.db", "maintain", "sessions", "--yes"), "not found")
    one_line_error(run(env, "--db", tmp_path / "nope.db", "backup", "--dest", tmp_path / "b"), "not found")
    one_line_error(run(env, "--db", tmp_path / "nope.db", "maintain", "analyze", "--days", "3"), "no --days")


def test_backup_backups_restore(db, env, tmp_path):
    dest = tmp_path / "b"
    result = run(env, "--db", db, "backup", "--dest", dest, "--keep", "2", "--json")
    assert result.returncode == 0, result.stderr
    first = json.loads(result.stdout)["backup"]
    for _ in range(2):
        assert run(env, "--db", db, "backup", "--dest", dest, "--keep", "2").returncode == 0
    listed = json.loads(run(env, "backups", "--dest", dest, "--json").stdout)["backups"]
    assert len(listed) == 2 and first not in {b["path"] for b in listed}
    assert all(b["verified"] is True for b in listed)
    text = run(env, "backups", "--dest", dest, "--verify")
    assert text.returncode == 0 and "verified" in text.stdout
    newest = listed[0]["path"]

    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM cv_uploads")
    conn.close()
    one_line_error(run(env, "--db", db, "restore", newest), "--yes")
    one_line_error(run(env, "--db", db, "restore", dest / "missing.db", "--yes"), "not found")
    result = run(env, "--db", db, "restore", Path(newest).name, "--dest", dest, "--yes", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outcome"] == "ok" and Path(data["backup"]).name.startswith("prod-pre-restore-")
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM cv_uploads").fetchone()[0] == 10
    conn.close()
    assert [e["task"] for e in MonitorStore().recent_log()][:1] == ["restore"]


def test_backups_verify_fails_on_a_bad_copy(env, tmp_path):
    dest = tmp_path / "b"
    dest.mkdir()
    (dest / "x-20200101T000000Z.db").write_bytes(b"not sqlite at all" * 100)
    one_line_error(run(env, "backups", "--dest", dest, "--verify"), "failed verification")
    assert run(env, "backups", "--dest", tmp_path / "empty").stdout.startswith("no backups")


def test_restore_help_says_stop_the_application(env):
    result = run(env, "restore", "--help")
    text = " ".join(result.stdout.split())
    assert result.returncode == 0 and "STOP THE APPLICATION" in text and "--force" in text


@pytest.mark.timeout(60)
@pytest.mark.parametrize("method", ["backup", "vacuum-into"])
def test_backup_of_a_locked_database_is_one_line_within_the_busy_timeout(db, env, tmp_path, method):
    with held(db, "exclusive"):
        started = time.monotonic()
        result = run(env, "--db", db, "backup", "--dest", tmp_path / "b", "--method", method)
        elapsed = time.monotonic() - started
    one_line_error(result, "locked by another process")
    assert within_busy_timeout(elapsed), elapsed
    assert not (tmp_path / "b").exists() or list((tmp_path / "b").iterdir()) == []


def scribbled_backup(db, env, dest):
    """A logged backup of `db`, then damaged in many places (integrity_check: many problems)."""
    taken = json.loads(run(env, "--db", db, "backup", "--dest", dest, "--json").stdout)["backup"]
    conn = sqlite3.connect(taken)
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    roots = [r[0] for r in conn.execute("SELECT rootpage FROM sqlite_master WHERE type = 'index'")]
    conn.close()
    with open(taken, "r+b") as f:     # every index page scribbled: the schema still reads
        for root in roots:
            f.seek((root - 1) * size + 8)
            f.write(b"\x07" * 64)
    return taken


def test_restore_refusals_are_one_line(db, env, tmp_path):
    dest = tmp_path / "b"
    before = digest(db)
    stranger = tmp_path / "stranger.db"
    taken = json.loads(run(env, "--db", db, "backup", "--dest", dest, "--json").stdout)["backup"]
    stranger.write_bytes(Path(taken).read_bytes())
    one_line_error(run(env, "--db", db, "restore", stranger, "--yes"), "rerun with --force")
    damaged = scribbled_backup(db, env, dest)
    result = run(env, "--db", db, "restore", damaged, "--yes", "--force")
    one_line_error(result, "integrity_check failed: ")
    assert "problems, first: " in result.stderr or "1 problem: " in result.stderr
    assert digest(db) == before
    result = run(env, "--db", db, "restore", stranger, "--dest", dest, "--yes", "--force", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["outcome"] == "ok" and data["details"]["warnings"] and "warning:" in data["message"]


def test_backups_verify_prints_one_line_per_backup(db, env, tmp_path):
    dest = tmp_path / "b"
    scribbled_backup(db, env, dest)
    result = run(env, "backups", "--dest", dest, "--verify")
    assert result.returncode == 1 and len(result.stdout.strip().splitlines()) == 2, result.stdout
    assert "integrity_check failed: " in result.stdout
    one_line_error(result, "failed verification")


def test_backup_of_a_damaged_database_is_one_line(db, env, tmp_path):
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(Path(scribbled_backup(db, env, tmp_path / "b0")).read_bytes())
    result = run(env, "--db", damaged, "backup", "--dest", tmp_path / "b")
    one_line_error(result, "failed verification (integrity_check failed: ")
    assert list((tmp_path / "b").iterdir()) == []
    fifo = tmp_path / "pipe.db"
    os.mkfifo(fifo)
    one_line_error(run(env, "--db", fifo, "backup", "--dest", tmp_path / "b"), "regular file")
