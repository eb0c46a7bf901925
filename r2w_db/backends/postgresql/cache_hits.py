"""The Cache hits page's named queries on PostgreSQL: a window's uploads per period, the cache's
entries by access_count, and what it holds per model. The hits are overview.hits_by_period's.

Valid access_count: 0 to config.MAX_ACCESS_COUNT (the column is `integer`, so only a negative
count is invalid here). The documents' size: octet_length of cv_data (UTF-8 bytes, as SQLite's
length(CAST(cv_data AS BLOB))), of the newest entries by created_at (SQLite samples by rowid,
which PostgreSQL does not have, so the two estimates may differ; the exact sums never do).
"""
from r2w_db import config
from r2w_db.backends.postgresql.window_sql import (UPLOAD_IN_WINDOW, per_period, period_rows,
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
       count(*) FILTER (WHERE access_count IS NOT NULL AND NOT {VALID}),
       count(*) FILTER (WHERE confidence_score BETWEEN 0 AND 1 AND confidence_score < %(low)s),
       count(*) FILTER (WHERE NOT coalesce(confidence_score BETWEEN 0 AND 1, false))
FROM cv_extraction_cache GROUP BY extraction_model ORDER BY 2 DESC, extraction_model COLLATE "C" """
SAMPLE_BYTES = """
SELECT count(*), coalesce(sum(octet_length(cv_data)), 0)::bigint FROM (
    SELECT cv_data FROM cv_extraction_cache ORDER BY created_at DESC LIMIT %(sample)s) AS newest"""


def uploads_by_period(conn, window):
    """[(period, uploads, hashed)] of the window's uploads."""
    return period_rows(conn, UPLOADS_BY_PERIOD, window_params(window))


def access_counts(conn, buckets, invalid_label):
    """{bucket label: (entries, accesses)} of every entry by its access_count; `buckets` are
    (label, lowest count), NULL and 0 in the first; not a count: `invalid_label`, no accesses."""
    labels = [label for label, _ in buckets]
    bounds = [low for _, low in buckets[1:]]
    return {(invalid_label if bucket < 0 else labels[bucket]): (n, accesses)
            for bucket, n, accesses in conn.execute(
                ACCESS_COUNTS, {"bounds": bounds, "max_count": config.MAX_ACCESS_COUNT})}


def contents(conn, sample):
    """([(model, entries, accesses, average_confidence, below_threshold, invalid, low,
    invalid_confidence)], sampled, sample_bytes): the entries per model (invalid: access counts;
    low, below_threshold and invalid_confidence: confidence.by_model's), and the UTF-8 bytes of
    the newest `sample` documents."""
    rows = [tuple(r) for r in conn.execute(BY_MODEL, {
        "max_count": config.MAX_ACCESS_COUNT, "threshold": config.CACHE_THRESHOLD,
        "low": config.LOW_CONFIDENCE})]
    sampled, sample_bytes = conn.execute(SAMPLE_BYTES, {"sample": sample}).fetchone()
    return rows, sampled, sample_bytes
