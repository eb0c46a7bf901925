"""Definitions the pages and the roll-ups share, without pandas (the watcher's snapshot imports
them): the status classes of uploads and the confidence bins.

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
