"""The extraction cache: read with an access count, write at or above the threshold, clean up.

The application caches an extraction when its confidence is >= 0.75, with INSERT OR REPLACE
(a re-cache resets created_at and access_count); the upsert here keeps both, so that a
re-cached file keeps its history. An access_count is a count only when it is an integer
from 0 to MAX_ACCESS_COUNT (`valid_access_count`); figures leave anything else out and count it.
"""
import json
import math
import numbers

from r2w_db import config, errors
from r2w_db.engine import batching, timeutil
from r2w_db.backends.sqlite import predicates
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import transaction
from r2w_db.backends.sqlite.database import as_database

# No file is re-uploaded two billion times: a larger access_count is damage, not a count. The
# bound also keeps sum() far from overflow (2^63 / 2^31 = 2^32 rows, more than any cache holds).
MAX_ACCESS_COUNT = 2**31 - 1


class _NotJson(Exception):
    """Raised inside the read transaction to roll back the access of a corrupt entry."""


@per_backend("r2w_db.backends.postgresql.operations")
def get_cached_extraction(db, file_hash):
    """The cached cv_data (parsed JSON) or None; counts the access in the same statement.

    An entry whose cv_data is not JSON is a miss, and its access is not counted.
    """
    if not file_hash:
        return None
    with as_database(db).write() as conn:
        try:
            with transaction(conn):
                rows = conn.execute(
                    f"UPDATE cv_extraction_cache SET access_count = {_counted()},"
                    " last_accessed = ? WHERE file_hash = ? RETURNING cv_data",
                    (timeutil.now_iso(), file_hash),
                ).fetchall()
                if not rows:
                    return None
                try:
                    return json.loads(rows[0][0])
                except (TypeError, ValueError):
                    raise _NotJson from None
        except _NotJson:
            return None


def valid_access_count(column="access_count"):
    """SQL: the access_count is a count (an integer from 0 to MAX_ACCESS_COUNT). NULL is not a
    count, nor invalid: the schema's default is 1, and sums leave it out."""
    return f"(typeof({column}) = 'integer' AND {column} BETWEEN 0 AND {MAX_ACCESS_COUNT})"


def invalid_access_count(column="access_count"):
    """SQL: the access_count holds something that is not a count (NULL excluded)."""
    return f"({column} IS NOT NULL AND NOT {valid_access_count(column)})"


def _counted():
    """SQL: the access_count after a hit. One more for a count (never past MAX_ACCESS_COUNT), 1
    for NULL, anything else left as it is: an odd value never makes the read overflow."""
    return (f"CASE WHEN access_count IS NULL THEN 1 WHEN {valid_access_count()}"
            f" AND access_count < {MAX_ACCESS_COUNT} THEN access_count + 1 ELSE access_count END")


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


@per_backend("r2w_db.backends.postgresql.operations")
def cache_extraction_result(db, file_hash, cv_data, model, temperature, confidence,
                            threshold=config.CACHE_THRESHOLD) -> bool:
    """Cache an extraction when confidence >= threshold (the application's rule; upsert on
    file_hash, keeping created_at and access_count); True when written."""
    checked = checked_extraction(file_hash, model, temperature, confidence, threshold)
    if checked is None:
        return False
    temperature, confidence = checked
    text = _cv_json(cv_data)
    now = timeutil.now_iso()
    with as_database(db).write() as conn:
        with transaction(conn):
            conn.execute(
                "INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
                " temperature, created_at, confidence_score, access_count, last_accessed)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, ?)"
                " ON CONFLICT (file_hash) DO UPDATE SET cv_data = excluded.cv_data,"
                " extraction_model = excluded.extraction_model,"
                " temperature = excluded.temperature,"
                " confidence_score = excluded.confidence_score,"
                " last_accessed = excluded.last_accessed",
                (file_hash, text, model, temperature, now, confidence, now),
            )
    return True


def _old_unused(days):
    if isinstance(days, bool) or not isinstance(days, numbers.Real) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    where, params = predicates.older_than("created_at", timeutil.ago(days=days))
    return f"{where} AND COALESCE(access_count, 1) <= 1", params


@per_backend("r2w_db.backends.postgresql.retention")
def count_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS) -> int:
    """Preview of cleanup_old_cache_entries: old entries that were never reused."""
    where, params = _old_unused(days)
    with as_database(db).read() as conn:
        return conn.execute(
            f"SELECT count(*) FROM cv_extraction_cache WHERE {where}", params).fetchone()[0]


@per_backend("r2w_db.backends.postgresql.retention")
def cleanup_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS, progress=None) -> int:
    """Delete entries created more than `days` days ago and never reused, in short batches."""
    where, params = _old_unused(days)
    return batching.delete_in_batches(db, "cv_extraction_cache", where, params, progress=progress)
