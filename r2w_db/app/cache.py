"""The extraction cache: read with an access count, write above the threshold, clean up."""
import json
import math
import numbers

from r2w_db import config, errors
from r2w_db.engine import batching, predicates, timeutil
from r2w_db.engine.connection import as_database, transaction


class _NotJson(Exception):
    """Raised inside the read transaction to roll back the access of a corrupt entry."""


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
                    "UPDATE cv_extraction_cache SET access_count = COALESCE(access_count, 0) + 1,"
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


def cache_extraction_result(db, file_hash, cv_data, model, temperature, confidence,
                            threshold=config.CACHE_THRESHOLD) -> bool:
    """Cache an extraction when confidence > threshold (upsert on file_hash); True when written."""
    if not isinstance(file_hash, str) or not file_hash:
        raise errors.InvalidValue("file_hash must be a non-empty string")
    if not isinstance(model, str) or not model:
        raise errors.InvalidValue("model must be a non-empty string")
    temperature = _number(temperature, "temperature")
    if confidence is None:
        return False
    confidence = _number(confidence, "confidence")
    if not 0.0 <= confidence <= 1.0:
        raise errors.InvalidValue(f"confidence must be between 0 and 1, not {confidence!r}")
    if not confidence > threshold:
        return False
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


def count_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS) -> int:
    """Preview of cleanup_old_cache_entries: old entries that were never reused."""
    where, params = _old_unused(days)
    with as_database(db).read() as conn:
        return conn.execute(
            f"SELECT count(*) FROM cv_extraction_cache WHERE {where}", params).fetchone()[0]


def cleanup_old_cache_entries(db, days=config.CACHE_RETENTION_DAYS, progress=None) -> int:
    """Delete entries created more than `days` days ago and never reused, in short batches."""
    where, params = _old_unused(days)
    return batching.delete_in_batches(db, "cv_extraction_cache", where, params, progress=progress)
