"""Stuck jobs: uploads left in 'processing' for longer than N minutes (the extraction worker
died or lost them) marked 'failed', as the application marks a failed extraction
(app/uploads.py, mark_stuck_failed), so that their owners see a failure and upload again.

The preview counts them (ages, file types, registered or anonymous owners: never a name).
The run finds their job_ids with plain reads, then fails them in short transactions
(engine/batching.py); each UPDATE repeats `status = 'processing' AND upload_date < cutoff`
for its batch's ids, so a job that finished between the preview and its batch is never touched,
and a run killed at any moment leaves every job either failed or as it was.
"""
import statistics

from r2w_db import config, errors
from r2w_db.app.uploads import mark_stuck_failed
from r2w_db.backends import open_database
from r2w_db.engine import batching, timeutil
from r2w_db.formatting import plural

DEFAULT_MINUTES = config.STUCK_MINUTES      # the Stuck jobs check's own threshold
MAX_MINUTES = config.MAX_SETTING_DAYS * 1440
IDS_PER_READ = 5_000
IDS_PER_CHUNK = 200
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


def _bucket(age):
    for limit, label in AGE_BUCKETS:
        if limit is None or age < limit:
            return label
    raise AssertionError(age)


def figures(db, minutes=None, now=None):
    """{"minutes", "count", "oldest_minutes", "median_minutes", "ages" {bucket: n},
    "file_types" {type: n}, "owners" {"registered", "anonymous"}} of the stuck jobs (one read)."""
    db = open_database(db)
    minutes = check_minutes(minutes)
    now = now or timeutil.utcnow()
    with db.read() as conn:
        found = db.backend.stuck.stuck_rows(conn, cutoff(minutes, now), now)
    ages = sorted(round(float(age), 1) for _, age, _ in found)
    types, buckets = {}, dict.fromkeys((label for _, label in AGE_BUCKETS), 0)
    for file_type, age, _ in found:
        types[file_type] = types.get(file_type, 0) + 1
        buckets[_bucket(float(age))] += 1
    anonymous = sum(1 for *_, anon in found if anon)
    return {"minutes": minutes, "count": len(found),
            "oldest_minutes": ages[-1] if ages else None,
            "median_minutes": round(statistics.median(ages), 1) if ages else None,
            "ages": buckets,
            "file_types": dict(sorted(types.items(), key=lambda kv: (-kv[1], str(kv[0])))),
            "owners": {"registered": len(found) - anonymous, "anonymous": anonymous}}


def nothing_message(minutes):
    return f"nothing to do: no job has been processing for more than {minutes} min"


def preview_message(found):
    """One line saying what a run would do."""
    n, minutes = found["count"], found["minutes"]
    if not n:
        return nothing_message(minutes)
    types = ", ".join(f"{k} {v:,}" for k, v in found["file_types"].items())
    owners = found["owners"]
    return (f"{plural(n, 'upload')} processing for more than {minutes} min would be marked "
            f"failed (oldest {found['oldest_minutes'] / 60:.1f} h, median "
            f"{found['median_minutes'] / 60:.1f} h; {types}; owners: {owners['registered']:,} "
            f"registered, {owners['anonymous']:,} anonymous)")


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
