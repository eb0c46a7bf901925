"""Opening a PostgreSQL database (psycopg 3): read-only readers, bounded writers, clear errors.

A location is a libpq URL, `postgresql://` or `postgres://`; what it leaves out (host, port,
user, password, database) comes from libpq's environment variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE, PGSERVICE, ~/.pgpass ...), exactly as psql reads them. Every location
shown or logged goes through `locations.redact`.

- Readers: every transaction is READ ONLY (`default_transaction_read_only = on` for the
  session and psycopg's `read_only`), REPEATABLE READ, so one reader's figures come from one
  snapshot; a statement may run for READ_STATEMENT_TIMEOUT_MS at most.
- Writers: `statement_timeout` and `lock_timeout` of 5 s (the SQLite busy timeout's
  counterpart), so no command waits longer than that on the application's locks or holds the
  application up for long.
- psycopg errors raised inside `read()` / `write()` become R2WError (one line, URL redacted).
"""
import os
from contextlib import contextmanager

from r2w_db import errors
from r2w_db.engine.locations import is_pg_url, redact

WRITE_TIMEOUT_MS = 5000          # statement_timeout and lock_timeout of writers
READ_STATEMENT_TIMEOUT_MS = 60000  # a reader's statement may run this long
CONNECT_TIMEOUT_S = 10           # unless the URL or PGCONNECT_TIMEOUT says otherwise


class PgError(errors.R2WError):
    """PostgreSQL refused or failed (unreachable, authentication, a statement)."""


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - requirements.txt pins it
        raise PgError(f"psycopg is not installed ({exc}): pip install -r requirements.txt") from None
    return psycopg


class PgDatabase:
    """A PostgreSQL database named by a libpq URL."""

    backend = "postgresql"

    def __init__(self, url):
        text = str(url).strip()
        if not is_pg_url(text):
            raise errors.BadLocation(f"{redact(text)!r} is not a postgresql:// or postgres:// URL")
        self.url = text

    def __repr__(self):
        return f"PgDatabase({self.display!r})"

    def __eq__(self, other):
        return isinstance(other, PgDatabase) and other.url == self.url

    def __hash__(self):
        return hash(self.url)

    @property
    def display(self):
        """The URL fit to show or log: any password replaced by ***."""
        return redact(self.url)

    path = display  # where SQLite code shows `db.path`

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
                    conn.execute(f"SET statement_timeout = {int(WRITE_TIMEOUT_MS)}")
                    conn.execute(f"SET lock_timeout = {int(WRITE_TIMEOUT_MS)}")
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


def as_pg(db) -> PgDatabase:
    return db if isinstance(db, PgDatabase) else PgDatabase(db)


@contextmanager
def translated(db):
    """psycopg errors inside the block become PgError: one line, the URL redacted."""
    psycopg = _psycopg()
    try:
        yield
    except psycopg.Error as exc:
        text = str(exc).replace(db.url, db.display) if db.url in str(exc) else str(exc)
        kind = type(exc).__name__
        raise PgError(f"PostgreSQL {db.display}: {kind}: {errors.one_line(text)}") from None


def identifier(name):
    """psycopg's sql.Identifier (identifiers are never formatted into SQL as text)."""
    from psycopg import sql

    return sql.Identifier(name)
