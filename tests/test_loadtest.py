"""The load test writes, so it only runs on a scratch database, and leaves the source alone."""
import hashlib
import sqlite3

import pytest

from r2w_db.bench import loadtest
from r2w_db.demo.builder import build_demo

KINDS = {"session_validation", "cv_listing", "cache_lookup", "create_session", "upload_and_status",
         "cache_access"}


@pytest.fixture
def demo_db(tmp_path):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=5)
    return path


def files(path):
    """The database file's bytes, and the bytes of its WAL. A WAL-mode file opened even
    read-only gets an (empty) -wal and a -shm index beside it: SQLite's, not a write."""
    wal = path.with_name(path.name + "-wal")
    return (hashlib.sha256(path.read_bytes()).hexdigest(),
            wal.read_bytes() if wal.exists() else b"")


def counts(path):
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("users", "sessions", "cv_uploads", "cv_extraction_cache")}
    finally:
        conn.close()


def test_refuses_without_scratch(demo_db):
    before = files(demo_db)
    with pytest.raises(loadtest.LoadTestRefused, match="copy"):
        loadtest.run_load_test(demo_db, seconds=0.2)
    assert files(demo_db) == before


def test_on_a_copy_reports_operations_and_leaves_the_source_byte_identical(demo_db, real_busy_timeout):
    before, rows = files(demo_db), counts(demo_db)
    result = loadtest.load_test_on_copy(demo_db, threads=3, seconds=1.0)
    assert files(demo_db) == before and counts(demo_db) == rows
    assert result["ops"] > 0 and result["ops_per_s"] > 0 and result["threads"] == 3
    assert result["reads"] > 0 and result["writes"] > 0
    assert result["lock_errors"] >= 0 and result["errors"] == 0, result["error_messages"]
    assert {k["kind"] for k in result["by_kind"]} == KINDS
    assert result["source"] == str(demo_db) and "copy" in result["ran_on"]
    for kind in result["by_kind"]:
        if kind["count"]:
            assert kind["p50_ms"] <= kind["p95_ms"] <= kind["p99_ms"] <= kind["max_ms"]


def test_the_copy_is_consistent_and_the_test_writes_to_it(demo_db, tmp_path, real_busy_timeout):
    copy = loadtest.scratch_copy(demo_db, tmp_path / "copy.db")
    assert counts(copy) == counts(demo_db)
    result = loadtest.run_load_test(copy, scratch=True, threads=2, seconds=0.5)
    after = counts(copy)
    writes = {k["kind"]: k["count"] for k in result["by_kind"]}
    assert after["sessions"] == counts(demo_db)["sessions"] + writes["create_session"]
    assert after["cv_uploads"] == counts(demo_db)["cv_uploads"] + writes["upload_and_status"]


def test_on_a_generated_database_and_an_empty_one(demo_db, db_path, real_busy_timeout):
    result = loadtest.load_test_on_copy(demo_db, generated=True, threads=2, seconds=0.3)
    assert result["ops"] > 0 and result["generated"] and "generated" in result["ran_on"]
    empty = loadtest.load_test_on_copy(db_path, threads=2, seconds=0.3)  # no rows: misses, no sessions
    assert empty["ops"] > 0 and "create_session" not in {k["kind"] for k in empty["by_kind"]}
