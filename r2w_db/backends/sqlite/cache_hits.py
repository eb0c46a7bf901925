"""The Cache hits page's named queries on SQLite: a window's uploads per period, the cache's
entries by access_count, and what it holds per model (the documents' size sampled by rowid).
The hits themselves are overview.hits_by_period's."""
from r2w_db import config
from r2w_db.backends.sqlite.predicates import invalid_access_count, valid_access_count
from r2w_db.backends.sqlite.window_sql import in_window, period_of


def uploads_by_period(conn, window):
    """[(period, uploads, hashed)] of the window's uploads (periods None when unreadable)."""
    where, params = in_window("u.upload_date", window, "cv_uploads")
    period = period_of("u.upload_date", window.grain)
    return conn.execute(
        f"SELECT {period} AS period, count(*),"
        " coalesce(sum(u.file_hash IS NOT NULL AND u.file_hash <> ''), 0)"
        f" FROM cv_uploads u WHERE {where} GROUP BY 1", params).fetchall()


def access_counts(conn, buckets, invalid_label):
    """{bucket label: (entries, accesses)} of every entry by its access_count; `buckets` are
    (label, lowest count), NULL and 0 in the first; not a count: `invalid_label`, no accesses."""
    cases = " ".join(f"WHEN access_count >= {low} THEN '{label}'"
                     for label, low in reversed(buckets[1:]))
    return {r[0]: (r[1], r[2]) for r in conn.execute(
        f"SELECT CASE WHEN {invalid_access_count()} THEN '{invalid_label}' {cases}"
        f" ELSE '{buckets[0][0]}' END AS bucket, count(*),"
        f" coalesce(sum(CASE WHEN {valid_access_count()} THEN access_count END), 0)"
        " FROM cv_extraction_cache GROUP BY 1")}


def contents(conn, sample):
    """([(model, entries, accesses, average_confidence, below_threshold, invalid, low,
    invalid_confidence)], sampled, sample_bytes): the entries per model (invalid: access counts;
    low, below_threshold and invalid_confidence: confidence.by_model's), and the UTF-8 bytes of
    the newest `sample` documents (by rowid)."""
    rows = conn.execute(
        "SELECT extraction_model, count(*),"
        f" coalesce(sum(CASE WHEN {valid_access_count()} THEN access_count END), 0),"
        " avg(CASE WHEN confidence_score BETWEEN 0 AND 1 THEN confidence_score END),"
        " coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0),"
        f" coalesce(sum({invalid_access_count()}), 0),"
        " coalesce(sum(confidence_score BETWEEN 0 AND 1 AND confidence_score < ?), 0),"
        " coalesce(sum(NOT coalesce(confidence_score BETWEEN 0 AND 1, 0)), 0)"
        " FROM cv_extraction_cache GROUP BY extraction_model ORDER BY 2 DESC, 1",
        (config.CACHE_THRESHOLD, config.LOW_CONFIDENCE)).fetchall()
    sampled, sample_bytes = conn.execute(
        "SELECT count(*), coalesce(sum(length(CAST(cv_data AS BLOB))), 0) FROM"
        " (SELECT cv_data FROM cv_extraction_cache ORDER BY rowid DESC LIMIT ?)",
        (sample,)).fetchone()
    return [tuple(r) for r in rows], sampled, sample_bytes
