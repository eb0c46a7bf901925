"""Opening the database: read-only readers, WAL writers, and errors people can act on.

Everything SQLite-specific about connections lives here, so that a second
backend can be added behind the same two context managers.
"""
import sqlite3
import urllib.parse
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors

BUSY_TIMEOUT_MS = 5000        # writers wait at most this long for the application
READ_BUSY_TIMEOUT_MS = 3000   # readers give up sooner: the page says "locked, try again"


class Database:
    """A database file. Every operation takes one of these (or a path) first."""

    def __init__(self, path):
        self.path = Path(path)

    def __repr__(self):
        return f"Database({str(self.path)!r})"

    def __eq__(self, other):
        return isinstance(other, Database) and other.path == self.path

    def __hash__(self):
        return hash(self.path)

    @contextmanager
    def read(self):
        """A short read-only autocommit connection: never creates, migrates or writes."""
        conn = open_reader(self.path)
        try:
            with translated(self.path):
                yield conn
        finally:
            conn.close()

    @contextmanager
    def write(self, create=False):
        """A writer connection in WAL mode with a busy timeout; transactions via `transaction`."""
        conn = open_writer(self.path, create=create)
        try:
            with translated(self.path):
                yield conn
        finally:
            conn.close()


def as_database(db) -> Database:
    """Accept a Database, a path string or a Path."""
    if isinstance(db, Database):
        return db
    if db is None:
        raise TypeError("say which database: pass a Database or a path")
    return Database(db)


def _reader_uri(path: Path) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"


def open_reader(path) -> sqlite3.Connection:
    """Open read-only (mode=ro URI); raise a clear error for missing, unreadable or non-SQLite files."""
    path = Path(path)
    if not path.exists():
        raise errors.DatabaseMissing(path)
    if path.is_dir():
        raise errors.NotADatabase(path)
    try:
        conn = sqlite3.connect(
            _reader_uri(path), uri=True, isolation_level=None,
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


def open_writer(path, create=False) -> sqlite3.Connection:
    """Open for writing: WAL, busy timeout, autocommit (use `transaction` for BEGIN IMMEDIATE)."""
    path = Path(path)
    if not create and not path.exists():
        raise errors.DatabaseMissing(path)
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(
            str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise translate(exc, path) from None
    conn.row_factory = sqlite3.Row
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
    except sqlite3.Error as exc:
        conn.close()
        raise translate(exc, path) from None
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
    if name.startswith("SQLITE_NOTADB") or "not a database" in text:
        return errors.NotADatabase(path)
    if name.startswith("SQLITE_CORRUPT") or "malformed" in text:
        return errors.NotADatabase(path)
    if name.startswith("SQLITE_READONLY") or "readonly database" in text:
        return errors.DatabaseReadOnly(path)
    if name.startswith("SQLITE_FULL") or name.startswith("SQLITE_IOERR"):
        return errors.DiskFull(path)
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in text:
        return errors.Unreadable(path, "SQLite cannot open it")
    if "no such table" in text or "no such column" in text:
        return errors.SchemaTooOld(path, [text.split(":", 1)[-1].strip()])
    return errors.R2WError(f"database error on {path}: {text}")
