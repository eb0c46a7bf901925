"""The Uploads page's named queries on PostgreSQL: statuses, failures, uploads waiting for
extraction, file types, and the oldest upload's day (its stuck jobs: stuck.stuck_oldest).

Statuses are counted per stored value (GROUP BY status) and classed with config.STATUSES, as
stats does. Timestamps shown are in the stored form (timeutil.iso's); awaiting_extraction's
oldest_at keeps SQLite's strftime('%Y-%m-%dT%H:%M:%f') form. Ages in minutes are taken between
instants rounded to the millisecond, as SQLite's julianday() rounds them, so both backends give
the same ages (to SQLite's floating-point resolution).
"""
from r2w_db import config
from r2w_db.engine import schema
from r2w_db.backends.postgresql.window_sql import (  # noqa: F401  (status_class: re-exported)
    ANON, UPLOAD_IN_WINDOW, per_period, period_rows, rows, status_class, utc,
    window_params)

STATUS_COUNTS = "SELECT status, count(*) FROM cv_uploads WHERE " + UPLOAD_IN_WINDOW + " GROUP BY 1"
FOREIGN_STATUS = " OR ".join(["status IS NULL", *(f"({r})" for r in
                                                schema.foreign_status_ranges(config.STATUSES))])
OTHER_STATUSES = """
SELECT coalesce(status, 'NULL') AS status, count(*) AS uploads FROM cv_uploads
WHERE (""" + FOREIGN_STATUS + ") AND " + UPLOAD_IN_WINDOW + """
GROUP BY cv_uploads.status
ORDER BY count(*) DESC, coalesce(cv_uploads.status, 'NULL') COLLATE "C" """
BY_PERIOD = per_period("upload_date", UPLOAD_IN_WINDOW, by="status")
AWAITING = """
SELECT n, to_char(first AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
       date_part('epoch', date_trunc('milliseconds', %(now)s::timestamptz
                                     + interval '500 microseconds') - first) / 60.0
FROM (SELECT count(*) AS n,
             date_trunc('milliseconds', min(upload_date) + interval '500 microseconds') AS first
      FROM cv_uploads WHERE status = 'uploaded') AS waiting"""
AWAITING_OLDEST = """
SELECT to_char(first AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
       date_part('epoch', date_trunc('milliseconds', %(now)s::timestamptz
                                     + interval '500 microseconds') - first) / 60.0
FROM (SELECT date_trunc('milliseconds', upload_date + interval '500 microseconds') AS first
      FROM cv_uploads WHERE status = 'uploaded' ORDER BY upload_date LIMIT 1) AS oldest
RIGHT JOIN (SELECT 1) AS one ON true"""
FILE_TYPES = """
SELECT file_type, count(*) AS uploads, count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status IN ('completed', 'failed')) AS finished
FROM cv_uploads WHERE """ + UPLOAD_IN_WINDOW + """
GROUP BY file_type ORDER BY 2 DESC, file_type COLLATE "C" """
OLDEST_DAY = ("SELECT to_char(min(upload_date) AT TIME ZONE 'UTC', 'YYYY-MM-DD') FROM cv_uploads"
              " WHERE %(anonymous_only)s IS NOT TRUE OR starts_with(user_id, %(anon)s)")


def status_counts(conn, window):
    """[(status, uploads)] of the window's uploads, per stored status (classed by the caller)."""
    return rows(conn, STATUS_COUNTS, window_params(window))


def other_statuses(conn, window):
    """[(stored status or 'NULL', uploads)] of the statuses the application never writes."""
    return rows(conn, OTHER_STATUSES, window_params(window))


def by_period(conn, window):
    """[(period, a count per config.STATUSES, uploads)] of the window."""
    periods = {}
    for period, status, n in period_rows(conn, BY_PERIOD, window_params(window)):
        counts = periods.setdefault(period, dict.fromkeys((*config.STATUSES, "uploads"), 0))
        if status in config.STATUSES:
            counts[status] += n
        counts["uploads"] += n
    return [(period, *counts.values()) for period, counts in periods.items()]


def awaiting_extraction(conn, now):
    """(count, oldest_at, oldest_age_minutes, unreadable) of the uploads in status 'uploaded'
    (a timestamptz always reads: unreadable is 0)."""
    n, oldest, age = conn.execute(AWAITING, {"now": utc(now)}).fetchone()
    return n, oldest, age, 0


def awaiting_oldest(conn, now):
    """(oldest_at, oldest_age_minutes, unreadable) as awaiting_extraction gives them, without
    its count: the first row of the (status, upload_date) index."""
    oldest, age = conn.execute(AWAITING_OLDEST, {"now": utc(now)}).fetchone()
    return oldest, age, 0


def file_types(conn, window):
    """[(file_type, uploads, failed, finished)] of the window, most uploads first."""
    return rows(conn, FILE_TYPES, window_params(window))


def oldest_day(conn, anonymous_only):
    """The UTC day ('YYYY-MM-DD') of the oldest upload (only anonymous ones), or None."""
    return conn.execute(OLDEST_DAY, {"anonymous_only": bool(anonymous_only),
                                     "anon": ANON}).fetchone()[0]
