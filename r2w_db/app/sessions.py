"""Sign-in sessions: create, resolve (active for config.SESSION_DAYS), delete, clean up."""
import numbers
import uuid

from r2w_db import config, errors
from r2w_db.engine import batching, timeutil
from r2w_db.backends.sqlite import predicates
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.connection import transaction
from r2w_db.backends.sqlite.database import as_database


def _days(days):
    if isinstance(days, bool) or not isinstance(days, numbers.Real) or not days >= 0:
        raise errors.InvalidValue(f"days must be a number >= 0, not {days!r}")
    return days


@per_backend("r2w_db.backends.postgresql.operations")
def create_session(db, user_id) -> str:
    """A new uuid4 session for an existing user (InvalidValue when there is no such user)."""
    if not isinstance(user_id, str) or not user_id:
        raise errors.InvalidValue("user_id must be a non-empty string")
    session_id = str(uuid.uuid4())
    with as_database(db).write() as conn:
        with transaction(conn):
            if not conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone():
                raise errors.InvalidValue(f"no user with id {user_id!r}: cannot open a session")
            conn.execute("INSERT INTO sessions (session_id, user_id, created_at) VALUES (?, ?, ?)",
                         (session_id, user_id, timeutil.now_iso()))
    return session_id


@per_backend("r2w_db.backends.postgresql.operations")
def get_user_id_from_session(db, session_id):
    """The session's user_id while it is active, else None (missing, expired or unreadable time)."""
    cutoff = timeutil.iso(timeutil.ago(days=config.SESSION_DAYS))
    with as_database(db).read() as conn:
        row = conn.execute(
            "SELECT user_id FROM sessions WHERE session_id = ?"
            " AND julianday(created_at) >= julianday(?)",
            (session_id, cutoff),
        ).fetchone()
    return row[0] if row is not None else None


@per_backend("r2w_db.backends.postgresql.operations")
def delete_session(db, session_id) -> bool:
    """Sign out: True when a session was deleted."""
    with as_database(db).write() as conn:
        with transaction(conn):
            return conn.execute("DELETE FROM sessions WHERE session_id = ?",
                                (session_id,)).rowcount > 0


def _old(days):
    return predicates.older_than("created_at", timeutil.ago(days=_days(days)))


@per_backend("r2w_db.backends.postgresql.retention")
def count_old_sessions(db, days=config.SESSION_DAYS) -> int:
    """Preview of cleanup_old_sessions: sessions created more than `days` days ago (counted
    on the index, predicates.count_before)."""
    return count_old_sessions_at(db, days)[0]


@per_backend("r2w_db.backends.postgresql.retention")
def count_old_sessions_at(db, *days_list) -> tuple:
    """count_old_sessions for several ages at once, each counted on the index without parsing
    a canonical timestamp (predicates.count_before)."""
    parts = [predicates.count_before("sessions", "created_at", timeutil.ago(days=_days(d)))
             for d in days_list]
    with as_database(db).read() as conn:
        return tuple(conn.execute("SELECT " + ", ".join(sql for sql, _ in parts),
                                  tuple(p for _, params in parts for p in params)).fetchone())


def count_users_signed_out(db, days=config.SESSION_DAYS) -> int:
    """Distinct users with a session cleanup_old_sessions would delete. The application never
    expires sessions itself (it only checks that the row exists), so each of them is signed out
    (on those devices)."""
    return old_session_counts(db, days)[1]


@per_backend("r2w_db.backends.postgresql.retention")
def old_session_counts(db, days=config.SESSION_DAYS) -> tuple:
    """(sessions, distinct users) cleanup_old_sessions would delete, in one read of the rows
    (the sessions preview: one scan, not two, holds the read lock half as long)."""
    where, params = _old(days)
    with as_database(db).read() as conn:
        return tuple(conn.execute(
            f"SELECT count(*), count(DISTINCT user_id) FROM sessions WHERE {where}",
            params).fetchone())


@per_backend("r2w_db.backends.postgresql.retention")
def cleanup_old_sessions(db, days=config.SESSION_DAYS, progress=None) -> int:
    """Delete sessions created more than `days` days ago, in short batches; the number deleted."""
    where, params = _old(days)
    return batching.delete_in_batches(db, "sessions", where, params, progress=progress)
