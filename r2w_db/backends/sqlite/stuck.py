"""The stuck-jobs task's named queries on SQLite: uploads still 'processing' whose upload_date
is an instant before the cutoff, found by plain reads and failed by job_id in short
transactions, the condition repeated in the UPDATE (maintenance/stuck_jobs.py)."""
import json

from r2w_db.engine import timeutil
from r2w_db.backends.sqlite.predicates import is_anonymous, older_than


def _stuck(cutoff):
    where, params = older_than("upload_date", cutoff)
    return f"status = 'processing' AND {where}", params


def stuck_rows(conn, cutoff, now):
    """[(file_type, age_minutes, anonymous 0/1)] of every job stuck since before `cutoff`."""
    where, params = _stuck(cutoff)
    return [tuple(r) for r in conn.execute(
        f"SELECT file_type, (julianday(?) - julianday(upload_date)) * 1440.0,"
        f" {is_anonymous()} FROM cv_uploads WHERE {where}", (timeutil.iso(now), *params))]


def stuck_ids(conn, cutoff, after, limit):
    """The next `limit` job_ids after `after` (in job_id order) of the jobs stuck since before
    `cutoff`."""
    where, params = _stuck(cutoff)
    return [r[0] for r in conn.execute(
        f"SELECT job_id FROM cv_uploads WHERE job_id > ? AND {where} ORDER BY job_id LIMIT ?",
        (after, *params, int(limit)))]


def fail_stuck(conn, job_ids, cutoff):
    """Set status 'failed' on those of `job_ids` still stuck since before `cutoff` (a job that
    finished meanwhile is left as it is); the job_ids changed."""
    where, params = _stuck(cutoff)
    return [r[0] for r in conn.execute(
        "UPDATE cv_uploads SET status = 'failed' WHERE job_id IN (SELECT value FROM json_each(?))"
        f" AND {where} RETURNING job_id", (json.dumps(list(job_ids)), *params))]
