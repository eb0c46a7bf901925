"""Opening a PostgreSQL database (psycopg 3): read-only readers, bounded writers, clear errors.

A location is a libpq URL, `postgresql://` or `postgres://`; what it leaves out (host, port,
user, password, database) comes from libpq's environment variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE, PGSERVICE, ~/.pgpass ...), exactly as psql reads them. Every location
shown or logged goes through `locations.redact`.

- Readers: every transaction is READ ONLY (`default_transaction_read_only = on` for the
  session and psycopg's `read_only`), REPEATABLE READ, so one reader's figures come from one
  snapshot; a statement may run for READ_STATEMENT_TIMEOUT_MS at most.
- Writers: `statement_timeout` and `lock_timeout` of 5 s (the SQLite busy timeout's
  counterpart, and the same setting: R2W_BUSY_TIMEOUT_MS), so no command waits longer than
  that on the application's locks or holds the application up for long.
- psycopg errors raised inside `read()` / `write()` become R2WError (one line, URL redacted).
"""
from contextlib import contextmanager

from r2w_db import errors
from r2w_db import config
from r2w_db.engine.locations import without_password

# statement_timeout and lock_timeout of writers: the SQLite busy timeout's setting
# (R2W_BUSY_TIMEOUT_MS, default 5000; a bad value is refused when a connection is made)
WRITE_TIMEOUT_MS, TIMEOUT_SETTING_ERROR = config.busy_timeout_setting()
READ_STATEMENT_TIMEOUT_MS = 60000  # a reader's statement may run this long
CONNECT_TIMEOUT_S = 10           # unless the URL or PGCONNECT_TIMEOUT says otherwise


class PgError(errors.R2WError):
    """PostgreSQL refused or failed (unreachable, authentication, a statement)."""


def _psycopg():
    if TIMEOUT_SETTING_ERROR is not None:   # R2W_BUSY_TIMEOUT_MS set to a bad value
        raise TIMEOUT_SETTING_ERROR
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - requirements.txt pins it
        raise PgError(f"psycopg is not installed ({exc}): pip install -r requirements.txt") from None
    return psycopg


@contextmanager
def translated(db):
    """psycopg errors inside the block become PgError: one line, the URL redacted."""
    psycopg = _psycopg()
    try:
        yield
    except psycopg.Error as exc:
        text = without_password(str(exc).replace(db.url, db.display), db.url)
        kind = type(exc).__name__
        raise PgError(f"PostgreSQL {db.display}: {kind}: {errors.one_line(text)}") from None


def identifier(name):
    """psycopg's sql.Identifier (identifiers are never formatted into SQL as text)."""
    from psycopg import sql

    return sql.Identifier(name)
