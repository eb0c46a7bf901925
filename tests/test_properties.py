"""Invariants over arbitrary data (hypothesis): the figures always add up, whatever SQLite holds."""
import json
import math
import sqlite3
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from r2w_db.app.cache import MAX_ACCESS_COUNT
from r2w_db.backends import migrations
from r2w_db.figures import stats
from tests.prodlike import build_prodlike

NOW = datetime(2026, 11, 24, 12, 0, 0)

timestamps = st.one_of(
    st.integers(min_value=-200 * 24 * 60, max_value=24 * 60).map(
        lambda m: (NOW + timedelta(minutes=m)).isoformat(timespec="microseconds")),
    st.integers(min_value=-200 * 24 * 60, max_value=0).map(
        lambda m: (NOW + timedelta(minutes=m)).strftime("%Y-%m-%d %H:%M:%S")),
    st.integers(min_value=-200 * 24 * 60, max_value=0).map(
        lambda m: (NOW + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%SZ")),
    st.sampled_from(["", "garbage", "2026-13-45T99:00:00"]),
)
statuses = st.one_of(st.sampled_from(["processing", "completed", "failed", "uploaded", "Uploaded"]),
                     st.none(), st.text(max_size=8))
owners = st.one_of(st.sampled_from(["u1", "u2", "anonymous_a", "anonymous_b", "Anonymous_c", "anonymousXd"]),
                   st.text(max_size=12))
hashes = st.one_of(st.none(), st.just(""), st.sampled_from(["h1", "h2", "h3"]))
uploads = st.lists(st.tuples(owners, timestamps, statuses, hashes), max_size=40)
# any value SQLite can hold in a numeric column (NaN is stored as NULL)
anything = st.one_of(st.none(), st.integers(min_value=-2**63, max_value=2**63 - 1),
                     st.floats(allow_nan=False), st.text(max_size=6), st.binary(max_size=4))
cache_rows = st.lists(st.tuples(st.sampled_from(["h1", "h2", "h3", "h4"]), timestamps,
                                st.one_of(st.floats(min_value=-1, max_value=2), anything),
                                st.one_of(st.integers(min_value=0, max_value=50), anything)),
                      max_size=6, unique_by=lambda r: r[0])


def fresh_db():
    path = Path(tempfile.mkdtemp()) / "p.db"
    migrations.init(path)
    return path


def stored_cache(path):
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT access_count, confidence_score FROM cv_extraction_cache").fetchall()
    finally:
        conn.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uploads, cache_rows)
def test_status_counts_sum_to_total_and_hit_rate_is_a_share(upload_rows, entries):
    path = fresh_db()
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date, status, file_hash)"
        " VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, ?, ?)",
        [(str(i), owner, f"j{i}", when, status, h) for i, (owner, when, status, h) in enumerate(upload_rows)])
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, ?, ?, ?)",
                     [(h, when, conf, count, when) for h, when, conf, count in entries])
    conn.commit()
    conn.close()
    figures = stats.collect_stats(path, now=NOW)
    up = figures["uploads"]
    assert up["processing"] + up["completed"] + up["failed"] + up["uploaded"] + up["other"] \
        == up["total"] == len(upload_rows)
    assert up["other"] == sum(1 for row in upload_rows
                              if row[2] not in ("processing", "completed", "failed", "uploaded"))
    assert 0 <= up["stuck"] <= up["processing"]
    rate = figures["cache"]["cache_hit_rate"]
    hashed = sum(1 for row in upload_rows if row[3])
    assert (rate is None) == (hashed == 0)
    assert rate is None or 0 <= rate <= 1
    anonymous_ids = {row[0] for row in upload_rows if row[0].startswith("anonymous_")}
    assert figures["users"]["anonymous"] == len(anonymous_ids)
    cache = figures["cache"]
    average = cache["average_confidence_score"]
    assert average is None or 0 <= average <= 1
    stored = stored_cache(path)   # what SQLite kept (affinity turns '5' and 5.0 into 5)
    counts = [c for c, _ in stored]
    valid = [c for c in counts if type(c) is int and 0 <= c <= MAX_ACCESS_COUNT]
    assert cache["total_cache_accesses"] == sum(valid)
    assert cache["invalid_access_count"] == len(counts) - len(valid) - counts.count(None)
    fine = [c for _, c in stored if type(c) in (int, float) and 0 <= c <= 1]
    assert cache["invalid_confidence"] == len(stored) - len(fine)
    json.dumps(figures, allow_nan=False)   # the JSON of `stats` is valid JSON
    assert not any(isinstance(v, float) and not math.isfinite(v)
                   for group in figures.values() if isinstance(group, dict) for v in group.values())


@settings(max_examples=15, deadline=None)
@given(st.booleans(), st.integers(min_value=0, max_value=3))
def test_second_migrate_changes_nothing(migrated_by_app, extra_rounds):
    path = Path(tempfile.mkdtemp()) / "old.db"
    build_prodlike(path, now=NOW, migrated_by_app=migrated_by_app)
    assert migrations.migrate(path)
    snapshot = path.read_bytes()
    for _ in range(extra_rounds + 1):
        assert migrations.migrate(path) == []
    assert path.read_bytes() == snapshot
