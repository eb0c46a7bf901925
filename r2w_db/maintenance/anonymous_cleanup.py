"""Remove the uploads of stale anonymous ids: whole ids, each in one short transaction.

An anonymous id (literal prefix `anonymous_`) is stale when every one of its uploads is older
than the retention: an upload with an unreadable date is not provably old, so it keeps its id
(app/anonymous.py). The ids are found with plain reads; each short transaction of the batched
loop (engine/batching.py) then removes a few whole ids, re-checking inside the transaction that
each is still stale (a new upload or a transfer in the meantime keeps it). A run killed at any
moment therefore leaves every id either untouched or fully removed.
"""
from r2w_db import config
from r2w_db.app.anonymous import IDS_PER_READ, stale_cutoff
from r2w_db.backends import open_database
from r2w_db.engine import batching

IDS_PER_CHUNK = 20


def cleanup_stale(db, days=config.ANONYMOUS_RETENTION_DAYS, *, progress=None, should_stop=None,
                  target_ms=None, pause_ms=None):
    """Remove the uploads of every stale anonymous id; returns (ids_removed, uploads_removed).

    progress(ids_so_far, uploads_so_far) runs after each committed transaction (it may
    raise to stop the run); should_stop() ends it between transactions. target_ms and
    pause_ms: the engine's batching budget unless given.
    """
    db = open_database(db)
    moment = stale_cutoff(days)
    retention, engine = db.backend.retention, db.backend.batching
    ids_removed = uploads_removed = 0
    size = engine.START_ROWS // 10

    def remove(conn, chunk):
        nonlocal ids_removed
        gone = retention.delete_stale(conn, [user_id for user_id, _ in chunk], moment)
        ids_removed += len(set(gone))
        return len(gone)

    after = ""
    with engine.maintenance_writer(db) as conn:
        engine.prepare(conn)
        while True:
            batch = retention.stale_ids(conn, moment, after, IDS_PER_READ)
            if not batch:
                break
            after = batch[-1][0]
            base = uploads_removed
            count, done, size = batching.apply_in_transactions(
                db, conn, batch, remove, chunk=IDS_PER_CHUNK, target_ms=target_ms,
                pause_ms=pause_ms, size=size, should_stop=should_stop,
                after_commit=(lambda n: progress(ids_removed, base + n)) if progress else None)
            uploads_removed += count
            if done < len(batch) or len(batch) < IDS_PER_READ:
                break
            if should_stop and should_stop():
                break
    return ids_removed, uploads_removed
