"""An SQLite database file: the object every operation takes, made once where a location is
resolved (backends.open_database). Its connections come from connection.py."""
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.backends.base import DatabaseObject
from r2w_db.backends.sqlite import connection
from r2w_db.backends.sqlite.connection import transaction, translated
from r2w_db.engine.locations import is_pg_url


class Database(DatabaseObject):
    """A database file. Every operation takes one of these (or a path) first."""

    @property
    def backend(self):
        from r2w_db.backends.sqlite import BACKEND   # the package builds it from its modules
        return BACKEND

    def __init__(self, path):
        self.path = Path(path)
        self.place, self.display = self.path, str(self.path)   # shown and logged: its path

    def _identity(self):
        """The absolute path."""
        return str(self.path.resolve())

    def read(self):
        """A short read-only autocommit connection: never creates, migrates or writes."""
        return self._opened(connection.open_reader(self.path))

    def write(self, create=False, app_schema=True):
        """A writer connection with a busy timeout; transactions via `transaction`.

        `app_schema`: the application's database, so a schema newer than this code knows is
        refused (the monitor's own file passes False)."""
        return self._opened(connection.open_writer(self.path, create=create, app_schema=app_schema))

    @contextmanager
    def _opened(self, conn):
        """The block's connection: its sqlite3 errors translated, closed when the block ends."""
        try:
            with translated(self.path):
                yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self, before=None, **options):
        """A writer (`options` as write's) whose block is one BEGIN IMMEDIATE transaction:
        committed when the block ends, rolled back on any error (a kill included). `before(conn)`
        runs on the writer first, outside the transaction (a connection's own settings)."""
        with self.write(**options) as conn:
            if before is not None:
                before(conn)
            with transaction(conn):
                yield conn


def as_database(db) -> Database:
    """Accept a Database, a path string or a Path. A PostgreSQL database (a PgDatabase or a
    postgresql:// URL) reaching SQLite code is NotOnPostgreSQL: one line, never SQLite's SQL
    sent to PostgreSQL or a URL taken for a file name."""
    if isinstance(db, Database):
        return db
    if db is None:
        raise TypeError("say which database: pass a Database or a path")
    if is_pg_url(db) or not isinstance(db, (str, Path)):
        raise errors.NotSupported("this operation", "PostgreSQL")
    return Database(db)
