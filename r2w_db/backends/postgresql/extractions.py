"""CV uploads and the extraction cache on PostgreSQL: the statements of app/uploads.py and
app/cache.py (which validate and shape), with SQLite's results.

- timestamps are written as aware UTC instants (ops.instant) and read back in the stored form
  (timeutil.iso), so an upload dict looks the same on both backends;
- newest first is upload_date DESC with NULLs last, as SQLite's julianday() ordering;
- a transfer locks the upload and the user for its transaction (FOR UPDATE, FOR SHARE), as
  SQLite's write lock holds them, so neither changes between the checks and the update.
"""
from r2w_db import config
from r2w_db.backends.postgresql.accounts import USER_ROW, _dicts, _stored_row
from r2w_db.backends.postgresql.ops import instant

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
UPLOAD_OWNER = "SELECT user_id FROM cv_uploads WHERE job_id = %(job_id)s FOR UPDATE"
USER_LOCKED = "SELECT 1 FROM users WHERE user_id = %(user_id)s FOR SHARE"
TRANSFER = ("UPDATE cv_uploads SET user_id = %(new_user_id)s"
            " WHERE job_id = %(job_id)s AND user_id = %(owner)s")
SET_STATUS = "UPDATE cv_uploads SET status = %(status)s WHERE job_id = %(job_id)s"
SET_STATUS_AND_DATA = ("UPDATE cv_uploads SET status = %(status)s, cv_data = %(cv_data)s"
                       " WHERE job_id = %(job_id)s")
# one more access for a count (never past the bound), 1 for NULL, anything else left as it is;
# the entry read in the same statement
CACHE_HIT = """
UPDATE cv_extraction_cache
SET access_count = CASE WHEN access_count IS NULL THEN 1
                        WHEN access_count BETWEEN 0 AND %(max_count)s - 1 THEN access_count + 1
                        ELSE access_count END,
    last_accessed = %(now)s
WHERE file_hash = %(file_hash)s RETURNING cv_data"""
# the upsert keeps created_at and access_count
CACHE_WRITE = """
INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model, temperature, created_at,
                                 confidence_score, access_count, last_accessed)
VALUES (%(file_hash)s, %(cv_data)s, %(model)s, %(temperature)s, %(now)s, %(confidence)s, 1,
        %(now)s)
ON CONFLICT (file_hash) DO UPDATE SET cv_data = excluded.cv_data,
    extraction_model = excluded.extraction_model, temperature = excluded.temperature,
    confidence_score = excluded.confidence_score, last_accessed = excluded.last_accessed"""


# ----------------------------------------------------------------------- uploads

def job_exists(conn, job_id) -> bool:
    return conn.execute(JOB_EXISTS, {"job_id": job_id}).fetchone() is not None


def insert_upload(conn, upload_id, user_id, job_id, filename, file_type, file_hash, now):
    """A new upload in status 'processing'."""
    conn.execute(NEW_UPLOAD, {"upload_id": upload_id, "user_id": user_id, "job_id": job_id,
                              "filename": filename, "file_type": file_type, "now": instant(now),
                              "file_hash": file_hash})


def uploads_of_user(conn, user_id) -> list:
    """The user's uploads in the stored form (dicts), newest first."""
    return [_stored_row(row) for row in _dicts(conn).execute(USER_UPLOADS, {"user_id": user_id})]


def uploads_of_users(conn, user_ids) -> list:
    """The uploads of every id (dicts, by user_id, each user's newest first), in one query (an
    array parameter)."""
    return [_stored_row(row) for row in _dicts(conn).execute(
        UPLOADS_OF_USERS, {"user_ids": list(user_ids)})]


def user_with_uploads(conn, user_id):
    """(the users row as a dict, its uploads newest first), read in one snapshot; (None, [])
    without such a user."""
    row = _dicts(conn).execute(USER_ROW, {"user_id": user_id}).fetchone()
    if row is None:
        return None, []
    return _stored_row(row), uploads_of_user(conn, user_id)


def set_status(conn, job_id, status, cv_data) -> bool:
    """Set the status (and cv_data, a JSON text, unless None); True when the job exists."""
    params = {"status": status, "job_id": job_id}
    statement = SET_STATUS
    if cv_data is not None:
        statement, params["cv_data"] = SET_STATUS_AND_DATA, cv_data
    return conn.execute(statement, params).rowcount > 0


def upload_owner(conn, job_id):
    """(user_id,) of the upload, locked for the transaction, or None without one."""
    row = conn.execute(UPLOAD_OWNER, {"job_id": job_id}).fetchone()
    return tuple(row) if row is not None else None


def lock_user(conn, user_id) -> bool:
    """The user exists (its row held for the transaction)."""
    return conn.execute(USER_LOCKED, {"user_id": user_id}).fetchone() is not None


def transfer(conn, job_id, owner, new_user_id):
    conn.execute(TRANSFER, {"new_user_id": new_user_id, "job_id": job_id, "owner": owner})


# ------------------------------------------------------------------------- cache

def count_cache_hit(conn, file_hash, now) -> list:
    """Count an access of the entry and read it, in one statement: its cv_data ([] without
    the entry)."""
    return [row[0] for row in conn.execute(CACHE_HIT, {
        "file_hash": file_hash, "now": instant(now), "max_count": config.MAX_ACCESS_COUNT})]


def upsert_cache_entry(conn, file_hash, cv_data, model, temperature, confidence, now):
    """Write the entry; a re-cache keeps its created_at and access_count."""
    conn.execute(CACHE_WRITE, {"file_hash": file_hash, "cv_data": cv_data, "model": model,
                               "temperature": temperature, "confidence": confidence,
                               "now": instant(now)})
