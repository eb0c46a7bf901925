"""Backups: verified online copies, rotation, the list, disk full, locks, one-line reports."""
import hashlib
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.sqlite import verification
from r2w_db.maintenance import backups
from r2w_db.monitor.store import MonitorStore

from .lockhelpers import BUSY_S, SLACK_S, held

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.delenv("R2W_BACKUP_DIR", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def filled(path, rows=3000, blob=300):
    """A WAL database at the current schema with `rows` sessions and as many uploads."""
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, 'u', ?)",
                         [(f"s{i}", timeutil.now_iso()) for i in range(rows)])
        conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date, cv_data) VALUES (?, 'u', ?, 'f', 't', ?, ?)",
                         [(f"u{i}", f"j{i}", timeutil.now_iso(), "x" * blob) for i in range(rows)])
    conn.close()
    return path


def count(path, table="sessions"):
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def leftovers(folder):
    return sorted(p.name for p in Path(folder).iterdir() if p.name.startswith(".") or "partial" in p.name
                  or p.name.endswith(("-journal", "-wal", "-shm")))


# ------------------------------------------------------------------ take one

@pytest.mark.parametrize("method", backups.METHODS)
def test_backup_is_verified_named_and_self_contained(tmp_path, method):
    db = filled(tmp_path / "resume2website.db")
    taken = backups.create_backup(db, tmp_path / "b", method=method, monitor=MonitorStore())
    path = Path(taken["path"])
    assert re.fullmatch(r"resume2website-\d{8}T\d{6}Z\.db", path.name)
    assert taken["verified"] and taken["size"] == path.stat().st_size
    assert count(path) == 3000 and count(path, "cv_uploads") == 3000
    assert path.read_bytes()[18:20] == b"\x01\x01"        # rollback journal: no -wal needed
    assert leftovers(tmp_path / "b") == []
    [listed] = backups.list_backups(tmp_path / "b", monitor=MonitorStore())
    assert (listed.name, listed.verified, listed.kind) == (path.name, True, "backup")
    assert 0 <= listed.age_seconds < 120


def test_default_folder_is_beside_the_monitor_db(tmp_path, monkeypatch):
    db = filled(tmp_path / "x.db", rows=10)
    taken = backups.create_backup(db)
    assert Path(taken["path"]).parent == tmp_path / "backups" / backups.folder_of(db)
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "elsewhere"))
    assert Path(backups.create_backup(db)["path"]).parent.parent == tmp_path / "elsewhere"


def test_two_databases_with_the_same_file_name_keep_their_backups_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    (tmp_path / "prod").mkdir()
    (tmp_path / "staging").mkdir()
    prod = filled(tmp_path / "prod" / "resume2website.db", rows=10)
    staging = filled(tmp_path / "staging" / "resume2website.db", rows=20)
    for _ in range(3):
        backups.create_backup(prod, keep=2)
    backups.create_backup(staging, keep=2)
    assert backups.folder_of(prod) != backups.folder_of(staging)
    assert len(backups.list_backups(db=prod)) == 2      # rotation never counted staging's
    assert len(backups.list_backups(db=staging)) == 1
    assert {Path(b.path).parent for b in backups.list_backups(db=staging)} == {
        tmp_path / "backups" / backups.folder_of(staging)}


def test_backup_while_the_application_writes_holds_everything_committed_before(tmp_path):
    db = filled(tmp_path / "live.db", rows=20000)
    stop, errors_seen, committed = threading.Event(), [], []

    def writer():
        conn = sqlite3.connect(db, timeout=5)
        i = 0
        while not stop.is_set():
            try:
                conn.execute("INSERT INTO sessions VALUES (?, 'w', ?)", (f"w{i}", timeutil.now_iso()))
                conn.commit()
                committed.append(f"w{i}")
            except sqlite3.Error as exc:
                errors_seen.append(str(exc))
            i += 1
            time.sleep(0.001)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.1)
        before = set(committed)
        taken = backups.create_backup(db, tmp_path / "b")
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert errors_seen == []
    conn = sqlite3.connect(taken["path"])
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copied = {r[0] for r in conn.execute("SELECT session_id FROM sessions WHERE user_id = 'w'")}
    assert conn.execute("SELECT count(*) FROM sessions WHERE user_id = 'u'").fetchone()[0] == 20000
    conn.close()
    assert before and before <= copied


# ------------------------------------------------------------- rotate, list

def test_rotation_keeps_the_newest(tmp_path):
    db = filled(tmp_path / "r.db", rows=10)
    dest = tmp_path / "b"
    taken = [backups.create_backup(db, dest, keep=3)["path"] for _ in range(6)]
    (dest / "other-20200101T000000Z.db").write_bytes(Path(taken[-1]).read_bytes())  # another database
    pre = dest / "r-pre-restore-20200101T000000Z.db"
    pre.write_bytes(Path(taken[-1]).read_bytes())
    backups.create_backup(db, dest, keep=3)
    names = [b.name for b in backups.list_backups(dest, stem="r") if b.kind == "backup"]
    assert len(names) == 3 and Path(taken[-1]).name in names and Path(taken[0]).name not in names
    assert pre.exists() and (dest / "other-20200101T000000Z.db").exists()
    with pytest.raises(Exception):
        backups.create_backup(db, dest, keep=0)


def test_list_reports_verification(tmp_path):
    db = filled(tmp_path / "l.db", rows=10)
    dest = tmp_path / "b"
    store = MonitorStore()
    good = Path(backups.create_backup(db, dest, monitor=store)["path"])
    copied = dest / "l-20200101T000000Z.db"
    copied.write_bytes(good.read_bytes())
    broken = dest / "l-20190101T000000Z.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 4000)
    (dest / "notes.txt").write_text("ignored")
    status = {b.name: b.verified for b in backups.list_backups(dest, monitor=store)}
    assert status == {good.name: True, copied.name: None, broken.name: None}
    status = {b.name: b.verified for b in backups.list_backups(dest, verify=True, monitor=store)}
    assert status == {good.name: True, copied.name: True, broken.name: False}
    with open(copied, "ab") as f:   # changed since its verification: unknown again
        f.write(b"\x00" * 10)
    assert {b.name: b.verified for b in backups.list_backups(dest, monitor=store)}[copied.name] is None


# ----------------------------------------------------------------- failures

def test_dest_that_is_a_file_is_one_line(tmp_path):
    db = filled(tmp_path / "f.db", rows=10)
    (tmp_path / "file").write_text("x")
    with pytest.raises(backups.BackupFailed) as caught:
        backups.create_backup(db, tmp_path / "file")
    assert "not a folder" in str(caught.value) and "\n" not in str(caught.value)


def test_disk_full_removes_the_partial_copy(tmp_path):
    db = filled(tmp_path / "full.db", rows=4000, blob=600)
    assert db.stat().st_size > 2_000_000
    digest = sha(db)
    dest = tmp_path / "b"
    dest.mkdir()
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (600_000, resource.RLIM_INFINITY))
        from r2w_db.cli.main import main
        sys.exit(main(["--db", {str(db)!r}, "backup", "--dest", {str(dest)!r}]))
    """)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr
    assert "disk full" in lines[0] and "partial copy was removed" in lines[0], lines[0]
    assert list(dest.iterdir()) == []
    assert sha(db) == digest and count(db) == 4000
    entry = MonitorStore().recent_log()[0]
    assert (entry["task"], entry["outcome"]) == ("backup", "failed") and "disk full" in entry["error"]


def test_not_enough_free_disk_is_refused_first(tmp_path, monkeypatch):
    db = filled(tmp_path / "d.db", rows=10)
    monkeypatch.setattr(backups, "disk_free", lambda folder: 10)
    with pytest.raises(backups.BackupFailed) as caught:
        backups.create_backup(db, tmp_path / "b")
    assert "not enough free disk" in str(caught.value)
    assert list((tmp_path / "b").iterdir()) == []


# ------------------------------------------------- a lock held by another process

@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["exclusive", "wal-exclusive"])
@pytest.mark.parametrize("method", backups.METHODS)
def test_backup_gives_up_within_the_busy_timeout(tmp_path, kind, method):
    db = filled(tmp_path / "locked.db", rows=50)
    dest = tmp_path / "b"
    with held(db, kind):
        started = time.monotonic()
        with pytest.raises(backups.BackupFailed) as caught:
            backups.create_backup(db, dest, method=method)
        elapsed = time.monotonic() - started
    assert isinstance(caught.value, errors.DatabaseLocked)
    message = str(caught.value)
    assert "locked by another process" in message and "\n" not in message
    assert BUSY_S * 0.9 <= elapsed < BUSY_S + SLACK_S, elapsed   # waited the timeout, no more
    assert list(dest.iterdir()) == []          # no partial copy left


@pytest.mark.timeout(30)
@pytest.mark.parametrize("method", backups.METHODS)
def test_a_wal_writer_mid_transaction_does_not_block_a_backup(tmp_path, method):
    db = filled(tmp_path / "w.db", rows=50)
    with held(db, "wal-writer"):
        started = time.monotonic()
        taken = backups.create_backup(db, tmp_path / "b", method=method)
        assert time.monotonic() - started < 2
    assert count(taken["path"]) == 50     # the writer's uncommitted row is not in the copy


@pytest.mark.timeout(30)
def test_the_backup_step_itself_is_bounded(tmp_path):
    """Python's Connection.backup retries a BUSY step for ever; the guard ends it."""
    db = filled(tmp_path / "s.db", rows=10)
    src = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0)  # no busy wait, no read txn
    dst = sqlite3.connect(tmp_path / "out.db")
    try:
        with held(db, "exclusive"):
            started = time.monotonic()
            with pytest.raises(errors.DatabaseLocked):
                verification.backup_step(src, dst, db, timeout_ms=800)
            assert 0.7 <= time.monotonic() - started < 5
    finally:
        src.close()
        dst.close()


# ------------------------------------------------------------- one-line reports

def scribble(path, pages=(0.3, 0.6), byte=b"\x07"):
    """Overwrite the pages in a fraction range of the file (the header left intact)."""
    size = Path(path).stat().st_size
    page = 4096
    first, last = int(size * pages[0]) // page, int(size * pages[1]) // page
    with open(path, "r+b") as f:
        for n in range(max(first, 1), max(last, 2)):
            f.seek(n * page + 16)
            f.write(byte * 200)


@pytest.mark.parametrize("pages", [(0.1, 0.2), (0.45, 0.55), (0.3, 0.9)])
def test_integrity_failures_are_one_line_with_a_count(tmp_path, pages):
    db = filled(tmp_path / "d.db", rows=3000)
    copy = tmp_path / "copy.db"
    shutil.copy(db, copy)
    scribble(copy, pages)
    ok, message = verification.verify_file(copy)
    assert not ok and "\n" not in message
    assert re.search(r"integrity_check failed: (1 problem: |(at least )?\d+ problems, first: )",
                     message), message


def test_integrity_summary_folds_multi_line_rows():
    rows = [("*** in database main ***\nPage 5: btreeInitPage() returns error code 11\n"
             "Page 6: btreeInitPage() returns error code 11"), "row 3 missing from index i"]
    assert verification.integrity_summary(rows) == (
        "integrity_check failed: 3 problems, first: Page 5: btreeInitPage() returns error code 11")
    assert verification.integrity_summary(["ok"]) is None
    assert verification.integrity_summary(["x"] * 100).startswith(
        "integrity_check failed: at least 100 problems")
    assert verification.integrity_summary(["*** in database main ***\n" + "\n".join(
        ["x"] * 100)]).startswith("integrity_check failed: at least 100 problems")   # one row


def test_a_killed_backup_leaves_no_backup(tmp_path):
    db = filled(tmp_path / "big.db", rows=30000, blob=400)
    dest = tmp_path / "b"
    script = f"from r2w_db.maintenance.backups import create_backup; create_backup({str(db)!r}, {str(dest)!r})"
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    deadline = time.time() + 20
    while time.time() < deadline and not (dest.exists() and any(dest.iterdir())):
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for b in backups.list_backups(dest):   # whatever got its final name is complete and sound
        assert verification.verify_file(b.path)[0]
    # the temporary copy is only a dot-file, never listed, and swept once it is old
