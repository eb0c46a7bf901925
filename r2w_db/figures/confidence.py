"""Confidence page figures: cache entries created in the window, by confidence_score.

Low: below 0.7. Caching threshold: 0.75 (the application caches at or above it; entries
below it break the caching policy, exactly 0.75 does not). Invalid: NULL or outside [0, 1]
(text and blobs included); invalid values are counted, and left out of histograms and averages.
"""
import pandas as pd

from r2w_db import config
from r2w_db.backends.dispatch import per_backend
from r2w_db.figures.definitions import (BIN, BINNED, BINNED_PARAMS, BINS, CACHEABLE_BIN,  # noqa: F401
                                        LOW_BIN, VALID)
from r2w_db.figures.periods import Window, period_frame, period_of, read

BANDS = (f"low (< {config.LOW_CONFIDENCE})",
         f"below caching threshold ({config.LOW_CONFIDENCE}–{config.CACHE_THRESHOLD})",
         f"cacheable (≥ {config.CACHE_THRESHOLD})")


def band(score):
    """Which side of the two rules a score falls on (one of BANDS)."""
    if score < config.LOW_CONFIDENCE:
        return BANDS[0]
    if score < config.CACHE_THRESHOLD:
        return BANDS[1]
    return BANDS[2]


@per_backend("r2w_db.backends.postgresql.confidence")
def summary(db, window: Window):
    """{"entries", "valid", "invalid", "null", "out_of_range", "low", "below_threshold_not_low",
    "cacheable", "below_threshold", "mean"} for entries created in the window."""
    where, params = window.where("created_at")
    with read(db) as conn:
        row = conn.execute(
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
             config.CACHE_THRESHOLD, *params)).fetchone()
    return {"entries": row["entries"], "valid": row["valid"],
            "invalid": row["null_"] + row["out_of_range"], "null": row["null_"],
            "out_of_range": row["out_of_range"], "low": row["low"],
            "below_threshold_not_low": row["mid"], "below_threshold": row["low"] + row["mid"],
            "cacheable": row["cacheable"], "mean": row["mean"]}


@per_backend("r2w_db.backends.postgresql.confidence")
def histogram(db, window: Window):
    """DataFrame bin_start, bin_end, entries, band: 20 bins of 0.05 over [0, 1] (1.0 in the last).

    Each score falls in a bin of its own band (the same comparisons as summary's counts)."""
    where, params = window.where("created_at")
    with read(db) as conn:
        got = dict(conn.execute(
            f"SELECT {BINNED} AS bin, count(*) FROM cv_extraction_cache"
            f" WHERE {VALID} AND {where} GROUP BY 1", (*BINNED_PARAMS, *params)).fetchall())
    starts = [round(i * BIN, 2) for i in range(BINS)]
    return pd.DataFrame({"bin_start": starts, "bin_end": [round(s + BIN, 2) for s in starts],
                         "entries": [int(got.get(i, 0)) for i in range(BINS)],
                         "band": [band(s) for s in starts]})


@per_backend("r2w_db.backends.postgresql.confidence")
def by_model(db, window: Window):
    """DataFrame model, entries, mean, low, below_threshold, invalid."""
    where, params = window.where("created_at")
    with read(db) as conn:
        rows = conn.execute(
            "SELECT extraction_model, count(*),"
            f" avg(CASE WHEN {VALID} THEN confidence_score END),"
            f" coalesce(sum({VALID} AND confidence_score < ?), 0),"
            f" coalesce(sum({VALID} AND confidence_score < ?), 0),"
            f" coalesce(sum(NOT coalesce({VALID}, 0)), 0)"
            f" FROM cv_extraction_cache WHERE {where} GROUP BY extraction_model ORDER BY 2 DESC, 1",
            (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD, *params)).fetchall()
    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=["model", "entries", "mean", "low", "below_threshold", "invalid"])
    frame["mean"] = frame["mean"].astype("float64")
    return frame


@per_backend("r2w_db.backends.postgresql.confidence")
def mean_by_period(db, window: Window):
    """DataFrame period, entries (valid scores), mean (NaN for a period without entries)."""
    where, params = window.where("created_at")
    with read(db) as conn:
        rows = conn.execute(
            f"SELECT {period_of('created_at', window.grain)} AS period, count(*), avg(confidence_score)"
            f" FROM cv_extraction_cache WHERE {VALID} AND {where} GROUP BY 1", params).fetchall()
    return period_frame(rows, window, counts=("entries",), values=("mean",))


@per_backend("r2w_db.backends.postgresql.confidence")
def lowest(db, window: Window, limit=10):
    """DataFrame hash_prefix (12 characters), model, confidence, created_at: the lowest valid
    scores of the window. Never the document."""
    where, params = window.where("created_at")
    with read(db) as conn:
        rows = conn.execute(
            "SELECT substr(file_hash, 1, 12), extraction_model, confidence_score, created_at"
            " FROM cv_extraction_cache WHERE rowid IN ("
            f"   SELECT rowid FROM cv_extraction_cache WHERE {VALID} AND {where}"
            "    ORDER BY confidence_score LIMIT ?)"
            " ORDER BY confidence_score, created_at", (*params, int(limit))).fetchall()
    return pd.DataFrame([tuple(r) for r in rows],
                        columns=["hash_prefix", "model", "confidence", "created_at"])
