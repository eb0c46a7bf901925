"""Readers never write or create; every failure is one clear error."""
import sqlite3
import threading
from pathlib import Path

import pytest

from r2w_db import Database, errors
from r2w_db.engine import locations
from r2w_db.backends import open_database
from r2w_db.backends.sqlite import journal
from r2w_db.backends.sqlite import connection
from r2w_db.backends.sqlite.connection import transaction
from r2w_db.figures import stats


def test_reader_refuses_to_write(db_path):
    with Database(db_path).read() as conn:
        with pytest.raises(sqlite3.OperationalError):
            conn.execute("INSERT INTO sessions VALUES ('s', 'u', 'x')")


def test_reader_never_creates(tmp_path):
    with pytest.raises(errors.DatabaseMissing, match="not found"):
        with Database(tmp_path / "absent.db").read():
            pass
    assert not (tmp_path / "absent.db").exists()


def test_writer_never_creates_unless_asked(tmp_path):
    with pytest.raises(errors.DatabaseMissing):
        with Database(tmp_path / "absent.db").write():
            pass
    assert not (tmp_path / "absent.db").exists()


@pytest.mark.parametrize("content, error", [
    (b"", errors.EmptyDatabase),
    (b"hello, this is not a database" * 100, errors.NotADatabase),
])
def test_bad_files(tmp_path, content, error):
    path = tmp_path / "bad.db"
    path.write_bytes(content)
    with pytest.raises(error):
        stats.collect_stats(path)
    assert path.read_bytes() == content


def test_directory_is_not_a_database(tmp_path):
    with pytest.raises(errors.NotADatabase):
        stats.collect_stats(tmp_path)


def test_locked_database_is_a_clear_error(prod_db, monkeypatch):
    path, _, _ = prod_db  # rollback journal, as production: an exclusive writer blocks readers
    monkeypatch.setattr(connection, "READ_BUSY_TIMEOUT_MS", 50)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(errors.DatabaseLocked, match="locked"):
            stats.collect_stats(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


@pytest.mark.parametrize("mode", ["delete", "wal"])  # the persistent ones
def test_writers_keep_the_journal_mode_and_set_a_busy_timeout(db_path, mode):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA journal_mode = {mode}")
    conn.close()
    with Database(db_path).write() as conn:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == connection.BUSY_TIMEOUT_MS
        conn.execute("INSERT INTO sessions VALUES ('s', 'u', '2026-01-01')")
    assert journal.mode(open_database(db_path)) == mode


def test_transaction_rolls_back_on_error(db_path):
    with Database(db_path).write() as conn:
        with pytest.raises(ZeroDivisionError):
            with transaction(conn):
                conn.execute("INSERT INTO sessions VALUES ('s', 'u', 'x')")
                1 / 0
        assert conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0


@pytest.mark.parametrize("name, cls", [
    ("SQLITE_BUSY", errors.DatabaseLocked), ("SQLITE_READONLY", errors.DatabaseReadOnly),
    ("SQLITE_FULL", errors.DiskFull), ("SQLITE_IOERR_WRITE", errors.DiskFull),
    ("SQLITE_NOTADB", errors.NotADatabase), ("SQLITE_CANTOPEN", errors.Unreadable),
])
def test_translate(name, cls):
    exc = sqlite3.OperationalError("x")
    exc.sqlite_errorname = name
    assert isinstance(connection.translate(exc, "p.db"), cls)


def test_resolve_db_order(tmp_path):
    assert locations.resolve_db("a.db", {"DATABASE_URL": "b.db"}).path.name == "a.db"
    assert locations.resolve_db(None, {"DATABASE_URL": "sqlite:///tmp/b.db"}).path == Path("tmp/b.db")
    assert locations.resolve_db(None, {"DATABASE_URL": "sqlite:////abs/b.db"}).path == Path("/abs/b.db")
    default = locations.resolve_db(None, {})
    assert default.is_default and default.path == locations.DEFAULT_DB_PATH


def test_readers_in_threads(prod_db):
    path, now, expected = prod_db
    results = []
    threads = [threading.Thread(target=lambda: results.append(stats.collect_stats(path, now=now)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and all(r["uploads"] == results[0]["uploads"] for r in results)
