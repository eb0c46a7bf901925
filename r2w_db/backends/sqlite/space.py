"""Space on SQLite: every table and index (a b-tree each) with its bytes, and the file's free
pages (the unused space VACUUM gives back).

Bytes come from SQLite's `dbstat` table (exact: every page of each b-tree, overflow pages
included) for files up to DBSTAT_MAX_BYTES, when this build has dbstat (db.backend.features.dbstat,
and the table answering). A larger file (dbstat reads every page: 1.5-5 s on 4 GB), or a build
without dbstat, gets an estimate: each table's and index's rows times the average size of its
newest SAMPLE_ROWS records, scaled so that they add up to the file's used pages (exact).
`method` says which ("dbstat" or "estimate"). Rows are counted exactly (count(*)).
"""
from r2w_db.backends.sqlite.database import as_database

DBSTAT_MAX_BYTES = 256 * 2 ** 20
SAMPLE_ROWS = 200
OBJECTS = ("SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('table', 'index')"
           " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
# SUM(pgsize) per b-tree over its pages; aggregate = 1 has dbstat add them up itself
DBSTAT = "SELECT name, pgsize FROM dbstat WHERE aggregate = 1"


def relations(db, exact=None, known_rows=None):
    """{"relations": [{"name", "kind" ("table" or "index"), "table", "rows" (tables; None for
    an index), "bytes", "total_bytes" (a table with its indexes; None for an index)}], "method":
    "dbstat" or "estimate", "why": why the estimate (None with dbstat), "rows": "count", "file":
    {"page_size", "page_count", "freelist_count", "bytes" (page_size x page_count)}}. `exact`:
    True asks for dbstat whatever the size, False the estimate, None picks by the file's size.
    `known_rows`: {table: rows} counted already (the watcher's snapshot): those tables are not
    counted again, and "rows" is then "snapshot"."""
    known_rows = known_rows or {}
    db = as_database(db)
    with db.read() as conn:
        page_size, page_count, freelist = _pages(conn)
        objects = conn.execute(OBJECTS).fetchall()
        tables = [o["name"] for o in objects if o["type"] == "table"]
        indexes = {o["name"]: o for o in objects if o["type"] == "index"}
        rows = {t: known_rows[t] if known_rows.get(t) is not None else
                conn.execute(f'SELECT count(*) FROM "{_quoted(t)}"').fetchone()[0] for t in tables}
        why = None
        if exact is None and page_count * page_size > DBSTAT_MAX_BYTES:
            why = (f"dbstat reads every page, so it is skipped on files over "
                   f"{DBSTAT_MAX_BYTES // 2 ** 20} MB")
        elif exact is False:
            why = "the estimate was asked for"
        found = _dbstat_bytes(conn) if why is None and db.backend.features.dbstat else None
        method = "dbstat"
        if found is None:
            why = why or "this SQLite build has no dbstat"
            pages = _estimated_pages(conn, tables, indexes, rows, page_count - freelist, page_size)
            found, method = {name: round(n * page_size) for name, n in pages.items()}, "estimate"
    out = [{"name": t, "kind": "table", "table": t, "rows": rows[t], "bytes": found.get(t, 0)}
           for t in tables]
    out += [{"name": name, "kind": "index", "table": index["tbl_name"], "rows": None,
             "bytes": found.get(name, 0)} for name, index in indexes.items()
            if index["tbl_name"] in rows]
    for table in (r for r in out if r["kind"] == "table"):
        table["total_bytes"] = table["bytes"] + sum(r["bytes"] for r in out if r["kind"] == "index"
                                                    and r["table"] == table["name"])
    used = any(known_rows.get(t) is not None for t in tables)
    return {"relations": out, "method": method, "why": why, "rows": "snapshot" if used else "count",
            "file": {"page_size": page_size, "page_count": page_count,
                     "freelist_count": freelist, "bytes": page_size * page_count}}


def unused(db):
    """{"what": "free pages", "bytes" (freelist_count x page_size), "share" (of the file),
    "tables": [] (SQLite's free pages belong to the file, not to a table)}."""
    with as_database(db).read() as conn:
        page_size, page_count, freelist = _pages(conn)
    return {"what": "free pages", "bytes": freelist * page_size,
            "share": freelist / page_count if page_count else None, "tables": []}


def _pages(conn):
    """(page_size, page_count, freelist_count) of the file."""
    return tuple(conn.execute(f"PRAGMA {name}").fetchone()[0]
                 for name in ("page_size", "page_count", "freelist_count"))


def _quoted(name):
    return str(name).replace('"', '""')


def _dbstat_bytes(conn):
    """{b-tree name: bytes} from dbstat, or None when this SQLite build has no dbstat."""
    try:
        return {r[0]: r[1] for r in conn.execute(DBSTAT)}
    except Exception:  # sqlite3.OperationalError: no such table: dbstat
        return None


def _estimated_pages(conn, tables, indexes, rows, used_pages, page_size):
    """{b-tree name: pages (float)}: rows x sampled record size, scaled to the used pages."""
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
