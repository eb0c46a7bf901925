"""cache_hits on PostgreSQL: the hit rate over a window, and what the extraction cache holds
now. Same results as cache_hits.py, built from its constants (buckets, sample size).

Valid access_count: 0 to MAX_ACCESS_COUNT (the column is `integer`, so only a negative count is
invalid here). The documents' size: octet_length of cv_data (UTF-8 bytes, as SQLite's
length(CAST(cv_data AS BLOB))), exact up to cache_hits.SIZE_SAMPLE entries; above it, estimated
from the newest SIZE_SAMPLE entries by created_at (SQLite samples by rowid, which PostgreSQL
does not have, so the two estimates may differ; the exact sums never do).
"""
import pandas as pd

from r2w_db import config
from r2w_db.app.cache import MAX_ACCESS_COUNT
from r2w_db.engine import timeutil
from r2w_db.figures import cache_hits
from r2w_db.figures.periods import Window
from r2w_db.backends.postgresql.overview import hits_by_period
from r2w_db.backends.postgresql.periods import (UPLOAD_IN_WINDOW, per_period, period_rows, read, utc,
                                       window_params)

VALID = "access_count BETWEEN 0 AND %(max_count)s"
UPLOADS_BY_PERIOD = per_period("upload_date", UPLOAD_IN_WINDOW, values=(
    "count(*) AS n, count(*) FILTER (WHERE file_hash IS NOT NULL AND file_hash <> '') AS hashed"))
# bucket -1: not a count; else width_bucket over the buckets' lower bounds after the first
# (0 = the first bucket: NULL, 0 and 1 count as 1, as the cleanup does)
ACCESS_COUNTS = f"""
SELECT CASE WHEN access_count IS NOT NULL AND NOT {VALID} THEN -1
            ELSE coalesce(width_bucket(access_count, %(bounds)s::int[]), 0) END AS bucket,
       count(*), coalesce(sum(access_count) FILTER (WHERE {VALID}), 0)::bigint
FROM cv_extraction_cache GROUP BY 1"""
BY_MODEL = f"""
SELECT extraction_model, count(*), coalesce(sum(access_count) FILTER (WHERE {VALID}), 0)::bigint,
       avg(confidence_score) FILTER (WHERE confidence_score BETWEEN 0 AND 1),
       count(*) FILTER (WHERE confidence_score BETWEEN 0 AND 1
                          AND confidence_score < %(threshold)s),
       count(*) FILTER (WHERE access_count IS NOT NULL AND NOT {VALID})
FROM cv_extraction_cache GROUP BY extraction_model ORDER BY 2 DESC, extraction_model COLLATE "C" """
SAMPLE_BYTES = """
SELECT count(*), coalesce(sum(octet_length(cv_data)), 0)::bigint FROM (
    SELECT cv_data FROM cv_extraction_cache ORDER BY created_at DESC LIMIT %(sample)s) AS newest"""
# the cache cleanup's rule (app.cache.count_old_cache_entries): old and never reused
ELIGIBLE = ("SELECT count(*) FROM cv_extraction_cache"
            " WHERE created_at < %(cutoff)s AND coalesce(access_count, 1) <= 1")


def hit_rate(db, window: Window):
    """cache_hits.hit_rate: {"uploads", "hashed", "hits", "hit_rate", "by_period"}."""
    params = window_params(window)
    with read(db) as conn:
        rows = period_rows(conn, UPLOADS_BY_PERIOD, params)
        hit_rows = hits_by_period(conn, window)
    return cache_hits.hit_rate_of(rows, hit_rows, window)


def access_counts(db):
    """cache_hits.access_counts: DataFrame bucket, entries, accesses."""
    labels = [label for label, _ in cache_hits.ACCESS_BUCKETS]
    bounds = [low for _, low in cache_hits.ACCESS_BUCKETS[1:]]
    with read(db) as conn:
        got = {(cache_hits.INVALID_COUNT if bucket < 0 else labels[bucket]): (n, accesses)
               for bucket, n, accesses in conn.execute(
                   ACCESS_COUNTS, {"bounds": bounds, "max_count": MAX_ACCESS_COUNT})}
    labels += [cache_hits.INVALID_COUNT] if cache_hits.INVALID_COUNT in got else []
    return pd.DataFrame({"bucket": labels,
                         "entries": [int(got.get(b, (0, 0))[0]) for b in labels],
                         "accesses": [int(got.get(b, (0, 0))[1]) for b in labels]})


def contents(db):
    """cache_hits.contents: {"entries", "bytes", "bytes_estimated", "accesses",
    "invalid_access_counts", "eligible_for_cleanup", "by_model"}, from one snapshot."""
    cutoff = utc(timeutil.ago(days=config.CACHE_RETENTION_DAYS))
    with read(db) as conn:
        rows = [tuple(r) for r in conn.execute(BY_MODEL, {
            "max_count": MAX_ACCESS_COUNT, "threshold": config.CACHE_THRESHOLD})]
        sampled, sample_bytes = conn.execute(SAMPLE_BYTES,
                                             {"sample": cache_hits.SIZE_SAMPLE}).fetchone()
        eligible = conn.execute(ELIGIBLE, {"cutoff": cutoff}).fetchone()[0]
    by_model = pd.DataFrame(rows, columns=[
        "model", "entries", "accesses", "average_confidence", "below_threshold", "invalid"])
    by_model["average_confidence"] = by_model["average_confidence"].astype("float64")
    invalid = int(by_model.pop("invalid").sum())
    entries = int(by_model["entries"].sum())
    estimated = entries > sampled
    size = round(sample_bytes / sampled * entries) if estimated else int(sample_bytes)
    return {"entries": entries, "bytes": size, "bytes_estimated": estimated,
            "accesses": int(by_model["accesses"].sum()), "invalid_access_counts": invalid,
            "eligible_for_cleanup": eligible, "by_model": by_model}
