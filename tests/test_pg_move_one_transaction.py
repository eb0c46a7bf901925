"""Issue 22, the move near pg_restore's time: into tables it creates, the move builds their keys
and indexes, verifies every row's checksum and ANALYZEs inside its one load transaction, so a
killed or failed move leaves nothing behind; the snapshot of a rollback-journal file is a copy of
the file under a read lock, in memory when there is room."""
import sqlite3
import threading
import time

import pytest

from r2w_db import errors
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.backends.sqlite import move as sqlite_move
from r2w_db.maintenance import move

from .test_hardening_move import assert_moved_and_checked, killed_move, run_cli
from .test_move import demo, pg_counts  # noqa: F401  (the fixture: a small demo, seed 5)
from .test_pg_speed import changing_before_the_checksums

NOTHING = dict.fromkeys(move.TABLES)


def test_a_move_killed_while_building_its_indexes_leaves_no_table_behind(demo, pg_cluster):
    url = pg_cluster.create_database()
    killed_move(demo, url, "indexes-in-load")   # 2 of the indexes built, inside the load
    assert pg_counts(url) == NOTHING
    again = run_cli("--db", demo, "move", "--to", url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert any(line.startswith("moved") for line in again.stdout.splitlines())
    assert_moved_and_checked(demo, url)


def test_the_indexes_are_valid_and_built_in_the_load_transaction(demo, pg_url):
    report = move.move(demo, pg_url, record=False)
    assert report["outcome"] == "moved" and report["indexes_built"] == len(pg_schema.INDEXES)
    with PgDatabase(pg_url).read() as conn:
        indexes = dict(conn.execute(
            "SELECT ic.relname, i.indisvalid AND i.indisready AND i.indislive FROM pg_index i"
            " JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = ANY(%s::regclass[])",
            (list(move.TABLES),)).fetchall())
        # one transaction wrote the tables, their keys and their indexes into the catalog
        writers = {xmin for (xmin,) in conn.execute(
            "SELECT DISTINCT xmin::text FROM pg_class WHERE relname = ANY(%s)",
            (list(move.TABLES) + list(indexes),))}
    assert set(pg_schema.INDEXES) <= set(indexes) and all(indexes.values()), indexes
    assert len(writers) == 1, writers


def test_index_only_scans_fetch_no_heap_page_after_the_move(demo, pg_url):
    move.move(demo, pg_url, record=False)
    with PgDatabase(pg_url).read() as conn:
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        plan = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) SELECT count(*) FROM cv_uploads"
                            " WHERE user_id IS NOT NULL").fetchone()[0][0]["Plan"]
    scans = list(_nodes(plan, "Index Only Scan"))
    assert scans and all(s["Heap Fetches"] == 0 for s in scans), plan


def _nodes(plan, kind):
    if plan["Node Type"] == kind:
        yield plan
    for child in plan.get("Plans", ()):
        yield from _nodes(child, kind)


def test_a_changed_row_in_tables_that_existed_before_is_caught_and_rolled_back(
        demo, pg_url, monkeypatch):
    migrations.init(pg_url)   # the tables there, empty: loaded without FREEZE, same verification
    changing_before_the_checksums(monkeypatch, "users", "UPDATE users SET name = 'changed' "
                                  "WHERE user_id = (SELECT min(user_id) FROM users)")
    with pytest.raises(move.MoveRefused, match="verification FAILED after the copy: users "
                                               ".*rolled back: nothing was written"):
        move.move(demo, pg_url, record=False)
    assert pg_counts(pg_url) == dict.fromkeys(move.TABLES, 0)   # as it was: empty tables


@pytest.mark.parametrize("memory,expected", [(1 << 40, "into memory"), (0, "into a temporary file")])
def test_the_snapshot_copy_goes_to_memory_when_there_is_room(demo, monkeypatch, memory, expected):
    if sqlite_move._available_memory() == 0 and memory:
        pytest.skip("no /proc/meminfo here")
    with sqlite3.connect(demo) as conn:   # a rollback journal: the snapshot is a copy
        conn.execute("PRAGMA journal_mode = delete")
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(sqlite_move, "_available_memory", lambda: memory)
    roomy = sqlite_move._snapshot_folder(demo.stat().st_size)
    if memory and roomy is None:
        pytest.skip("/dev/shm missing or too small here")
    assert (roomy is not None) == bool(memory)
    with move.source_snapshot(demo) as (conn, how):
        assert how == f"copy under a read lock (delete journal) {expected}"
        assert conn.execute("SELECT count(*) FROM users").fetchone()[0] > 0


@pytest.fixture
def journal_demo(demo):
    with sqlite3.connect(demo) as conn:
        conn.execute("PRAGMA journal_mode = delete")
    return demo


def test_a_write_during_the_copy_waits_for_it_and_is_not_in_the_snapshot(journal_demo,
                                                                         monkeypatch):
    """The file is copied while the read lock is held: a commit that comes during the copy
    lands after it, whole, in the source only."""
    monkeypatch.setattr(sqlite_move, "COPY_FILE", "import time; time.sleep(0.8); "
                        + sqlite_move.COPY_FILE)
    before = _sessions(journal_demo)
    committed = []

    def write():
        time.sleep(0.3)   # the copy has started
        writer = sqlite3.connect(journal_demo, timeout=5)
        writer.execute("INSERT INTO sessions VALUES ('during', 'u', '2026-11-24T09:00:00')")
        writer.commit()
        writer.close()
        committed.append(time.perf_counter())

    thread = threading.Thread(target=write)
    started = time.perf_counter()
    thread.start()
    with move.source_snapshot(journal_demo) as (snap, how):
        thread.join()
        assert how.startswith("copy under a read lock")
        assert snap.execute("SELECT count(*) FROM sessions").fetchone()[0] == before
        assert snap.execute("PRAGMA quick_check").fetchone()[0] == "ok"
    assert committed and committed[0] - started >= 0.8   # it waited for the copy
    assert _sessions(journal_demo) == before + 1


def _sessions(path):
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM sessions").fetchone()[0]


def test_a_failed_copy_is_one_message_and_releases_the_lock(journal_demo, monkeypatch):
    monkeypatch.setattr(sqlite_move, "COPY_FILE", "raise SystemExit('No space left on device')")
    with pytest.raises(errors.R2WError, match="could not copy .* for the move's snapshot "
                                              r"\(No space left on device\); nothing"):
        with move.source_snapshot(journal_demo):
            pass
    writer = sqlite3.connect(journal_demo, timeout=0.5)   # the read lock was released
    writer.execute("INSERT INTO sessions VALUES ('after', 'u', '2026-11-24T09:00:00')")
    writer.commit()
    writer.close()
