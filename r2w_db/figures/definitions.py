"""Definitions the pages and the roll-ups share, without pandas (the watcher's snapshot imports
them): the status classes of uploads, the confidence bins, the anonymous ids' age buckets and
the cache entries' access-count buckets.

Statuses: the four the application writes (config.STATUSES), and other for anything else (NULL
included). Confidence: valid in [0, 1]; 20 bins of 0.05, each score binned inside its own band
(low below 0.7, below the caching threshold 0.75, cacheable). Their SQL is the engine's.
"""
from r2w_db import config

STATUS_CLASSES = (*config.STATUSES, "other")


def status_class(status):
    """The status, or 'other' for anything the application never writes (None included)."""
    return status if status in config.STATUSES else "other"


BINS = config.CONFIDENCE_BINS
BIN = 0.05
# the first bin of the two upper bands: a score is binned inside its own band, even a score
# a hair below a rule that rounding to 6 places would put in the next bin
LOW_BIN, CACHEABLE_BIN = round(config.LOW_CONFIDENCE * BINS), round(config.CACHE_THRESHOLD * BINS)


# Anonymous ids by the age of their newest upload: (label, upper bound in days; None = no bound)
AGE_BUCKETS = (("< 1 day", 1), ("1–7 days", 7), ("7–30 days", 30), ("30–90 days", 90),
               ("> 90 days", None))
UNKNOWN_AGE = "unknown (unparseable date)"

# Cache entries by access_count: (label, lowest count in the bucket); NULL and 0 count as 1, as
# the cleanup does
ACCESS_BUCKETS = (("1 (never reused)", 1), ("2", 2), ("3–5", 3), ("6–10", 6), ("11–50", 11),
                  ("51+", 51))
# an access_count that is not a count (negative, fractional, huge, text): listed only when present
INVALID_COUNT = "not a count (invalid)"
SIZE_SAMPLE = 2000  # above this many entries the documents' size is estimated from the newest ones


def document_bytes(entries, sampled, sample_bytes):
    """(bytes of the cached documents, whether estimated): exact up to SIZE_SAMPLE entries,
    else the sampled (newest) entries' mean times the count."""
    estimated = entries > sampled
    return (round(sample_bytes / sampled * entries) if estimated else int(sample_bytes)), estimated
