"""Figures about the database file itself: sizes, free pages, planner statistics, what a page
shows about its database, and the change token the dashboard's cache keys hold.

SQLite-specific (pragmas, sqlite_stat1, the file's mtime): PostgreSQL has its own versions in
pg_database_file, with the same keys.
"""
from pathlib import Path

from r2w_db.demo.builder import is_demo
from r2w_db.backends.sqlite.database import as_database
from r2w_db.backends.dispatch import per_backend


@per_backend("r2w_db.backends.postgresql.database_file")
def storage(db):
    """{"size_bytes", "wal_bytes", "page_size", "page_count", "freelist_count", "free_ratio",
    "free_bytes", "stat_tables", "stat_rows", "rows"} read-only.

    free_ratio: freelist pages / all pages (None for an empty file). stat_rows: rows of
    sqlite_stat1 (None when ANALYZE never ran: the table does not exist). rows: whether
    any of the application's tables holds a row (statistics only matter then).
    """
    db = as_database(db)
    with db.read() as conn:
        journal_mode = conn.execute("PRAGMA journal_mode").fetchone()[0].lower()
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
        has_stat = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_stat1'").fetchone()
        stat_rows = stat_tables = None
        if has_stat:
            stat_rows, stat_tables = conn.execute(
                "SELECT count(*), count(DISTINCT tbl) FROM sqlite_stat1").fetchone()
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
            " AND name IN ('users', 'sessions', 'cv_uploads', 'cv_extraction_cache')")]
        rows = any(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0] for t in tables)
    sizes = db.backend.stats.sizes(db)
    return {"size_bytes": sizes["size_bytes"], "wal_bytes": sizes["wal_bytes"], "journal_mode": journal_mode,
            "page_size": page_size, "page_count": page_count,
            "freelist_count": freelist,
            "free_ratio": freelist / page_count if page_count else None,
            "free_bytes": freelist * page_size, "stat_rows": stat_rows, "stat_tables": stat_tables,
            "rows": rows}


def file_token(path):
    """(mtime_ns, size) of a file and of its WAL (None for one that does not exist): changes
    whenever the file is written."""
    parts = []
    for candidate in (Path(path), Path(str(path) + "-wal")):
        try:
            stat = candidate.stat()
            parts.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            parts.append(None)
    return tuple(parts)


@per_backend("r2w_db.backends.postgresql.database_file")
def change_token(db):
    """A value that changes whenever the database is written (part of the dashboard's cache
    keys); on SQLite the file's and the WAL's mtime and size. Never raises."""
    return file_token(as_database(db).path)


@per_backend("r2w_db.backends.postgresql.database_file")
def describe(db):
    """{"schema_version", "demo", "size_bytes"}: what every page shows about its database, after
    checking it is at the documented schema (else EmptyDatabase, SchemaTooOld ...). Read-only."""
    db = as_database(db)
    with db.read() as conn:
        db.backend.schema.require_schema(conn, db)
        version = db.backend.schema.user_version(conn)
    return {"schema_version": version, "demo": is_demo(db),
            "size_bytes": db.backend.stats.sizes(db)["size_bytes"]}
