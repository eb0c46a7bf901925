import json
import sqlite3
import threading
from datetime import timedelta

import pytest

from r2w_db import config, errors
from r2w_db.app.cache import (
    cache_extraction_result,
    cleanup_old_cache_entries,
    count_old_cache_entries,
    get_cached_extraction,
)
from r2w_db.engine import timeutil

from .dbhelpers import query


def entry(db, file_hash):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM cv_extraction_cache WHERE file_hash = ?",
                           (file_hash,)).fetchone()
        return dict(row) if row else None
    finally:
        conn.close()


def put(db, file_hash, created_at, access_count=1, cv_data='{"k": 1}'):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO cv_extraction_cache VALUES (?, ?, 'm', 0.0, ?, 0.9, ?, ?)",
                     (file_hash, cv_data, created_at, access_count, created_at))
    conn.close()


def test_cache_then_hit_counts_accesses(db):
    before = timeutil.utcnow()
    assert cache_extraction_result(db, "h1", {"name": "Ann"}, "claude-3-opus", 0.0, 0.9) is True
    row = entry(db, "h1")
    assert json.loads(row["cv_data"]) == {"name": "Ann"}
    assert (row["extraction_model"], row["temperature"], row["confidence_score"],
            row["access_count"]) == ("claude-3-opus", 0.0, 0.9, 1)
    assert row["created_at"] == row["last_accessed"]
    assert before <= timeutil.parse(row["created_at"]) <= timeutil.utcnow()

    assert get_cached_extraction(db, "h1") == {"name": "Ann"}
    assert get_cached_extraction(db, "h1") == {"name": "Ann"}
    row2 = entry(db, "h1")
    assert row2["access_count"] == 3
    assert row2["created_at"] == row["created_at"]
    assert timeutil.parse(row2["last_accessed"]) >= timeutil.parse(row["last_accessed"])


def test_miss_is_none_and_writes_nothing(db):
    put(db, "other", timeutil.now_iso())
    assert get_cached_extraction(db, "absent") is None
    assert get_cached_extraction(db, "") is None
    assert get_cached_extraction(db, None) is None
    assert query(db, "SELECT file_hash, access_count FROM cv_extraction_cache") == [("other", 1)]


def test_null_access_count_counts_from_zero(db):
    put(db, "h", timeutil.now_iso(), access_count=None)
    assert get_cached_extraction(db, "h") == {"k": 1}
    assert entry(db, "h")["access_count"] == 1


def test_corrupt_entry_is_a_miss_and_not_counted(db):
    put(db, "bad", "2026-01-01T00:00:00", access_count=1, cv_data="{broken")
    assert get_cached_extraction(db, "bad") is None
    row = entry(db, "bad")
    assert (row["access_count"], row["last_accessed"]) == (1, "2026-01-01T00:00:00")


@pytest.mark.parametrize("threads", [2, 8])
def test_concurrent_hits_are_all_counted(db, threads, real_busy_timeout):
    assert cache_extraction_result(db, "h", {"x": 1}, "m", 0.0, 0.8)
    barrier = threading.Barrier(threads)
    results, failures = [], []

    def hit():
        try:
            barrier.wait()
            results.append(get_cached_extraction(db, "h"))
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    workers = [threading.Thread(target=hit) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert failures == []
    assert results == [{"x": 1}] * threads
    assert entry(db, "h")["access_count"] == 1 + threads


@pytest.mark.parametrize("confidence", [None, 0.0, 0.5, 0.7, 0.7499999])
def test_below_threshold_is_not_cached(db, confidence):
    assert cache_extraction_result(db, "h", {"x": 1}, "m", 0.0, confidence) is False
    assert query(db, "SELECT count(*) FROM cv_extraction_cache") == [(0,)]


@pytest.mark.parametrize("confidence", [0.75, 0.7500001, 0.76, 1.0, 1])
def test_at_or_above_threshold_is_cached(db, confidence):
    """The application's rule: `if confidence_score >= 0.75` (src/api/routes/cv.py)."""
    assert cache_extraction_result(db, "h", {"x": 1}, "m", 0.0, confidence) is True
    assert entry(db, "h")["confidence_score"] == float(confidence)


def test_custom_threshold(db):
    assert cache_extraction_result(db, "h", {}, "m", 0.0, 0.6, threshold=0.5) is True
    assert cache_extraction_result(db, "e", {}, "m", 0.0, 0.5, threshold=0.5) is True
    assert cache_extraction_result(db, "g", {}, "m", 0.0, 0.9, threshold=0.95) is False
    assert config.CACHE_THRESHOLD == 0.75


def test_what_is_cached_is_never_flagged_below_the_threshold(db):
    from r2w_db.figures import stats

    assert cache_extraction_result(db, "h", {"x": 1}, "m", 0.0, config.CACHE_THRESHOLD)
    cache = stats.collect_stats(db)["cache"]
    assert (cache["cached_extractions"], cache["below_caching_threshold"]) == (1, 0)


@pytest.mark.parametrize("confidence", [-0.1, 1.01, 2, float("nan"), float("inf"), "0.9", True])
def test_confidence_out_of_range_is_invalid(db, confidence):
    with pytest.raises(errors.InvalidValue):
        cache_extraction_result(db, "h", {"x": 1}, "m", 0.0, confidence)
    assert query(db, "SELECT count(*) FROM cv_extraction_cache") == [(0,)]


@pytest.mark.parametrize("kwargs", [{"file_hash": ""}, {"model": ""}, {"temperature": None},
                                    {"cv_data": "not json"}, {"cv_data": {"x": object()}},
                                    {"cv_data": {"x": float("nan")}}])
def test_bad_arguments_are_invalid(db, kwargs):
    args = {"file_hash": "h", "cv_data": {"x": 1}, "model": "m", "temperature": 0.0,
            "confidence": 0.9, **kwargs}
    with pytest.raises(errors.InvalidValue):
        cache_extraction_result(db, **args)
    assert query(db, "SELECT count(*) FROM cv_extraction_cache") == [(0,)]


def test_upsert_keeps_created_at_and_access_count(db):
    put(db, "h", "2026-01-01T00:00:00.000000", access_count=5)
    assert cache_extraction_result(db, "h", '{"v": 2}', "model-2", 0.3, 0.95) is True
    row = entry(db, "h")
    assert (row["cv_data"], row["extraction_model"], row["temperature"], row["confidence_score"],
            row["created_at"], row["access_count"]) == \
        ('{"v": 2}', "model-2", 0.3, 0.95, "2026-01-01T00:00:00.000000", 5)
    assert timeutil.parse(row["last_accessed"]) > timeutil.utcnow() - timedelta(minutes=1)
    assert query(db, "SELECT count(*) FROM cv_extraction_cache") == [(1,)]


@pytest.mark.parametrize("stored, after", [
    (2**63 - 1, 2**63 - 1),                  # not a count: left as it is, never an overflow
    (-5, -5), (1e300, 1e300), ("many", "many"), (b"\x00", b"\x00"),
    (2**31 - 1, 2**31 - 1),                  # the largest count stays the largest
    (2**31 - 2, 2**31 - 1), (0, 1), (None, 1)])
def test_a_hit_on_any_stored_count_is_served(db, stored, after):
    put(db, "h", timeutil.now_iso(), access_count=stored)
    assert get_cached_extraction(db, "h") == {"k": 1}
    assert entry(db, "h")["access_count"] == after


def test_below_threshold_does_not_overwrite(db):
    put(db, "h", "2026-01-01T00:00:00", access_count=2)
    assert cache_extraction_result(db, "h", {"v": 9}, "m2", 0.0, 0.5) is False
    assert entry(db, "h")["cv_data"] == '{"k": 1}'


def test_cleanup_deletes_exactly_old_unused_entries(db):
    now = timeutil.utcnow()
    old = timeutil.iso(now - timedelta(days=31))
    old_space = (now - timedelta(days=30, hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    old_z = (now - timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    young_space = (now - timedelta(days=30) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    put(db, "old-unused", old, 1)
    put(db, "old-null-count", old, None)
    put(db, "old-zero-count", old_space, 0)
    put(db, "old-z", old_z, 1)
    put(db, "old-reused", old, 2)
    put(db, "young-unused", timeutil.iso(now - timedelta(days=29)), 1)
    put(db, "young-space", young_space, 1)
    put(db, "unparseable", "last month", 1)
    put(db, "empty-date", "", 1)
    assert count_old_cache_entries(db) == 4
    assert query(db, "SELECT count(*) FROM cv_extraction_cache") == [(9,)]
    seen = []
    assert cleanup_old_cache_entries(db, progress=seen.append) == 4
    assert seen[-1] == 4
    left = [r[0] for r in query(db, "SELECT file_hash FROM cv_extraction_cache ORDER BY 1")]
    assert left == ["empty-date", "old-reused", "unparseable", "young-space", "young-unused"]
    assert count_old_cache_entries(db) == 0


def test_cleanup_days_parameter(db):
    now = timeutil.utcnow()
    for days in (2, 10, 50):
        put(db, f"d{days}", timeutil.iso(now - timedelta(days=days)), 1)
    assert count_old_cache_entries(db, days=5) == 2
    assert cleanup_old_cache_entries(db, days=5) == 2
    assert [r[0] for r in query(db, "SELECT file_hash FROM cv_extraction_cache")] == ["d2"]
    with pytest.raises(errors.InvalidValue):
        cleanup_old_cache_entries(db, days=-1)


def test_read_on_database_without_cache_table(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (user_id TEXT)")
    conn.close()
    with pytest.raises(errors.SchemaTooOld):
        count_old_cache_entries(path)
    with pytest.raises(errors.SchemaTooOld):
        get_cached_extraction(path, "h")
