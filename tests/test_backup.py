"""Backups: verified online copies, rotation, the list, disk full, restore."""
import hashlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from r2w_db.engine import migrations, timeutil
from r2w_db.maintenance import backups
from r2w_db.maintenance.restore import restore_file
from r2w_db.monitor.store import MonitorStore

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
    assert Path(taken["path"]).parent == tmp_path / "backups"
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "elsewhere"))
    assert Path(backups.create_backup(db)["path"]).parent == tmp_path / "elsewhere"


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


# ------------------------------------------------------------------ restore

def test_restore_round_trip(tmp_path):
    db = filled(tmp_path / "app.db", rows=500)
    dest = tmp_path / "b"
    taken = backups.create_backup(db, dest)["path"]
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM sessions WHERE rowid % 2 = 0")
    conn.close()
    assert count(db) == 250
    info = restore_file(db, taken, dest=dest)
    assert count(db) == 500 and count(db, "cv_uploads") == 500
    pre = Path(info["pre_restore_backup"])
    assert pre.name.startswith("app-pre-restore-") and count(pre) == 250
    assert not Path(str(db) + "-wal").exists() or Path(str(db) + "-wal").stat().st_size == 0
    assert leftovers(tmp_path) == [] and leftovers(dest) == []
    # the restored file is a working database: a writer can use it again
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO sessions VALUES ('new', 'u', '2026-01-01')")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_restore_never_replays_the_old_wal(tmp_path):
    db = filled(tmp_path / "app.db", rows=100)
    dest = tmp_path / "b"
    taken = backups.create_backup(db, dest)["path"]
    # a writer killed with committed frames still in the WAL (the application crashed)
    script = textwrap.dedent(f"""
        import os, signal, sqlite3
        c = sqlite3.connect({str(db)!r})
        c.execute("PRAGMA wal_autocheckpoint = 0")
        with c:
            c.executemany("INSERT INTO sessions VALUES (?, 'late', '2026-01-01')",
                          [(f"late{{i}}",) for i in range(300)])
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], timeout=30)
    assert Path(str(db) + "-wal").stat().st_size > 0
    info = restore_file(db, taken, dest=dest)
    assert count(db) == 100
    assert count(info["pre_restore_backup"]) == 400       # the crashed writer's rows were saved aside
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM sessions WHERE user_id = 'late'").fetchone()[0] == 0
    conn.close()


def test_restore_refuses_while_the_database_is_open(tmp_path):
    db = filled(tmp_path / "app.db", rows=50)
    taken = backups.create_backup(db, tmp_path / "b")["path"]
    app = sqlite3.connect(db)
    app.execute("SELECT count(*) FROM sessions").fetchone()   # the application has it open
    before = sha(db)
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, taken, dest=tmp_path / "b")
    assert "stop the application" in str(caught.value)
    app.close()
    assert sha(db) == before and leftovers(tmp_path) == []


def test_restore_refuses_a_damaged_backup(tmp_path):
    db = filled(tmp_path / "app.db", rows=50)
    bad = tmp_path / "app-20200101T000000Z.db"
    bad.write_bytes(b"SQLite format 3\x00" + os.urandom(8000))
    before = sha(db)
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, bad, dest=tmp_path / "b")
    assert "not a sound backup" in str(caught.value)
    assert sha(db) == before


def test_restore_into_a_missing_file(tmp_path):
    db = filled(tmp_path / "app.db", rows=50)
    taken = backups.create_backup(db, tmp_path / "b")["path"]
    target = tmp_path / "new" / "app.db"
    info = restore_file(target, taken, dest=tmp_path / "b")
    assert info["pre_restore_backup"] is None and count(target) == 50


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
        assert backups.verify_file(b.path)[0]
    # the temporary copy is only a dot-file, never listed, and swept once it is old
