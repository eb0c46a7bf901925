"""The stuck-jobs task's named queries on PostgreSQL: uploads still 'processing' whose
upload_date (timestamptz) is before the cutoff, failed by job_id in short committed
transactions, the condition repeated in the UPDATE after its row locks
(maintenance/stuck_jobs.py)."""
from r2w_db.backends.postgresql.window_sql import ANON, ISO_FORMAT, rows, utc

STUCK = "status = 'processing' AND upload_date < %(cutoff)s"
# minutes between instants rounded to the millisecond, as SQLite's julianday() rounds them
AGE_MINUTES = """date_part('epoch',
                 date_trunc('milliseconds', %(now)s::timestamptz + interval '500 microseconds')
                 - date_trunc('milliseconds', upload_date + interval '500 microseconds')) / 60.0"""
STUCK_OLDEST = f"""
SELECT job_id, file_type, to_char(upload_date AT TIME ZONE 'UTC', %(iso)s), {AGE_MINUTES},
       CASE WHEN starts_with(user_id, %(anon)s) THEN 1 ELSE 0 END
FROM cv_uploads WHERE {STUCK}
ORDER BY upload_date, job_id COLLATE "C" LIMIT %(limit)s"""
STUCK_COUNTS = f"""
WITH s AS MATERIALIZED (SELECT upload_date FROM cv_uploads WHERE {STUCK})
SELECT (SELECT count(*) FROM s),
       array(SELECT (SELECT count(*) FROM s WHERE upload_date > y.m)
             FROM unnest(%(younger)s::timestamptz[]) WITH ORDINALITY AS y(m, i) ORDER BY y.i)"""
STUCK_IDS = f"""
SELECT job_id FROM cv_uploads WHERE job_id COLLATE "C" > %(after)s AND {STUCK}
ORDER BY job_id COLLATE "C" LIMIT %(limit)s"""
FAIL_STUCK = f"""
UPDATE cv_uploads SET status = 'failed' WHERE job_id = ANY(%(ids)s) AND {STUCK}
RETURNING job_id"""


def stuck_counts(conn, cutoff, younger_than):
    """(n, [n uploaded after each of `younger_than`]) of the jobs stuck since before `cutoff`
    (an index-only scan of (status, upload_date))."""
    n, after = conn.execute(STUCK_COUNTS, {"cutoff": utc(cutoff),
                                           "younger": [utc(m) for m in younger_than]}).fetchone()
    return n, list(after)


def stuck_oldest(conn, cutoff, now, limit):
    """[(job_id, file_type, uploaded_at, age_minutes, anonymous 0/1)] of the `limit` jobs stuck
    longest since before `cutoff`, oldest first (then by job_id): an index range."""
    return rows(conn, STUCK_OLDEST, {"cutoff": utc(cutoff), "now": utc(now), "anon": ANON,
                                     "iso": ISO_FORMAT, "limit": int(limit)})


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
