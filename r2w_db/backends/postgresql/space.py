"""Space on PostgreSQL: every table and index of the current schema with its bytes, read from
the catalog, and the dead tuples (the unused space VACUUM makes reusable).

- a table's bytes: pg_table_size (heap, TOAST, free space and visibility maps), the snapshot's
  (backends/postgresql/snapshot.py); total_bytes: pg_total_relation_size (with its indexes);
- an index's bytes: pg_relation_size(indexrelid);
- rows: as the snapshot counts them (an exact count(*) up to EXACT_ROWS_MAX estimated rows,
  else pg_class.reltuples);
- the share of the database: bytes / pg_database_size (catalog included, as the SQLite file is).
Dead tuples come from pg_stat_user_tables (n_dead_tup); their bytes are an estimate: the
table's bytes times its dead share of the tuples (n_dead_tup / (n_live_tup + n_dead_tup)).
"""
from r2w_db.backends.postgresql import snapshot
from r2w_db.backends.postgresql.database import as_pg

DEAD = """
SELECT s.relname, s.n_dead_tup, s.n_live_tup, pg_table_size(s.relid),
       pg_database_size(current_database())
FROM pg_stat_user_tables s
WHERE s.schemaname = current_schema()
ORDER BY s.relname COLLATE "C" """


def relations(db, exact=None, known_rows=None):
    """{"relations": [{"name", "kind" ("table" or "index"), "table", "rows" (tables; None for
    an index), "bytes", "total_bytes" (tables; None for an index)}], "method": "catalog", "why":
    None,
    "rows": "count" (every table counted) or "estimate" (some from pg_class.reltuples),
    "file": {"page_size", "page_count", "freelist_count": None, "bytes" (pg_database_size)}}.
    `exact` as snapshot.sizes: True counts every table's rows, False takes reltuples.
    `known_rows`: {table: rows} from the watcher's snapshot, shown instead ("rows": "snapshot")."""
    db = as_pg(db)
    known_rows = known_rows or {}
    tables, counted, file, _ = snapshot.storage(db, exact and not known_rows)
    used = any(known_rows.get(t) is not None for t in tables)
    for table, figures in tables.items():
        if known_rows.get(table) is not None:
            figures["rows"] = known_rows[table]
    indexes = snapshot.index_sizes(db)
    out = [{"name": t, "kind": "table", "table": t, "rows": f["rows"], "bytes": f["bytes"],
            "total_bytes": f["bytes"] + f["index_bytes"]} for t, f in tables.items()]
    out += [{"name": i, "kind": "index", "table": f["table"], "rows": None, "bytes": f["bytes"]}
            for i, f in indexes.items()]
    return {"relations": out, "method": "catalog", "why": None,
            "rows": "snapshot" if used else
                    "count" if all(m == "count" for m in counted.values()) else "estimate",
            "file": {"page_size": file["page_size"], "page_count": file["page_count"],
                     "freelist_count": None, "bytes": file["size_bytes"]}}


def unused(db):
    """{"what": "dead tuples", "bytes" (estimated), "share" (of the database), "tables":
    [{"table", "dead_rows", "live_rows", "bytes" (estimated)}]}, from pg_stat_user_tables."""
    with as_pg(db).read() as conn:
        rows = conn.execute(DEAD).fetchall()
        size = rows[0][4] if rows else conn.execute(
            "SELECT pg_database_size(current_database())").fetchone()[0]
    tables = [{"table": name, "dead_rows": dead, "live_rows": live,
               "bytes": round(table_bytes * dead / (dead + live)) if dead else 0}
              for name, dead, live, table_bytes, _ in rows]
    total = sum(t["bytes"] for t in tables)
    return {"what": "dead tuples", "bytes": total, "share": total / size if size else None,
            "tables": tables}
