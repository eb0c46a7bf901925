"""A snapshot's sizes on SQLite: rows and bytes per table, bytes per index, the file's figures
and its disk.

Table and index bytes are the Space view's (backends/sqlite/space.py: dbstat, exact, up to
DBSTAT_MAX_BYTES; an estimate above it or without dbstat). `table_bytes` says which ("dbstat" or
"estimate").
"""
import shutil

from r2w_db.backends.sqlite import space, stats
from r2w_db.backends.sqlite.database import as_database

SIZE_LABEL = "database file"   # what file.size_bytes measures, as the History page names it


def sizes(db, exact=None):
    """{"tables": {table: {"rows", "bytes", "index_bytes"}}, "indexes": {index: {"table",
    "bytes"}}, "table_bytes": "dbstat" or "estimate", "file": the file's figures, "disk":
    {"free_bytes", "total_bytes"}}. `exact`: True forces dbstat, False the estimate, None picks
    by the file's size."""
    db = as_database(db)
    got = space.relations(db, exact)
    page = got["file"]
    page_size, page_count, freelist = page["page_size"], page["page_count"], page["freelist_count"]
    tables = {r["name"]: {"rows": r["rows"], "bytes": r["bytes"],
                          "index_bytes": r["total_bytes"] - r["bytes"]}
              for r in got["relations"] if r["kind"] == "table"}
    indexes = {r["name"]: {"table": r["table"], "bytes": r["bytes"]}
               for r in got["relations"] if r["kind"] == "index"}
    on_disk = stats.sizes(db)
    usage = shutil.disk_usage(db.path.parent)
    return {"tables": tables, "indexes": indexes, "table_bytes": got["method"],
            "file": {"size_bytes": on_disk["size_bytes"], "wal_bytes": on_disk["wal_bytes"],
                     "page_size": page_size, "page_count": page_count, "freelist_count": freelist,
                     "free_bytes": freelist * page_size,
                     "free_ratio": freelist / page_count if page_count else None},
            "disk": {"free_bytes": usage.free, "total_bytes": usage.total}}
