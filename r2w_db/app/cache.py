"""The extraction cache: read with an access count, write at or above the threshold, clean up
(the statements: db.backend.extractions and db.backend.retention).

The application caches an extraction when its confidence is >= 0.75, with INSERT OR REPLACE
(a re-cache resets created_at and access_count); the upsert here keeps both, so that a
re-cached file keeps its history. An access_count is a count only when it is an integer
from 0 to MAX_ACCESS_COUNT; figures leave anything else out and count it.
"""
import json
import math
import numbers

from r2w_db import config, errors
from r2w_db.app.sessions import checked_days
from r2w_db.backends import open_database
from r2w_db.engine import batching, timeutil

MAX_ACCESS_COUNT = config.MAX_ACCESS_COUNT


class _NotJson(Exception):
    """Raised inside the write transaction to roll back the access of a corrupt entry."""


def get_cached_extraction(db, file_hash):
    """The cached cv_data (parsed JSON) or None; counts the access in the same statement.

    An entry whose cv_data is not JSON is a miss, and its access is not counted.
    """
    if not file_hash:
        return None
    db = open_database(db)
    try:
        with db.backend.accounts.write_transaction(db) as conn:
            hits = db.backend.extractions.count_cache_hit(conn, file_hash, timeutil.utcnow())
            if not hits:
                return None
            try:
                return json.loads(hits[0])
            except (TypeError, ValueError):
                raise _NotJson from None
    except _NotJson:
        return None


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise errors.InvalidValue(f"{what} must be a finite number, not {value!r}")
    return float(value)


def _cv_json(cv_data):
    if isinstance(cv_data, str):
        try:
            json.loads(cv_data)
        except ValueError:
            raise errors.InvalidValue("cv_data is a string but not JSON") from None
        return cv_data
    try:
        return json.dumps(cv_data, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidValue(f"cv_data cannot be stored as JSON: {exc}") from None


def checked_extraction(file_hash, model, temperature, confidence, threshold):
    """(temperature, confidence) of an extraction to cache, None when it is not cached
    (no confidence, or below the threshold); InvalidValue for a value the schema refuses."""
    if not isinstance(file_hash, str) or not file_hash:
        raise errors.InvalidValue("file_hash must be a non-empty string")
    if not isinstance(model, str) or not model:
        raise errors.InvalidValue("model must be a non-empty string")
    temperature = _number(temperature, "temperature")
    if confidence is None:
        return None
    confidence = _number(confidence, "confidence")
    if not 0.0 <= confidence <= 1.0:
        raise errors.InvalidValue(f"confidence must be between 0 and 1, not {confidence!r}")
    if not confidence >= threshold:
        return None
    return temperature, confidence


def cache_extraction_result(db, file_hash, cv_data, model, temperature, confidence,
                            threshold=config.CACHE_THRESHOLD) -> bool:
    """Cache an extraction when confidence >= threshold (the application's rule; upsert on
    file_hash, keeping created_at and access_count); True when written."""
    checked = checked_extraction(file_hash, model, temperature, confidence, threshold)
    if checked is None:
        return False
    temperature, confidence = checked
    text = _cv_json(cv_data)
    db = open_database(db)
    with db.backend.accounts.write_transaction(db) as conn:
        db.backend.extractions.upsert_cache_entry(conn, file_hash, text, model, temperature,
                                                  confidence, timeutil.utcnow())
    return True


def count_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS) -> int:
    """Preview of cleanup_old_cache_entries: old entries that were never reused."""
    moment = timeutil.ago(days=checked_days(days))
    db = open_database(db)
    with db.read() as conn:
        return db.backend.retention.count_old_cache_entries(conn, moment)


def cleanup_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS, progress=None) -> int:
    """Delete entries created more than `days` days ago and never reused, in short batches."""
    moment = timeutil.ago(days=checked_days(days))
    db = open_database(db)
    where, params = db.backend.retention.old_unused_entries(moment)
    return batching.delete_in_batches(db, "cv_extraction_cache", where, params,
                                      progress=progress)
