"""Sign-in sessions: create, resolve (active for config.SESSION_DAYS), delete, clean up (the
statements: db.backend.accounts and db.backend.retention)."""
import numbers
import uuid

from r2w_db import config, errors
from r2w_db.backends import open_database
from r2w_db.engine import batching, timeutil


def checked_days(days):
    """`days` when it is a number >= 0, else InvalidValue."""
    if isinstance(days, bool) or not isinstance(days, numbers.Real) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    return days


def create_session(db, user_id) -> str:
    """A new uuid4 session for an existing user (InvalidValue when there is no such user)."""
    if not isinstance(user_id, str) or not user_id:
        raise errors.InvalidValue("user_id must be a non-empty string")
    db = open_database(db)
    session_id = str(uuid.uuid4())
    with db.backend.accounts.write_transaction(db) as conn:
        if not db.backend.accounts.user_exists(conn, user_id):
            raise errors.InvalidValue(f"no user with id {user_id!r}: cannot open a session")
        db.backend.accounts.insert_session(conn, session_id, user_id, timeutil.utcnow())
    return session_id


def get_user_id_from_session(db, session_id):
    """The session's user_id while it is active, else None (missing, expired or unreadable time)."""
    db = open_database(db)
    cutoff = timeutil.ago(days=config.SESSION_DAYS)
    with db.read() as conn:
        return db.backend.accounts.active_session_user(conn, session_id, cutoff)


def delete_session(db, session_id) -> bool:
    """Sign out: True when a session was deleted."""
    db = open_database(db)
    with db.backend.accounts.write_transaction(db) as conn:
        return db.backend.accounts.delete_session(conn, session_id)


def _old(days):
    return timeutil.ago(days=checked_days(days))


def count_old_sessions(db, days=config.SESSION_DAYS) -> int:
    """Preview of cleanup_old_sessions: sessions created more than `days` days ago (on SQLite
    counted on the index, predicates.count_before)."""
    moment = _old(days)
    db = open_database(db)
    with db.read() as conn:
        return db.backend.retention.count_old_sessions(conn, moment)


def count_old_sessions_at(db, *days_list) -> tuple:
    """count_old_sessions for several ages at once, in one read."""
    moments = [_old(d) for d in days_list]
    db = open_database(db)
    with db.read() as conn:
        return db.backend.retention.count_old_sessions_at(conn, moments)


def count_users_signed_out(db, days=config.SESSION_DAYS) -> int:
    """Distinct users with a session cleanup_old_sessions would delete. The application never
    expires sessions itself (it only checks that the row exists), so each of them is signed out
    (on those devices)."""
    return old_session_counts(db, days)[1]


def old_session_counts(db, days=config.SESSION_DAYS) -> tuple:
    """(sessions, distinct users) cleanup_old_sessions would delete, in one read of the rows
    (the sessions preview: one scan, not two, holds the read lock half as long)."""
    moment = _old(days)
    db = open_database(db)
    with db.read() as conn:
        return db.backend.retention.old_session_counts(conn, moment)


def cleanup_old_sessions(db, days=config.SESSION_DAYS, progress=None) -> int:
    """Delete sessions created more than `days` days ago, in short batches; the number deleted."""
    moment = _old(days)
    db = open_database(db)
    where, params = db.backend.retention.old_sessions(moment)
    return batching.delete_in_batches(db, "sessions", where, params, progress=progress)
