"""Definitions the pages and the roll-ups share, without pandas (the watcher's snapshot imports
them): the status classes of uploads and the confidence bins.

Statuses: the four the application writes (config.STATUSES), and other for anything else (NULL
included). Confidence: valid in [0, 1]; 20 bins of 0.05, each score binned inside its own band
(low below 0.7, below the caching threshold 0.75, cacheable).
"""
from r2w_db import config

STATUS_CLASSES = (*config.STATUSES, "other")


def status_class(column="status"):
    """SQL: the status, or 'other' for anything the application never writes (NULL included)."""
    documented = ", ".join(f"'{s}'" for s in config.STATUSES)
    return f"(CASE WHEN {column} IN ({documented}) THEN {column} ELSE 'other' END)"


BIN = 0.05
BINS = 20
VALID = "confidence_score BETWEEN 0 AND 1"
# the first bin of the two upper bands: a score is binned inside its own band, even a score
# a hair below a rule that rounding to 6 places would put in the next bin
LOW_BIN, CACHEABLE_BIN = round(config.LOW_CONFIDENCE * BINS), round(config.CACHE_THRESHOLD * BINS)
_RAW = f"CAST(round(confidence_score * {BINS}, 6) AS INTEGER)"
# SQL: a valid score's bin (0..BINS-1), inside its own band; parameters BINNED_PARAMS
BINNED = (f"CASE WHEN confidence_score < ? THEN min({_RAW}, {LOW_BIN - 1})"
          f" WHEN confidence_score < ? THEN max(min({_RAW}, {CACHEABLE_BIN - 1}), {LOW_BIN})"
          f" ELSE max(min({_RAW}, {BINS - 1}), {CACHEABLE_BIN}) END")
BINNED_PARAMS = (config.LOW_CONFIDENCE, config.CACHE_THRESHOLD)
