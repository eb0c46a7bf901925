"""The Confidence page's named queries on SQLite: cache entries created in a window, by
confidence_score (valid: in [0, 1]; the bins are window_sql.BINNED's)."""
from r2w_db import config
from r2w_db.backends.sqlite.window_sql import (BINNED, BINNED_PARAMS, VALID_CONFIDENCE as VALID,
                                               VALID_IN_WINDOW, in_window, period_of)


def summary(conn, window):
    """{entries, valid, null_, out_of_range, low, mid, cacheable, mean} of the window's entries."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    return dict(conn.execute(
        "SELECT count(*) AS entries,"
        f" coalesce(sum({VALID}), 0) AS valid,"
        " coalesce(sum(confidence_score IS NULL), 0) AS null_,"
        " coalesce(sum(confidence_score < 0 OR confidence_score > 1), 0) AS out_of_range,"
        f" coalesce(sum({VALID} AND confidence_score < ?), 0) AS low,"
        f" coalesce(sum({VALID} AND confidence_score >= ? AND confidence_score < ?), 0) AS mid,"
        f" coalesce(sum({VALID} AND confidence_score >= ?), 0) AS cacheable,"
        f" avg(CASE WHEN {VALID} THEN confidence_score END) AS mean"
        f" FROM cv_extraction_cache WHERE {where}",
        (config.LOW_CONFIDENCE, config.LOW_CONFIDENCE, config.CACHE_THRESHOLD,
         config.CACHE_THRESHOLD, *params)).fetchone())


def histogram(conn, window):
    """{bin: entries} of the window's valid scores (bins 0..BINS-1, each inside its band)."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    return dict(conn.execute(
        f"SELECT {BINNED} AS bin, count(*) FROM cv_extraction_cache"
        f" WHERE {VALID_IN_WINDOW} AND {where} GROUP BY 1", (*BINNED_PARAMS, *params)).fetchall())


def by_model(conn, window):
    """[(model, entries, mean, low, below_threshold, invalid)] of the window's entries."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    return [tuple(r) for r in conn.execute(
        "SELECT extraction_model, count(*),"
        f" avg(CASE WHEN {VALID} THEN confidence_score END),"
        f" coalesce(sum({VALID} AND confidence_score < ?), 0),"
        f" coalesce(sum({VALID} AND confidence_score < ?), 0),"
        f" coalesce(sum(NOT coalesce({VALID}, 0)), 0)"
        f" FROM cv_extraction_cache WHERE {where} GROUP BY extraction_model ORDER BY 2 DESC, 1",
        (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD, *params))]


def mean_by_period(conn, window):
    """[(period, valid entries, mean score)] of the window."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    return conn.execute(
        f"SELECT {period_of('created_at', window.grain)} AS period, count(*), avg(confidence_score)"
        f" FROM cv_extraction_cache WHERE {VALID_IN_WINDOW} AND {where} GROUP BY 1",
        params).fetchall()


def lowest(conn, window, limit):
    """[(hash_prefix, model, confidence, created_at)]: the window's lowest valid scores (ties by
    creation time). The rows are picked on migration 10's (confidence_score, created_at) index,
    walked in order from 0 with the window checked on the index, until `limit` are found; only
    those rows are read from the table (cv_data sits before extraction_model). Without that
    index the window's valid scores are sorted: the same rows, only slower."""
    where, params = in_window("created_at", window, "cv_extraction_cache")
    return [tuple(r) for r in conn.execute(
        "SELECT substr(file_hash, 1, 12), extraction_model, confidence_score, created_at"
        " FROM cv_extraction_cache WHERE rowid IN ("
        f"   SELECT rowid FROM cv_extraction_cache WHERE {VALID} AND {where}"
        "    ORDER BY confidence_score, created_at LIMIT ?)"
        " ORDER BY confidence_score, created_at", (*params, int(limit)))]
