"""Confidence page figures: cache entries created in the window, by confidence_score.

Low: below 0.7. Caching threshold: 0.75 (the application caches at or above it; entries
below it break the caching policy, exactly 0.75 does not). Invalid: NULL or outside [0, 1]
(text and blobs included); invalid values are counted, and left out of histograms and averages.
The rows are the engine's (db.backend.confidence).
"""
import pandas as pd

from r2w_db import config
from r2w_db.backends import open_database
from r2w_db.figures.definitions import BIN, BINS
from r2w_db.figures.periods import Window, period_frame, read

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


def _rows(db, name, window, *args):
    """The engine's confidence.<name> rows for the window, on one read."""
    db = open_database(db)
    with read(db) as conn:
        return getattr(db.backend.confidence, name)(conn, window, *args)


def summary(db, window: Window):
    """{"entries", "valid", "invalid", "null", "out_of_range", "low", "below_threshold_not_low",
    "cacheable", "below_threshold", "mean"} for entries created in the window."""
    row = _rows(db, "summary", window)
    return {"entries": row["entries"], "valid": row["valid"],
            "invalid": row["null_"] + row["out_of_range"], "null": row["null_"],
            "out_of_range": row["out_of_range"], "low": row["low"],
            "below_threshold_not_low": row["mid"], "below_threshold": row["low"] + row["mid"],
            "cacheable": row["cacheable"], "mean": row["mean"]}


def histogram(db, window: Window):
    """DataFrame bin_start, bin_end, entries, band: 20 bins of 0.05 over [0, 1] (1.0 in the last).

    Each score falls in a bin of its own band (the same comparisons as summary's counts)."""
    got = _rows(db, "histogram", window)
    starts = [round(i * BIN, 2) for i in range(BINS)]
    return pd.DataFrame({"bin_start": starts, "bin_end": [round(s + BIN, 2) for s in starts],
                         "entries": [int(got.get(i, 0)) for i in range(BINS)],
                         "band": [band(s) for s in starts]})


def by_model(db, window: Window):
    """DataFrame model, entries, mean, low, below_threshold, invalid."""
    return by_model_frame(_rows(db, "by_model", window))


def by_model_frame(rows):
    """by_model's frame from the engine's rows [(model, entries, mean, low, below_threshold,
    invalid)]."""
    frame = pd.DataFrame(rows,
                         columns=["model", "entries", "mean", "low", "below_threshold", "invalid"])
    frame["mean"] = frame["mean"].astype("float64")
    return frame


def mean_by_period(db, window: Window):
    """DataFrame period, entries (valid scores), mean (NaN for a period without entries)."""
    return period_frame(_rows(db, "mean_by_period", window), window, counts=("entries",),
                        values=("mean",))


def lowest(db, window: Window, limit=10):
    """DataFrame hash_prefix (12 characters), model, confidence, created_at: the lowest valid
    scores of the window. Never the document."""
    return pd.DataFrame(_rows(db, "lowest", window, limit),
                        columns=["hash_prefix", "model", "confidence", "created_at"])
