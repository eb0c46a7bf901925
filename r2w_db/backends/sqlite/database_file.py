"""The database file's own figures on SQLite: pages and free pages (PRAGMA), planner statistics
(sqlite_stat1), the change token the dashboard's cache keys hold (the file's and the WAL's mtime
and size), and the facts every page shows (schema version, size)."""
from r2w_db.backends.sqlite import schema, stats
from r2w_db.engine.files import file_token

APP_TABLES = ("users", "sessions", "cv_uploads", "cv_extraction_cache")


def storage(db):
    """{"size_bytes", "wal_bytes", "journal_mode", "page_size", "page_count", "freelist_count",
    "free_ratio", "free_bytes", "stat_rows", "stat_tables", "rows"}, read-only.

    free_ratio: freelist pages / all pages (None for an empty file). stat_rows: rows of
    sqlite_stat1 (None when ANALYZE never ran: the table does not exist). rows: whether any of
    the application's tables holds a row (statistics only matter then)."""
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
            f" AND name IN ({', '.join('?' * len(APP_TABLES))})", APP_TABLES)]
        rows = any(conn.execute(f"SELECT EXISTS (SELECT 1 FROM {t})").fetchone()[0] for t in tables)
    sizes = stats.sizes(db)
    return {"size_bytes": sizes["size_bytes"], "wal_bytes": sizes["wal_bytes"],
            "journal_mode": journal_mode, "page_size": page_size, "page_count": page_count,
            "freelist_count": freelist, "free_ratio": freelist / page_count if page_count else None,
            "free_bytes": freelist * page_size, "stat_rows": stat_rows, "stat_tables": stat_tables,
            "rows": rows}


def change_token(db):
    """(mtime_ns, size) of the file and of its WAL: changes whenever the file is written."""
    return file_token(db.path)


def describe(db):
    """{"schema_version", "size_bytes"} after checking the file is at the documented schema."""
    with db.read() as conn:
        schema.require_schema(conn, db)
        version = schema.user_version(conn)
    return {"schema_version": version, "size_bytes": stats.sizes(db)["size_bytes"]}


def application_id(conn):
    """The file's PRAGMA application_id (the demo's mark)."""
    return conn.execute("PRAGMA application_id").fetchone()[0]


def set_application_id(conn, value):
    conn.execute(f"PRAGMA application_id = {int(value)}")


def prepare_bulk_write(conn):
    """This connection only (closed after the bulk write): no fsync, 256 MB of page cache."""
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
