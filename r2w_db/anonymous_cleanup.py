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

from . import batching, config, errors, predicates as P, timeutil
from .connection import as_database

IDS_PER_READ = 2_000
IDS_PER_CHUNK = 20


def _cutoff(days):
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    return timeutil.iso(timeutil.ago(days=days))


# An id is stale when all of its uploads are provably older than the cutoff
# (julianday of an unreadable date is NULL: the comparison is NULL, not counted).
STALE = "count(*) = sum(julianday(upload_date) < julianday(?))"


def count_stale(db, days=config.ANONYMOUS_RETENTION_DAYS):
    """(ids, uploads) that a cleanup would remove now; read-only."""
    cutoff = _cutoff(days)
    with as_database(db).read() as conn:
        row = conn.execute(f"""
            SELECT count(*) AS ids, coalesce(sum(n), 0) AS uploads FROM (
                SELECT count(*) AS n FROM cv_uploads WHERE {P.is_anonymous()}
                GROUP BY user_id HAVING {STALE})""", (cutoff,)).fetchone()
    return row["ids"], row["uploads"]


def stale_ids(conn, cutoff, after="", limit=IDS_PER_READ):
    """The next `limit` stale anonymous ids after `after`, in order, with their upload counts."""
    return [(row[0], row[1]) for row in conn.execute(f"""
        SELECT user_id, count(*) FROM cv_uploads
        WHERE {P.is_anonymous()} AND user_id > ?
        GROUP BY user_id HAVING {STALE} ORDER BY user_id LIMIT ?""", (after, cutoff, int(limit)))]


_DELETE = f"""
DELETE FROM cv_uploads WHERE user_id IN (
    SELECT user_id FROM cv_uploads
    WHERE user_id IN (SELECT value FROM json_each(?)) AND {P.is_anonymous()}
    GROUP BY user_id HAVING {STALE})
RETURNING user_id"""


def cleanup_stale(db, days=config.ANONYMOUS_RETENTION_DAYS, *, progress=None, should_stop=None,
                  target_ms=batching.TARGET_MS, pause_ms=batching.PAUSE_MS):
    """Remove the uploads of every stale anonymous id; returns (ids_removed, uploads_removed).

    progress(ids_so_far, uploads_so_far) runs after each committed transaction (it may
    raise to stop the run); should_stop() ends it between transactions.
    """
    cutoff = _cutoff(days)
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
