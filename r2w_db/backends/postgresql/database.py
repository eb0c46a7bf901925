"""A PostgreSQL database named by a libpq URL: the object every operation takes, made once where
a location is resolved (backends.open_database). Settings and errors: connection.py."""
import os
from contextlib import contextmanager

from r2w_db import errors
from r2w_db.backends.base import DatabaseObject
from r2w_db.backends.postgresql import connection
from r2w_db.backends.postgresql.connection import (CONNECT_TIMEOUT_S, READ_STATEMENT_TIMEOUT_MS,
                                                   _psycopg, translated)
from r2w_db.engine.locations import identity, is_pg_url, redact

_writers_ended = {}   # url: writers of this process that ended (database_file.change_token)


def writers_ended(url):
    """How many writers of this process have ended on the database at `url`: a change token
    kept for a moment is read anew after this process wrote."""
    return _writers_ended.get(url, 0)


class PgDatabase(DatabaseObject):
    """A PostgreSQL database named by a libpq URL."""

    @property
    def backend(self):
        from r2w_db.backends.postgresql import BACKEND   # the package builds it from its modules
        return BACKEND

    def __init__(self, url):
        text = str(url).strip()
        if not is_pg_url(text):
            raise errors.BadLocation(f"{redact(text)!r} is not a postgresql:// or postgres:// URL")
        self.url = text
        self.place, self.display = text, redact(text)   # shown and logged: no password

    def _identity(self):
        """The URL without its password, so a URL given with or without it is one database."""
        return identity(self.url)

    def connect(self, *, read_only, autocommit=False):
        """A raw psycopg connection with this module's settings (close it yourself)."""
        psycopg = _psycopg()
        params = psycopg.conninfo.conninfo_to_dict(self.url)
        kwargs = {}
        if "connect_timeout" not in params and not os.environ.get("PGCONNECT_TIMEOUT"):
            kwargs["connect_timeout"] = CONNECT_TIMEOUT_S
        kwargs.setdefault("application_name", "r2w_db")
        with translated(self):
            conn = psycopg.connect(self.url, autocommit=True, **kwargs)
        try:
            with translated(self):
                if read_only:
                    conn.execute("SET default_transaction_read_only = on")
                    conn.execute("SET default_transaction_isolation = 'repeatable read'")
                    conn.execute(f"SET statement_timeout = {int(READ_STATEMENT_TIMEOUT_MS)}")
                    conn.read_only = True
                else:
                    conn.execute(f"SET statement_timeout = {int(connection.WRITE_TIMEOUT_MS)}")
                    conn.execute(f"SET lock_timeout = {int(connection.WRITE_TIMEOUT_MS)}")
                conn.execute("SET TIME ZONE 'UTC'")
                conn.autocommit = autocommit
        except BaseException:
            conn.close()
            raise
        return conn

    @contextmanager
    def read(self):
        """A read-only connection; its first statement opens one READ ONLY, REPEATABLE READ
        transaction (one snapshot), rolled back when the block ends."""
        conn = self.connect(read_only=True)
        try:
            with translated(self):
                yield conn
        finally:
            try:
                conn.rollback()
            finally:
                conn.close()

    @contextmanager
    def write(self, autocommit=False):
        """A writer with 5 s statement and lock timeouts. Not autocommit: the block is one
        transaction, committed when it ends without an error and rolled back otherwise.
        `autocommit=True` for statements that refuse a transaction (CREATE INDEX CONCURRENTLY)."""
        conn = self.connect(read_only=False, autocommit=autocommit)
        try:
            with translated(self):
                yield conn
                if not autocommit:
                    conn.commit()
        except BaseException:
            if not conn.closed and not autocommit:
                conn.rollback()
            raise
        finally:
            conn.close()
            _writers_ended[self.url] = _writers_ended.get(self.url, 0) + 1

    @contextmanager
    def transaction(self, before=None, **options):
        """A writer whose block is one transaction (write() is one already); `before(conn)` runs
        first. `options` that only SQLite's writer takes (create, app_schema) mean nothing here."""
        with self.write() as conn:
            if before is not None:
                before(conn)
            yield conn


def as_pg(db) -> PgDatabase:
    return db if isinstance(db, PgDatabase) else PgDatabase(db)
