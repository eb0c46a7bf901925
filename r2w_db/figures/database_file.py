"""Figures about the database file itself: sizes, free pages, planner statistics.

SQLite-specific (pragmas, sqlite_stat1): a second backend gets its own version of
`storage`, returning the same keys.
"""
from r2w_db.engine.connection import as_database
from r2w_db.figures import stats


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
    return {**stats.file_sizes(db.path), "journal_mode": journal_mode,
            "page_size": page_size, "page_count": page_count,
            "freelist_count": freelist,
            "free_ratio": freelist / page_count if page_count else None,
            "free_bytes": freelist * page_size, "stat_rows": stat_rows, "stat_tables": stat_tables,
            "rows": rows}
