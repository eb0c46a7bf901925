"""Restore: only a sound backup of this database, read whole; works on a damaged live file;
leaves nothing stray; refused (nothing changed) in every bad state."""
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from r2w_db.engine import schema, timeutil
from r2w_db.backends import migrations
from r2w_db.maintenance import backups, runner
from r2w_db.maintenance.restore import restore_file
from r2w_db.monitor.store import MonitorStore

from .lockhelpers import held, within_busy_timeout

SIDES = ("-wal", "-shm", "-journal")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "b"))
    monkeypatch.delenv("DATABASE_URL", raising=False)


def filled(path, rows=500, mode="wal"):
    """A database at the current schema with `rows` sessions and uploads, in journal `mode`."""
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {mode}")
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, 'u', ?)",
                         [(f"s{i}", timeutil.now_iso()) for i in range(rows)])
        conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date, cv_data) VALUES (?, 'u', ?, 'f.pdf', '.pdf', ?, ?)",
                         [(f"u{i}", f"j{i}", timeutil.now_iso(), "x" * 300) for i in range(rows)])
    conn.close()
    return path


def take(db):
    """A backup the backup log knows (taken through the runner, as cron and the page do)."""
    return runner.run(db, "backup", user="t").backup


def count(path, table="sessions"):
    conn = sqlite3.connect(path)   # the last connection of a WAL file removes its -wal/-shm
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def strays(db):
    """The side files and temporary copies left beside a database file."""
    db = Path(db)
    return sorted(p.name for p in db.parent.iterdir()
                  if p.name.startswith("." + db.name) or p.name in {db.name + s for s in SIDES})


def pre_restores(tmp_path):
    folder = tmp_path / "b"
    return sorted(folder.rglob("*-pre-restore-*")) if folder.exists() else []  # per-db folders


def killed_writer(path, statements, setup=()):
    """A writer that runs `statements` in one transaction and is killed before it ends
    (or, with COMMIT among them, after committing frames that stay in the -wal)."""
    script = textwrap.dedent(f"""
        import os, signal, sqlite3
        c = sqlite3.connect({str(path)!r}, isolation_level=None)
        for s in {list(setup)!r}:
            c.execute(s).fetchall()
        for s in {list(statements)!r}:
            c.execute(s)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    subprocess.run([sys.executable, "-c", script], timeout=60)


WAL_FRAMES = ("PRAGMA wal_autocheckpoint = 0",), (
    "BEGIN", "INSERT INTO sessions SELECT 'late' || session_id, 'late', created_at FROM sessions",
    "COMMIT")


# ------------------------------------------------------------------- the good path

def test_round_trip_saves_the_current_file_aside(tmp_path):
    db = filled(tmp_path / "app.db")
    taken = take(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM sessions WHERE rowid % 2 = 0")
    conn.close()
    info = restore_file(db, taken)
    assert strays(db) == [] and [p for p in (tmp_path / "b").rglob("*") if p.name.startswith(".")] == []
    assert count(db) == 500 and count(db, "cv_uploads") == 500
    pre = Path(info["pre_restore_backup"])
    assert pre.name.startswith("app-pre-restore-") and count(pre) == 250
    assert info["pre_restore_sound"] is True and info["warnings"] == []
    conn = sqlite3.connect(db)   # a working database: the application can write again
    with conn:
        conn.execute("INSERT INTO sessions VALUES ('new', 'u', '2026-01-01')")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def test_the_old_wal_is_never_replayed_and_is_saved_aside(tmp_path):
    db = filled(tmp_path / "app.db", rows=100)
    taken = take(db)
    killed_writer(db, *WAL_FRAMES[1:], setup=WAL_FRAMES[0])   # committed frames left in the -wal
    assert Path(str(db) + "-wal").stat().st_size > 0
    info = restore_file(db, taken)
    assert strays(db) == [] and count(db) == 100
    assert count(info["pre_restore_backup"]) == 200            # the crashed writer's rows, aside
    assert not Path(info["pre_restore_backup"] + "-wal").exists()   # folded into one file


@pytest.mark.parametrize("mode, byte", [("wal", 2), ("delete", 1)])
def test_the_live_file_keeps_its_journal_mode(tmp_path, mode, byte):
    db = filled(tmp_path / "app.db", rows=10, mode=mode)
    restore_file(db, take(db))
    assert Path(db).read_bytes()[18] == byte and strays(db) == []


@pytest.mark.parametrize("folder", [".", "new"])
def test_into_a_missing_file(tmp_path, folder):
    db = filled(tmp_path / "app.db", rows=50)
    taken = take(db)
    target = tmp_path / folder / "app.db"
    if folder == ".":
        for side in ("", *SIDES):
            Path(str(db) + side).unlink(missing_ok=True)
    info = restore_file(target, taken, force=folder != ".")   # another path: not its log
    assert info["pre_restore_backup"] is None and strays(target) == [] and count(target) == 50


def test_a_killed_restores_temporary_copy_is_swept(tmp_path):
    db = filled(tmp_path / "app.db", rows=10)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    left = tmp_path / f".app.db.restore{backups.PARTIAL}{gone}"
    left.write_bytes(b"half a copy")
    restore_file(db, take(db))
    assert not left.exists() and strays(db) == []


# ------------------------------------------------ the backup's -wal, read whole

def test_a_source_with_a_wal_is_restored_whole(tmp_path):
    db = filled(tmp_path / "app.db", rows=20)
    source = filled(tmp_path / "src" / "copy.db", rows=100)
    killed_writer(source, *WAL_FRAMES[1:], setup=WAL_FRAMES[0])
    Path(str(source) + "-shm").unlink()     # as copied from elsewhere: main file and -wal only
    wal = sha(str(source) + "-wal")
    info = restore_file(db, source, force=True)
    assert strays(db) == []
    assert count(db) == 200 and count(db, "cv_uploads") == 100   # the -wal's rows included
    assert sorted(p.name for p in source.parent.iterdir()) == ["copy.db", "copy.db-wal"]
    assert sha(str(source) + "-wal") == wal and info["warnings"]


# ------------------------------------------------ sources that are not a sound backup

def garbage_behind_a_header(path, good):
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(40000))


def first_page_then_garbage(path, good):
    data = Path(good).read_bytes()
    path.write_bytes(data[:4096] + os.urandom(len(data) - 4096))


def pages_scribbled(fraction):
    def build(path, good):
        shutil.copy(good, path)
        size = path.stat().st_size
        with open(path, "r+b") as f:
            for n in range(max(1, int(size * fraction[0]) // 4096), int(size * fraction[1]) // 4096):
                f.seek(n * 4096 + 8)
                f.write(b"\x07" * 300)
    return build


def truncated(path, good):
    data = Path(good).read_bytes()
    path.write_bytes(data[:len(data) // 2])


def plain_text(path, good):
    path.write_text("id,name\n1,alice\n" * 500)


def empty_file(path, good):
    path.write_bytes(b"")


def with_sql(*statements):
    def build(path, good):
        conn = sqlite3.connect(path)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()
    return build


def newer_schema(version):
    def build(path, good):
        shutil.copy(good, path)
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.close()
    return build


BAD_SOURCES = {
    "garbage behind a valid header": (garbage_behind_a_header, "not a sound backup"),
    "a valid first page, then garbage": (first_page_then_garbage, "not a sound backup"),
    "pages scribbled early": (pages_scribbled((0.1, 0.2)), "integrity_check failed"),
    "pages scribbled in the middle": (pages_scribbled((0.45, 0.6)), "integrity_check failed"),
    "pages scribbled late": (pages_scribbled((0.8, 0.95)), "integrity_check failed"),
    "truncated": (truncated, "not a sound backup"),
    "not SQLite at all": (plain_text, "not a sound backup"),
    "an empty file": (empty_file, "lacks the documented table(s) users, sessions"),
    "another application's database": (with_sql("CREATE TABLE notes (id, body)"),
                                       "lacks the documented table(s)"),
    "only the users table": (with_sql(schema.TABLES["users"]),
                             "lacks the documented table(s) sessions, cv_uploads"),
    "a view instead of a table": (with_sql(*[schema.TABLES[t] for t in ("users", "cv_uploads",
                                                                         "cv_extraction_cache")],
                                           "CREATE VIEW sessions AS SELECT 1 AS session_id"),
                                  "lacks the documented table(s) sessions"),
    "a newer schema": (newer_schema(99), "schema version 99 is not one this r2w_db knows"),
    "a negative schema version": (newer_schema(-1), "schema version -1"),
}


@pytest.mark.parametrize("case", BAD_SOURCES)
def test_what_is_not_a_sound_backup_is_refused_even_with_force(tmp_path, case):
    build, fragment = BAD_SOURCES[case]
    db = filled(tmp_path / "app.db", rows=3000)
    good = take(db)
    bad = tmp_path / "src" / "bad.db"
    bad.parent.mkdir()
    build(bad, good)
    before, beside = sha(db), strays(db)
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, bad, force=True)
    message = str(caught.value)
    assert fragment in message and "nothing was changed" in message and "\n" not in message
    assert sha(db) == before and strays(db) == beside and pre_restores(tmp_path) == []


def test_an_older_documented_schema_needs_force_then_migrate(tmp_path):
    db = tmp_path / "app.db"
    conn = sqlite3.connect(db)     # the documented tables, before migration 6 added its indexes
    for ddl in schema.TABLES.values():
        conn.execute(ddl)
    conn.execute("INSERT INTO sessions VALUES ('old', 'u', '2026-01-01')")
    conn.commit()
    conn.close()
    taken = take(db)
    migrations.migrate(db)
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, taken)
    assert "older state of the documented one" in str(caught.value) and "--force" in str(caught.value)
    info = restore_file(db, taken, force=True)
    assert any("run migrate" in w for w in info["warnings"]) and count(db) == 1


# ------------------------------------------------------------- the backup log

def test_a_file_the_backup_log_does_not_know_needs_force(tmp_path):
    db = filled(tmp_path / "app.db", rows=30)
    copied = tmp_path / "elsewhere.db"
    shutil.copy(take(db), copied)
    before = sha(db)
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, copied)
    assert "not in the backup log" in str(caught.value) and "--force" in str(caught.value)
    assert sha(db) == before and pre_restores(tmp_path) == []
    result = runner.restore(db, copied, user="t", force=True)
    assert result.outcome == "ok" and "warning: restored with --force" in result.message


def test_a_backup_of_another_database_needs_force(tmp_path):
    other = filled(tmp_path / "other" / "app.db", rows=7)
    db = filled(tmp_path / "app.db", rows=30)
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, take(other))
    assert "not in the backup log as a backup of" in str(caught.value) and count(db) == 30


def test_a_backup_changed_since_it_was_taken_needs_force(tmp_path):
    db = filled(tmp_path / "app.db", rows=30)
    taken = take(db)
    conn = sqlite3.connect(taken)
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, 'x', '2026-01-01')",
                         [(f"x{i}",) for i in range(200)])
    conn.close()
    with pytest.raises(backups.RestoreRefused) as caught:
        restore_file(db, taken)
    assert "changed since it was taken" in str(caught.value) and count(db) == 30


def test_a_pre_restore_copy_is_known_and_restorable(tmp_path):
    db = filled(tmp_path / "app.db", rows=30)
    taken = take(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM sessions")
    conn.close()
    first = runner.restore(db, taken, user="t")
    assert count(db) == 30
    runner.restore(db, first.backup, user="t")     # undo the restore: no --force needed
    assert count(db) == 0


# -------------------------------------------------------------- the live file in use

@pytest.mark.timeout(30)
@pytest.mark.parametrize("holder", ["this process", "wal-open", "exclusive"])
def test_refused_while_the_database_is_open(tmp_path, holder):
    db = filled(tmp_path / "app.db", rows=50, mode="delete" if holder == "exclusive" else "wal")
    taken = take(db)
    started = time.monotonic()
    if holder == "this process":
        before = sha(db)   # (reading the file later would drop this process's SQLite locks)
        app = sqlite3.connect(db)
        app.execute("SELECT count(*) FROM sessions").fetchone()
        with pytest.raises(backups.RestoreRefused) as caught:
            restore_file(db, taken)
        assert sha(db) == before
        app.close()
    else:
        with held(db, holder):
            before, beside = sha(db), strays(db)
            with pytest.raises(backups.RestoreRefused) as caught:
                restore_file(db, taken)
            assert sha(db) == before and strays(db) == beside
    assert time.monotonic() - started < 10
    assert "stop the application" in str(caught.value) and pre_restores(tmp_path) == []


@pytest.mark.timeout(30)
def test_a_source_locked_by_another_process_gives_up_within_the_busy_timeout(tmp_path):
    db = filled(tmp_path / "app.db", rows=50)
    source = filled(tmp_path / "src" / "copy.db", rows=5, mode="delete")
    with held(source, "exclusive"):
        started = time.monotonic()
        with pytest.raises(backups.RestoreRefused) as caught:
            restore_file(db, source, force=True)
        assert within_busy_timeout(time.monotonic() - started)
    assert "locked by another process" in str(caught.value) and count(db) == 50
    assert strays(db) == []


# ------------------------------------------------------ a damaged live file

def header_trashed(path):
    with open(path, "r+b") as f:
        f.write(os.urandom(100))


def middle_trashed(path):
    size = Path(path).stat().st_size
    with open(path, "r+b") as f:
        f.seek(size // 3)
        f.write(os.urandom(size // 3))


def cut_short(path):
    os.truncate(path, Path(path).stat().st_size // 3)


def zeroed(path):
    Path(path).write_bytes(b"\x00" * Path(path).stat().st_size)


DAMAGE = {"header": header_trashed, "middle pages": middle_trashed, "truncated": cut_short,
          "zero-filled": zeroed}


# (a trashed header with a -wal is not damage: SQLite reads page 1 from the -wal)
@pytest.mark.parametrize("damage, with_wal", [(d, False) for d in DAMAGE] + [
    ("middle pages", True), ("truncated", True), ("zero-filled", True)])
def test_a_damaged_live_file_is_restored_and_kept_aside_as_it_was(tmp_path, damage, with_wal):
    db = filled(tmp_path / "app.db", rows=3000)
    taken = take(db)
    if with_wal:
        killed_writer(db, *WAL_FRAMES[1:], setup=WAL_FRAMES[0])
    DAMAGE[damage](db)
    damaged = {s: sha(str(db) + s) for s in ("", "-wal")
               if Path(str(db) + s).exists() and Path(str(db) + s).stat().st_size}
    assert ("-wal" in damaged) == with_wal
    result = runner.restore(db, taken, user="t")
    assert result.outcome == "ok" and "was damaged and was kept aside" in result.message
    assert strays(db) == [] and count(db) == 3000
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()
    pre = result.backup
    assert result.details["pre_restore_sound"] is False
    assert {s: sha(pre + s) for s in damaged} == damaged     # byte for byte, with its -wal
    listed = {b.name: b for b in backups.list_backups(monitor=MonitorStore(), db=db)}
    assert listed[Path(pre).name].kind == "pre-restore" and listed[Path(pre).name].verified is False


def test_a_hot_journal_is_rolled_back_in_the_copy_set_aside(tmp_path):
    db = filled(tmp_path / "app.db", rows=3000, mode="delete")
    taken = take(db)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM sessions WHERE rowid > 1000")
    conn.close()
    killed_writer(db, ["BEGIN", "DELETE FROM cv_uploads", "DELETE FROM sessions"],
                  setup=["PRAGMA cache_size = 5"])                 # pages spilled to the file
    assert Path(str(db) + "-journal").stat().st_size > 0
    info = restore_file(db, taken)
    assert strays(db) == [] and count(db) == 3000
    pre = info["pre_restore_backup"]
    assert info["pre_restore_sound"] and count(pre) == 1000 and count(pre, "cv_uploads") == 3000
    assert not Path(pre + "-journal").exists()


@pytest.mark.timeout(30)
def test_a_damaged_live_file_still_open_is_refused(tmp_path):
    db = filled(tmp_path / "app.db", rows=100)
    taken = take(db)
    with held(db, "wal-open"):
        header_trashed(db)
        before = sha(db)
        with pytest.raises(backups.RestoreRefused) as caught:
            restore_file(db, taken)
    assert "stop the application" in str(caught.value)
    assert sha(db) == before and pre_restores(tmp_path) == []
