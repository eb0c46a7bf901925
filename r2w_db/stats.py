"""The headline figures (`stats`), exactly as DESIGN.md defines them.

Every figure is an SQL aggregate over one short read-only connection; nothing
is written. Timestamps are compared as instants, the anonymous prefix is
matched literally, and statuses outside the documented three count as other.
"""
from pathlib import Path

from . import config, predicates as P, schema, timeutil
from .connection import as_database

HIT_SQL = f"""
SELECT count(*) AS with_hash,
       coalesce(sum(EXISTS (SELECT 1 FROM cv_extraction_cache c
                            WHERE c.file_hash = u.file_hash
                              AND julianday(c.created_at) < julianday(u.upload_date))), 0) AS hits
FROM cv_uploads u
WHERE u.file_hash IS NOT NULL AND u.file_hash <> ''"""


def hit_rate_from(with_hash, hits):
    """hits / uploads with a hash; None ("no data") when there are none."""
    return None if not with_hash else hits / with_hash


def _hit_counts(conn, where="1", params=()):
    row = conn.execute(f"{HIT_SQL} AND {where}", params).fetchone()
    return row["with_hash"], row["hits"]


def calculate_cache_hit_rate(db):
    """Share of uploads with a file_hash whose cache entry predates them (0..1), or None."""
    with as_database(db).read() as conn:
        schema.require_schema(conn, as_database(db).path)
        return hit_rate_from(*_hit_counts(conn))


def _cache_figures(conn):
    row = conn.execute(f"""
        SELECT count(*) AS n,
               avg(CASE WHEN confidence_score BETWEEN 0 AND 1 THEN confidence_score END) AS avg_conf,
               coalesce(sum(access_count), 0) AS accesses,
               coalesce(sum(confidence_score >= 0 AND confidence_score < ?), 0) AS low,
               coalesce(sum(confidence_score IS NULL OR confidence_score < 0
                            OR confidence_score > 1), 0) AS invalid,
               coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0)
                   AS below_threshold
        FROM cv_extraction_cache""", (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD)).fetchone()
    with_hash, hits = _hit_counts(conn)
    return {
        "cached_extractions": row["n"],
        "average_confidence_score": row["avg_conf"],
        "total_cache_accesses": row["accesses"],
        "low_confidence_extractions": row["low"],
        "cache_hit_rate": hit_rate_from(with_hash, hits),
        "uploads_with_hash": with_hash,
        "cache_hits": hits,
        "below_caching_threshold": row["below_threshold"],
        "invalid_confidence": row["invalid"],
    }


def get_extraction_stats(db):
    """The schema document's stats dict: cached_extractions, average_confidence_score,
    total_cache_accesses, low_confidence_extractions, cache_hit_rate (0..1 or None)."""
    db = as_database(db)
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        figures = _cache_figures(conn)
    keys = ("cached_extractions", "average_confidence_score", "total_cache_accesses",
            "low_confidence_extractions", "cache_hit_rate")
    return {k: figures[k] for k in keys}


def _user_figures(conn):
    registered = conn.execute(
        f"SELECT count(*) FROM users WHERE {P.not_anonymous()}").fetchone()[0]
    anonymous = conn.execute(f"""
        SELECT count(*) FROM (
            SELECT user_id FROM cv_uploads WHERE {P.is_anonymous()}
            UNION SELECT user_id FROM users WHERE {P.is_anonymous()})""").fetchone()[0]
    return {"registered": registered, "anonymous": anonymous}


def _session_figures(conn, now):
    since, since_params = P.at_or_after("created_at", timeutil.ago(now, days=config.SESSION_DAYS))
    before, before_params = P.older_than("created_at", timeutil.ago(now, days=config.SESSION_DAYS))
    active = conn.execute(f"SELECT count(*) FROM sessions WHERE {since}", since_params).fetchone()[0]
    expired = conn.execute(f"SELECT count(*) FROM sessions WHERE {before}", before_params).fetchone()[0]
    return {"active": active, "expired": expired}


def _upload_figures(conn, now):
    figures = {"total": 0, **{s: 0 for s in config.STATUSES}, "other": 0}
    for row in conn.execute("SELECT status, count(*) AS n FROM cv_uploads GROUP BY status"):
        key = row["status"] if row["status"] in config.STATUSES else "other"
        figures[key] += row["n"]
        figures["total"] += row["n"]
    stuck_sql, params = P.older_than("upload_date", timeutil.ago(now, minutes=config.STUCK_MINUTES))
    figures["stuck"] = conn.execute(
        f"SELECT count(*) FROM cv_uploads WHERE status = 'processing' AND {stuck_sql}",
        params).fetchone()[0]
    return figures


def data_quality(conn):
    """Timestamps SQLite cannot read, per column (counted, never a crash)."""
    columns = {"users.created_at": ("users", "created_at"),
               "sessions.created_at": ("sessions", "created_at"),
               "cv_uploads.upload_date": ("cv_uploads", "upload_date"),
               "cv_extraction_cache.created_at": ("cv_extraction_cache", "created_at")}
    return {name: conn.execute(
                f"SELECT count(*) FROM {table} WHERE {P.unparseable(column)}").fetchone()[0]
            for name, (table, column) in columns.items()}


def file_sizes(path):
    """Bytes of the database file and of its WAL (0 when there is none)."""
    path = Path(path)
    wal = Path(str(path) + "-wal")
    return {"size_bytes": path.stat().st_size, "wal_bytes": wal.stat().st_size if wal.exists() else 0}


def collect_stats(db, now=None):
    """Every figure of `stats`, over the whole history (sessions and stuck jobs as of now)."""
    db = as_database(db)
    now = now or timeutil.utcnow()
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        cache = _cache_figures(conn)
        result = {
            "users": _user_figures(conn),
            "sessions": _session_figures(conn, now),
            "uploads": _upload_figures(conn, now),
            "cache": cache,
            "data_quality": data_quality(conn),
            "schema": {"user_version": schema.user_version(conn),
                       "current_version": schema.CURRENT_VERSION},
        }
    result["database"] = {"path": str(db.path), **file_sizes(db.path)}
    result["as_of"] = timeutil.iso(now)
    return result
