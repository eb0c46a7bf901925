"""The retention cleanups' statements on SQLite (the definitions and the loop: app/sessions.py,
app/cache.py, app/anonymous.py, maintenance/anonymous_cleanup.py, engine/batching.py).

Timestamps are text compared as instants (predicates.older_than: a string range first so the
column's index narrows the scan, julianday decides). An anonymous id is stale when all of its
uploads are provably older than the cutoff: julianday of an unreadable date is NULL, so the
comparison is NULL and not counted.
"""
import json

from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.sqlite.ops import instant

STALE = "count(*) = sum(julianday(upload_date) < julianday(?))"
DELETE_STALE = f"""
DELETE FROM cv_uploads WHERE user_id IN (
    SELECT user_id FROM cv_uploads
    WHERE user_id IN (SELECT value FROM json_each(?)) AND {P.is_anonymous()}
    GROUP BY user_id HAVING {STALE})
RETURNING user_id"""


# ---------------------------------------------------------------------- sessions

def old_sessions(moment):
    """(where, params): a session created strictly before `moment` (for the batched delete)."""
    return P.older_than("created_at", moment)


def count_old_sessions(conn, moment) -> int:
    return count_old_sessions_at(conn, [moment])[0]


def count_old_sessions_at(conn, moments) -> tuple:
    """Sessions created before each moment, each counted on the index without parsing a
    canonical timestamp (predicates.count_before)."""
    parts = [P.count_before("sessions", "created_at", moment) for moment in moments]
    return tuple(conn.execute("SELECT " + ", ".join(sql for sql, _ in parts),
                              tuple(p for _, params in parts for p in params)).fetchone())


def old_session_counts(conn, moment) -> tuple:
    """(sessions, distinct users) created before `moment`, in one read of the rows."""
    where, params = old_sessions(moment)
    return tuple(conn.execute(
        f"SELECT count(*), count(DISTINCT user_id) FROM sessions WHERE {where}",
        params).fetchone())


# ------------------------------------------------------------------------- cache

def old_unused_entries(moment):
    """(where, params): a cache entry created before `moment` and never reused."""
    where, params = P.older_than("created_at", moment)
    return f"{where} AND COALESCE(access_count, 1) <= 1", params


def count_old_cache_entries(conn, moment) -> int:
    where, params = old_unused_entries(moment)
    return conn.execute(
        f"SELECT count(*) FROM cv_extraction_cache WHERE {where}", params).fetchone()[0]


# --------------------------------------------------------------------- anonymous

def count_stale(conn, moment) -> tuple:
    """(ids, uploads) of the anonymous ids whose every upload is older than `moment`."""
    row = conn.execute(f"""
        SELECT count(*) AS ids, coalesce(sum(n), 0) AS uploads FROM (
            SELECT count(*) AS n FROM cv_uploads WHERE {P.is_anonymous()}
            GROUP BY user_id HAVING {STALE})""", (instant(moment),)).fetchone()
    return row["ids"], row["uploads"]


def stale_totals_at(conn, moments) -> tuple:
    """count_stale's (ids, uploads) for several moments at once, in one pass over the
    anonymous ids."""
    cutoffs = [instant(moment) for moment in moments]
    inner = ", ".join(f"({STALE}) AS stale{i}" for i in range(len(cutoffs)))
    outer = ", ".join(f"coalesce(sum(stale{i}), 0), coalesce(sum(CASE WHEN stale{i} THEN n END), 0)"
                      for i in range(len(cutoffs)))
    row = conn.execute(f"""
        SELECT {outer} FROM (SELECT count(*) AS n, {inner} FROM cv_uploads
                             WHERE {P.is_anonymous()} GROUP BY user_id)""", cutoffs).fetchone()
    return tuple((row[2 * i], row[2 * i + 1]) for i in range(len(cutoffs)))


def stale_ids(conn, moment, after, limit) -> list:
    """The next `limit` stale anonymous ids after `after`, in order, with their upload counts."""
    return [(row[0], row[1]) for row in conn.execute(f"""
        SELECT user_id, count(*) FROM cv_uploads
        WHERE {P.is_anonymous()} AND user_id > ?
        GROUP BY user_id HAVING {STALE} ORDER BY user_id LIMIT ?""",
        (after, instant(moment), int(limit)))]


def delete_stale(conn, user_ids, moment) -> list:
    """Delete the uploads of those ids that are still stale; the user_id of each upload gone."""
    return [row[0] for row in conn.execute(
        DELETE_STALE, (json.dumps(list(user_ids)), instant(moment))).fetchall()]
