"""Uploads page figures: statuses, failures, stuck jobs, uploads waiting for extraction, file
types (by upload_date).

Statuses: the four the application writes (config.STATUSES: processing, completed, failed,
uploaded), and other for anything else (NULL included). file_type is the file's extension.
The rows are the engine's (db.backend.uploads).
"""
import pandas as pd

from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.figures.definitions import STATUS_CLASSES, status_class
from r2w_db.figures.periods import Window, period_frame, rate_column, ratio, read


def status_counts(db, window: Window):
    """DataFrame status (config.STATUSES, then other), uploads: always one row per status class."""
    db = open_database(db)
    got = dict.fromkeys(STATUS_CLASSES, 0)
    with read(db) as conn:
        for status, n in db.backend.uploads.status_counts(conn, window):
            got[status_class(status)] += n
    return pd.DataFrame({"status": list(STATUS_CLASSES),
                         "uploads": [int(got[s]) for s in STATUS_CLASSES]})


def other_statuses(db, window: Window):
    """DataFrame status (the stored value; 'NULL' for none), uploads: statuses the application
    never writes."""
    db = open_database(db)
    with read(db) as conn:
        rows = db.backend.uploads.other_statuses(conn, window)
    return pd.DataFrame(rows, columns=["status", "uploads"])


def by_period(db, window: Window):
    """DataFrame period, one column per status (config.STATUSES), other, uploads, failure_rate.

    failure_rate = failed / (completed + failed), NaN where no job finished.
    """
    db = open_database(db)
    with read(db) as conn:
        rows = db.backend.uploads.by_period(conn, window)
    return by_period_frame(rows, window)


def by_period_frame(rows, window: Window):
    """by_period's frame from rows (period, a count per config.STATUSES, uploads), from the
    database or from the roll-ups."""
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


def stuck_jobs(db, now=None, limit=500):
    """{"count": n, "jobs": DataFrame job_id, file_type, uploaded_at, age_minutes}, oldest first.

    Stuck: 'processing' and uploaded more than 60 minutes before now (whatever the window).
    """
    db = open_database(db)
    now = now or timeutil.utcnow()
    cutoff = timeutil.ago(now, minutes=config.STUCK_MINUTES)
    with read(db) as conn:
        count = db.backend.stats.stuck(conn, now)   # exactly as `stats`
        # the Maintenance card's list (index seeks), without its owner column
        rows = [row[:4] for row in db.backend.stuck.stuck_oldest(conn, cutoff, now, limit)]
    jobs = pd.DataFrame(rows, columns=["job_id", "file_type", "uploaded_at", "age_minutes"])
    return {"count": count, "jobs": jobs}


def awaiting_extraction(db, now=None):
    """{"count", "oldest_at", "oldest_age_minutes", "unreadable"}: uploads in status 'uploaded' now,
    whatever the window (anonymous uploads the application extracts once the person signs up).

    oldest_at: the earliest readable upload_date (None when there is none); unreadable: those
    whose upload_date cannot be read, counted but never the oldest.
    """
    db = open_database(db)
    now = now or timeutil.utcnow()
    with read(db) as conn:
        row = db.backend.uploads.awaiting_extraction(conn, now)
    return {"count": row[0], "oldest_at": row[1], "oldest_age_minutes": row[2],
            "unreadable": row[3]}


def file_types(db, window: Window):
    """DataFrame file_type, uploads, failed, failure_rate (failed / (completed + failed))."""
    db = open_database(db)
    with read(db) as conn:
        rows = db.backend.uploads.file_types(conn, window)
    frame = pd.DataFrame(rows, columns=["file_type", "uploads", "failed", "finished"])
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
