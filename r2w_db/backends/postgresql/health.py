"""Health checks on PostgreSQL: health.run_checks dispatches here for a PgDatabase.

The application's checks keep SQLite's ids, titles, numbers and thresholds: they are built by
health.py's own check functions, from figures counted with PostgreSQL's SQL (pg_stats' for
stuck jobs, confidence, statuses and data quality; the cleanup previews' own functions for the
waiting rows). tests/test_pg_health.py proves the same numbers on the same data.

Left out on PostgreSQL: the SQLite file's checks (WAL size, free pages, sqlite_stat1), since
PostgreSQL has no such file; PostgreSQL's own checks (pg_server_checks) come in their place.
The figures come from one READ ONLY, REPEATABLE READ transaction (one snapshot), the cleanup
counts from the previews' own readers, as on SQLite.
"""
import dataclasses

from r2w_db import config
from r2w_db.app import anonymous, cache, sessions
from r2w_db.engine import timeutil
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import as_pg
from r2w_db.figures import health
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.backends.postgresql import server_checks as pg_server_checks
from r2w_db.figures.stats import QUALITY_COLUMNS


def run_checks(db, thresholds=None, last_runs=None, now=None, stats_figures=None,
               cleanups=None):
    """Every health check on PostgreSQL, in a fixed order, as health.Check objects (read-only):
    the application's, then PostgreSQL's own. `now` judges stuck jobs and logged runs; the
    cleanup counts are as of the current time, like the maintenance previews'.
    `stats_figures` and `cleanups`: as health.run_checks'."""
    db = as_pg(db)
    t = thresholds or health.Thresholds()
    last_runs = last_runs or {}
    now = now or timeutil.utcnow()
    with db.read() as conn:
        pg_stats.require_schema(conn, db)
        figures = (health.figures_from_stats(stats_figures) if stats_figures
                   else _figures(conn, now))
        drift, steps = pg_schema.drift(conn), pg_schema.plan(conn)
        server = pg_server_checks.run(conn, db, t)
    figures.update(cleanups or _cleanup_figures(db, t))
    return _application_checks(db, figures, drift, steps, t, last_runs, now) + server


def storage_figures(db):
    """PostgreSQL has no database file: none of its checks reads file figures."""
    return {}


# ------------------------------------------------------------------ the figures

def _figures(conn, now):
    params = pg_stats._params(now)
    cache_row = pg_stats._cache_row(conn, params)
    other = sum(n for status, n in conn.execute(pg_stats.STATUS_SQL)
                if status not in config.STATUSES)
    return {
        "stuck": pg_stats._one(conn, pg_stats.STUCK_SQL, params),
        "confidence": {"entries": cache_row["n"], "below": cache_row["below_threshold"],
                       "invalid": cache_row["invalid"]},
        "unparseable": {name: pg_stats._one(conn, pg_stats._quality_sql(table, column), None)
                        for name, (table, column) in QUALITY_COLUMNS.items()},
        "foreign": {"uploads with a status the application never writes": other,
                    "cache entries whose access_count is not a count":
                        cache_row["invalid_access"]},
    }


def _cleanup_figures(db, t):
    """(waiting, overdue) per cleanup, counted by the maintenance previews' own functions (which
    dispatch to app/pg_retention.py), so the Overview and the Maintenance page agree."""
    def both(count, days, grace):
        return count(db, days), count(db, days + grace)

    return {
        "sessions": both(sessions.count_old_sessions, config.SESSION_DAYS, t.sessions_grace_days),
        "cache": both(cache.count_old_cache_entries, config.CACHE_RETENTION_DAYS,
                      t.cache_grace_days),
        "anonymous": both(lambda d, days: anonymous.count_stale(d, days)[0],
                          config.ANONYMOUS_RETENTION_DAYS, t.anonymous_grace_days),
    }


# ------------------------------------------------------------------ the application's checks

# PostgreSQL's wording where SQLite's would mislead: (key, field, SQLite's text, PostgreSQL's)
REWORDED = (
    ("unparseable", "detail", "timestamps SQLite cannot read",
     "timestamps that are not instants (NULL or infinite)"),
    ("integrity", "remedy", "Run an integrity check (PRAGMA integrity_check); it reads the whole "
     "file.", "Run an integrity check (amcheck on every index and table)."),
    ("backup", "remedy", "Take a verified online backup.",
     "Take a verified backup (pg_dump -Fc, restored into a scratch database and compared)."),
    ("schema", "remedy", "Migrate (one transaction, keeps every row; building indexes holds the "
     "write lock: pick a quiet moment).", "Migrate: tables and columns in one short transaction, "
     "then each index with CREATE INDEX CONCURRENTLY (the application keeps reading and writing)."),
)


def _application_checks(db, figures, drift, steps, t, last_runs, now):
    checks = []
    for check in health.application_checks(db, figures, drift, steps, t, last_runs, now):
        for key, field, sqlite_text, pg_text in REWORDED:
            if check.key == key:
                text = getattr(check, field).replace(sqlite_text, pg_text)
                check = dataclasses.replace(check, **{field: text})
        checks.append(check)
    return checks
