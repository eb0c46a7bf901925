"""Remove the uploads of stale anonymous ids: whole ids, each in one short transaction.

An anonymous id (literal prefix `anonymous_`, see predicates.is_anonymous) is
stale when every one of its uploads is older than the retention: an upload with
an unreadable date is not provably old, so it keeps its id. The ids are found
with plain reads; each short BEGIN IMMEDIATE transaction then removes a few
whole ids, re-checking inside the transaction that each is still stale (a new
upload or a transfer in the meantime keeps it). A run killed at any moment
therefore leaves every id either untouched or fully removed.
"""
import json

from r2w_db import config
from r2w_db.app.anonymous import IDS_PER_READ, STALE, stale_cutoff, stale_ids
from r2w_db.engine import batching
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.database import as_database

IDS_PER_CHUNK = 20


_DELETE = f"""
DELETE FROM cv_uploads WHERE user_id IN (
    SELECT user_id FROM cv_uploads
    WHERE user_id IN (SELECT value FROM json_each(?)) AND {P.is_anonymous()}
    GROUP BY user_id HAVING {STALE})
RETURNING user_id"""


@per_backend("r2w_db.backends.postgresql.retention")
def cleanup_stale(db, days=config.ANONYMOUS_RETENTION_DAYS, *, progress=None, should_stop=None,
                  target_ms=batching.TARGET_MS, pause_ms=batching.PAUSE_MS):
    """Remove the uploads of every stale anonymous id; returns (ids_removed, uploads_removed).

    progress(ids_so_far, uploads_so_far) runs after each committed transaction (it may
    raise to stop the run); should_stop() ends it between transactions.
    """
    cutoff = stale_cutoff(days)
    ids_removed = uploads_removed = 0
    size = batching.START_ROWS // 10

    def remove(conn, chunk):
        nonlocal ids_removed
        gone = conn.execute(_DELETE, (json.dumps([user_id for user_id, _ in chunk]), cutoff)).fetchall()
        ids_removed += len({row[0] for row in gone})
        return len(gone)

    after = ""
    with as_database(db).write() as conn:
        batching.prepare(conn)
        while True:
            batch = stale_ids(conn, cutoff, after)
            if not batch:
                break
            after = batch[-1][0]
            base = uploads_removed
            count, done, size = batching.apply_in_transactions(
                conn, batch, remove, chunk=IDS_PER_CHUNK, target_ms=target_ms, pause_ms=pause_ms,
                size=size, should_stop=should_stop,
                after_commit=(lambda n: progress(ids_removed, base + n)) if progress else None)
            uploads_removed += count
            if done < len(batch) or len(batch) < IDS_PER_READ:
                break
            if should_stop and should_stop():
                break
    return ids_removed, uploads_removed
