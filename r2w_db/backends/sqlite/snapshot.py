"""A snapshot's sizes on SQLite: rows and bytes per table, the file's figures and its disk.

Table bytes come from SQLite's `dbstat` table (exact) for files up to DBSTAT_MAX_BYTES; a larger
file (dbstat reads every page: 1.5-5 s on 4 GB) gets an estimate: each table's and index's rows
times the average size of its newest SAMPLE_ROWS records, scaled so that they add up to the
file's used pages (exact). `table_bytes` says which ("dbstat" or "estimate").
"""
import shutil

from r2w_db.backends.sqlite import stats
from r2w_db.backends.sqlite.database import as_database

DBSTAT_MAX_BYTES = 256 * 2 ** 20
SAMPLE_ROWS = 200


def sizes(db, exact=None):
    """{"tables": {table: {"rows", "bytes", "index_bytes"}}, "table_bytes": "dbstat" or
    "estimate", "file": the file's figures, "disk": {"free_bytes", "total_bytes"}}.
    `exact`: True forces dbstat, False the estimate, None picks by the file's size."""
    db = as_database(db)
    tables, method, pages = _table_sizes(db, exact)
    page_size, page_count, freelist = pages
    on_disk = stats.sizes(db)
    usage = shutil.disk_usage(db.path.parent)
    return {"tables": tables, "table_bytes": method,
            "file": {"size_bytes": on_disk["size_bytes"], "wal_bytes": on_disk["wal_bytes"],
                     "page_size": page_size, "page_count": page_count, "freelist_count": freelist,
                     "free_bytes": freelist * page_size,
                     "free_ratio": freelist / page_count if page_count else None},
            "disk": {"free_bytes": usage.free, "total_bytes": usage.total}}


def _table_sizes(db, exact):
    """({table: sizes}, method, (page_size, page_count, freelist_count)) for every table of the
    file (SQLite's own tables left out)."""
    with db.read() as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        page_count = conn.execute("PRAGMA page_count").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
        objects = conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index')"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").fetchall()
        tables = [o["name"] for o in objects if o["type"] == "table"]
        indexes = {o["name"]: o for o in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type = 'index'")}
        rows = {t: conn.execute(f'SELECT count(*) FROM "{_quoted(t)}"').fetchone()[0] for t in tables}
        if exact is None:
            exact = page_count * page_size <= DBSTAT_MAX_BYTES
        pages, method = (_dbstat_pages(conn) if exact else None), "dbstat"
        if pages is None:
            pages, method = _estimated_pages(conn, tables, indexes, rows, page_count - freelist,
                                             page_size), "estimate"
    found = {t: {"rows": rows[t], "bytes": round(pages.get(t, 0) * page_size), "index_bytes": 0}
             for t in tables}
    for name, index in indexes.items():
        if index["tbl_name"] in found:
            found[index["tbl_name"]]["index_bytes"] += round(pages.get(name, 0) * page_size)
    return found, method, (page_size, page_count, freelist)


def _quoted(name):
    return str(name).replace('"', '""')


def _dbstat_pages(conn):
    """{btree name: pages} from dbstat, or None when this SQLite build has no dbstat."""
    try:
        return {r[0]: r[1] for r in conn.execute(
            "SELECT name, pageno FROM dbstat WHERE aggregate = 1")}
    except Exception:  # sqlite3.OperationalError: no such table: dbstat
        return None


def _estimated_pages(conn, tables, indexes, rows, used_pages, page_size):
    """{btree name: pages (float)}: rows x sampled record size, scaled to the used pages."""
    column_bytes, estimate = {}, {}
    for table in tables:
        columns = [r[1] for r in conn.execute(f'PRAGMA table_info("{_quoted(table)}")')]
        if not columns:
            continue
        widths = ", ".join(f'avg(coalesce(length(CAST("{_quoted(c)}" AS BLOB)), 0)) AS "{_quoted(c)}"'
                           for c in columns)
        sample = conn.execute(
            f'SELECT {widths} FROM (SELECT * FROM "{_quoted(table)}" ORDER BY rowid DESC LIMIT ?)',
            (SAMPLE_ROWS,)).fetchone()
        column_bytes[table] = {c: (sample[c] or 0.0) for c in columns}
        estimate[table] = rows[table] * (sum(column_bytes[table].values()) + len(columns) + 8)
    for name, index in indexes.items():
        table = index["tbl_name"]
        if table not in column_bytes:
            continue
        if index["sql"] and " WHERE " in index["sql"].upper():
            estimate[name] = float(page_size)   # a partial index (the odd-timestamp ones): a page
            continue
        keys = [r[2] for r in conn.execute(f'PRAGMA index_info("{_quoted(name)}")')]
        width = sum(column_bytes[table].get(k, 8.0) for k in keys) + len(keys) + 9
        estimate[name] = rows[table] * width
    total = sum(estimate.values()) or 1.0
    return {name: value / total * used_pages for name, value in estimate.items()}
