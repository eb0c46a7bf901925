"""Maintenance tasks: exact counts, previews that write nothing, the log, live writers, kills."""
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from r2w_db import errors
from r2w_db.app import anonymous, sessions
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.sqlite import tasks as sqlite_tasks
from r2w_db.maintenance import registry, runner
from r2w_db.monitor.store import MonitorStore

from .lockhelpers import held, within_busy_timeout

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.delenv("DATABASE_URL", raising=False)


def digest(path):
    """The database file and its WAL, byte for byte (a reader may create an empty WAL)."""
    h = hashlib.sha256()
    for p in (Path(path), Path(str(path) + "-wal")):
        h.update(p.read_bytes() if p.exists() else b"")
        h.update(b"|")
    return h.hexdigest()


def ids(path, table, column):
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute(f"SELECT {column} FROM {table}")}
    finally:
        conn.close()


def log(task=None):
    entries = MonitorStore().recent_log()
    return [e for e in entries if task is None or e["task"] == task]


def iso_ago(**delta):
    return timeutil.iso(timeutil.utcnow() - timedelta(**delta))


# ------------------------------------------------------------------ exact counts

def test_previews_count_exactly(prod_db):
    path, _, _ = prod_db
    assert registry.preview(path, "sessions").count == 2           # s2, s5 (+02:00)
    assert registry.preview(path, "sessions", days=30).count == 0
    assert registry.preview(path, "cache").count == 1              # h6: 50 days, never reused
    assert registry.preview(path, "cache", days=60).count == 0     # h7 is older but reused
    anon = registry.preview(path, "anonymous")
    assert (anon.count, anon.details["uploads"]) == (1, 1)            # anonymous_aaa only
    assert registry.preview(path, "anonymous", days=50).count == 0
    assert registry.preview(path, "sessions").message == (
        "2 sessions older than 7 days would be deleted, signing 2 distinct users out "
        "(the application never expires sessions itself)")


def test_the_sessions_preview_counts_the_distinct_users_signed_out(db_path):
    """The application never expires sessions: each user with an old session is signed out."""
    rows = [("a1", "alice", iso_ago(days=8)), ("a2", "alice", iso_ago(days=30)),
            ("a3", "alice", iso_ago(days=1)),                 # alice keeps a newer one
            ("b1", "bob", iso_ago(days=9).replace("T", " ")),  # a space: still an instant
            ("c1", "carol", iso_ago(days=6, hours=23)),        # not old yet
            ("d1", "dave", iso_ago(days=7, minutes=5) + "Z"),
            ("e1", "erin", "not a time")]                      # never counted as old
    conn = sqlite3.connect(db_path)
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, ?, ?)", rows)
    conn.close()
    pv = registry.preview(db_path, "sessions")
    assert (pv.count, pv.details["users"]) == (4, 3)               # alice, bob, dave
    assert "4 sessions older than 7 days would be deleted, signing 3 distinct users out" in pv.message
    assert sessions.count_users_signed_out(db_path, 20) == 1      # alice's 30-day-old one
    assert sessions.count_users_signed_out(db_path, 60) == 0
    assert runner.run(db_path, "sessions", user="t").rows == 4
    assert sessions.count_users_signed_out(db_path) == 0


def test_every_dry_run_and_preview_writes_nothing(prod_db, tmp_path):
    path, _, _ = prod_db
    before = digest(path)
    for name in registry.TASKS:
        registry.preview(path, name)
        result = runner.run(path, name, dry_run=True, user="t")
        assert result.dry_run and result.outcome == "dry-run" and result.log_id is None
    assert digest(path) == before
    assert not list((tmp_path / "backups").rglob("*")) if (tmp_path / "backups").exists() else True
    assert log() == []   # previews are not runs: nothing logged


def test_sessions_cleanup(prod_db):
    path, _, _ = prod_db
    result = runner.run(path, "sessions", user="alice")
    assert (result.outcome, result.rows, result.previewed) == ("ok", 2, 2)
    assert ids(path, "sessions", "session_id") == {"s1", "s3", "s4", "s6",
                                                   "sess-secret-0f6c2f4e-bearer-token"}
    [entry] = log("sessions")
    assert (entry["user"], entry["outcome"], entry["rows"], entry["previewed"]) == ("alice", "ok", 2, 2)
    assert json.loads(entry["parameters"]) == {"days": 7, "backup_first": False}
    assert entry["finished_at"] and entry["seconds"] >= 0 and entry["error"] is None
    assert MonitorStore().last_success("sessions", database=path)["id"] == entry["id"]


def test_cache_cleanup(prod_db):
    path, _, _ = prod_db
    result = runner.run(path, "cache", user="alice")
    assert (result.outcome, result.rows) == ("ok", 1)
    assert f"{6:064x}" not in ids(path, "cv_extraction_cache", "file_hash")
    assert f"{7:064x}" in ids(path, "cv_extraction_cache", "file_hash")


def test_anonymous_cleanup(prod_db):
    path, _, _ = prod_db
    result = runner.run(path, "anonymous", user="alice")
    assert (result.outcome, result.rows, result.details["ids"]) == ("ok", 1, 1)
    assert ids(path, "cv_uploads", "upload_id") == {f"up{i}" for i in range(1, 11)} - {"up2"}


def test_anonymous_is_literal_whole_ids_and_provably_old(db_path):
    old, new = iso_ago(days=40), iso_ago(days=1)
    rows = [("anonymous_mixed", old), ("anonymous_mixed", new),      # one recent upload: kept
            ("anonymous_odd", old), ("anonymous_odd", "last week"),  # unreadable date: kept
            ("anonymous_gone", old), ("anonymous_gone", iso_ago(days=90)),
            ("anonymousXgone", old),                                 # '_' is not a wildcard
            ("Anonymous_gone", old),                                 # case-sensitive
            ("registered", old)]
    conn = sqlite3.connect(db_path)
    with conn:
        conn.executemany(
            "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date)"
            " VALUES (?, ?, ?, 'f.pdf', 'application/pdf', ?)",
            [(f"u{i}", user, f"j{i}", date) for i, (user, date) in enumerate(rows)])
    conn.close()
    assert anonymous.count_stale(db_path, 30) == (1, 2)
    result = runner.run(db_path, "anonymous", user="t")
    assert (result.rows, result.details["ids"]) == (2, 1)
    assert "anonymous_gone" not in ids(db_path, "cv_uploads", "user_id")
    assert ids(db_path, "cv_uploads", "user_id") == {
        "anonymous_mixed", "anonymous_odd", "anonymousXgone", "Anonymous_gone", "registered"}


@pytest.mark.parametrize("days", [0, -1, "7", True, 1.5])
def test_bad_days_are_refused_before_anything(prod_db, days):
    path, _, _ = prod_db
    with pytest.raises(errors.InvalidValue):
        runner.run(path, "sessions", days=days, user="t")
    with pytest.raises(errors.InvalidValue):
        registry.preview(path, "sessions", days=days)
    with pytest.raises(errors.InvalidValue):
        runner.run(path, "nonsense", user="t")
    assert log() == []


# ------------------------------------------------------------ the SQLite tasks

def wal_db(path, rows=2000):
    """A WAL database at the current schema with `rows` sessions (half expired)."""
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, 'u', ?)",
                         [(f"s{i}", iso_ago(days=30 if i % 2 else 1)) for i in range(rows)])
    conn.close()
    return path


def test_analyze(tmp_path):
    path = wal_db(tmp_path / "a.db")
    result = runner.run(path, "analyze", user="t")
    assert result.outcome == "ok" and set(result.details["tables"]) == {
        "users", "sessions", "cv_uploads", "cv_extraction_cache"}
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM sqlite_stat1").fetchone()[0] > 0
    conn.close()
    assert MonitorStore().last_success("analyze", database=path)


def test_checkpoint_truncates_the_wal(tmp_path):
    path = wal_db(tmp_path / "c.db")
    keeper = sqlite3.connect(path)  # keeps the WAL from being removed at close
    keeper.execute("PRAGMA wal_autocheckpoint = 0")
    with keeper:
        keeper.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                       " VALUES ('x', 'x@e', 'h', '2026-01-01')")
    assert Path(str(path) + "-wal").stat().st_size > 0
    result = runner.run(path, "checkpoint", user="t")
    keeper.close()
    assert result.outcome == "ok" and result.details["truncated"]
    assert result.details["wal_after"] == 0 and result.bytes_reclaimed > 0


def test_checkpoint_waits_only_briefly_for_a_reader(tmp_path):
    path = wal_db(tmp_path / "c.db")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM sessions").fetchone()   # holds a snapshot
    writer.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                   " VALUES ('x', 'x@e', 'h', '2026-01-01')")
    started = time.perf_counter()
    result = runner.run(path, "checkpoint", user="t")
    elapsed = time.perf_counter() - started
    reader.execute("COMMIT")
    reader.close()
    writer.close()
    assert result.outcome == "ok" and not result.details["truncated"]
    assert "not truncated" in result.message
    assert elapsed < 2


def fragmented(path):
    migrations.init(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date, cv_data) VALUES (?, 'u', ?, 'f', 't', ?, ?)",
                         [(f"u{i}", f"j{i}", iso_ago(days=1), "x" * 2000) for i in range(1500)])
    with conn:
        conn.execute("DELETE FROM cv_uploads WHERE rowid % 4 <> 0")
    conn.close()
    return path


def test_vacuum_reclaims_free_pages(tmp_path):
    path = fragmented(tmp_path / "v.db")
    planned = registry.preview(path, "vacuum")
    assert planned.bytes > 1_000_000 and planned.refusal is None
    size_before = path.stat().st_size
    result = runner.run(path, "vacuum", user="t")
    assert result.outcome == "ok" and result.bytes_reclaimed >= planned.bytes * 0.9
    assert path.stat().st_size < size_before - 1_000_000
    assert MonitorStore().last_success("vacuum", database=path)["bytes_reclaimed"] == result.bytes_reclaimed


def test_vacuum_refuses_when_the_disk_is_too_small(tmp_path, monkeypatch):
    path = fragmented(tmp_path / "v.db")
    before = digest(path)
    monkeypatch.setattr(sqlite_tasks.shutil, "disk_usage",
                        lambda folder: type("U", (), {"free": 1000, "total": 10**9, "used": 0})())
    with pytest.raises(registry.Refused) as caught:
        runner.run(path, "vacuum", user="t")
    assert "not enough free disk for VACUUM" in str(caught.value) and "\n" not in str(caught.value)
    assert digest(path) == before
    [entry] = log("vacuum")
    assert entry["outcome"] == "refused" and "not enough free disk" in entry["error"]


def test_integrity_ok_then_damaged(tmp_path):
    path = fragmented(tmp_path / "i.db")
    for quick in (False, True):
        result = runner.run(path, "integrity", quick=quick, user="t")
        assert result.outcome == "ok" and result.details["integrity_ok"]
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'idx_cv_uploads_user_id'").fetchone()[0]
    conn.close()
    with open(path, "r+b") as f:   # scribble over an index page
        f.seek((root - 1) * page_size + 8)
        f.write(b"\x07" * 64)
    with pytest.raises(registry.Failed) as caught:
        runner.run(path, "integrity", user="t")
    assert "\n" not in str(caught.value)
    assert log("integrity")[0]["outcome"] == "failed"
    assert MonitorStore().last_success("integrity", database=path)["id"] != log("integrity")[0]["id"]


def test_a_missing_database_is_one_logged_line(tmp_path):
    with pytest.raises(registry.Failed) as caught:
        runner.run(tmp_path / "nope.db", "sessions", user="t")
    assert "database not found" in str(caught.value)
    assert log("sessions")[0]["outcome"] == "failed"
    with pytest.raises(errors.DatabaseMissing):
        runner.run(tmp_path / "nope.db", "sessions", dry_run=True)


# ------------------------------------------------- backup first, refusals, stops

def test_backup_first(prod_db, tmp_path):
    path, _, _ = prod_db
    result = runner.run(path, "sessions", user="t", backup_first=True)
    copy = Path(result.backup)
    assert copy.parent.parent == tmp_path / "backups" and copy.exists()
    assert len(ids(copy, "sessions", "session_id")) == 7 and len(ids(path, "sessions", "session_id")) == 5
    assert log("sessions")[0]["backup"] == str(copy)
    assert log("backup")[0]["outcome"] == "ok"    # the overview sees the backup


def test_backup_first_failure_changes_nothing(prod_db, tmp_path):
    path, _, _ = prod_db
    (tmp_path / "afile").write_text("not a folder")
    before = digest(path)
    with pytest.raises(registry.Failed) as caught:
        runner.run(path, "sessions", user="t", backup_first=True, dest=tmp_path / "afile")
    assert "backup first failed, nothing was changed" in str(caught.value)
    assert digest(path) == before
    assert log("sessions")[0]["outcome"] == "failed" and log("backup")[0]["outcome"] == "failed"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["backup first", "preview"])
def test_a_lock_held_by_another_process_ends_the_run_within_the_busy_timeout(prod_db, monkeypatch,
                                                                             where):
    path, _, _ = prod_db
    if where == "backup first":   # the preview ran before the lock was taken
        previewed = registry.preview(path, "sessions")
        monkeypatch.setattr(runner, "preview", lambda *a, **k: previewed)
    with held(path, "exclusive"):
        started = time.monotonic()
        with pytest.raises(registry.Failed) as caught:
            runner.run(path, "sessions", user="t", backup_first=True)
        elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "locked by another process" in message and "\n" not in message
    assert within_busy_timeout(elapsed), elapsed
    if where == "backup first":
        assert message.startswith("backup first failed, nothing was changed")
        assert log("backup")[0]["outcome"] == "failed"
    assert log("sessions")[0]["outcome"] == "failed"
    assert len(ids(path, "sessions", "session_id")) == 7


def test_a_second_run_of_the_same_task_is_refused(prod_db):
    path, _, _ = prod_db
    store = MonitorStore()
    running = store.log_start(user="other", task="sessions", database=path)   # alive: this process
    with pytest.raises(registry.Refused) as caught:
        runner.run(path, "sessions", user="t")
    assert "already running" in str(caught.value)
    assert len(ids(path, "sessions", "session_id")) == 7
    store.log_finish(running, outcome="ok")
    assert runner.run(path, "sessions", user="t").rows == 2


def test_stop_request_and_interrupt_are_logged_cancelled(tmp_path):
    path = wal_db(tmp_path / "s.db", rows=6000)       # 3,000 expired
    result = runner.run(path, "sessions", user="t", should_stop=lambda: True)
    assert result.outcome == "cancelled" and 0 < result.rows < 3000
    assert log("sessions")[0]["outcome"] == "cancelled"

    def interrupt(fraction, message):
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        runner.run(path, "sessions", user="t", progress=interrupt)
    entry = log("sessions")[0]
    assert entry["outcome"] == "cancelled" and entry["rows"] > 0
    remaining = registry.preview(path, "sessions").count
    assert remaining == 3000 - result.rows - entry["rows"]
    assert runner.run(path, "sessions", user="t").rows == remaining


# ---------------------------------------------------------- under a live writer

def test_cleanup_while_a_writer_inserts(tmp_path, real_busy_timeout):
    path = tmp_path / "w.db"
    migrations.init(path)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, 'u', ?)",
                         [(f"old{i}", iso_ago(days=20)) for i in range(30000)]
                         + [(f"live{i}", iso_ago(days=1)) for i in range(500)])
    conn.close()
    written, failures, worst, stop = [], [], [0.0], threading.Event()

    def writer():
        w = sqlite3.connect(path, timeout=5)
        while not stop.is_set():
            key = f"w{len(written)}"
            t0 = time.perf_counter()
            try:
                w.execute("INSERT INTO sessions VALUES (?, 'u', ?)", (key, timeutil.now_iso()))
                w.commit()
                written.append(key)
            except sqlite3.Error as exc:
                failures.append(str(exc))
            worst[0] = max(worst[0], time.perf_counter() - t0)
            time.sleep(0.002)
        w.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        time.sleep(0.05)
        result = runner.run(path, "sessions", user="t")
        time.sleep(0.05)
    finally:
        stop.set()
        thread.join()
    assert failures == []
    assert result.rows == 30000 and len(written) > 20
    left = ids(path, "sessions", "session_id")
    assert left == {f"live{i}" for i in range(500)} | set(written)
    assert worst[0] < 2.0  # sanity only; the timed figure is bench/maintenance.py's


def build_anonymous(path, count, seed=1):
    """`count` stale anonymous ids with 1-3 uploads each, plus fresh ids and registered uploads."""
    migrations.init(path)
    rnd = random.Random(seed)
    rows, n = [], 0
    for i in range(count):
        for _ in range(rnd.randint(1, 3)):
            rows.append((f"u{n}", f"anonymous_{i:06d}", f"j{n}", iso_ago(days=rnd.randint(31, 200))))
            n += 1
    for i in range(200):
        rows.append((f"u{n}", f"anonymous_fresh{i}", f"j{n}", iso_ago(days=2)))
        n += 1
        rows.append((f"u{n}", f"user{i}", f"j{n}", iso_ago(days=100)))
        n += 1
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    with conn:
        conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date, cv_data) VALUES (?, ?, ?, 'cv.pdf', 'application/pdf', ?, ?)",
                         [(*r, '{"k": "' + "v" * 300 + '"}') for r in rows])
    conn.close()
    return uploads_per_user(path)


def uploads_per_user(path):
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT user_id, count(*) FROM cv_uploads GROUP BY user_id"))
    finally:
        conn.close()


def kill_midway(path, original):
    """Start `maintain anonymous --yes`, wait for its first commit, SIGKILL it a random moment later."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.Popen([sys.executable, "-m", "r2w_db", "--db", str(path), "maintain",
                             "anonymous", "--yes"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = len(uploads_per_user(path))
    deadline = time.time() + 20
    while time.time() < deadline and len(uploads_per_user(path)) == before and proc.poll() is None:
        time.sleep(0.005)
    time.sleep(random.uniform(0.0, 0.1))
    alive = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return alive


def test_kill_midway_leaves_whole_ids(tmp_path):
    path = tmp_path / "k.db"
    original = build_anonymous(path, 6000)
    stale = {u for u in original if u.startswith("anonymous_") and not u.startswith("anonymous_fresh")}
    removed_before = 0
    for _ in range(2):
        assert kill_midway(path, original), "the run ended before the kill"
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.close()
        now = uploads_per_user(path)
        assert {u for u, n in now.items() if n != original[u]} == set()   # every id whole or gone
        assert all(u in now for u in original if u not in stale)          # nothing else touched
        removed = len(stale - set(now))
        assert removed_before < removed < len(stale)                      # killed mid-run
        removed_before = removed
    result = runner.run(path, "anonymous", user="t")
    assert result.details["ids"] == len(stale) - removed_before
    assert set(uploads_per_user(path)) == set(original) - stale
    killed = [e for e in log("anonymous") if e["id"] != result.log_id]
    assert len(killed) == 2
    assert all(e["outcome"] == "failed" and "interrupted" in e["error"] for e in killed)
