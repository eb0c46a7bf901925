"""PostgreSQL: connecting, the schema, migrate and check, on a real throwaway cluster."""
import os
import sqlite3
import tempfile

import pytest

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import WRITE_TIMEOUT_MS, PgError
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.figures import check as pg_check


def columns_of(url):
    with PgDatabase(url).read() as conn:
        return conn.execute("""
            SELECT table_name, column_name, data_type, is_nullable, column_default
            FROM information_schema.columns WHERE table_schema = current_schema()
            ORDER BY table_name, ordinal_position""").fetchall()


def test_the_cluster_is_private(pg_url):
    with PgDatabase(pg_url).read() as conn:
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == ""
        socket_folder = conn.execute("SHOW unix_socket_directories").fetchone()[0]
        assert socket_folder.startswith(os.path.join(tempfile.gettempdir(), "r2w-pg-"))


def test_readers_are_read_only_and_writers_bounded(pg_url):
    db = PgDatabase(pg_url)
    pg_schema.init(db)
    with db.read() as conn:
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
    with pytest.raises(PgError, match="ReadOnlySqlTransaction"):
        with db.read() as conn:
            conn.execute("INSERT INTO sessions VALUES ('s', 'u', now())")
    with db.write() as conn:
        # R2W_BUSY_TIMEOUT_MS: 5 s unset (tests/test_busy_timeout_setting.py), 0.3 s in the tests
        for name in ("statement_timeout", "lock_timeout"):
            assert conn.execute("SELECT setting, unit FROM pg_settings WHERE name = %s",
                                (name,)).fetchone() == (str(WRITE_TIMEOUT_MS), "ms")
        assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "off"


def test_a_writer_gives_up_on_a_lock_within_the_timeout(pg_url, pg_cluster):
    import time

    import psycopg

    db = PgDatabase(pg_url)
    pg_schema.init(db)
    with psycopg.connect(pg_url) as holder:
        holder.execute("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
        started = time.perf_counter()
        with pytest.raises(PgError, match="LockNotAvailable|statement timeout"):
            with db.write() as conn:
                conn.execute("INSERT INTO sessions VALUES ('s', 'u', now())")
        timeout_s = WRITE_TIMEOUT_MS / 1000   # R2W_BUSY_TIMEOUT_MS (0.3 s in the tests, 5 s by default)
        assert timeout_s * 0.9 < time.perf_counter() - started < timeout_s + 3


def test_urls_are_shown_redacted_and_errors_are_one_line(pg_cluster):
    url = pg_cluster.url("nosuchdb", user="ada", password="s3cret-pw")
    db = PgDatabase(url)
    assert "s3cret-pw" not in db.display and "***" in db.display
    with pytest.raises(PgError) as caught:
        with db.read():
            pass
    assert "s3cret-pw" not in str(caught.value) and "\n" not in str(caught.value)
    with pytest.raises(errors.BadLocation):
        PgDatabase("mysql://x@y/z")
    assert PgDatabase("postgres://u@h/d").url == "postgres://u@h/d"


def test_libpq_environment_variables_fill_in_the_url(pg_cluster, pg_url, monkeypatch):
    monkeypatch.setenv("PGHOST", str(pg_cluster.root))
    monkeypatch.setenv("PGPORT", str(pg_cluster.port))
    monkeypatch.setenv("PGUSER", "postgres")
    name = pg_url.split("/")[3].split("?")[0]
    with PgDatabase(f"postgresql:///{name}").read() as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == name


def test_init_gives_the_documented_tables_in_postgresql_types(pg_url):
    steps = pg_schema.init(pg_url)
    assert {s.kind for s in steps} == {"table", "index"}
    found = columns_of(pg_url)
    by_table = {}
    for table, column, type_, nullable, default in found:
        by_table.setdefault(table, []).append(column)
    assert by_table == schema.COLUMNS  # same columns, same order
    types = {(t, c): ty for t, c, ty, _, _ in found}
    assert types[("sessions", "created_at")] == "timestamp with time zone"
    assert types[("cv_uploads", "upload_date")] == "timestamp with time zone"
    assert types[("cv_extraction_cache", "temperature")] == "double precision"
    assert types[("cv_extraction_cache", "access_count")] == "integer"
    assert types[("users", "date_of_birth")] == "text"  # a date a person typed, not an instant
    # NOT NULL and DEFAULT as SQLite declares them (read from schema.TABLES by SQLite)
    lite = sqlite3.connect(":memory:")
    for ddl in schema.TABLES.values():
        lite.execute(ddl)
    for table, column, _, nullable, default in found:
        info = {r[1]: r for r in lite.execute(f"PRAGMA table_info({table})")}[column]
        assert (nullable == "NO") == bool(info[3] or info[5]), (table, column)
        assert (default is None) == (info[4] is None), (table, column)
    with PgDatabase(pg_url).read() as conn:
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"
                            " AND connamespace = current_schema()::regnamespace").fetchone()[0] == 0
        uniques = {r[0] for r in conn.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'u'"
            " AND connamespace = current_schema()::regnamespace")}
        assert uniques == {"users_email_key", "cv_uploads_job_id_key"}
        assert set(pg_schema.existing_indexes(conn)) == set(schema.INDEXES) - set(pg_schema.SKIPPED)


def test_the_odd_timestamp_indexes_are_the_ones_skipped():
    assert set(pg_schema.SKIPPED) == {n for n, i in schema.INDEXES.items()
                                      if i.where == schema.time_is_odd(i.columns[0])}
    assert len(pg_schema.SKIPPED) == 4
    assert set(schema.DOCUMENTED_INDEXES) <= set(pg_schema.INDEXES)


def test_migrate_is_idempotent_and_dry_run_writes_nothing(pg_url):
    planned = pg_schema.migrate(pg_url, dry_run=True)
    with PgDatabase(pg_url).read() as conn:
        assert pg_schema.existing_tables(conn) == set()
    assert len(planned) == len(schema.TABLES) + len(pg_schema.INDEXES)
    assert all("CONCURRENTLY" in repr(s.statement) for s in planned if s.kind == "index")
    done = pg_schema.migrate(pg_url)
    assert [s.description for s in done] == [s.description for s in planned]
    assert pg_schema.migrate(pg_url) == []
    assert pg_schema.migrate(pg_url, dry_run=True) == []
    with PgDatabase(pg_url).read() as conn:
        assert pg_schema.drift(conn).ok and pg_schema.reached_version(conn) == schema.CURRENT_VERSION


def test_migrate_restores_a_dropped_column_and_an_invalid_index(pg_url, pg_cluster):
    pg_schema.init(pg_url)
    name = pg_url.split("/")[3].split("?")[0]
    with PgDatabase(pg_url).write() as conn:
        conn.execute("ALTER TABLE users DROP COLUMN location")
        conn.execute("DROP INDEX idx_cv_uploads_user_id")
    # an interrupted CREATE INDEX CONCURRENTLY leaves an INVALID index behind
    pg_cluster.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
                       "'idx_sessions_created_at'::regclass", dbname=name)
    with PgDatabase(pg_url).read() as conn:
        assert pg_schema.reached_version(conn) == 3
        drift = pg_schema.drift(conn)
    assert drift.missing_columns == ["users.location"]
    assert set(drift.missing_indexes) == {"idx_cv_uploads_user_id", "idx_sessions_created_at"}
    steps = [s.description for s in pg_schema.migrate(pg_url)]
    assert steps == ["add column users.location",
                     "create index idx_cv_uploads_user_id on cv_uploads(user_id) concurrently",
                     "drop invalid index idx_sessions_created_at",
                     "create index idx_sessions_created_at on sessions(created_at) concurrently"]
    with PgDatabase(pg_url).read() as conn:
        assert pg_schema.drift(conn).ok
    assert pg_schema.migrate(pg_url) == []


def test_check_passes_on_a_fresh_database_with_amcheck(pg_url):
    pg_schema.init(pg_url)
    report = pg_check.run_check(pg_url)
    assert report["ok"] and not report["warnings"], report
    assert report["integrity"]["available"] and report["integrity"]["ok"]
    assert report["integrity"]["indexes_checked"] >= len(pg_schema.INDEXES)
    assert report["pending_migrations"] == [] and report["orphans"] == {"sessions": 0, "cv_uploads": 0}
    assert pg_check.run_check(pg_url, quick=True)["integrity"]["mode"] == "quick"


def test_check_says_amcheck_is_not_available_to_a_plain_role(pg_cluster):
    pg_cluster.execute("CREATE ROLE plain LOGIN")
    pg_cluster.execute("CREATE DATABASE plain_owned OWNER plain")
    url = pg_cluster.url("plain_owned", user="plain")
    pg_schema.init(url)
    report = pg_check.run_check(url)
    assert report["integrity"]["ok"] is None and not report["integrity"]["available"]
    assert "not available" in report["integrity"]["messages"][0]
    assert report["ok"] and report["warnings"]


def test_check_finds_orphans_drift_and_wrong_types(pg_url):
    pg_schema.init(pg_url)
    with PgDatabase(pg_url).write() as conn:
        conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                     " VALUES ('u1', 'a@b', 'h', now())")
        conn.execute("INSERT INTO sessions VALUES ('s1', 'u1', now()), ('s2', 'ghost', now()),"
                     " ('s3', 'anonymous_abc', now()), ('s4', 'Anonymous_x', now())")
        conn.execute("ALTER TABLE sessions ADD COLUMN extra text")
    report = pg_check.run_check(pg_url)
    assert report["orphans"] == {"sessions": 2, "cv_uploads": 0}  # ghost, and the capital A
    assert report["schema"]["extra_columns"] == ["sessions.extra"]
    assert report["ok"] and report["warnings"]
    with PgDatabase(pg_url).write() as conn:
        conn.execute("DROP INDEX idx_cv_uploads_file_hash")
        conn.execute("ALTER TABLE cv_uploads ALTER COLUMN upload_date TYPE text")
    report = pg_check.run_check(pg_url)
    assert not report["ok"]
    assert report["schema"]["missing_documented_indexes"] == ["idx_cv_uploads_file_hash"]
    assert report["schema"]["wrong_types"] == ["cv_uploads.upload_date: text, expected timestamptz"]


def test_check_on_an_empty_database_is_an_error(pg_url):
    with pytest.raises(errors.EmptyDatabase):
        pg_check.run_check(pg_url)
