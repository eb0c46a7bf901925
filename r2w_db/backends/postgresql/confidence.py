"""The Confidence page's named queries on PostgreSQL: cache entries created in a window, by
confidence_score.

Valid: a score in [0, 1] (NULL, and NaN, which PostgreSQL sorts above every number, are not).
A score's bin is SQLite's: the score times the bins rounded to 6 places, truncated, then kept
inside its own band; the rounding runs on numeric, PostgreSQL's round(x, n).
"""
from r2w_db import config
from r2w_db.engine import schema
from r2w_db.backends.postgresql.window_sql import (CREATED_IN_WINDOW, ISO_FORMAT, per_period,
                                                   period_rows, rows, window_params)

BINS = config.CONFIDENCE_BINS
LOW_BIN, CACHEABLE_BIN = round(config.LOW_CONFIDENCE * BINS), round(config.CACHE_THRESHOLD * BINS)
VALID = schema.VALID_SCORE
# VALID filtering a window's rows: read off the created_at index, never off migration 10's
# partial index of valid scores (which only LOWEST walks)
VALID_IN_WINDOW = schema.valid_score_filter("false")
# the entries by band (the summary's, and the roll-ups' per period)
COUNTS = f"""count(*) AS entries, count(*) FILTER (WHERE {VALID}) AS valid,
       count(*) FILTER (WHERE confidence_score IS NULL) AS null_,
       count(*) FILTER (WHERE confidence_score < 0 OR confidence_score > 1) AS out_of_range,
       count(*) FILTER (WHERE {VALID} AND confidence_score < %(low)s) AS low,
       count(*) FILTER (WHERE {VALID} AND confidence_score >= %(low)s
                          AND confidence_score < %(threshold)s) AS mid,
       count(*) FILTER (WHERE {VALID} AND confidence_score >= %(threshold)s) AS cacheable"""
SUMMARY = f"""
SELECT {COUNTS},
       avg(confidence_score) FILTER (WHERE {VALID}) AS mean
FROM cv_extraction_cache WHERE """ + CREATED_IN_WINDOW
HISTOGRAM = f"""
SELECT CASE WHEN score < %(low)s THEN least(raw, %(low_bin)s - 1)
            WHEN score < %(threshold)s THEN greatest(least(raw, %(cacheable_bin)s - 1), %(low_bin)s)
            ELSE greatest(least(raw, %(bins)s - 1), %(cacheable_bin)s) END AS bin, count(*)
FROM (SELECT confidence_score AS score,
             trunc(round((confidence_score * %(bins)s)::numeric, 6))::int AS raw
      FROM cv_extraction_cache WHERE {VALID_IN_WINDOW} AND """ + CREATED_IN_WINDOW + """) AS scores
GROUP BY 1"""
BY_MODEL = f"""
SELECT extraction_model, count(*), avg(confidence_score) FILTER (WHERE {VALID}),
       count(*) FILTER (WHERE {VALID} AND confidence_score < %(low)s),
       count(*) FILTER (WHERE {VALID} AND confidence_score < %(threshold)s),
       count(*) FILTER (WHERE NOT coalesce({VALID}, false))
FROM cv_extraction_cache WHERE """ + CREATED_IN_WINDOW + """
GROUP BY extraction_model ORDER BY 2 DESC, extraction_model COLLATE "C" """
MEAN_BY_PERIOD = per_period("created_at", f"{VALID_IN_WINDOW} AND {CREATED_IN_WINDOW}",
                            table="cv_extraction_cache",
                            values="count(*) AS n, avg(confidence_score) AS mean")
LOWEST = f"""
SELECT substr(file_hash, 1, 12), extraction_model, confidence_score,
       to_char(created_at AT TIME ZONE 'UTC', %(iso)s)
FROM cv_extraction_cache WHERE {VALID} AND """ + CREATED_IN_WINDOW + """
ORDER BY confidence_score, created_at LIMIT %(limit)s"""


def _params(window, **extra):
    return window_params(window, low=config.LOW_CONFIDENCE, threshold=config.CACHE_THRESHOLD,
                         bins=BINS, low_bin=LOW_BIN, cacheable_bin=CACHEABLE_BIN, **extra)


def summary(conn, window):
    """{entries, valid, null_, out_of_range, low, mid, cacheable, mean} of the window's entries."""
    cur = conn.execute(SUMMARY, _params(window))
    return dict(zip([d.name for d in cur.description], cur.fetchone()))


def histogram(conn, window):
    """{bin: entries} of the window's valid scores (bins 0..BINS-1, each inside its band)."""
    return dict(rows(conn, HISTOGRAM, _params(window)))


def by_model(conn, window):
    """[(model, entries, mean, low, below_threshold, invalid)] of the window's entries."""
    return rows(conn, BY_MODEL, _params(window))


def mean_by_period(conn, window):
    """[(period, valid entries, mean score)] of the window."""
    return period_rows(conn, MEAN_BY_PERIOD, _params(window))


def lowest(conn, window, limit):
    """[(hash_prefix, model, confidence, created_at)]: the window's lowest valid scores (ties by
    creation time); the time in the stored form (timeutil.iso's). Migration 10's
    (confidence_score, created_at) index gives them in order: the walk stops after `limit`."""
    return rows(conn, LOWEST, _params(window, limit=int(limit), iso=ISO_FORMAT))
