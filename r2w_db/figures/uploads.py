"""Uploads page figures: statuses, failures, stuck jobs, uploads waiting for extraction, file
types (by upload_date).

Statuses: the four the application writes (config.STATUSES: processing, completed, failed,
uploaded), and other for anything else (NULL included). file_type is the file's extension.
"""
import pandas as pd

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.figures import stats
from r2w_db.figures.definitions import STATUS_CLASSES, status_class  # noqa: F401
from r2w_db.figures.periods import Window, period_frame, period_of, rate_column, ratio, read


@per_backend("r2w_db.backends.postgresql.uploads")
def status_counts(db, window: Window):
    """DataFrame status (config.STATUSES, then other), uploads: always one row per status class."""
    where, params = window.where("upload_date")
    with read(db) as conn:
        got = {row[0]: row[1] for row in conn.execute(
            f"SELECT {status_class()} AS status, count(*) FROM cv_uploads WHERE {where}"
            " GROUP BY 1", params)}
    return pd.DataFrame({"status": list(STATUS_CLASSES),
                         "uploads": [int(got.get(s, 0)) for s in STATUS_CLASSES]})


@per_backend("r2w_db.backends.postgresql.uploads")
def other_statuses(db, window: Window):
    """DataFrame status (the stored value; 'NULL' for none), uploads: statuses the application
    never writes."""
    where, params = window.where("upload_date")
    documented = ", ".join(f"'{s}'" for s in config.STATUSES)
    with read(db) as conn:
        rows = conn.execute(
            f"SELECT coalesce(status, 'NULL') AS status, count(*) AS uploads FROM cv_uploads"
            f" WHERE (status IS NULL OR status NOT IN ({documented})) AND {where}"
            " GROUP BY status ORDER BY uploads DESC, status", params).fetchall()
    return pd.DataFrame([tuple(r) for r in rows], columns=["status", "uploads"])


@per_backend("r2w_db.backends.postgresql.uploads")
def by_period(db, window: Window):
    """DataFrame period, one column per status (config.STATUSES), other, uploads, failure_rate.

    failure_rate = failed / (completed + failed), NaN where no job finished.
    """
    where, params = window.where("upload_date")
    sums = ", ".join(f"coalesce(sum(status = '{s}'), 0)" for s in config.STATUSES)
    with read(db) as conn:
        rows = conn.execute(
            f"SELECT {period_of('upload_date', window.grain)} AS period, {sums}, count(*)"
            f" FROM cv_uploads WHERE {where} GROUP BY 1", params).fetchall()
    return by_period_frame(rows, window)


def by_period_frame(rows, window: Window):
    """by_period's frame from rows (period, a count per config.STATUSES, uploads), on either
    backend (and from the roll-ups)."""
    frame = period_frame(rows, window, counts=(*config.STATUSES, "uploads"))
    frame.insert(1 + len(config.STATUSES), "other",
                 frame["uploads"] - frame[list(config.STATUSES)].sum(axis=1))
    frame["failure_rate"] = rate_column(frame.assign(finished=frame["completed"] + frame["failed"]),
                                        "failed", "finished")
    return frame


def status_long(frame):
    """by_period's statuses as long rows (period, status, uploads) for a stacked chart."""
    return frame[["period", *STATUS_CLASSES]].melt(
        id_vars="period", var_name="status", value_name="uploads")


@per_backend("r2w_db.backends.postgresql.uploads")
def stuck_jobs(db, now=None, limit=500):
    """{"count": n, "jobs": DataFrame job_id, file_type, uploaded_at, age_minutes}, oldest first.

    Stuck: 'processing' and uploaded more than 60 minutes before now (whatever the window).
    """
    now = now or timeutil.utcnow()
    where, params = P.older_than("upload_date", timeutil.ago(now, minutes=config.STUCK_MINUTES))
    with read(db) as conn:
        count = stats._stuck(conn, now)   # exactly as `stats`
        rows = conn.execute(
            "SELECT job_id, file_type, upload_date AS uploaded_at,"
            " (julianday(?) - julianday(upload_date)) * 1440.0 AS age_minutes"
            f" FROM cv_uploads WHERE status = 'processing' AND {where}"
            " ORDER BY julianday(upload_date) LIMIT ?",
            (timeutil.iso(now), *params, int(limit))).fetchall()
    jobs = pd.DataFrame([tuple(r) for r in rows],
                        columns=["job_id", "file_type", "uploaded_at", "age_minutes"])
    return {"count": count, "jobs": jobs}


@per_backend("r2w_db.backends.postgresql.uploads")
def awaiting_extraction(db, now=None):
    """{"count", "oldest_at", "oldest_age_minutes", "unreadable"}: uploads in status 'uploaded' now,
    whatever the window (anonymous uploads the application extracts once the person signs up).

    oldest_at: the earliest readable upload_date (None when there is none); unreadable: those
    whose upload_date cannot be read, counted but never the oldest.
    """
    now = now or timeutil.utcnow()
    bad = P.unparseable("upload_date")
    with read(db) as conn:
        row = conn.execute(
            "SELECT n, strftime('%Y-%m-%dT%H:%M:%f', first), (julianday(?) - first) * 1440.0, bad"
            f" FROM (SELECT count(*) AS n, coalesce(sum({bad}), 0) AS bad,"
            f" min(CASE WHEN NOT {bad} THEN julianday(upload_date) END) AS first"
            " FROM cv_uploads WHERE status = 'uploaded')", (timeutil.iso(now),)).fetchone()
    return {"count": row[0], "oldest_at": row[1], "oldest_age_minutes": row[2],
            "unreadable": row[3]}


@per_backend("r2w_db.backends.postgresql.uploads")
def file_types(db, window: Window):
    """DataFrame file_type, uploads, failed, failure_rate (failed / (completed + failed))."""
    where, params = window.where("upload_date")
    with read(db) as conn:
        rows = conn.execute(
            "SELECT file_type, count(*) AS uploads, coalesce(sum(status = 'failed'), 0) AS failed,"
            " coalesce(sum(status IN ('completed', 'failed')), 0) AS finished"
            f" FROM cv_uploads WHERE {where} GROUP BY file_type ORDER BY uploads DESC, file_type",
            params).fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=["file_type", "uploads", "failed", "finished"])
    frame["failure_rate"] = rate_column(frame, "failed", "finished")
    return frame.drop(columns="finished")


def summarise(counts):
    """From status_counts' frame: {"uploads", "failed", "finished", "failure_rate", "uploaded",
    "other"}."""
    counts = counts.set_index("status")["uploads"]
    failed, finished = int(counts["failed"]), int(counts["completed"] + counts["failed"])
    return {"uploads": int(counts.sum()), "failed": failed, "finished": finished,
            "failure_rate": ratio(failed, finished), "uploaded": int(counts["uploaded"]),
            "other": int(counts["other"])}
