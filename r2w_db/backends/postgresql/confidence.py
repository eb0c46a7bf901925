"""confidence on PostgreSQL: cache entries created in the window, by confidence_score. Same
results as confidence.py, from its rules (bins, bands, thresholds).

Valid: a score in [0, 1] (NULL, and NaN, which PostgreSQL sorts above every number, are not).
A score's bin is SQLite's: the score times 20 rounded to 6 places, truncated, then kept inside
its own band (confidence.histogram); the rounding runs on numeric, PostgreSQL's round(x, n).
"""
import pandas as pd

from r2w_db import config
from r2w_db.figures.confidence import BIN, BINS, CACHEABLE_BIN, LOW_BIN, band
from r2w_db.figures.periods import Window, period_frame
from r2w_db.backends.postgresql.periods import (CREATED_IN_WINDOW, ISO_FORMAT, per_period, period_rows,
                                       read, rows, window_params)

VALID = "confidence_score BETWEEN 0 AND 1"
SUMMARY = f"""
SELECT count(*) AS entries, count(*) FILTER (WHERE {VALID}) AS valid,
       count(*) FILTER (WHERE confidence_score IS NULL) AS null_,
       count(*) FILTER (WHERE confidence_score < 0 OR confidence_score > 1) AS out_of_range,
       count(*) FILTER (WHERE {VALID} AND confidence_score < %(low)s) AS low,
       count(*) FILTER (WHERE {VALID} AND confidence_score >= %(low)s
                          AND confidence_score < %(threshold)s) AS mid,
       count(*) FILTER (WHERE {VALID} AND confidence_score >= %(threshold)s) AS cacheable,
       avg(confidence_score) FILTER (WHERE {VALID}) AS mean
FROM cv_extraction_cache WHERE """ + CREATED_IN_WINDOW
HISTOGRAM = f"""
SELECT CASE WHEN score < %(low)s THEN least(raw, %(low_bin)s - 1)
            WHEN score < %(threshold)s THEN greatest(least(raw, %(cacheable_bin)s - 1), %(low_bin)s)
            ELSE greatest(least(raw, %(bins)s - 1), %(cacheable_bin)s) END AS bin, count(*)
FROM (SELECT confidence_score AS score,
             trunc(round((confidence_score * %(bins)s)::numeric, 6))::int AS raw
      FROM cv_extraction_cache WHERE {VALID} AND """ + CREATED_IN_WINDOW + """) AS scores
GROUP BY 1"""
BY_MODEL = f"""
SELECT extraction_model, count(*), avg(confidence_score) FILTER (WHERE {VALID}),
       count(*) FILTER (WHERE {VALID} AND confidence_score < %(low)s),
       count(*) FILTER (WHERE {VALID} AND confidence_score < %(threshold)s),
       count(*) FILTER (WHERE NOT coalesce({VALID}, false))
FROM cv_extraction_cache WHERE """ + CREATED_IN_WINDOW + """
GROUP BY extraction_model ORDER BY 2 DESC, extraction_model COLLATE "C" """
MEAN_BY_PERIOD = per_period("created_at", f"{VALID} AND {CREATED_IN_WINDOW}",
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


def summary(db, window: Window):
    """confidence.summary: entries, valid, invalid, null, out_of_range, low,
    below_threshold_not_low, below_threshold, cacheable, mean."""
    with read(db) as conn:
        cur = conn.execute(SUMMARY, _params(window))
        row = dict(zip([d.name for d in cur.description], cur.fetchone()))
    return {"entries": row["entries"], "valid": row["valid"],
            "invalid": row["null_"] + row["out_of_range"], "null": row["null_"],
            "out_of_range": row["out_of_range"], "low": row["low"],
            "below_threshold_not_low": row["mid"], "below_threshold": row["low"] + row["mid"],
            "cacheable": row["cacheable"], "mean": row["mean"]}


def histogram(db, window: Window):
    """confidence.histogram: DataFrame bin_start, bin_end, entries, band (20 bins of 0.05)."""
    with read(db) as conn:
        got = dict(rows(conn, HISTOGRAM, _params(window)))
    starts = [round(i * BIN, 2) for i in range(BINS)]
    return pd.DataFrame({"bin_start": starts, "bin_end": [round(s + BIN, 2) for s in starts],
                         "entries": [int(got.get(i, 0)) for i in range(BINS)],
                         "band": [band(s) for s in starts]})


def by_model(db, window: Window):
    """confidence.by_model: DataFrame model, entries, mean, low, below_threshold, invalid."""
    with read(db) as conn:
        got = rows(conn, BY_MODEL, _params(window))
    frame = pd.DataFrame(got, columns=["model", "entries", "mean", "low", "below_threshold",
                                       "invalid"])
    frame["mean"] = frame["mean"].astype("float64")
    return frame


def mean_by_period(db, window: Window):
    """confidence.mean_by_period: DataFrame period, entries (valid scores), mean."""
    with read(db) as conn:
        got = period_rows(conn, MEAN_BY_PERIOD, _params(window))
    return period_frame(got, window, counts=("entries",), values=("mean",))


def lowest(db, window: Window, limit=10):
    """confidence.lowest: DataFrame hash_prefix, model, confidence, created_at (the stored
    form, timeutil.iso's), the lowest valid scores of the window; never the document."""
    with read(db) as conn:
        got = rows(conn, LOWEST, _params(window, limit=int(limit), iso=ISO_FORMAT))
    return pd.DataFrame(got, columns=["hash_prefix", "model", "confidence", "created_at"])

