"""`stats` on PostgreSQL gives the same JSON as on SQLite, on the same data (the parity test).

Compared key by key, every key of every group; left out, because they describe the storage and
differ by nature: database.path, database.size_bytes, database.wal_bytes (EXCLUDED). as_of is
compared: both sides are given the same `now`.
"""
import shutil
import sqlite3
from datetime import datetime, timedelta

from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.figures import stats
from r2w_db.maintenance import move

from .prodlike import build_prodlike

EXCLUDED = {("database", "path"), ("database", "size_bytes"), ("database", "wal_bytes")}
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)


def flat(figures, prefix=()):
    out = {}
    for key, value in figures.items():
        if isinstance(value, dict):
            out.update(flat(value, prefix + (key,)))
        else:
            out[prefix + (key,)] = value
    return out


def assert_same_stats(sqlite_figures, pg_figures):
    lite, pg = flat(sqlite_figures), flat(pg_figures)
    assert set(lite) == set(pg), set(lite) ^ set(pg)
    different = {".".join(k): (lite[k], pg[k]) for k in lite
                 if k not in EXCLUDED and (lite[k] != pg[k] or type(lite[k]) is not type(pg[k]))}
    assert not different, different
    assert len(set(lite) - EXCLUDED) >= 25  # the comparison covers the figures


def test_parity_on_the_production_like_fixture(tmp_path, pg_cluster):
    path = tmp_path / "prod.db"
    now, expected = build_prodlike(path)
    migrations.migrate(path)  # same schema version on both sides
    url = pg_cluster.create_database()
    # 'yesterday' (sessions s6) does not convert: it is reported and the row stays behind
    report = move.move(path, url, unconvertible="skip-row")
    assert [(p["table"], p["key"], p["column"]) for p in report["unconvertible"]] == [
        ("sessions", "s6", "created_at")]
    pg = stats.collect_stats(url, now=now)
    for group, figures in expected.items():
        assert {k: pg[group][k] for k in figures} == figures, group
    # the same data on SQLite: the original without the row the move left behind
    same = tmp_path / "same.db"
    shutil.copyfile(path, same)
    with sqlite3.connect(same) as conn:
        conn.execute("DELETE FROM sessions WHERE session_id = 's6'")
    assert_same_stats(stats.collect_stats(same, now=now), pg)
    # against the untouched original, exactly the reported value differs
    original = flat(stats.collect_stats(path, now=now))
    differing = {k for k, v in flat(pg).items() if k not in EXCLUDED and original[k] != v}
    assert differing == {("data_quality", "sessions.created_at")}
    assert original[("data_quality", "sessions.created_at")] == 1


def test_the_anonymous_prefix_is_literal_and_case_sensitive(pg_url):
    pg_schema.init(pg_url)
    with PgDatabase(pg_url).write() as conn:
        for user_id in ("anonymous_1", "Anonymous_2", "anonymousX3", "anonymous%4", "u5"):
            conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                         " VALUES (%s, %s, 'h', now())", (user_id, user_id + "@x"))
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date) VALUES ('a', 'anonymous_9', 'j', 'f', '.pdf', now())")
    figures = stats.collect_stats(pg_url)
    assert figures["users"] == {"registered": 4, "anonymous": 2}


def test_sessions_and_stuck_jobs_at_their_boundaries(pg_url):
    pg_schema.init(pg_url)
    now = NOW
    at = lambda **kw: (now - timedelta(**kw)).isoformat() + "+00:00"  # noqa: E731
    with PgDatabase(pg_url).write() as conn:
        conn.execute("INSERT INTO sessions VALUES ('edge', 'u', %s), ('old', 'u', %s),"
                     " ('new', 'u', %s)", (at(days=7), at(days=7, microseconds=1), at(days=1)))
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, status) VALUES ('p1', 'u', 'j1', 'f', '.pdf', %s, 'processing'),"
                     " ('p2', 'u', 'j2', 'f', '.pdf', %s, 'processing'),"
                     " ('p3', 'u', 'j3', 'f', '.pdf', %s, 'queued')",
                     (at(minutes=61), at(minutes=59), at(days=3)))
    figures = stats.collect_stats(pg_url, now=now)
    assert figures["sessions"] == {"active": 2, "expired": 1}
    assert figures["uploads"]["stuck"] == 1 and figures["uploads"]["other"] == 1
    assert figures["cache"]["cache_hit_rate"] is None  # no upload with a hash: no data, not 0


def test_storage_figures_and_read_only_role(pg_cluster):
    url = pg_cluster.create_database()
    pg_schema.init(url)
    name = url.split("/")[3].split("?")[0]
    before = stats.collect_stats(url)["database"]
    assert before["wal_bytes"] is None and "postgresql://" in before["path"]
    with PgDatabase(url).write() as conn:
        conn.execute("INSERT INTO cv_extraction_cache SELECT md5(i::text), repeat('x', 3000), 'm',"
                     " 0, now(), 0.9, 1, now() FROM generate_series(1, 2000) AS i")
    after = stats.collect_stats(url)
    assert after["database"]["size_bytes"] > before["size_bytes"] + 2000 * 100
    # a monitoring role with SELECT only reads every figure
    pg_cluster.execute("CREATE ROLE watcher LOGIN")
    pg_cluster.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO watcher", dbname=name)
    watched = stats.collect_stats(pg_cluster.url(name, user="watcher"))
    assert watched["cache"] == after["cache"] and watched["cache"]["cached_extractions"] == 2000
    assert timeutil.parse(watched["as_of"]) is not None
