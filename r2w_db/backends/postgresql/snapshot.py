"""A snapshot's sizes on PostgreSQL (snapshot.take_snapshot takes the rest), with SQLite's keys
and, wherever the meaning is the same, its metric names, so `history` and the History page read
one series across a move.

- tables: every ordinary table of the current schema. bytes = pg_table_size (heap, TOAST, free
  space and visibility maps), index_bytes = pg_indexes_size: exact, from the catalog, so
  `table_bytes` is "pg_table_size" and table_bytes_exact 1. rows = an exact count(*) for a table
  the planner estimates at EXACT_ROWS_MAX rows or fewer (or never estimated), else
  pg_class.reltuples (the estimate VACUUM and ANALYZE keep); `table_rows` says which, per table
  ("count" or "reltuples"; rows null for a table the role may not read and the planner never
  estimated), and table_rows_exact is 1 when every table was counted.
- indexes: every index of those tables, bytes = pg_relation_size(indexrelid) (the Space view's).
- file: size_bytes = pg_database_size (the whole database on disk, catalog included, as the
  SQLite file is), page_size = block_size, page_count = size_bytes / block_size. wal_bytes,
  freelist_count, free_bytes and free_ratio are null, not 0: the WAL belongs to the whole
  cluster and PostgreSQL keeps no free list (dead tuples are a health check of their own).
- disk: the free and total bytes of the server's data directory when they can be known (the
  server is on this machine, reached over its Unix socket, and the role may read
  data_directory: a superuser or pg_read_all_settings); else null.
"""
import os
import shutil

from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg

EXACT_ROWS_MAX = 1_000_000
# what file.size_bytes measures, as the History page names it: more than the four tables
SIZE_LABEL = "database size (pg_database_size, catalog included)"
TABLES = """
SELECT c.relname, c.reltuples, pg_table_size(c.oid), pg_indexes_size(c.oid),
       has_table_privilege(c.oid, 'SELECT')
FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
ORDER BY c.relname COLLATE "C" """
INDEXES = """
SELECT ic.relname, tc.relname, pg_relation_size(i.indexrelid)
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relkind = 'r'
ORDER BY ic.relname COLLATE "C" """
DATABASE = "SELECT pg_database_size(current_database()), current_setting('block_size')::int"
# pg_settings leaves out what the role may not read (no error inside the read transaction)
DATA_DIRECTORY = "SELECT setting FROM pg_settings WHERE name = 'data_directory'"


def sizes(db, exact=None):
    """{"tables", "indexes": index_sizes(db), "table_bytes": "pg_table_size",
    "table_rows": {table: "count" or "reltuples"}, "file", "disk"}. `exact`: True counts every
    table's rows exactly, False takes reltuples where the planner has one, None decides by
    EXACT_ROWS_MAX."""
    tables, counted, file, disk = storage(db, exact)
    return {"tables": tables, "indexes": index_sizes(db), "table_bytes": "pg_table_size",
            "table_rows": counted, "file": file, "disk": disk}


def storage(db, exact=None):
    """(tables {table: {"rows", "bytes", "index_bytes"}}, {table: "count" or "reltuples"},
    file figures, disk figures), from one read-only snapshot."""
    from psycopg import sql

    tables, counted = {}, {}
    with as_pg(db).read() as conn:
        for name, estimate, table_bytes, index_bytes, readable in conn.execute(TABLES).fetchall():
            count = readable and (exact or estimate < 0 or (
                exact is None and estimate <= EXACT_ROWS_MAX))
            rows = (conn.execute(sql.SQL("SELECT count(*) FROM {}").format(identifier(name)))
                    .fetchone()[0] if count else None if estimate < 0 else int(estimate))
            tables[name] = {"rows": rows, "bytes": table_bytes, "index_bytes": index_bytes}
            counted[name] = "count" if count else "reltuples"
        size, block = conn.execute(DATABASE).fetchone()
        directory = conn.execute(DATA_DIRECTORY).fetchone()
        local = str(conn.info.host or "").startswith("/")
    file = {"size_bytes": size, "wal_bytes": None, "page_size": block,
            "page_count": size // block, "freelist_count": None, "free_bytes": None,
            "free_ratio": None}
    return tables, counted, file, disk_figures(directory and directory[0], local)


def index_sizes(db):
    """{index: {"table", "bytes" (pg_relation_size)}} of every index of the schema's tables."""
    with as_pg(db).read() as conn:
        return {name: {"table": table, "bytes": size}
                for name, table, size in conn.execute(INDEXES).fetchall()}


def disk_figures(data_directory, local):
    """{"free_bytes", "total_bytes"} of the server's data directory, or both None when the
    server is not known to be on this machine or the folder cannot be read."""
    if local and data_directory and os.path.isdir(data_directory):
        try:
            usage = shutil.disk_usage(data_directory)
        except OSError:
            pass
        else:
            return {"free_bytes": usage.free, "total_bytes": usage.total}
    return {"free_bytes": None, "total_bytes": None}
