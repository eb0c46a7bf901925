"""The stuck-jobs task's named queries on PostgreSQL: uploads still 'processing' whose
upload_date (timestamptz) is before the cutoff, failed by job_id in short committed
transactions, the condition repeated in the UPDATE after its row locks
(maintenance/stuck_jobs.py)."""
from r2w_db.backends.postgresql.window_sql import ANON, rows, utc

STUCK = "status = 'processing' AND upload_date < %(cutoff)s"
STUCK_ROWS = f"""
SELECT file_type,
       date_part('epoch', %(now)s::timestamptz - upload_date) / 60.0,
       CASE WHEN starts_with(user_id, %(anon)s) THEN 1 ELSE 0 END
FROM cv_uploads WHERE {STUCK}"""
STUCK_IDS = f"""
SELECT job_id FROM cv_uploads WHERE job_id COLLATE "C" > %(after)s AND {STUCK}
ORDER BY job_id COLLATE "C" LIMIT %(limit)s"""
FAIL_STUCK = f"""
UPDATE cv_uploads SET status = 'failed' WHERE job_id = ANY(%(ids)s) AND {STUCK}
RETURNING job_id"""


def stuck_rows(conn, cutoff, now):
    """[(file_type, age_minutes, anonymous 0/1)] of every job stuck since before `cutoff`."""
    return rows(conn, STUCK_ROWS, {"cutoff": utc(cutoff), "now": utc(now), "anon": ANON})


def stuck_ids(conn, cutoff, after, limit):
    """The next `limit` job_ids after `after` (in job_id order, byte-wise as SQLite's) of the
    jobs stuck since before `cutoff`."""
    return [r[0] for r in conn.execute(STUCK_IDS, {"cutoff": utc(cutoff), "after": after,
                                                   "limit": int(limit)})]


def fail_stuck(conn, job_ids, cutoff):
    """Set status 'failed' on those of `job_ids` still stuck since before `cutoff` (a job that
    finished meanwhile is left as it is); the job_ids changed."""
    return [r[0] for r in conn.execute(FAIL_STUCK, {"ids": list(job_ids),
                                                    "cutoff": utc(cutoff)})]
