"""Bring a database from any state of the documented history to the current schema.

Written once for every engine: each engine plans and runs the steps in its own way
(backends/<engine>/schema.py: SQLite's short BEGIN IMMEDIATE transactions, PostgreSQL's
CREATE INDEX CONCURRENTLY). Each function takes a database object, or a path or URL that
open_database turns into one.
"""
from r2w_db.backends import open_database as _database


def schema_version(db):
    """Read-only: the schema version the database is at."""
    db = _database(db)
    return db.backend.schema.schema_version(db)


def pending(db, additions=True):
    """Read-only: the steps a migrate would run on this database."""
    db = _database(db)
    return db.backend.schema.pending(db, additions)


def migrate(db, dry_run=False, create=False, additions=True, progress=None):
    """Run (or with dry_run only list) the pending steps in short transactions; returns them.

    `progress(step, seconds)` is called after each step with how long it held the lock.
    """
    db = _database(db)
    return db.backend.schema.migrate(db, dry_run=dry_run, create=create, additions=additions,
                                     progress=progress)


def init(db):
    """Create the database (an SQLite file; PostgreSQL's is its owner's) if needed and bring it
    to the current schema."""
    db = _database(db)
    return db.backend.schema.init(db)
