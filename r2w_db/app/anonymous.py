"""Anonymous ownership: which anonymous ids are stale (every upload older than the retention).

An anonymous id (literal prefix config.ANONYMOUS_PREFIX) is stale when every one of its uploads
is older than the retention: an upload with an unreadable date is not provably old, so it keeps
its id. Read-only: the health checks and the cleanup's preview count with these, and
maintenance.anonymous_cleanup removes them. The statements: `db.backend.retention`.
"""
from r2w_db import config, errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil

IDS_PER_READ = 2_000


def stale_cutoff(days):
    """The moment (naive UTC) `days` ago; InvalidValue unless days is a number >= 0."""
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    return timeutil.ago(days=days)


def count_stale(db, days=config.ANONYMOUS_RETENTION_DAYS):
    """(ids, uploads) that a cleanup would remove now; read-only."""
    db = open_database(db)
    moment = stale_cutoff(days)
    with db.read() as conn:
        return db.backend.retention.count_stale(conn, moment)


def count_stale_at(db, *days_list) -> tuple:
    """count_stale's ids for several retentions at once, in one pass over the anonymous ids."""
    return tuple(ids for ids, _ in stale_totals_at(db, *days_list))


def stale_totals_at(db, *days_list) -> tuple:
    """count_stale's (ids, uploads) for several retentions at once, in one pass."""
    db = open_database(db)
    moments = [stale_cutoff(d) for d in days_list]
    with db.read() as conn:
        return db.backend.retention.stale_totals_at(conn, moments)
