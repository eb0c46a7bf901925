"""uploads on PostgreSQL: statuses, failures, stuck jobs, uploads waiting for extraction, file
types. Same results as uploads.py.

Statuses are counted per stored value (GROUP BY status) and classed in Python with
config.STATUSES, as stats does. Timestamps shown are in the stored form (timeutil.iso's);
awaiting_extraction's oldest_at keeps SQLite's strftime('%Y-%m-%dT%H:%M:%f') form. Ages in
minutes are taken between instants rounded to the millisecond, as SQLite's julianday() rounds
them, so both backends give the same ages (to SQLite's floating-point resolution).
"""
import pandas as pd

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures import uploads
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.figures.periods import Window, rate_column
from r2w_db.backends.postgresql.periods import (ISO_FORMAT, UPLOAD_IN_WINDOW, per_period, period_rows, read,
                                       rows, utc, window_params)
from r2w_db.figures.uploads import STATUS_CLASSES

STATUS_COUNTS = "SELECT status, count(*) FROM cv_uploads WHERE " + UPLOAD_IN_WINDOW + " GROUP BY 1"
OTHER_STATUSES = """
SELECT coalesce(status, 'NULL') AS status, count(*) AS uploads FROM cv_uploads
WHERE (status IS NULL OR NOT status = ANY(%(statuses)s)) AND """ + UPLOAD_IN_WINDOW + """
GROUP BY cv_uploads.status
ORDER BY count(*) DESC, coalesce(cv_uploads.status, 'NULL') COLLATE "C" """
BY_PERIOD = per_period("upload_date", UPLOAD_IN_WINDOW, by="status")
STUCK_JOBS = """
SELECT job_id, file_type, to_char(upload_date AT TIME ZONE 'UTC', %(iso)s) AS uploaded_at,
       date_part('epoch',
                 date_trunc('milliseconds', %(now)s::timestamptz + interval '500 microseconds')
                 - date_trunc('milliseconds', upload_date + interval '500 microseconds')) / 60.0
           AS age_minutes
FROM cv_uploads WHERE status = 'processing' AND upload_date < %(stuck)s
ORDER BY upload_date, job_id COLLATE "C" LIMIT %(limit)s"""
AWAITING = """
SELECT n, to_char(first AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS'),
       date_part('epoch', date_trunc('milliseconds', %(now)s::timestamptz
                                     + interval '500 microseconds') - first) / 60.0
FROM (SELECT count(*) AS n,
             date_trunc('milliseconds', min(upload_date) + interval '500 microseconds') AS first
      FROM cv_uploads WHERE status = 'uploaded') AS waiting"""
FILE_TYPES = """
SELECT file_type, count(*) AS uploads, count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status IN ('completed', 'failed')) AS finished
FROM cv_uploads WHERE """ + UPLOAD_IN_WINDOW + """
GROUP BY file_type ORDER BY 2 DESC, file_type COLLATE "C" """


def status_class(status):
    """The status, or 'other' for anything the application never writes (None included)."""
    return status if status in config.STATUSES else "other"


def status_counts(db, window: Window):
    """uploads.status_counts: DataFrame status (config.STATUSES, then other), uploads."""
    got = dict.fromkeys(STATUS_CLASSES, 0)
    with read(db) as conn:
        for status, n in conn.execute(STATUS_COUNTS, window_params(window)):
            got[status_class(status)] += n
    return pd.DataFrame({"status": list(STATUS_CLASSES),
                         "uploads": [int(got[s]) for s in STATUS_CLASSES]})


def other_statuses(db, window: Window):
    """uploads.other_statuses: DataFrame status (the stored value, 'NULL' for none), uploads."""
    with read(db) as conn:
        got = rows(conn, OTHER_STATUSES,
                   window_params(window, statuses=list(config.STATUSES)))
    return pd.DataFrame(got, columns=["status", "uploads"])


def by_period(db, window: Window):
    """uploads.by_period: DataFrame period, one column per config.STATUSES, other, uploads,
    failure_rate (failed / (completed + failed), NaN where no job finished)."""
    with read(db) as conn:
        got = period_rows(conn, BY_PERIOD, window_params(window))
    periods = {}
    for period, status, n in got:
        counts = periods.setdefault(period, dict.fromkeys((*config.STATUSES, "uploads"), 0))
        if status in config.STATUSES:
            counts[status] += n
        counts["uploads"] += n
    flat = [(period, *counts.values()) for period, counts in periods.items()]
    return uploads.by_period_frame(flat, window)


def stuck_jobs(db, now=None, limit=500):
    """uploads.stuck_jobs: {"count", "jobs": DataFrame job_id, file_type, uploaded_at,
    age_minutes}, oldest first."""
    now = now or timeutil.utcnow()
    params = {**pg_stats._params(now), "now": utc(now), "iso": ISO_FORMAT, "limit": int(limit)}
    with read(db) as conn:
        count = conn.execute(pg_stats.STUCK_SQL, params).fetchone()[0]   # exactly as `stats`
        got = rows(conn, STUCK_JOBS, params)
    jobs = pd.DataFrame(got, columns=["job_id", "file_type", "uploaded_at", "age_minutes"])
    return {"count": count, "jobs": jobs}


def awaiting_extraction(db, now=None):
    """uploads.awaiting_extraction: {"count", "oldest_at", "oldest_age_minutes", "unreadable"}
    (a timestamptz always reads: unreadable is 0)."""
    now = now or timeutil.utcnow()
    with read(db) as conn:
        n, oldest, age = conn.execute(AWAITING, {"now": utc(now)}).fetchone()
    return {"count": n, "oldest_at": oldest, "oldest_age_minutes": age, "unreadable": 0}


def file_types(db, window: Window):
    """uploads.file_types: DataFrame file_type, uploads, failed, failure_rate."""
    with read(db) as conn:
        got = rows(conn, FILE_TYPES, window_params(window))
    frame = pd.DataFrame(got, columns=["file_type", "uploads", "failed", "finished"])
    frame["failure_rate"] = rate_column(frame, "failed", "finished")
    return frame.drop(columns="finished")
