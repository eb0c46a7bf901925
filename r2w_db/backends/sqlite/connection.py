"""Opening the database: read-only readers, bounded writers, and errors people can act on.

Everything SQLite-specific about connections lives here, so that a second backend can be
added behind the same two context managers. Both open the file through a `file:` URI built
from its absolute path (so a name with `?` or `#` is only a name), refuse what is not a
regular file (a FIFO would hang), and never change the journal mode: the application may run
on a volume where WAL is unsafe (switching is an explicit step, see journal.py).
"""
import sqlite3
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.engine.locations import require_regular_file
from r2w_db.backends.sqlite.schema import user_version

from r2w_db.config import (  # noqa: F401  (the setting, shared by every engine)
    DEFAULT_BUSY_TIMEOUT_MS, TIMEOUT_ENV, TIMEOUT_RANGE_MS, BadTimeoutSetting,
    busy_timeout_setting)


def check_timeout_setting():
    """Raise BadTimeoutSetting when R2W_BUSY_TIMEOUT_MS was set to a bad value."""
    if TIMEOUT_SETTING_ERROR is not None:
        raise TIMEOUT_SETTING_ERROR


# writers wait at most this long for the application (R2W_BUSY_TIMEOUT_MS, default 5000);
# readers give up sooner (3/5 of it, 3000 by default): the page says "locked, try again"
BUSY_TIMEOUT_MS, TIMEOUT_SETTING_ERROR = busy_timeout_setting()
READ_BUSY_TIMEOUT_MS = max(TIMEOUT_RANGE_MS[0], BUSY_TIMEOUT_MS * 3 // 5)


def file_uri(path: Path, mode: str) -> str:
    """`file:` URI of the absolute path (every character quoted) with `mode` (ro, rw, rwc)."""
    return "file:" + urllib.parse.quote(str(Path(path).absolute())) + f"?mode={mode}"


def _existing(path) -> Path:
    path = Path(path)
    require_regular_file(path)
    try:
        found = path.exists()
    except OSError as exc:
        raise errors.Unreadable(path, exc.strerror or str(exc)) from None
    if not found:
        raise errors.DatabaseMissing(path)
    return path


def open_reader(path) -> sqlite3.Connection:
    """Open read-only (mode=ro URI); raise a clear error for missing, unreadable or non-SQLite files."""
    check_timeout_setting()
    path = _existing(path)
    try:
        conn = sqlite3.connect(
            file_uri(path, "ro"), uri=True, isolation_level=None,
            timeout=READ_BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path) from None
    return conn


def open_writer(path, create=False, app_schema=True) -> sqlite3.Connection:
    """Open for writing: busy timeout, autocommit (use `transaction` for BEGIN IMMEDIATE), the
    journal mode left as it is. An application database at a schema newer than this code
    knows is refused (SchemaTooNew), so no writer touches what it does not understand."""
    check_timeout_setting()
    path = Path(path)
    if create:
        require_regular_file(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise errors.Unreadable(path.parent, exc.strerror or str(exc)) from None
    else:
        _existing(path)
    try:
        conn = sqlite3.connect(
            file_uri(path, "rwc" if create else "rw"), uri=True, isolation_level=None,
            timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        found = user_version(conn)
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path) from None
    if app_schema and found > schema.CURRENT_VERSION:
        conn.close()
        raise errors.SchemaTooNew(path, found, schema.CURRENT_VERSION)
    return conn


@contextmanager
def transaction(conn):
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any error (including KeyboardInterrupt)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


@contextmanager
def translated(path):
    """Turn sqlite3 errors raised inside the block into R2WError subclasses."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc, path) from None


def translate(exc: sqlite3.Error, path) -> errors.R2WError:
    """Map an sqlite3 error to the exception class a person can act on."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_BUSY") or name.startswith("SQLITE_LOCKED") or "locked" in text:
        return errors.DatabaseLocked(path)
    if name == "SQLITE_READONLY_ROLLBACK":
        return errors.HotJournal(path)
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return errors.NotADatabase(path)
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return errors.DatabaseDamaged(path, text)
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return errors.DatabaseReadOnly(path)
    if name.startswith("SQLITE_FULL") or name.startswith("SQLITE_IOERR"):
        return errors.DiskFull(path)
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return errors.Unreadable(path, "SQLite cannot open it")
    if "no such table" in text or "no such column" in text:
        return errors.SchemaTooOld(path, [text.split(":", 1)[-1].strip()])
    return errors.R2WError(f"database error on {path}: {text}")
