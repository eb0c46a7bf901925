"""The stuck-jobs task's named queries on SQLite: uploads still 'processing' whose upload_date
is an instant before the cutoff, found by plain reads and failed by job_id in short
transactions, the condition repeated in the UPDATE (maintenance/stuck_jobs.py)."""
import json

from r2w_db.engine import schema, timeutil
from r2w_db.backends.sqlite.predicates import is_anonymous, older_than


def _stuck(cutoff):
    where, params = older_than("upload_date", cutoff)
    return f"status = 'processing' AND {where}", params


def stuck_counts(conn, cutoff, younger_than):
    """(n, [n uploaded after each of `younger_than`]) of the jobs stuck since before `cutoff`:
    read from the (status, upload_date) index alone, never the table's rows."""
    where, params = _stuck(cutoff)
    sums = "".join(", coalesce(sum(julianday(upload_date) > julianday(?)), 0)"
                   for _ in younger_than)
    n, *after = conn.execute(f"SELECT count(*){sums} FROM cv_uploads WHERE {where}",
                             (*map(timeutil.iso, younger_than), *params)).fetchone()
    return n, after


def stuck_oldest(conn, cutoff, now, limit):
    """[(job_id, file_type, uploaded_at, age_minutes, anonymous 0/1)] of the `limit` jobs stuck
    longest since before `cutoff`, oldest first (then by job_id): index seeks. The canonical
    timestamps come first on the (status, upload_date) index (canonical text sorts as its
    instant); the odd ones (normally none) are found on migration 9's partial index."""
    where, params = _stuck(cutoff)
    older, older_params = older_than("upload_date", cutoff)
    odd = schema.time_is_odd("upload_date")
    columns = ("job_id, file_type, upload_date, (julianday(?) - julianday(upload_date)) * 1440.0,"
               f" {is_anonymous()}, julianday(upload_date) AS j")
    moment = timeutil.iso(now)
    return [tuple(r[:5]) for r in conn.execute(
        f"SELECT * FROM (SELECT * FROM (SELECT {columns} FROM cv_uploads WHERE {where}"
        f" AND NOT {odd} ORDER BY upload_date, job_id LIMIT ?)"
        f" UNION ALL SELECT {columns} FROM cv_uploads WHERE +status = 'processing' AND {older}"
        f" AND rowid IN (SELECT rowid FROM cv_uploads WHERE {odd})) ORDER BY j, job_id LIMIT ?",
        (moment, *params, int(limit), moment, *older_params, int(limit)))]


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
