"""Anonymous ownership: which anonymous ids are stale (every upload older than the retention).

An anonymous id (literal prefix `anonymous_`, see predicates.is_anonymous) is stale when every
one of its uploads is older than the retention: an upload with an unreadable date is not provably
old, so it keeps its id. Read-only: the health checks and the cleanup's preview count with these,
and maintenance.anonymous_cleanup removes them.
"""
from r2w_db import config, errors
from r2w_db.engine import timeutil
from r2w_db.backends.sqlite import predicates as P
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.database import as_database

IDS_PER_READ = 2_000


def stale_cutoff(days):
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    return timeutil.iso(timeutil.ago(days=days))


# An id is stale when all of its uploads are provably older than the cutoff
# (julianday of an unreadable date is NULL: the comparison is NULL, not counted).
STALE = "count(*) = sum(julianday(upload_date) < julianday(?))"


@per_backend("r2w_db.backends.postgresql.retention")
def count_stale(db, days=config.ANONYMOUS_RETENTION_DAYS):
    """(ids, uploads) that a cleanup would remove now; read-only."""
    cutoff = stale_cutoff(days)
    with as_database(db).read() as conn:
        row = conn.execute(f"""
            SELECT count(*) AS ids, coalesce(sum(n), 0) AS uploads FROM (
                SELECT count(*) AS n FROM cv_uploads WHERE {P.is_anonymous()}
                GROUP BY user_id HAVING {STALE})""", (cutoff,)).fetchone()
    return row["ids"], row["uploads"]


@per_backend("r2w_db.backends.postgresql.retention")
def count_stale_at(db, *days_list) -> tuple:
    """count_stale's ids for several retentions at once, in one pass over the anonymous ids."""
    cutoffs = [stale_cutoff(d) for d in days_list]
    inner = ", ".join(f"({STALE}) AS stale{i}" for i in range(len(cutoffs)))
    outer = ", ".join(f"coalesce(sum(stale{i}), 0)" for i in range(len(cutoffs)))
    with as_database(db).read() as conn:
        return tuple(conn.execute(f"""
            SELECT {outer} FROM (SELECT {inner} FROM cv_uploads WHERE {P.is_anonymous()}
                                 GROUP BY user_id)""", cutoffs).fetchone())


def stale_ids(conn, cutoff, after="", limit=IDS_PER_READ):
    """The next `limit` stale anonymous ids after `after`, in order, with their upload counts."""
    return [(row[0], row[1]) for row in conn.execute(f"""
        SELECT user_id, count(*) FROM cv_uploads
        WHERE {P.is_anonymous()} AND user_id > ?
        GROUP BY user_id HAVING {STALE} ORDER BY user_id LIMIT ?""", (after, cutoff, int(limit)))]
