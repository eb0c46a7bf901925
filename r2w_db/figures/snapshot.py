"""One snapshot of a database, read-only: every `stats` figure, rows and bytes per table, the
file, WAL, free pages and free disk, and each health check's status and number.

Table bytes come from SQLite's `dbstat` table (exact) for files up to DBSTAT_MAX_BYTES; a larger
file (dbstat reads every page: 1.5-5 s on 4 GB) gets an estimate: each table's and index's rows
times the average size of its newest SAMPLE_ROWS records, scaled so that they add up to the
file's used pages (exact). `table_bytes` in the snapshot says which ("dbstat" or "estimate").
The three parts run at once on their own read-only connections.
On PostgreSQL, take_snapshot is figures/pg_snapshot.py's (the same keys and metric names).
"""
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from r2w_db.engine import timeutil
from r2w_db.backends.dispatch import per_backend
from r2w_db.backends.sqlite.database import as_database
from r2w_db.figures import health, health_report, stats
from r2w_db.figures.database_file import storage

DBSTAT_MAX_BYTES = 256 * 2 ** 20
SAMPLE_ROWS = 200
STATUS_NUMBER = {health.OK: 0, health.WARN: 1, health.ERROR: 2}
STATS_GROUPS = ("users", "sessions", "uploads", "cache", "data_quality")


@per_backend("r2w_db.backends.postgresql.snapshot")
def take_snapshot(db, thresholds=None, last_runs=None, now=None, exact_sizes=None):
    """{"database", "taken_at", "seconds", "stats", "tables", "table_bytes", "file", "disk",
    "health" (health_report.report), "metrics" (flat {name: number or None})}.

    `exact_sizes`: True forces dbstat, False the estimate, None picks by the file's size.
    Raises what reading the database raises (DatabaseMissing, DatabaseLocked, ...)."""
    db = as_database(db)
    now = now or timeutil.utcnow()
    thresholds = thresholds or health.Thresholds()
    started = time.perf_counter()
    last_runs = health.last_maintenance(db) if last_runs is None else last_runs
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="r2w-snapshot") as pool:
        got_tables = pool.submit(table_sizes, db, exact_sizes)
        got_cleanups = pool.submit(health.cleanup_figures, db, thresholds)
        figures = stats.collect_stats(db, now)   # the checks reuse its counts
        checks = health.run_checks(db, thresholds, last_runs, now, stats_figures=figures,
                                   cleanups=got_cleanups.result())
        tables, method = got_tables.result()
    store = storage(db)
    report = health_report.report(db, checks, thresholds, last_runs, store, now)
    usage = shutil.disk_usage(db.path.parent)
    snap = {
        "database": str(db.path), "taken_at": timeutil.iso(now), "stats": figures,
        "tables": tables, "table_bytes": method,
        "file": {k: store[k] for k in ("size_bytes", "wal_bytes", "page_size", "page_count",
                                       "freelist_count", "free_bytes", "free_ratio")},
        "disk": {"free_bytes": usage.free, "total_bytes": usage.total},
        "health": report,
    }
    snap["seconds"] = round(time.perf_counter() - started, 4)
    snap["metrics"] = metrics_of(snap)
    return snap


def metrics_of(snap):
    """The flat metrics of a snapshot: stats.<group>.<name>, file.*, disk.*,
    tables.<table>.rows|bytes|index_bytes, table_bytes_exact, checks.<key>.status (0 green,
    1 amber, 2 red) and checks.<key>.number, health.exit_code, snapshot.seconds."""
    out = {}
    for group in STATS_GROUPS:
        for name, value in snap["stats"].get(group, {}).items():
            if value is None or isinstance(value, (int, float)):
                out[f"stats.{group}.{name}"] = value
    out["stats.schema.user_version"] = snap["stats"].get("schema", {}).get("user_version")
    out.update({f"file.{k}": v for k, v in snap["file"].items()})
    out.update({f"disk.{k}": v for k, v in snap["disk"].items()})
    for table, sizes in snap["tables"].items():
        out.update({f"tables.{table}.{k}": v for k, v in sizes.items()})
    out["table_bytes_exact"] = int(snap["table_bytes"] == "dbstat")
    for row in snap["health"]["checks"]:
        out[f"checks.{row['key']}.status"] = STATUS_NUMBER[row["status"]]
        out[f"checks.{row['key']}.number"] = row["number"]
    out["health.exit_code"] = snap["health"]["exit_code"]
    out["snapshot.seconds"] = snap.get("seconds")
    return out


def table_sizes(db, exact=None):
    """({table: {"rows", "bytes", "index_bytes"}}, "dbstat" or "estimate") for every table of
    the file (SQLite's own tables left out)."""
    db = as_database(db)
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
    sizes = {t: {"rows": rows[t], "bytes": round(pages.get(t, 0) * page_size), "index_bytes": 0}
             for t in tables}
    for name, index in indexes.items():
        if index["tbl_name"] in sizes:
            sizes[index["tbl_name"]]["index_bytes"] += round(pages.get(name, 0) * page_size)
    return sizes, method


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
        sizes = ", ".join(f'avg(coalesce(length(CAST("{_quoted(c)}" AS BLOB)), 0)) AS "{_quoted(c)}"'
                          for c in columns)
        sample = conn.execute(
            f'SELECT {sizes} FROM (SELECT * FROM "{_quoted(table)}" ORDER BY rowid DESC LIMIT ?)',
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
