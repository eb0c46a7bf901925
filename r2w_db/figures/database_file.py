"""Figures about the database itself: sizes, free space, planner statistics, what a page shows
about its database, and the change token the dashboard's cache keys hold. Each engine reads its
own (backends/<engine>/database_file.py) with the same keys; a figure an engine does not have
(the WAL, the free list on PostgreSQL) is None."""
from r2w_db.backends import open_database
from r2w_db.demo.builder import is_demo


def storage(db):
    """{"size_bytes", "wal_bytes", "journal_mode", "page_size", "page_count", "freelist_count",
    "free_ratio", "free_bytes", "stat_rows", "stat_tables", "rows"}, read-only."""
    db = open_database(db)
    return db.backend.database_file.storage(db)


def change_token(db):
    """A value that changes whenever the database is written (part of the dashboard's cache
    keys). Never raises."""
    db = open_database(db)
    return db.backend.database_file.change_token(db)


def describe(db):
    """{"schema_version", "demo", "size_bytes"}: what every page shows about its database, after
    checking it is at the documented schema (else EmptyDatabase, SchemaTooOld ...). Read-only."""
    db = open_database(db)
    facts = db.backend.database_file.describe(db)
    return {"schema_version": facts["schema_version"], "demo": is_demo(db),
            "size_bytes": facts["size_bytes"]}
