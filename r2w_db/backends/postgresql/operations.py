"""The application's everyday operations on PostgreSQL: sessions, uploads, transfers, batch
loads, cache reads and writes (accounts and portfolios: pg_accounts).

sessions.py, uploads.py and cache.py dispatch here (backends.per_backend) for a PgDatabase, with
the same validation (their own helpers), the same results and the same errors:
- timestamps are written as aware UTC instants (timestamptz) and read back in the stored form
  (timeutil.iso), so an upload dict looks the same on both backends;
- a session is active while created_at >= now - config.SESSION_DAYS (an instant comparison);
- newest first is upload_date DESC with NULLs last, as SQLite's julianday() ordering;
- a writer held up past the 5 s lock (or statement) timeout, or chosen as a deadlock victim,
  raises errors.DatabaseLocked, as a write past SQLite's busy timeout does: these writes touch
  a row or two by key, so a statement cancelled after 5 s was waiting for another's lock.
"""
import json
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

from r2w_db import config, errors
from r2w_db.app import cache, uploads
from r2w_db.app.cache import MAX_ACCESS_COUNT, _cv_json
from r2w_db.app.uploads import _cv_data_text, _is_anonymous, _parse_cv_data, _required
from r2w_db.engine import timeutil
from r2w_db.backends.postgresql.database import as_pg

USER_EXISTS = "SELECT 1 FROM users WHERE user_id = %(user_id)s"
NEW_SESSION = ("INSERT INTO sessions (session_id, user_id, created_at)"
               " VALUES (%(session_id)s, %(user_id)s, %(now)s)")
ACTIVE_SESSION_USER = ("SELECT user_id FROM sessions WHERE session_id = %(session_id)s"
                       " AND created_at >= %(session_cutoff)s")
DELETE_SESSION = "DELETE FROM sessions WHERE session_id = %(session_id)s"
JOB_EXISTS = "SELECT 1 FROM cv_uploads WHERE job_id = %(job_id)s"
NEW_UPLOAD = """
INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date, status,
                        file_hash)
VALUES (%(upload_id)s, %(user_id)s, %(job_id)s, %(filename)s, %(file_type)s, %(now)s,
        'processing', %(file_hash)s)"""
USER_UPLOADS = ("SELECT * FROM cv_uploads WHERE user_id = %(user_id)s"
                " ORDER BY upload_date DESC NULLS LAST, upload_id DESC")
UPLOADS_OF_USERS = ("SELECT * FROM cv_uploads WHERE user_id = ANY(%(user_ids)s)"
                    " ORDER BY user_id, upload_date DESC NULLS LAST, upload_id DESC")
USER_ROW = "SELECT * FROM users WHERE user_id = %(user_id)s"
# transfer_cv_ownership: the upload and the user are locked for the transaction, as SQLite's
# write lock holds them, so neither changes between the checks and the update
UPLOAD_OWNER = "SELECT user_id FROM cv_uploads WHERE job_id = %(job_id)s FOR UPDATE"
USER_LOCKED = "SELECT 1 FROM users WHERE user_id = %(user_id)s FOR SHARE"
TRANSFER = ("UPDATE cv_uploads SET user_id = %(new_user_id)s"
            " WHERE job_id = %(job_id)s AND user_id = %(owner)s")
SET_STATUS = "UPDATE cv_uploads SET status = %(status)s WHERE job_id = %(job_id)s"
SET_STATUS_AND_DATA = ("UPDATE cv_uploads SET status = %(status)s, cv_data = %(cv_data)s"
                       " WHERE job_id = %(job_id)s")
# cache.get_cached_extraction: one more access for a count (never past the bound), 1 for NULL,
# anything else left as it is; the entry read in the same statement
CACHE_HIT = """
UPDATE cv_extraction_cache
SET access_count = CASE WHEN access_count IS NULL THEN 1
                        WHEN access_count BETWEEN 0 AND %(max_count)s - 1 THEN access_count + 1
                        ELSE access_count END,
    last_accessed = %(now)s
WHERE file_hash = %(file_hash)s RETURNING cv_data"""
# cache.cache_extraction_result: the upsert keeps created_at and access_count
CACHE_WRITE = """
INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model, temperature, created_at,
                                 confidence_score, access_count, last_accessed)
VALUES (%(file_hash)s, %(cv_data)s, %(model)s, %(temperature)s, %(now)s, %(confidence)s, 1,
        %(now)s)
ON CONFLICT (file_hash) DO UPDATE SET cv_data = excluded.cv_data,
    extraction_model = excluded.extraction_model, temperature = excluded.temperature,
    confidence_score = excluded.confidence_score, last_accessed = excluded.last_accessed"""


def _now():
    return timeutil.utcnow().replace(tzinfo=timezone.utc)


@contextmanager
def writing(db):
    """One write transaction; a wait past the lock or statement timeout is DatabaseLocked."""
    from psycopg import errors as pg_errors

    db = as_pg(db)
    with db.write() as conn:
        try:
            yield conn
        except (pg_errors.LockNotAvailable, pg_errors.QueryCanceled, pg_errors.DeadlockDetected):
            raise errors.DatabaseLocked(db.display) from None


def _stored(value):
    """A value read from PostgreSQL in the form SQLite stores it (timestamps as timeutil.iso)."""
    return timeutil.iso(value) if isinstance(value, datetime) else value


def stored_row(row) -> dict:
    """A dict_row with every value in its stored form."""
    return {k: _stored(v) for k, v in row.items()}


def _uploads(rows) -> list:
    found = [stored_row(row) for row in rows]
    for item in found:
        item["cv_data"] = _parse_cv_data(item.get("cv_data"))
    return found


# ---------------------------------------------------------------------- sessions

def create_session(db, user_id) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise errors.InvalidValue("user_id must be a non-empty string")
    session_id = str(uuid.uuid4())
    with writing(db) as conn:
        if not conn.execute(USER_EXISTS, {"user_id": user_id}).fetchone():
            raise errors.InvalidValue(f"no user with id {user_id!r}: cannot open a session")
        conn.execute(NEW_SESSION, {"session_id": session_id, "user_id": user_id, "now": _now()})
    return session_id


def get_user_id_from_session(db, session_id):
    cutoff = timeutil.ago(_now(), days=config.SESSION_DAYS)
    with as_pg(db).read() as conn:
        row = conn.execute(ACTIVE_SESSION_USER,
                           {"session_id": session_id, "session_cutoff": cutoff}).fetchone()
    return row[0] if row is not None else None


def delete_session(db, session_id) -> bool:
    with writing(db) as conn:
        return conn.execute(DELETE_SESSION, {"session_id": session_id}).rowcount > 0


# ----------------------------------------------------------------------- uploads

def create_cv_upload(db, user_id, job_id, filename, file_type, file_hash=None) -> str:
    for value, what in ((user_id, "user_id"), (job_id, "job_id"),
                        (filename, "filename"), (file_type, "file_type")):
        _required(value, what)
    upload_id = str(uuid.uuid4())
    with writing(db) as conn:
        if conn.execute(JOB_EXISTS, {"job_id": job_id}).fetchone():
            raise errors.InvalidValue(
                f"job_id {job_id!r} already has an upload: every job_id must be unique")
        conn.execute(NEW_UPLOAD, {"upload_id": upload_id, "user_id": user_id, "job_id": job_id,
                                  "filename": filename, "file_type": file_type, "now": _now(),
                                  "file_hash": file_hash})
    return upload_id


def get_user_cv_uploads(db, user_id) -> list:
    from psycopg.rows import dict_row

    with as_pg(db).read() as conn:
        return _uploads(conn.cursor(row_factory=dict_row).execute(
            USER_UPLOADS, {"user_id": user_id}))


def update_cv_upload_status(db, job_id, status, cv_data=None) -> bool:
    if status not in config.STATUSES:
        raise errors.InvalidValue(
            f"status must be one of {', '.join(config.STATUSES)}, not {status!r}")
    params = {"status": status, "job_id": job_id}
    statement = SET_STATUS
    if cv_data is not None:
        statement, params["cv_data"] = SET_STATUS_AND_DATA, _cv_data_text(cv_data)
    with writing(db) as conn:
        return conn.execute(statement, params).rowcount > 0


def transfer_cv_ownership(db, job_id, new_user_id) -> dict:
    """As uploads.transfer_cv_ownership: the same checks, messages and result."""
    result = {"success": False, "job_id": job_id, "old_user_id": None,
              "new_user_id": new_user_id, "message": ""}
    with writing(db) as conn:
        row = conn.execute(UPLOAD_OWNER, {"job_id": job_id}).fetchone()
        if row is None:
            result["message"] = f"no upload with job_id {job_id!r}"
            return result
        owner = result["old_user_id"] = row[0]
        if _is_anonymous(new_user_id) or not conn.execute(
                USER_LOCKED, {"user_id": new_user_id}).fetchone():
            result["message"] = f"no registered user with id {new_user_id!r}"
            return result
        if owner == new_user_id:
            result.update(success=True, message="the upload already belongs to this user")
            return result
        if not _is_anonymous(owner):
            result["message"] = ("refused: the upload belongs to another registered user, "
                                 "only anonymous uploads can be transferred")
            return result
        conn.execute(TRANSFER, {"new_user_id": new_user_id, "job_id": job_id, "owner": owner})
        result.update(success=True, message=f"transferred from {owner} to {new_user_id}")
    return result


def get_user_with_cvs(db, user_id):
    """The user dict plus "cvs" (its uploads, newest first), read in one snapshot; None if no
    user."""
    from psycopg.rows import dict_row

    with as_pg(db).read() as conn:
        cur = conn.cursor(row_factory=dict_row)
        row = cur.execute(USER_ROW, {"user_id": user_id}).fetchone()
        if row is None:
            return None
        user = stored_row(row)
        user["cvs"] = _uploads(cur.execute(USER_UPLOADS, {"user_id": user_id}))
    return user


def get_multiple_users_cvs(db, user_ids) -> dict:
    """{user_id: uploads newest first} for every asked id, in one query (an array parameter)."""
    from psycopg.rows import dict_row

    ids = uploads.checked_user_ids(user_ids)
    result = {user_id: [] for user_id in ids}
    if not ids:
        return result
    with as_pg(db).read() as conn:
        rows = conn.cursor(row_factory=dict_row).execute(UPLOADS_OF_USERS, {"user_ids": ids})
        for item in _uploads(rows):
            result[item["user_id"]].append(item)
    return result


# ------------------------------------------------------------------------- cache

def get_cached_extraction(db, file_hash):
    """The cached cv_data (parsed JSON) or None, the access counted in the same statement; an
    entry whose cv_data is not JSON is a miss, and its access is not counted (rolled back)."""
    if not file_hash:
        return None
    with writing(db) as conn:
        row = conn.execute(CACHE_HIT, {"file_hash": file_hash, "now": _now(),
                                       "max_count": MAX_ACCESS_COUNT}).fetchone()
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except (TypeError, ValueError):
            conn.rollback()
            return None


def cache_extraction_result(db, file_hash, cv_data, model, temperature, confidence,
                            threshold=config.CACHE_THRESHOLD) -> bool:
    """As cache.cache_extraction_result: the same checks, the same threshold rule, the upsert
    keeping created_at and access_count; True when written."""
    checked = cache.checked_extraction(file_hash, model, temperature, confidence, threshold)
    if checked is None:
        return False
    temperature, confidence = checked
    params = {"file_hash": file_hash, "cv_data": _cv_json(cv_data), "model": model,
              "temperature": temperature, "confidence": confidence, "now": _now()}
    with writing(db) as conn:
        conn.execute(CACHE_WRITE, params)
    return True
