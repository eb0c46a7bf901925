"""The retention cleanups on PostgreSQL: the same definitions as on SQLite, PostgreSQL's SQL.

sessions.py, cache.py, anonymous.py and maintenance/anonymous_cleanup.py dispatch here (with
backends.per_backend) for a PgDatabase, so previews, health checks and cleanups count the same
rows on both backends (tests/test_pg_maintenance.py proves it on the same data):
- sessions: created more than `days` ago (an instant strictly before the cutoff);
- cache entries: created more than `days` ago and never reused (COALESCE(access_count, 1) <= 1);
- anonymous ids (literal prefix `anonymous_`, starts_with): stale when EVERY upload is older
  than the retention; an upload with no date is not provably old and keeps its id.
Timestamps are timestamptz, so "older than" is a plain comparison of instants. Deletes run in
short committed transactions (engine/pg_batching.py); an anonymous id goes whole in one
transaction, re-checked there, so a killed run leaves every id untouched or fully removed.
"""
import numbers
from datetime import timezone

from r2w_db import config, errors
from r2w_db.app.anonymous import IDS_PER_READ
from r2w_db.engine import timeutil
from r2w_db.backends.postgresql import batching as pg_batching
from r2w_db.backends.postgresql.database import as_pg

ANON = config.ANONYMOUS_PREFIX
IDS_PER_CHUNK = 20   # ids per DELETE statement, as on SQLite
OLD_SESSION = "created_at < %s"
OLD_UNUSED_ENTRY = "created_at < %s AND COALESCE(access_count, 1) <= 1"
STALE = "count(*) = count(*) FILTER (WHERE upload_date < %(cutoff)s)"
COUNT_STALE = f"""
SELECT count(*), coalesce(sum(n), 0)::bigint FROM (
    SELECT count(*) AS n FROM cv_uploads WHERE starts_with(user_id, %(anon)s)
    GROUP BY user_id HAVING {STALE}) AS stale"""
NEXT_STALE = f"""
SELECT user_id, count(*) FROM cv_uploads
WHERE starts_with(user_id, %(anon)s) AND user_id > %(after)s
GROUP BY user_id HAVING {STALE} ORDER BY user_id LIMIT %(limit)s"""
DELETE_STALE = f"""
DELETE FROM cv_uploads WHERE user_id IN (
    SELECT user_id FROM cv_uploads
    WHERE user_id = ANY(%(ids)s) AND starts_with(user_id, %(anon)s)
    GROUP BY user_id HAVING {STALE})
RETURNING user_id"""


def cutoff(days):
    """The aware UTC instant `days` ago (a number >= 0, as on SQLite)."""
    if isinstance(days, bool) or not isinstance(days, numbers.Real) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    return timeutil.ago(days=days).replace(tzinfo=timezone.utc)


def _where(text):
    from psycopg import sql

    return sql.SQL(text)


# ---------------------------------------------------------------------- sessions

def old_session_counts(db, days=config.SESSION_DAYS) -> tuple:
    """(sessions, distinct users) cleanup_old_sessions would delete."""
    with as_pg(db).read() as conn:
        return tuple(conn.execute(
            f"SELECT count(*), count(DISTINCT user_id) FROM sessions WHERE {OLD_SESSION}",
            (cutoff(days),)).fetchone())


def count_old_sessions(db, days=config.SESSION_DAYS) -> int:
    return old_session_counts(db, days)[0]


def cleanup_old_sessions(db, days=config.SESSION_DAYS, progress=None) -> int:
    """Delete sessions created more than `days` days ago, in short committed batches."""
    return pg_batching.delete_in_batches(db, "sessions", _where(OLD_SESSION),
                                         (cutoff(days),), progress=progress)


# ------------------------------------------------------------------------- cache

def count_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS) -> int:
    with as_pg(db).read() as conn:
        return conn.execute(f"SELECT count(*) FROM cv_extraction_cache WHERE {OLD_UNUSED_ENTRY}",
                            (cutoff(days),)).fetchone()[0]


def cleanup_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS, progress=None) -> int:
    """Delete entries created more than `days` days ago and never reused, in short batches."""
    return pg_batching.delete_in_batches(db, "cv_extraction_cache", _where(OLD_UNUSED_ENTRY),
                                         (cutoff(days),), progress=progress)


# --------------------------------------------------------------------- anonymous

def count_stale(db, days=config.ANONYMOUS_RETENTION_DAYS):
    """(ids, uploads) that the anonymous cleanup would remove now; read-only."""
    with as_pg(db).read() as conn:
        ids, uploads = conn.execute(COUNT_STALE, {"anon": ANON, "cutoff": cutoff(days)}).fetchone()
    return ids, uploads


def cleanup_stale(db, days=config.ANONYMOUS_RETENTION_DAYS, *, progress=None, should_stop=None,
                  target_ms=pg_batching.TARGET_MS, pause_ms=pg_batching.PAUSE_MS):
    """Remove the uploads of every stale anonymous id; returns (ids_removed, uploads_removed).

    progress(ids_so_far, uploads_so_far) runs after each committed transaction (it may raise
    to stop the run); should_stop() ends it between transactions.
    """
    moment = cutoff(days)
    ids_removed = uploads_removed = 0
    size = pg_batching.START_ROWS // 10

    def remove(conn, chunk):
        nonlocal ids_removed
        gone = conn.execute(DELETE_STALE, {"ids": [user_id for user_id, _ in chunk],
                                           "anon": ANON, "cutoff": moment}).fetchall()
        ids_removed += len({row[0] for row in gone})
        return len(gone)

    after = ""
    with as_pg(db).write(autocommit=True) as conn:
        while True:
            batch = [tuple(row) for row in conn.execute(
                NEXT_STALE, {"anon": ANON, "after": after, "cutoff": moment,
                             "limit": IDS_PER_READ})]
            if not batch:
                break
            after = batch[-1][0]
            base = uploads_removed
            count, done, size = pg_batching.apply_in_transactions(
                conn, batch, remove, chunk=IDS_PER_CHUNK, target_ms=target_ms, pause_ms=pause_ms,
                size=size, should_stop=should_stop,
                after_commit=(lambda n: progress(ids_removed, base + n)) if progress else None)
            uploads_removed += count
            if done < len(batch) or len(batch) < IDS_PER_READ:
                break
            if should_stop and should_stop():
                break
    return ids_removed, uploads_removed


# ------------------------------------------------------- several retentions at once

def count_old_sessions_at(db, *days_list) -> tuple:
    """count_old_sessions for several ages at once, in one read."""
    cutoffs = [cutoff(d) for d in days_list]
    terms = ", ".join("count(*) FILTER (WHERE created_at < %s)" for _ in cutoffs)
    with as_pg(db).read() as conn:
        return tuple(conn.execute(f"SELECT {terms} FROM sessions", cutoffs).fetchone())


def count_stale_at(db, *days_list) -> tuple:
    """count_stale's ids for several retentions at once, in one pass over the anonymous ids."""
    cutoffs = [cutoff(d) for d in days_list]
    inner = ", ".join(f"count(*) = count(*) FILTER (WHERE upload_date < %s) AS stale{i}"
                      for i in range(len(cutoffs)))
    outer = ", ".join(f"count(*) FILTER (WHERE stale{i})" for i in range(len(cutoffs)))
    with as_pg(db).read() as conn:
        return tuple(conn.execute(
            f"SELECT {outer} FROM (SELECT {inner} FROM cv_uploads WHERE starts_with(user_id, %s)"
            f" GROUP BY user_id) AS ids", (*cutoffs, ANON)).fetchone())
