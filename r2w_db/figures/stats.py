"""The headline figures (`stats`), exactly as docs/architecture.md places them: written once here.

Every figure is an SQL aggregate read by the engine (backends/<engine>/stats.py: SQLite's two
readers at once, PostgreSQL's one snapshot); nothing is written. Timestamps are compared as
instants, the anonymous prefix is matched literally, and statuses other than the four the
application writes count as other. A cell outside its range (an access_count that is not a
count, a confidence outside [0, 1]) is left out of sums and averages and counted as invalid.
"""
from r2w_db import config
from r2w_db.backends import open_database
from r2w_db.engine import schema, timeutil

QUALITY_COLUMNS = schema.QUALITY_COLUMNS


def hit_rate_from(with_hash, hits):
    """hits / uploads with a hash; None ("no data") when there are none."""
    return None if not with_hash else hits / with_hash


def cache_figures(row, with_hash, hits):
    """stats' "cache" group from the engine's cache row and hit counts."""
    return {
        "cached_extractions": row["n"],
        # 12 places: a mean of many doubles differs in its last bits with the order of the sum
        # (SQLite and PostgreSQL sum 156k scores in different orders)
        "average_confidence_score": None if row["avg_conf"] is None else round(row["avg_conf"], 12),
        "total_cache_accesses": row["accesses"],
        "low_confidence_extractions": row["low"],
        "cache_hit_rate": hit_rate_from(with_hash, hits),
        "uploads_with_hash": with_hash,
        "cache_hits": hits,
        "below_caching_threshold": row["below_threshold"],
        "invalid_confidence": row["invalid"],
        "invalid_access_count": row["invalid_access"],
    }


def upload_figures(status_counts, stuck):
    """stats' "uploads" group from [(status, n)] and the stuck count."""
    figures = {"total": 0, **{s: 0 for s in config.STATUSES}, "other": 0}
    for status, n in status_counts:
        key = status if status in config.STATUSES else "other"
        figures[key] += n
        figures["total"] += n
    figures["stuck"] = stuck
    return figures


def calculate_cache_hit_rate(db):
    """Share of uploads with a file_hash whose cache entry predates them (0..1), or None."""
    db = open_database(db)
    with db.read() as conn:
        db.backend.schema.require_schema(conn, db)
        return hit_rate_from(*db.backend.stats.hit_counts(conn))


def get_extraction_stats(db):
    """The application's stats dict (docs/schema.md): cached_extractions, average_confidence_score,
    total_cache_accesses, low_confidence_extractions, cache_hit_rate (0..1 or None)."""
    db = open_database(db)
    got = db.backend.stats.cache_counts(db)
    figures = cache_figures(got["cache"], got["with_hash"], got["hits"])
    keys = ("cached_extractions", "average_confidence_score", "total_cache_accesses",
            "low_confidence_extractions", "cache_hit_rate")
    return {k: figures[k] for k in keys}


def collect_stats(db, now=None):
    """Every figure of `stats`, over the whole history (sessions and stuck jobs as of now)."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    got = db.backend.stats.counts(db, now)
    return {
        "users": {"registered": got["registered"], "anonymous": got["anonymous"]},
        "sessions": {"active": got["active"], "expired": got["expired"]},
        "uploads": upload_figures(got["status"], got["stuck"]),
        "cache": cache_figures(got["cache"], got["with_hash"], got["hits"]),
        "data_quality": got["data_quality"],
        "schema": {"user_version": got["version"], "current_version": schema.CURRENT_VERSION},
        "database": got["database"],
        "as_of": timeutil.iso(now),
    }
