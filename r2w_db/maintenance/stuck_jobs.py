"""Stuck jobs: uploads left in 'processing' for longer than N minutes (the extraction worker
died or lost them) marked 'failed', as the application marks a failed extraction
(app/uploads.py, mark_stuck_failed), so that their owners see a failure and upload again.

The preview counts them and their ages on the index alone, and lists the SHOWN oldest (age,
file type, registered or anonymous owner: never a name): it reads SHOWN rows, however many
jobs are stuck.
The run finds their job_ids with plain reads, then fails them in short transactions
(engine/batching.py); each UPDATE repeats `status = 'processing' AND upload_date < cutoff`
for its batch's ids, so a job that finished between the preview and its batch is never touched,
and a run killed at any moment leaves every job either failed or as it was.
"""
from r2w_db import config, errors
from r2w_db.app.uploads import mark_stuck_failed
from r2w_db.backends import open_database
from r2w_db.engine import batching, timeutil
from r2w_db.formatting import plural

DEFAULT_MINUTES = config.STUCK_MINUTES      # the Stuck jobs check's own threshold
MAX_MINUTES = config.MAX_SETTING_DAYS * 1440
IDS_PER_READ = 5_000
IDS_PER_CHUNK = 200
SHOWN = 20                  # the oldest stuck jobs a preview lists
AGE_BUCKETS = ((120, "1-2 h"), (360, "2-6 h"), (1440, "6-24 h"), (None, "over 1 day"))


def check_minutes(minutes):
    """The minutes a run takes: DEFAULT_MINUTES when None, else a whole number from 1 to
    MAX_MINUTES (InvalidValue otherwise)."""
    if minutes is None:
        return DEFAULT_MINUTES
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise errors.InvalidValue(f"minutes must be a whole number >= 1, not {minutes!r}")
    if minutes > MAX_MINUTES:
        raise errors.InvalidValue(f"minutes must be at most {MAX_MINUTES}, not {minutes}")
    return minutes


def cutoff(minutes, now=None):
    """The upload_date before which a job still 'processing' counts as stuck."""
    return timeutil.ago(now or timeutil.utcnow(), minutes=check_minutes(minutes))


def figures(db, minutes=None, now=None, shown=SHOWN):
    """{"minutes", "count", "oldest_minutes", "ages" {bucket: n}, "shown", "oldest" [{"job_id",
    "file_type", "uploaded_at", "age_minutes", "owner" registered|anonymous}]} of the stuck
    jobs (one read). Costs the `shown` oldest jobs' rows, not every stuck job's: the count and
    the ages come from the (status, upload_date) index alone."""
    db = open_database(db)
    minutes = check_minutes(minutes)
    now = now or timeutil.utcnow()
    limits = [limit for limit, _ in AGE_BUCKETS if limit is not None]
    with db.read() as conn:
        count, younger = db.backend.stuck.stuck_counts(
            conn, cutoff(minutes, now), [timeutil.ago(now, minutes=m) for m in limits])
        found = db.backend.stuck.stuck_oldest(conn, cutoff(minutes, now), now, shown)
    within = [int(n) for n in younger] + [int(count)]     # younger than each limit, then all
    ages = dict(zip((label for _, label in AGE_BUCKETS),
                    (n - below for n, below in zip(within, [0, *within]))))
    oldest = [{"job_id": job, "file_type": file_type, "uploaded_at": uploaded_at,
               "age_minutes": float(age), "owner": "anonymous" if anon else "registered"}
              for job, file_type, uploaded_at, age, anon in found]
    return {"minutes": minutes, "count": int(count),
            "oldest_minutes": round(oldest[0]["age_minutes"], 1) if oldest else None,
            "ages": ages, "shown": len(oldest), "oldest": oldest}


def nothing_message(minutes):
    return f"nothing to do: no job has been processing for more than {minutes} min"


def preview_message(found):
    """One line saying what a run would do."""
    n, minutes = found["count"], found["minutes"]
    if not n:
        return nothing_message(minutes)
    ages = ", ".join(f"{label} {v:,}" for label, v in found["ages"].items() if v)
    return (f"{plural(n, 'upload')} processing for more than {minutes} min would be marked "
            f"failed (oldest {found['oldest_minutes'] / 60:.1f} h; {ages})")


def shown_line(found):
    """What `found["oldest"]` holds: 'showing the 20 oldest of 1,640 stuck jobs' (or 'showing
    all 4 stuck jobs', 'showing the only stuck job')."""
    n, shown = found["count"], found["shown"]
    if shown < n:
        return f"showing the {shown:,} oldest of {n:,} stuck jobs"
    return "showing the only stuck job" if n == 1 else f"showing all {n:,} stuck jobs"


def fail_stuck(db, minutes=None, *, now=None, progress=None, should_stop=None, target_ms=None,
               pause_ms=None, chunk=IDS_PER_CHUNK):
    """Mark every job stuck for more than `minutes` failed; returns how many were changed.

    progress(changed_so_far) runs after each committed transaction (it may raise to stop the
    run); should_stop() ends it between transactions. target_ms, pause_ms: the engine's
    batching budget unless given; chunk: job_ids per UPDATE."""
    db = open_database(db)
    moment = cutoff(minutes, now)
    engine = db.backend.batching
    changed, size, after = 0, engine.START_ROWS, ""

    def fail(conn, ids):
        return len(mark_stuck_failed(db, conn, ids, moment))

    with engine.maintenance_writer(db) as conn:
        engine.prepare(conn)
        while True:
            # found by a plain read between transactions: no lock is held for the scan
            batch = db.backend.stuck.stuck_ids(conn, moment, after, IDS_PER_READ)
            if not batch:
                break
            after, base = batch[-1], changed
            count, done, size = batching.apply_in_transactions(
                db, conn, batch, fail, chunk=chunk, target_ms=target_ms, pause_ms=pause_ms,
                size=size, should_stop=should_stop,
                after_commit=(lambda n: progress(base + n)) if progress else None)
            changed += count
            if done < len(batch) or len(batch) < IDS_PER_READ:
                break
            if should_stop and should_stop():
                break
    return changed
