"""The backends: one package per engine, the only place that knows engines apart.

`open_database(location)` turns a resolved location into that engine's database object;
everything below the edge takes that object and asks `db.backend` for what differs
(docs/architecture.md). `driver_errors()` are the drivers' own exceptions, for the one place
(the command line's last resort) that must name an error no module translated.
"""
import sqlite3
import sys

from r2w_db.backends.base import DatabaseObject
from r2w_db.backends.sqlite.database import Database
from r2w_db.engine.locations import is_pg_url


def open_database(location):
    """The database object of a location: a PostgreSQL database for a DbLocation with a `url`
    or a postgresql:// URL, else an SQLite database for a DbLocation, a path or a path string;
    a database object is returned as it is."""
    if isinstance(location, DatabaseObject):
        return location
    if location is None:
        raise TypeError("say which database: pass a database object, a location or a path")
    url = getattr(location, "url", None) or (location if is_pg_url(location) else None)
    if url:  # psycopg is imported only when a PostgreSQL database is opened
        from r2w_db.backends.postgresql.database import PgDatabase
        return PgDatabase(url)
    return Database(getattr(location, "path", location))


def all_backends():
    """Every engine's backend, SQLite's first."""
    from r2w_db.backends import postgresql, sqlite
    return (sqlite.BACKEND, postgresql.BACKEND)


def driver_errors():
    """The database drivers' base exceptions: psycopg's only once it is imported (no psycopg
    error can be raised before a PostgreSQL database is opened)."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error,) if psycopg is None else (sqlite3.Error, psycopg.Error)
