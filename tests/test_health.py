"""Health checks: each status at its thresholds, the thresholds' configuration, the log."""
import sqlite3
from datetime import timedelta

import pytest

from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.figures import health
from r2w_db.figures.health import ERROR, OK, WARN, Thresholds
from r2w_db.monitor.store import MonitorStore

from .prodlike import build_prodlike

FRESH = {task: {"ok_at": None, "failed_at": None, "error": None} for task in health.LOGGED_TASKS}


def ago(**delta):
    return timeutil.iso(timeutil.utcnow() - timedelta(**delta))


def ok(**age):
    return {"ok_at": ago(**age), "failed_at": None, "error": None}


def recent_runs():
    return {"integrity": ok(days=1), "backup": ok(hours=1), "analyze": ok(days=2)}


def checks(path, thresholds=None, last_runs=None):
    return {c.key: c for c in health.run_checks(path, thresholds, last_runs or recent_runs())}


def execute(path, sql, rows=()):
    conn = sqlite3.connect(path)
    conn.executemany(sql, rows) if rows else conn.execute(sql)
    conn.commit()
    conn.close()


def add_uploads(path, rows, first=0):
    """rows: (status, upload_date, user_id); ids numbered from `first`"""
    execute(path, "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date,"
                  " status) VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, ?)",
            [(f"u{i}", user, f"j{i}", date, status)
             for i, (status, date, user) in enumerate(rows, first)])


# ------------------------------------------------------------------ thresholds

def test_thresholds_defaults_overrides_and_environment():
    t, problems = health.load_thresholds(environ={})
    assert t == Thresholds() and problems == []
    t, problems = health.load_thresholds(
        {"stuck_error": 25, "wal_warn_mb": "128"},
        environ={"R2W_HEALTH_STUCK_ERROR": "30", "R2W_HEALTH_BACKUP_WARN_HOURS": "48", "PATH": "/bin"})
    assert (t.stuck_error, t.wal_warn_mb, t.backup_warn_hours) == (30, 128.0, 48.0)  # env wins
    assert problems == []


def test_bad_threshold_values_are_reported_and_ignored():
    t, problems = health.load_thresholds(
        {"stuck_eror": 3, "stuck_warn": "many"}, environ={"R2W_HEALTH_WAL_WARN_MB": "-1"})
    assert t == Thresholds()
    assert len(problems) == 3
    assert "unknown health threshold" in problems[0] and "stuck_eror" in problems[0]
    assert "'many'" in problems[1] and "R2W_HEALTH_WAL_WARN_MB" in problems[2]


# ------------------------------------------------------------------ statuses

def test_an_empty_database_is_healthy_once_checked_and_backed_up(db_path):
    got = checks(db_path)
    assert {k: c.status for k, c in got.items() if c.status != OK} == {}
    assert got["analyze"].value == "not needed"
    assert list(got) == ["stuck", "sessions", "cache_cleanup", "below_threshold", "anonymous",
                         "unparseable", "foreign_values", "schema", "integrity", "backup", "wal",
                         "free_pages", "analyze"]
    assert health.worst(got.values()) == OK


def test_never_backed_up_is_red_never_checked_is_amber(db_path):
    got = checks(db_path, last_runs=FRESH)
    assert (got["backup"].status, got["backup"].value) == (ERROR, "never")
    assert (got["integrity"].status, got["integrity"].value) == (WARN, "never")
    assert "backup" in got["backup"].command and got["backup"].page == health.MAINTENANCE_PAGE
    assert health.worst(got.values()) == ERROR


@pytest.mark.parametrize("task, age, status", [
    ("backup", dict(hours=2), OK), ("backup", dict(hours=30), WARN), ("backup", dict(days=4), ERROR),
    ("integrity", dict(days=3), OK), ("integrity", dict(days=10), WARN),
    ("integrity", dict(days=40), ERROR)])
def test_age_of_the_last_logged_run(db_path, task, age, status):
    got = checks(db_path, last_runs={**recent_runs(), task: ok(**age)})[task]
    assert got.status == status
    assert got.value.endswith(" ago")
    assert bool(got.remedy) == (status != OK)


def test_an_unreadable_maintenance_log_is_amber_not_a_crash(db_path, tmp_path):
    broken = tmp_path / "monitor.db"
    broken.write_bytes(b"this is not sqlite" * 100)
    runs = health.last_maintenance(db_path, MonitorStore(broken))
    assert "_error" in runs
    got = checks(db_path, last_runs=runs)
    assert got["backup"].status == WARN and got["backup"].value == "unknown"


def test_last_maintenance_reads_the_log(db_path, tmp_path):
    store = MonitorStore(tmp_path / "monitor.db")
    assert health.last_maintenance(db_path, store) == FRESH
    entry = store.log_start(user="ops", task="backup", database=db_path)
    store.log_finish(entry, outcome="ok", seconds=0.1)
    failed = store.log_start(user="ops", task="integrity", database=db_path)
    store.log_finish(failed, outcome="failed", error="boom")
    other = store.log_start(user="ops", task="analyze", database=tmp_path / "other.db")
    store.log_finish(other, outcome="ok")
    runs = health.last_maintenance(db_path, store)
    assert runs["backup"]["ok_at"] is not None and runs["backup"]["failed_at"] is None
    assert runs["integrity"] == {"ok_at": None, "failed_at": runs["integrity"]["failed_at"],
                                 "error": "boom"}
    assert runs["analyze"]["ok_at"] is None    # logged for another database


def test_a_failed_run_since_the_last_success(db_path):
    failed = {"ok_at": ago(days=1), "failed_at": ago(hours=1), "error": "database is locked"}
    got = checks(db_path, last_runs={**recent_runs(), "backup": failed})["backup"]
    assert got.status == WARN and "failed: database is locked" in got.detail
    damage = {"ok_at": ago(days=1), "failed_at": ago(hours=1),
              "error": "integrity_check integrity check FAILED: row 3 missing from index"}
    got = checks(db_path, last_runs={**recent_runs(), "integrity": damage})["integrity"]
    assert (got.status, got.value) == (ERROR, "damage found") and "restore" in got.remedy
    earlier = {"ok_at": ago(hours=1), "failed_at": ago(days=1), "error": "boom"}
    assert checks(db_path, last_runs={**recent_runs(), "backup": earlier})["backup"].status == OK


@pytest.mark.parametrize("stuck, status", [(0, OK), (1, WARN), (9, WARN), (10, ERROR)])
def test_stuck_jobs(db_path, stuck, status):
    add_uploads(db_path, [("processing", ago(hours=2), "u")] * stuck
                + [("processing", ago(minutes=30), "u"), ("completed", ago(days=1), "u")])
    got = checks(db_path)["stuck"]
    assert (got.status, got.value) == (status, str(stuck))
    assert got.page == health.UPLOADS_PAGE


def test_stuck_threshold_is_configurable(db_path):
    add_uploads(db_path, [("processing", ago(hours=2), "u")])
    assert checks(db_path, Thresholds(stuck_warn=2))["stuck"].status == OK
    assert checks(db_path, Thresholds(stuck_error=1))["stuck"].status == ERROR


def test_expired_sessions_turn_amber_only_when_the_cleanup_is_overdue(db_path):
    execute(db_path, "INSERT INTO sessions VALUES (?, 'u', ?)",
            [("a", ago(days=1)), ("b", ago(days=7, hours=12)), ("c", ago(days=7, hours=20))])
    got = checks(db_path)["sessions"]
    assert (got.status, got.value) == (OK, "2")          # expired, within a day of the 7 days
    execute(db_path, "INSERT INTO sessions VALUES ('d', 'u', ?)", [(ago(days=8, hours=1),)])
    got = checks(db_path)["sessions"]
    assert (got.status, got.value) == (WARN, "3")
    assert "1 of them overdue" in got.detail and "maintain sessions" in got.command
    assert checks(db_path, Thresholds(overdue_error=1))["sessions"].status == ERROR


def test_cache_entries_eligible_for_cleanup(db_path):
    rows = [("a", ago(days=31), 1), ("b", ago(days=31), 5), ("c", ago(days=40), None)]
    execute(db_path, "INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, 0.9, ?, ?)",
            [(h, c, n, c) for h, c, n in rows])
    got = checks(db_path)["cache_cleanup"]
    assert (got.status, got.value) == (WARN, "2")        # c is 10 days past 30, beyond the 7-day grace
    assert checks(db_path, Thresholds(cache_grace_days=14))["cache_cleanup"].status == OK


def test_stale_anonymous_data(db_path):
    add_uploads(db_path, [("completed", ago(days=40), "anonymous_old"),
                          ("completed", ago(days=30, hours=2), "anonymous_recent_stale"),
                          ("completed", ago(days=40), "anonymous_active"),
                          ("completed", ago(days=1), "anonymous_active"),
                          ("completed", ago(days=90), "Anonymous_not"),
                          ("completed", ago(days=90), "anonymousX")])
    got = checks(db_path)["anonymous"]
    assert (got.status, got.value) == (WARN, "2")
    assert "1 of them overdue" in got.detail


def test_entries_below_the_caching_threshold(db_path):
    scores = [0.9] * 30 + [0.74] + [None, 1.5]
    execute(db_path, "INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, ?, 2, ?)",
            [(f"h{i}", ago(days=1), s, ago(days=1)) for i, s in enumerate(scores)])
    got = checks(db_path)["below_threshold"]
    assert (got.status, got.value) == (WARN, "1")
    assert "2 with an invalid confidence" in got.detail and got.page == health.CONFIDENCE_PAGE
    execute(db_path, "UPDATE cv_extraction_cache SET confidence_score = 0.5 WHERE file_hash = 'h0'")
    assert checks(db_path)["below_threshold"].status == ERROR   # 2 of 33: over 5 %


def test_entries_at_the_caching_threshold_are_not_below_it(db_path):
    execute(db_path, "INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, ?, 2, ?)",
            [(f"h{i}", ago(days=1), s, ago(days=1)) for i, s in enumerate([0.75, 0.7499])])
    assert checks(db_path)["below_threshold"].value == "1"


def test_values_the_application_never_writes(db_path):
    statuses = ["uploaded", "uploaded", "processing", "completed", "failed"]   # the application's
    add_uploads(db_path, [(s, ago(days=1), "anonymous_0a1b2c3d4e5f") for s in statuses])
    execute(db_path, "INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, 0.9, ?, ?)",
            [(f"h{i}", ago(days=1), n, ago(days=1)) for i, n in enumerate([1, None, 0, 2**31 - 1])])
    got = checks(db_path)["foreign_values"]
    assert (got.status, got.value) == (OK, "0") and "uploaded" in got.detail
    add_uploads(db_path, [("Uploaded", ago(days=1), "u"), ("queued", ago(days=2), "u"),
                          (None, ago(days=3), "u")], first=10)
    execute(db_path, "INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0, ?, 0.9, ?, ?)",
            [(f"x{i}", ago(days=1), n, ago(days=1)) for i, n in enumerate([2**63 - 1, -1, 2.5, "x"])])
    got = checks(db_path)["foreign_values"]
    assert (got.status, got.value) == (WARN, "7")
    assert "status the application never writes: 3" in got.detail
    assert "access_count is not a count: 4" in got.detail
    assert got.page == health.UPLOADS_PAGE and got.command.endswith("stats")


def test_unparseable_timestamps(db_path):
    execute(db_path, "INSERT INTO sessions VALUES ('s', 'u', 'yesterday')")
    got = checks(db_path)["unparseable"]
    assert (got.status, got.value) == (WARN, "1") and "sessions.created_at: 1" in got.detail


def test_schema_drift_lists_the_migration_that_would_help(tmp_path):
    path = tmp_path / "prod.db"
    build_prodlike(path)
    got = checks(path)["schema"]
    assert got.status == WARN and "pending step" in got.value
    assert "migration 7" in got.detail and "idx_sessions_created_at" in got.detail
    assert "migration 8" in got.detail and got.command.endswith("migrate")
    migrations.migrate(path)
    got = checks(path)["schema"]
    assert (got.status, got.value, got.command) == (OK, "up to date", "")
    execute(path, "CREATE INDEX idx_by_hand ON users(name)")
    got = checks(path)["schema"]
    assert got.status == WARN and "idx_by_hand" in got.detail and "by hand" in got.remedy


def test_wal_size(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.executemany("INSERT INTO sessions VALUES (?, 'u', '2026-01-01T00:00:00')",
                     [(f"s{i}",) for i in range(2000)])
    conn.commit()
    try:  # the connection stays open, so the WAL is not checkpointed away
        assert checks(db_path)["wal"].status == OK
        got = checks(db_path, Thresholds(wal_warn_mb=0.01, wal_error_mb=1000))["wal"]
        assert got.status == WARN and "checkpoint" in got.command
    finally:
        conn.close()


def test_free_pages(db_path):
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO sessions VALUES (?, 'u', ?)",
                     [(f"s{i:06d}" + "x" * 200, "2026-01-01T00:00:00") for i in range(3000)])
    conn.commit()
    conn.execute("DELETE FROM sessions")
    conn.commit()
    conn.close()
    got = checks(db_path)["free_pages"]
    assert got.status == OK and "not worth a VACUUM" in got.detail   # under 16 MB
    got = checks(db_path, Thresholds(free_min_mb=0))["free_pages"]
    assert got.status == ERROR and "vacuum" in got.command


def test_statistics_not_analysed(db_path):
    add_uploads(db_path, [("completed", ago(days=1), "u")])
    got = checks(db_path)["analyze"]
    assert got.status == WARN and "does not exist" in got.detail
    execute(db_path, "ANALYZE")
    got = checks(db_path)["analyze"]
    assert got.status == OK and "last ANALYZE logged" in got.detail


def test_checks_never_write(prod_db):
    path, _, _ = prod_db
    migrations.migrate(path)
    before = path.read_bytes()
    health.run_checks(path, last_runs=FRESH)
    assert path.read_bytes() == before


def test_a_rollback_journal_gets_a_recommendation_never_a_warning(db_path):
    got = checks(db_path)["wal"]
    assert got.status == OK and "rollback journal" in got.detail
    assert "migrate --wal" in got.detail and "network share" in got.detail


def test_checks_from_a_stats_result_equal_the_counted_ones(tmp_path):
    """The snapshot hands the checks its `stats` result instead of counting again: the same
    checks, on a file full of odd values (foreign statuses, invalid scores, odd timestamps)."""
    from r2w_db.figures import stats

    path = tmp_path / "prod.db"
    now, _ = build_prodlike(path)
    migrations.migrate(path)
    counted = health.run_checks(path, now=now)
    given = health.run_checks(path, now=now, stats_figures=stats.collect_stats(path, now=now),
                              cleanups=health.cleanup_figures(path))
    assert [(c.key, c.status, c.value, c.detail) for c in given] == [
        (c.key, c.status, c.value, c.detail) for c in counted]
    assert any(c.status != OK for c in counted)


def test_a_remedy_command_can_be_pasted_into_a_shell(tmp_path):
    """A URL's `&` or a path's space would split the command: the location is shell-quoted."""
    import shlex

    from r2w_db.backends.postgresql.database import PgDatabase

    url = PgDatabase("postgresql://app:secret@/r2w?host=/run/pg&port=5433")
    words = shlex.split(health._cmd(url, "maintain", "sessions"))
    assert words[4] == "postgresql://app:***@/r2w?host=/run/pg&port=5433" and words[5:] == [
        "maintain", "sessions"]
    assert shlex.split(health._cmd(tmp_path / "my db.db", "backup"))[4] == str(tmp_path / "my db.db")
