"""CV uploads: create, list, update status, transfer from an anonymous owner, batch loads.

As the application writes them: file_type is the file's extension ('.pdf', '.docx', '.png'),
and the status is one of config.STATUSES: 'processing', 'completed', 'failed', and 'uploaded'
(an anonymous upload waiting for the person to sign up before it is extracted).
"""
import json
import uuid

from r2w_db import config, errors
from r2w_db.engine import schema, timeutil
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import transaction
from r2w_db.backends.sqlite.database import as_database

NEWEST_FIRST = "julianday(upload_date) DESC, upload_date DESC, rowid DESC"
CHUNK = 500  # ids per IN (...) query, well under SQLite's variable limit


def _required(value, what):
    if not isinstance(value, str) or not value:
        raise errors.InvalidValue(f"{what} must be a non-empty string")


def _is_anonymous(user_id) -> bool:
    """The literal, case-sensitive `anonymous_` prefix."""
    return isinstance(user_id, str) and user_id.startswith(config.ANONYMOUS_PREFIX)


def _parse_cv_data(value):
    if isinstance(value, (str, bytes)):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _upload(row) -> dict:
    item = dict(row)
    if "cv_data" in item:
        item["cv_data"] = _parse_cv_data(item["cv_data"])
    return item


@per_backend("r2w_db.backends.postgresql.operations")
def create_cv_upload(db, user_id, job_id, filename, file_type, file_hash=None) -> str:
    """Record an upload in status 'processing'; the new uuid4 upload_id."""
    for value, what in ((user_id, "user_id"), (job_id, "job_id"),
                        (filename, "filename"), (file_type, "file_type")):
        _required(value, what)
    upload_id = str(uuid.uuid4())
    with as_database(db).write() as conn:
        with transaction(conn):
            if conn.execute("SELECT 1 FROM cv_uploads WHERE job_id = ?", (job_id,)).fetchone():
                raise errors.InvalidValue(
                    f"job_id {job_id!r} already has an upload: every job_id must be unique")
            conn.execute(
                "INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                " upload_date, status, file_hash) VALUES (?, ?, ?, ?, ?, ?, 'processing', ?)",
                (upload_id, user_id, job_id, filename, file_type, timeutil.now_iso(), file_hash),
            )
    return upload_id


@per_backend("r2w_db.backends.postgresql.operations")
def get_user_cv_uploads(db, user_id) -> list:
    """The user's uploads, newest first (by instant), cv_data parsed when it is JSON."""
    with as_database(db).read() as conn:
        rows = conn.execute(
            f"SELECT * FROM cv_uploads WHERE user_id = ? ORDER BY {NEWEST_FIRST}", (user_id,)
        ).fetchall()
    return [_upload(row) for row in rows]


def _cv_data_text(cv_data):
    if isinstance(cv_data, str):
        return cv_data
    if isinstance(cv_data, (dict, list)):
        try:
            return json.dumps(cv_data)
        except (TypeError, ValueError) as exc:
            raise errors.InvalidValue(f"cv_data cannot be stored as JSON: {exc}") from None
    raise errors.InvalidValue(
        f"cv_data must be a dict, a list or a str, not {type(cv_data).__name__}")


@per_backend("r2w_db.backends.postgresql.operations")
def update_cv_upload_status(db, job_id, status, cv_data=None) -> bool:
    """Set the status, one of config.STATUSES (and cv_data unless None); True when the job exists."""
    if status not in config.STATUSES:
        raise errors.InvalidValue(
            f"status must be one of {', '.join(config.STATUSES)}, not {status!r}")
    if cv_data is None:
        sql, params = "UPDATE cv_uploads SET status = ? WHERE job_id = ?", (status, job_id)
    else:
        sql = "UPDATE cv_uploads SET status = ?, cv_data = ? WHERE job_id = ?"
        params = (status, _cv_data_text(cv_data), job_id)
    with as_database(db).write() as conn:
        with transaction(conn):
            return conn.execute(sql, params).rowcount > 0


@per_backend("r2w_db.backends.postgresql.operations")
def transfer_cv_ownership(db, job_id, new_user_id) -> dict:
    """Give an anonymous upload to a registered user, in one transaction.

    Refuses (success False, nothing written) when the upload or the target user
    does not exist, or when the upload belongs to another registered user.
    Already owned by new_user_id: success, nothing written.
    """
    result = {"success": False, "job_id": job_id, "old_user_id": None,
              "new_user_id": new_user_id, "message": ""}
    with as_database(db).write() as conn:
        with transaction(conn):
            row = conn.execute("SELECT user_id FROM cv_uploads WHERE job_id = ?",
                               (job_id,)).fetchone()
            if row is None:
                result["message"] = f"no upload with job_id {job_id!r}"
                return result
            owner = result["old_user_id"] = row[0]
            if _is_anonymous(new_user_id) or not conn.execute(
                    "SELECT 1 FROM users WHERE user_id = ?", (new_user_id,)).fetchone():
                result["message"] = f"no registered user with id {new_user_id!r}"
                return result
            if owner == new_user_id:
                result.update(success=True, message="the upload already belongs to this user")
                return result
            if not _is_anonymous(owner):
                result["message"] = ("refused: the upload belongs to another registered user, "
                                     "only anonymous uploads can be transferred")
                return result
            conn.execute("UPDATE cv_uploads SET user_id = ? WHERE job_id = ? AND user_id = ?",
                         (new_user_id, job_id, owner))
            result.update(success=True, message=f"transferred from {owner} to {new_user_id}")
    return result


_CV_COLUMNS = schema.COLUMNS["cv_uploads"]


@per_backend("r2w_db.backends.postgresql.operations")
def get_user_with_cvs(db, user_id):
    """The user dict plus "cvs" (its uploads, newest first), in one LEFT JOIN; None if no user."""
    cv_cols = ", ".join(f"c.{col} AS cv__{col}" for col in _CV_COLUMNS)
    sql = (f"SELECT u.*, c.rowid AS cv__rowid, {cv_cols} FROM users u"
           " LEFT JOIN cv_uploads c ON u.user_id = c.user_id WHERE u.user_id = ?"
           " ORDER BY julianday(c.upload_date) DESC, c.upload_date DESC, c.rowid DESC")
    with as_database(db).read() as conn:
        rows = conn.execute(sql, (user_id,)).fetchall()
    if not rows:
        return None
    user = {k: rows[0][k] for k in rows[0].keys() if not k.startswith("cv__")}
    user["cvs"] = [_upload({col: row[f"cv__{col}"] for col in _CV_COLUMNS})
                   for row in rows if row["cv__rowid"] is not None]
    return user


def checked_user_ids(user_ids) -> list:
    """The asked ids, each once, in order (InvalidValue for one string or a non-string id)."""
    if isinstance(user_ids, (str, bytes)):
        raise errors.InvalidValue("user_ids must be a collection of ids, not one string")
    ids = list(dict.fromkeys(user_ids))
    if not all(isinstance(user_id, str) for user_id in ids):
        raise errors.InvalidValue("every user_id must be a string")
    return ids


@per_backend("r2w_db.backends.postgresql.operations")
def get_multiple_users_cvs(db, user_ids) -> dict:
    """{user_id: uploads newest first} for every asked id, one IN query per CHUNK ids."""
    ids = checked_user_ids(user_ids)
    result = {user_id: [] for user_id in ids}
    if not ids:
        return result
    with as_database(db).read() as conn:
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT * FROM cv_uploads WHERE user_id IN ({marks})"
                f" ORDER BY user_id, {NEWEST_FIRST}", chunk).fetchall()
            for row in rows:
                result[row["user_id"]].append(_upload(row))
    return result
