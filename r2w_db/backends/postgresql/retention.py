"""The retention cleanups' statements on PostgreSQL: the same definitions as on SQLite (app/
sessions.py, app/cache.py, app/anonymous.py, maintenance/anonymous_cleanup.py), PostgreSQL's SQL.

- sessions: created more than `days` ago (an instant strictly before the cutoff);
- cache entries: created more than `days` ago and never reused (COALESCE(access_count, 1) <= 1);
- anonymous ids (literal prefix `anonymous_`, starts_with): stale when EVERY upload is older
  than the retention; an upload with no date is not provably old and keeps its id.
Timestamps are timestamptz, so "older than" is a plain comparison of instants. Deletes run in
short committed transactions (batching.py); an anonymous id goes whole in one transaction,
re-checked there, so a killed run leaves every id untouched or fully removed.
"""
from r2w_db import config
from r2w_db.backends.postgresql.ops import instant

ANON = config.ANONYMOUS_PREFIX
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


def _condition(text, moment):
    from psycopg import sql

    return sql.SQL(text), (instant(moment),)


# ---------------------------------------------------------------------- sessions

def old_sessions(moment):
    """(where, params): a session created strictly before `moment` (for the batched delete)."""
    return _condition(OLD_SESSION, moment)


def old_session_counts(conn, moment) -> tuple:
    """(sessions, distinct users) created before `moment`."""
    return tuple(conn.execute(
        f"SELECT count(*), count(DISTINCT user_id) FROM sessions WHERE {OLD_SESSION}",
        (instant(moment),)).fetchone())


def count_old_sessions(conn, moment) -> int:
    return old_session_counts(conn, moment)[0]


def count_old_sessions_at(conn, moments) -> tuple:
    """count_old_sessions for several moments at once, in one read."""
    cutoffs = [instant(moment) for moment in moments]
    terms = ", ".join("count(*) FILTER (WHERE created_at < %s)" for _ in cutoffs)
    return tuple(conn.execute(f"SELECT {terms} FROM sessions", cutoffs).fetchone())


# ------------------------------------------------------------------------- cache

def old_unused_entries(moment):
    """(where, params): a cache entry created before `moment` and never reused."""
    return _condition(OLD_UNUSED_ENTRY, moment)


def count_old_cache_entries(conn, moment) -> int:
    return conn.execute(f"SELECT count(*) FROM cv_extraction_cache WHERE {OLD_UNUSED_ENTRY}",
                        (instant(moment),)).fetchone()[0]


# --------------------------------------------------------------------- anonymous

def count_stale(conn, moment) -> tuple:
    """(ids, uploads) of the anonymous ids whose every upload is older than `moment`."""
    ids, uploads = conn.execute(COUNT_STALE, {"anon": ANON, "cutoff": instant(moment)}).fetchone()
    return ids, uploads


def stale_totals_at(conn, moments) -> tuple:
    """count_stale's (ids, uploads) for several moments at once, in one pass over the
    anonymous ids."""
    cutoffs = [instant(moment) for moment in moments]
    inner = ", ".join(f"count(*) = count(*) FILTER (WHERE upload_date < %s) AS stale{i}"
                      for i in range(len(cutoffs)))
    outer = ", ".join(f"count(*) FILTER (WHERE stale{i}),"
                      f" coalesce(sum(n) FILTER (WHERE stale{i}), 0)::bigint"
                      for i in range(len(cutoffs)))
    row = conn.execute(
        f"SELECT {outer} FROM (SELECT count(*) AS n, {inner} FROM cv_uploads"
        f" WHERE starts_with(user_id, %s) GROUP BY user_id) AS ids", (*cutoffs, ANON)).fetchone()
    return tuple((row[2 * i], row[2 * i + 1]) for i in range(len(cutoffs)))


def stale_ids(conn, moment, after, limit) -> list:
    """The next `limit` stale anonymous ids after `after`, in order, with their upload counts."""
    return [tuple(row) for row in conn.execute(
        NEXT_STALE, {"anon": ANON, "after": after, "cutoff": instant(moment), "limit": limit})]


def delete_stale(conn, user_ids, moment) -> list:
    """Delete the uploads of those ids that are still stale; the user_id of each upload gone."""
    return [row[0] for row in conn.execute(
        DELETE_STALE, {"ids": list(user_ids), "anon": ANON, "cutoff": instant(moment)}).fetchall()]
