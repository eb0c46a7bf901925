"""CV uploads: create, list, update status, transfer from an anonymous owner, batch loads.

As the application writes them: file_type is the file's extension ('.pdf', '.docx', '.png'),
and the status is one of config.STATUSES: 'processing', 'completed', 'failed', and 'uploaded'
(an anonymous upload waiting for the person to sign up before it is extracted).
"""
import json
import uuid

from r2w_db import config, errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil


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


def create_cv_upload(db, user_id, job_id, filename, file_type, file_hash=None) -> str:
    """Record an upload in status 'processing'; the new uuid4 upload_id."""
    for value, what in ((user_id, "user_id"), (job_id, "job_id"),
                        (filename, "filename"), (file_type, "file_type")):
        _required(value, what)
    db = open_database(db)
    upload_id = str(uuid.uuid4())
    with db.backend.accounts.write_transaction(db) as conn:
        if db.backend.extractions.job_exists(conn, job_id):
            raise errors.InvalidValue(
                f"job_id {job_id!r} already has an upload: every job_id must be unique")
        db.backend.extractions.insert_upload(conn, upload_id, user_id, job_id, filename,
                                             file_type, file_hash, timeutil.utcnow())
    return upload_id


def get_user_cv_uploads(db, user_id) -> list:
    """The user's uploads, newest first (by instant), cv_data parsed when it is JSON."""
    db = open_database(db)
    with db.read() as conn:
        rows = db.backend.extractions.uploads_of_user(conn, user_id)
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


def update_cv_upload_status(db, job_id, status, cv_data=None) -> bool:
    """Set the status, one of config.STATUSES (and cv_data unless None); True when the job exists."""
    if status not in config.STATUSES:
        raise errors.InvalidValue(
            f"status must be one of {', '.join(config.STATUSES)}, not {status!r}")
    text = None if cv_data is None else _cv_data_text(cv_data)
    db = open_database(db)
    with db.backend.accounts.write_transaction(db) as conn:
        return db.backend.extractions.set_status(conn, job_id, status, text)


def transfer_cv_ownership(db, job_id, new_user_id) -> dict:
    """Give an anonymous upload to a registered user, in one transaction.

    Refuses (success False, nothing written) when the upload or the target user
    does not exist, or when the upload belongs to another registered user.
    Already owned by new_user_id: success, nothing written.
    """
    result = {"success": False, "job_id": job_id, "old_user_id": None,
              "new_user_id": new_user_id, "message": ""}
    db = open_database(db)
    queries = db.backend.extractions
    with db.backend.accounts.write_transaction(db) as conn:
        row = queries.upload_owner(conn, job_id)
        if row is None:
            result["message"] = f"no upload with job_id {job_id!r}"
            return result
        owner = result["old_user_id"] = row[0]
        if _is_anonymous(new_user_id) or not queries.lock_user(conn, new_user_id):
            result["message"] = f"no registered user with id {new_user_id!r}"
            return result
        if owner == new_user_id:
            result.update(success=True, message="the upload already belongs to this user")
            return result
        if not _is_anonymous(owner):
            result["message"] = ("refused: the upload belongs to another registered user, "
                                 "only anonymous uploads can be transferred")
            return result
        queries.transfer(conn, job_id, owner, new_user_id)
        result.update(success=True, message=f"transferred from {owner} to {new_user_id}")
    return result


def get_user_with_cvs(db, user_id):
    """The user dict plus "cvs" (its uploads, newest first), read at once; None if no user."""
    db = open_database(db)
    with db.read() as conn:
        user, cvs = db.backend.extractions.user_with_uploads(conn, user_id)
    if user is None:
        return None
    user["cvs"] = [_upload(cv) for cv in cvs]
    return user


def checked_user_ids(user_ids) -> list:
    """The asked ids, each once, in order (InvalidValue for one string or a non-string id)."""
    if isinstance(user_ids, (str, bytes)):
        raise errors.InvalidValue("user_ids must be a collection of ids, not one string")
    ids = list(dict.fromkeys(user_ids))
    if not all(isinstance(user_id, str) for user_id in ids):
        raise errors.InvalidValue("every user_id must be a string")
    return ids


def get_multiple_users_cvs(db, user_ids) -> dict:
    """{user_id: uploads newest first} for every asked id, read at once."""
    ids = checked_user_ids(user_ids)
    result = {user_id: [] for user_id in ids}
    if not ids:
        return result
    db = open_database(db)
    with db.read() as conn:
        for row in db.backend.extractions.uploads_of_users(conn, ids):
            result[row["user_id"]].append(_upload(row))
    return result


FAILED = "failed"   # what the application writes when an extraction fails


def mark_stuck_failed(db, conn, job_ids, cutoff) -> list:
    """Inside the caller's write transaction: what the application writes when an extraction
    fails (update_cv_upload_status(job_id, 'failed'): the status alone, cv_data untouched) on
    each of `job_ids` that is still 'processing' with an upload_date before `cutoff`; a job
    that finished meanwhile is left as it is. The job_ids changed."""
    assert FAILED in config.STATUSES
    return open_database(db).backend.stuck.fail_stuck(conn, job_ids, cutoff)
