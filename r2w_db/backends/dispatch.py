"""The backend seam: which engine a database runs on, and figures with their own SQL per engine.

A database is a `connection.Database` (an SQLite file) or a `pg.PgDatabase` (a postgresql://
URL); both carry `backend` ("sqlite" or "postgresql"). Pages and the command line never branch
on it: a function that needs different SQL on PostgreSQL is decorated with `per_backend`, which
calls the function of the same name in the given PostgreSQL module when the database is one;
one with no PostgreSQL counterpart yet is decorated with `sqlite_only`, which says so in one
line. `open_database(location)` gives the database object of a resolved location.
"""
import functools
import importlib

from r2w_db import errors
from r2w_db.backends.sqlite.database import Database
from r2w_db.backends.postgresql.connection import is_pg_url
from r2w_db.backends.postgresql.database import PgDatabase

SQLITE, POSTGRESQL = "sqlite", "postgresql"


def backend_of(db) -> str:
    """"postgresql" for a PgDatabase or a postgresql:// URL, else "sqlite"."""
    if isinstance(db, PgDatabase) or is_pg_url(db):
        return POSTGRESQL
    return SQLITE


def is_postgresql(db) -> bool:
    return backend_of(db) == POSTGRESQL


def per_backend(pg_module: str):
    """Decorator: on PostgreSQL, call `pg_module`'s function of the same name instead (same
    arguments, same result shape), imported only when first needed."""
    def wrap(func):
        @functools.wraps(func)
        def run(db, *args, **kwargs):
            if is_postgresql(db):
                pg_func = getattr(importlib.import_module(pg_module), func.__name__)
                return pg_func(db if isinstance(db, PgDatabase) else PgDatabase(db), *args, **kwargs)
            return func(db, *args, **kwargs)
        run.sqlite = func
        return run
    return wrap


def open_database(location):
    """The database object of a location: a PgDatabase for a PostgreSQL one (a DbLocation with
    a `url`, or a postgresql:// URL), else a connection.Database (a DbLocation, a path, or a
    database object, returned as it is)."""
    if isinstance(location, (Database, PgDatabase)):
        return location
    url = getattr(location, "url", None) or (location if is_pg_url(location) else None)
    if url:
        return PgDatabase(url)
    return Database(getattr(location, "path", location))


def sqlite_only(what: str, reason=None):
    """Decorator for an SQLite function with no PostgreSQL counterpart (yet, unless `reason`
    says why there is none): given a PostgreSQL database first, it raises
    errors.NotOnPostgreSQL (one line) instead of running."""
    def wrap(func):
        @functools.wraps(func)
        def run(db, *args, **kwargs):
            if is_postgresql(db):
                raise errors.NotSupported(what, "PostgreSQL", reason)
            return func(db, *args, **kwargs)
        return run
    return wrap
