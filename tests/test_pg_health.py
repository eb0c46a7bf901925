"""Health checks on PostgreSQL, against a real cluster: the application's checks give SQLite's
numbers on the same data, and each of PostgreSQL's own checks goes amber or red for real and
back to green; a role without pg_monitor gets "cannot read", never an error."""
import json
import shutil
import sqlite3
import threading
import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import PgError
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.figures import health, health_report
from r2w_db.backends.postgresql import server_checks as pg_server_checks
from r2w_db.figures.health import ERROR, OK, WARN, Thresholds
from r2w_db.maintenance import move

from .prodlike import build_prodlike
from .test_health_cli import FIRST_LINE, health_cli

SQLITE_ONLY = {"wal", "free_pages", "analyze"}
POLL_S = 20  # the statistics collector flushes about once a second


def logged(now):
    return {task: {"ok_at": timeutil.iso(now), "failed_at": None, "error": None}
            for task in health.LOGGED_TASKS}


def checks(db, thresholds=None, now=None):
    now = now or timeutil.utcnow()
    return {c.key: c for c in health.run_checks(db, thresholds, logged(now), now)}


def numbers(found, thresholds=None, now=None):
    t = thresholds or Thresholds()
    return {k: health_report.number_of(c, t, {}, {}, now or timeutil.utcnow())
            for k, c in found.items() if k not in SQLITE_ONLY}  # those read the file's figures


def poll(condition, what):
    """Wait (bounded) for a figure the statistics collector reports a moment later."""
    deadline = time.monotonic() + POLL_S
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def superuser(url, *statements):
    with PgDatabase(url).write(autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


SESSIONS_3000 = ("INSERT INTO sessions SELECT 's' || i, 'u' || i % 50, now() - i * interval"
                 " '1 minute' FROM generate_series(1, 3000) AS i")


@pytest.fixture
def small(pg_url):
    """A PostgreSQL database at the current schema with a few rows."""
    pg_schema.init(pg_url)
    superuser(pg_url, SESSIONS_3000)
    return pg_url


# ------------------------------------------------------------------ the application's checks

def assert_same_application_checks(lite, pg, thresholds=None, now=None):
    app_keys = [k for k in lite if k not in SQLITE_ONLY]
    assert list(pg) == app_keys + list(pg_server_checks.KEYS) + list(health.STATEMENT_CHECKS)
    for key in app_keys:
        if key != "unparseable":
            assert (pg[key].title, pg[key].status, pg[key].value, pg[key].detail) == (
                lite[key].title, lite[key].status, lite[key].value, lite[key].detail), key
        assert (pg[key].status, pg[key].value) == (lite[key].status, lite[key].value), key
    lite_numbers, pg_numbers = numbers(lite, thresholds, now), numbers(pg, thresholds, now)
    assert {k: pg_numbers[k] for k in app_keys} == {k: lite_numbers[k] for k in app_keys}


def test_the_application_checks_give_sqlite_numbers_on_a_moved_demo(tmp_path, pg_url):
    now = timeutil.utcnow()
    build_demo(tmp_path / "demo.db", scale="small", seed=7, now=now)
    move.move(tmp_path / "demo.db", pg_url)
    lite, pg = checks(tmp_path / "demo.db", now=now), checks(pg_url, now=now)
    assert_same_application_checks(lite, pg, now=now)
    busy = {k: lite[k].value for k in ("stuck", "sessions", "cache_cleanup", "below_threshold",
                                       "anonymous")}
    assert all(v != "0" for v in busy.values()), busy  # the comparison covers real counts
    assert {lite[k].status for k in busy} == {WARN, ERROR}
    # the same judgements under other thresholds (overdue, red, green)
    for t in (Thresholds(sessions_grace_days=0, cache_grace_days=0, overdue_error=1, stuck_warn=50,
                         stuck_error=100, below_threshold_error_share=1),
              Thresholds(anonymous_grace_days=1000, sessions_grace_days=1000, cache_grace_days=1000,
                         below_threshold_warn=10_000, below_threshold_error_share=1)):
        assert_same_application_checks(checks(tmp_path / "demo.db", t, now),
                                       checks(pg_url, t, now), t, now)
    assert not any("PRAGMA" in c.remedy or "SQLite" in c.detail for c in pg.values())


def test_the_application_checks_give_sqlite_numbers_on_the_production_like_fixture(
        tmp_path, pg_url):
    path = tmp_path / "prod.db"
    now, _ = build_prodlike(path)
    migrations.migrate(path)
    move.move(path, pg_url, unconvertible="skip-row")  # sessions s6 ('yesterday') stays behind
    same = tmp_path / "same.db"
    shutil.copyfile(path, same)
    with sqlite3.connect(same) as conn:
        conn.execute("DELETE FROM sessions WHERE session_id = 's6'")
    lite, pg = checks(same, now=now), checks(pg_url, now=now)
    assert_same_application_checks(lite, pg, now=now)
    assert pg["foreign_values"].status == WARN and pg["stuck"].value != "0"
    # the original still holds the unreadable timestamp; PostgreSQL cannot hold one
    assert checks(path, now=now)["unparseable"].value == "1" and pg["unparseable"].value == "0"


def test_schema_drift_and_pending_migrations_on_postgresql(pg_url):
    pg_schema.init(pg_url)
    assert checks(pg_url)["schema"].status == OK
    superuser(pg_url, "DROP INDEX idx_sessions_created_at")
    found = checks(pg_url)["schema"]
    assert (found.status, found.value) == (WARN, "1 pending step(s)")
    assert "idx_sessions_created_at" in found.detail and "CONCURRENTLY" in found.remedy
    assert found.command.endswith(" migrate") and "postgresql://" in found.command
    pg_schema.migrate(pg_url)
    assert checks(pg_url)["schema"].status == OK


def test_the_maintenance_log_is_read_for_a_postgresql_database(small):
    runs = health.last_maintenance(PgDatabase(small))
    assert set(runs) == set(health.LOGGED_TASKS) and runs["backup"]["ok_at"] is None
    found = {c.key: c for c in health.run_checks(small, None, runs)}
    assert (found["backup"].status, found["integrity"].status) == (ERROR, WARN)  # never run
    assert "pg_dump" in found["backup"].remedy and "amcheck" in found["integrity"].remedy


# ------------------------------------------------------------------ PostgreSQL's own checks

def test_a_quiet_database_is_green(small):
    found = checks(small)
    assert {k: found[k].status for k in pg_server_checks.KEYS} == dict.fromkeys(
        pg_server_checks.KEYS, OK)
    assert found["cache_hit_ratio"].value == "too few reads"
    assert numbers(found)["cache_hit_ratio"][0] is None  # perfdata 'U', not 0 %


def test_connections_against_max_connections(small, pg_cluster):
    used = int(checks(small)["connections"].value.split()[0])
    assert used >= 1
    with PgDatabase(small).read() as one, PgDatabase(small).read() as two:
        one.execute("SELECT 1")
        two.execute("SELECT 1")
        found = checks(small)["connections"]
        assert int(found.value.split()[0]) == used + 2 and found.value.endswith("of 40")
        share = numbers({"c": found})["c"][0]
        assert share == pytest.approx((used + 2) / 40)
        amber = checks(small, Thresholds(pg_connections_warn_share=share))["connections"]
        assert amber.status == WARN
        red = checks(small, Thresholds(pg_connections_warn_share=0.01,
                                       pg_connections_error_share=share))["connections"]
        assert red.status == ERROR and "PgBouncer" in red.remedy
    assert checks(small, Thresholds(pg_connections_warn_share=share))["connections"].status == OK


def _sleeping(url, started):
    conn = PgDatabase(url).connect(read_only=True, autocommit=True)
    started["pid"] = conn.info.backend_pid
    try:
        conn.execute("SELECT pg_sleep(60)")
    except Exception as exc:  # noqa: BLE001 - cancelled on purpose
        started["error"] = type(exc).__name__
    finally:
        conn.close()


def test_a_long_running_query_turns_amber_then_red_and_back(small):
    started = {}
    worker = threading.Thread(target=_sleeping, args=(small, started))
    worker.start()
    try:
        poll(lambda: checks(small, Thresholds(pg_long_query_warn_seconds=0))["long_queries"]
             .status == WARN, "the query to show as active")
        amber = checks(small, Thresholds(pg_long_query_warn_seconds=0))["long_queries"]
        assert amber.value == "1" and f"pid {started['pid']}" in amber.detail
        assert "pg_cancel_backend" in amber.remedy
        red = checks(small, Thresholds(pg_long_query_warn_seconds=0,
                                       pg_long_query_error_seconds=0))["long_queries"]
        assert red.status == ERROR
        assert checks(small)["long_queries"].status == OK  # not yet a minute
    finally:
        superuser(small, f"SELECT pg_cancel_backend({int(started.get('pid', 0))})")
        worker.join(30)
    assert started.get("error") == "QueryCanceled"
    assert checks(small, Thresholds(pg_long_query_warn_seconds=0))["long_queries"].status == OK


def test_a_session_idle_in_a_transaction_turns_amber_then_red_and_back(small):
    held = PgDatabase(small).connect(read_only=False)
    try:
        held.execute("SELECT count(*) FROM sessions")  # opens a transaction, then idles
        lowered = Thresholds(pg_idle_tx_warn_seconds=0)
        poll(lambda: checks(small, lowered)["idle_in_transaction"].status == WARN,
             "the idle session")
        found = checks(small, lowered)["idle_in_transaction"]
        assert found.value == "1" and f"pid {held.info.backend_pid}" in found.detail
        assert "idle_in_transaction_session_timeout" in found.remedy
        red = checks(small, Thresholds(pg_idle_tx_warn_seconds=0, pg_idle_tx_error_seconds=0))
        assert red["idle_in_transaction"].status == ERROR
        assert checks(small)["idle_in_transaction"].status == OK
        held.rollback()
        assert checks(small, lowered)["idle_in_transaction"].status == OK
    finally:
        held.close()


def test_dead_tuples_and_autovacuum_lag(pg_url):
    # autovacuum off before the rows go in: an insert-triggered autovacuum between the insert and
    # the ALTER would leave the table "vacuumed a moment ago" (it did, once, under the full suite)
    pg_schema.init(pg_url)
    small = pg_url
    superuser(small, "ALTER TABLE sessions SET (autovacuum_enabled = false)", SESSIONS_3000,
              "DELETE FROM sessions WHERE session_id > 's2'")  # about 2/3 of the rows
    found = poll(lambda: (lambda c: c if c["dead_tuples"].status != OK else None)(checks(small)),
                 "the dead tuples")
    dead, lag = found["dead_tuples"], found["autovacuum"]
    assert dead.status == ERROR and dead.value.endswith("(sessions)")
    assert 0.5 <= numbers(found)["dead_tuples"][0] < 1
    assert (lag.status, lag.value) == (WARN, "1 table(s)")
    assert "never vacuumed" in lag.detail and "autovacuum disabled" in lag.detail
    assert "RESET (autovacuum_enabled)" in lag.remedy and lag.command.endswith("maintain vacuum")
    assert checks(small, Thresholds(pg_dead_min_rows=100_000))["dead_tuples"].status == OK
    superuser(small, "VACUUM sessions")
    poll(lambda: checks(small)["dead_tuples"].status == OK, "VACUUM to be counted")
    assert checks(small)["autovacuum"].status == OK
    # dead again after a VACUUM: lagging only once the time since it passes the threshold
    superuser(small, "DELETE FROM sessions WHERE session_id > 's1'")
    poll(lambda: checks(small)["dead_tuples"].status != OK, "the new dead tuples")
    assert checks(small)["autovacuum"].status == OK  # vacuumed moments ago
    now_red = checks(small, Thresholds(pg_vacuum_warn_hours=0, pg_vacuum_error_hours=0))
    assert now_red["autovacuum"].status == ERROR and "vacuumed" in now_red["autovacuum"].detail


def test_unused_and_duplicate_indexes(small):
    lowered = Thresholds(pg_unused_index_min_mb=0)
    found = checks(small, lowered)
    assert found["unused_indexes"].status == OK and found["duplicate_indexes"].status == OK
    assert "the schema's own, not counted" in found["unused_indexes"].detail
    superuser(small, "CREATE INDEX extra_unused ON cv_uploads (filename)",
              "CREATE INDEX extra_email ON users (email)",  # the UNIQUE constraint's serves it
              "CREATE INDEX extra_by_user ON cv_uploads (user_id)")
    found = checks(small, lowered)
    unused, dup = found["unused_indexes"], found["duplicate_indexes"]
    assert unused.status == WARN and "extra_unused on cv_uploads" in unused.detail
    assert "extra_email on users" in unused.detail
    assert (dup.status, dup.value) == (WARN, "2") and numbers(found)["duplicate_indexes"][0] == 2
    assert "extra_email (covered by users_email_key)" in dup.detail
    # the same columns as the schema's idx_cv_uploads_user_id: the extra one is the one to drop
    assert ("extra_by_user (covered by idx_cv_uploads_user_date, idx_cv_uploads_user_id)"
            in dup.detail)
    assert "DROP INDEX CONCURRENTLY" in dup.remedy
    assert checks(small)["unused_indexes"].status == OK  # under the 1 MB minimum
    # an index that is used is no longer unused
    with PgDatabase(small).read() as conn:
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SELECT count(*) FROM cv_uploads WHERE filename = 'x'").fetchone()
    poll(lambda: "extra_unused" not in checks(small, lowered)["unused_indexes"].detail,
         "the index scan")
    superuser(small, "DROP INDEX extra_unused", "DROP INDEX extra_email",
              "DROP INDEX extra_by_user")
    found = checks(small, lowered)
    assert found["unused_indexes"].status == OK and found["duplicate_indexes"].status == OK


def test_buffer_cache_hit_ratio(small):
    with PgDatabase(small).read() as conn:
        conn.execute("SELECT count(*) FROM sessions").fetchone()
    judged = Thresholds(pg_cache_hit_min_blocks=1)
    found = poll(lambda: (lambda c: c if c.value != "too few reads" else None)(
        checks(small, judged)["cache_hit_ratio"]), "the block counts")
    ratio = numbers({"c": found}, judged)["c"][0]
    assert 0 < ratio <= 1 and found.value.endswith("%")
    assert checks(small, Thresholds(pg_cache_hit_min_blocks=1, pg_cache_hit_warn_ratio=1.01))[
        "cache_hit_ratio"].status == WARN
    red = checks(small, Thresholds(pg_cache_hit_min_blocks=1, pg_cache_hit_error_ratio=1.01))
    assert red["cache_hit_ratio"].status == ERROR
    assert "shared_buffers" in red["cache_hit_ratio"].remedy
    assert checks(small, Thresholds(pg_cache_hit_min_blocks=1, pg_cache_hit_warn_ratio=0))[
        "cache_hit_ratio"].status == OK


def test_transaction_id_wraparound(small):
    found = checks(small)["wraparound"]
    age = numbers({"w": found})["w"][0]
    assert found.status == OK and age >= 1 and "autovacuum_freeze_max_age" in found.detail
    assert checks(small, Thresholds(pg_wraparound_warn_share=(age - 0.5) / 200_000_000))[
        "wraparound"].status == WARN
    red = checks(small, Thresholds(pg_wraparound_error_share=(age - 0.5) / 2**31))["wraparound"]
    assert red.status == ERROR and "VACUUM (FREEZE)" in red.remedy


def test_a_role_without_pg_monitor_gets_cannot_read_never_an_error(pg_cluster, small):
    role = f"health_watcher_{uuid.uuid4().hex[:8]}"
    name = small.split("/")[3].split("?")[0]
    pg_cluster.execute(f"CREATE ROLE {role} LOGIN")
    pg_cluster.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}", dbname=name)
    watcher = pg_cluster.url(name, user=role)
    held = PgDatabase(small).connect(read_only=False)  # another role's, idle in a transaction
    try:
        held.execute("SELECT 1")
        found = checks(watcher, Thresholds(pg_idle_tx_warn_seconds=0))
        for key in ("long_queries", "idle_in_transaction"):
            assert (found[key].status, found[key].value) == (WARN, "cannot read"), key
            assert "cannot read: grant pg_monitor" in found[key].detail
            assert numbers(found)[key][0] is None
        assert found["stuck"].status == OK and found["wraparound"].status == OK
        # a statistics function revoked: that figure cannot be read, the others still are
        superuser(small, "REVOKE EXECUTE ON FUNCTION pg_stat_get_dead_tuples(oid) FROM PUBLIC")
        found = checks(watcher)
        for key in ("dead_tuples", "autovacuum"):
            assert (found[key].status, found[key].value) == (WARN, "cannot read"), key
            assert "permission denied" in found[key].detail
            assert "GRANT pg_monitor" in found[key].remedy
        assert found["unused_indexes"].status == OK and found["cache_hit_ratio"].status == OK
        report = health_report.evaluate(watcher, last_runs=logged(timeutil.utcnow()))
        assert report["status"] == "WARNING" and FIRST_LINE.match(health_report.first_line(report))
        superuser(small, "GRANT EXECUTE ON FUNCTION pg_stat_get_dead_tuples(oid) TO PUBLIC")
        pg_cluster.execute(f"GRANT pg_monitor TO {role}")
        found = checks(watcher, Thresholds(pg_idle_tx_warn_seconds=0))
        assert found["idle_in_transaction"].status == WARN
        assert f"pid {held.info.backend_pid}" in found["idle_in_transaction"].detail
        assert checks(watcher)["dead_tuples"].status == OK
    finally:
        held.close()


# ------------------------------------------------------------------ the report and the command

def test_the_report_and_perfdata_on_postgresql(small):
    now = timeutil.utcnow()
    report = health_report.evaluate(PgDatabase(small), last_runs=logged(now), now=now)
    assert report["status"] == "OK" and report["exit_code"] == 0
    assert "postgresql://" in report["database"]
    line = health_report.first_line(report)
    assert FIRST_LINE.match(line), line
    assert "connections=0." in line and ";0.7;0.9" in line and "cache_hit_ratio=U;0.99;" in line
    assert not any(k in line for k in ("wal=", "free_pages=", "analyze="))


def test_a_database_that_cannot_be_reached_is_unknown_with_the_password_hidden(pg_cluster):
    url = pg_cluster.url("no_such_database", password="s3cret")
    report = health_report.evaluate(url)
    assert report["status"] == "UNKNOWN" and report["exit_code"] == 3
    assert "s3cret" not in json.dumps(report) and "no_such_database" in report["error"]
    with pytest.raises(PgError):
        health.run_checks(url)


def test_the_thresholds_are_configurable_like_the_others():
    t, problems = health.load_thresholds({"pg_dead_warn_share": "0.3"}, environ={
        "R2W_HEALTH_PG_LONG_QUERY_WARN_SECONDS": "5", "R2W_HEALTH_PG_DEAD_MIN_ROWS": "10"})
    assert problems == [] and (t.pg_dead_warn_share, t.pg_long_query_warn_seconds,
                               t.pg_dead_min_rows) == (0.3, 5.0, 10)


def test_the_health_command_on_a_postgresql_url(tmp_path, pg_cluster, small):
    url = pg_cluster.url(small.split("/")[3].split("?")[0], password="s3cret")  # trust: unused
    got = health_cli(tmp_path, "--db", url, "health", "--prometheus", tmp_path / "r2w.prom")
    first = got.stdout.splitlines()[0] if got.stdout else got.stderr
    assert FIRST_LINE.match(first), (first, got.stderr)
    assert got.returncode == 2 and first.startswith("R2W CRITICAL")  # never backed up: red
    text = (tmp_path / "r2w.prom").read_text()
    statuses = {s.labels["check"]: s.value for family in text_string_to_metric_families(text)
                for s in family.samples if s.name == "r2w_health_check_status"}
    assert statuses["backup"] == 2 and statuses["wraparound"] == 0
    body = json.loads(health_cli(tmp_path, "--db", url, "health", "--json").stdout)
    assert body["exit_code"] == 2 and {c["key"] for c in body["checks"]} >= set(
        pg_server_checks.KEYS)
    assert not {c["key"] for c in body["checks"]} & SQLITE_ONLY
    assert "s3cret" not in got.stdout + got.stderr + text + json.dumps(body)
