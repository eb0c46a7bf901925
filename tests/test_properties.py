"""Invariants over arbitrary data (hypothesis): the figures always add up."""
import sqlite3
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from r2w_db.engine import migrations
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
statuses = st.one_of(st.sampled_from(["processing", "completed", "failed"]), st.none(),
                     st.text(max_size=8))
owners = st.one_of(st.sampled_from(["u1", "u2", "anonymous_a", "anonymous_b", "Anonymous_c", "anonymousXd"]),
                   st.text(max_size=12))
hashes = st.one_of(st.none(), st.just(""), st.sampled_from(["h1", "h2", "h3"]))
uploads = st.lists(st.tuples(owners, timestamps, statuses, hashes), max_size=40)
cache_rows = st.lists(st.tuples(st.sampled_from(["h1", "h2", "h3", "h4"]), timestamps,
                                st.one_of(st.none(), st.floats(min_value=-1, max_value=2)),
                                st.one_of(st.none(), st.integers(min_value=0, max_value=50))),
                      max_size=6, unique_by=lambda r: r[0])


def fresh_db():
    path = Path(tempfile.mkdtemp()) / "p.db"
    migrations.init(path)
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(uploads, cache_rows)
def test_status_counts_sum_to_total_and_hit_rate_is_a_share(upload_rows, entries):
    path = fresh_db()
    conn = sqlite3.connect(path)
    conn.executemany(
        "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date, status, file_hash)"
        " VALUES (?, ?, ?, 'f', 't', ?, ?, ?)",
        [(str(i), owner, f"j{i}", when, status, h) for i, (owner, when, status, h) in enumerate(upload_rows)])
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, ?, ?, ?)",
                     [(h, when, conf, count, when) for h, when, conf, count in entries])
    conn.commit()
    conn.close()
    figures = stats.collect_stats(path, now=NOW)
    up = figures["uploads"]
    assert up["processing"] + up["completed"] + up["failed"] + up["other"] == up["total"] == len(upload_rows)
    assert 0 <= up["stuck"] <= up["processing"]
    rate = figures["cache"]["cache_hit_rate"]
    hashed = sum(1 for row in upload_rows if row[3])
    assert (rate is None) == (hashed == 0)
    assert rate is None or 0 <= rate <= 1
    anonymous_ids = {row[0] for row in upload_rows if row[0].startswith("anonymous_")}
    assert figures["users"]["anonymous"] == len(anonymous_ids)
    average = figures["cache"]["average_confidence_score"]
    assert average is None or 0 <= average <= 1


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
