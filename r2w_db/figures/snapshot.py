"""One snapshot of a database, read-only: every `stats` figure, rows and bytes per table, bytes
per index, the file (or database) size, WAL, free pages and free disk, and each health check's
status and number, with the same keys and metric names on every engine (the sizes are the
engine's own: db.backend.snapshot.sizes). The sizes and the cleanup counts are read on their
own read-only connections while `stats` and the checks run.
"""
import time
from concurrent.futures import ThreadPoolExecutor

from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures import health, health_report, stats, watched_anonymous, watched_cache

STATUS_NUMBER = {health.OK: 0, health.WARN: 1, health.ERROR: 2}
STATS_GROUPS = ("users", "sessions", "uploads", "cache", "data_quality")
EXACT_TABLE_BYTES = ("dbstat", "pg_table_size")   # table bytes read off the engine, not estimated


def take_snapshot(db, thresholds=None, last_runs=None, now=None, exact_sizes=None, monitor=None):
    """{"database", "taken_at", "seconds", "stats", "tables", "indexes", "table_bytes",
    ["table_rows"], "file", "disk", "health" (health_report.report), "cleanups",
    "page_counts" (the pages' figures as of now), "metrics" (flat {name: number or None})}.

    `exact_sizes`: True forces exact sizes (dbstat, every table's rows counted), False the
    estimate, None picks by the size. `table_rows` ({table: "count" or "reltuples"}) where
    the engine may estimate rows. `monitor`: the monitor database whose statement captures
    the health checks read (None: R2W_MONITOR_DB's). Raises what reading the database raises
    (DatabaseMissing, DatabaseLocked, ...)."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    thresholds = thresholds or health.Thresholds()
    started = time.perf_counter()
    last_runs = health.last_maintenance(db) if last_runs is None else last_runs
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="r2w-snapshot") as pool:
        got_sizes = pool.submit(db.backend.snapshot.sizes, db, exact_sizes)
        got_cleanups = pool.submit(health.cleanup_counts, db, thresholds)
        got_pages = [pool.submit(watched_anonymous.metrics, db, now),
                     pool.submit(watched_cache.metrics, db)]
        figures = stats.collect_stats(db, now)   # the checks reuse its counts
        cleanups, anonymous_uploads = got_cleanups.result()
        checks = health.run_checks(db, thresholds, last_runs, now, stats_figures=figures,
                                   cleanups=cleanups, monitor=monitor)
        sizes = got_sizes.result()
        page_counts = {k: v for got in got_pages for k, v in got.result().items()}
    report = health_report.report(db, checks, thresholds, last_runs,
                                  health_report.storage_figures(db), now)
    snap = {"database": db.display, "taken_at": timeutil.iso(now), "stats": figures,
            "tables": sizes["tables"], "indexes": sizes["indexes"],
            "table_bytes": sizes["table_bytes"]}
    if "table_rows" in sizes:
        snap["table_rows"] = sizes["table_rows"]
    snap.update(file=sizes["file"], disk=sizes["disk"], health=report,
                cleanups=health.cleanup_record(cleanups, thresholds), page_counts=page_counts,
                previews=health.preview_record(cleanups, anonymous_uploads))
    snap["seconds"] = round(time.perf_counter() - started, 4)
    snap["metrics"] = metrics_of(snap)
    return snap


def metrics_of(snap):
    """The flat metrics of a snapshot: stats.<group>.<name>, file.*, disk.*,
    tables.<table>.rows|bytes|index_bytes, indexes.<index>.bytes, table_bytes_exact,
    checks.<key>.status (0 green, 1 amber, 2 red) and checks.<key>.number,
    cleanups.<task>.waiting|overdue|grace_days (health.cleanup_record),
    preview.<task>.days|count and preview.anonymous.uploads (health.preview_record),
    health.exit_code, snapshot.seconds, table_rows_exact where rows may be estimated, and the
    pages' counts as of now (anonymous.*: figures.watched_anonymous; cache.*:
    figures.watched_cache)."""
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
    for index, sizes in snap.get("indexes", {}).items():
        out[f"indexes.{index}.bytes"] = sizes["bytes"]
    out["table_bytes_exact"] = int(snap["table_bytes"] in EXACT_TABLE_BYTES)
    for row in snap["health"]["checks"]:
        out[f"checks.{row['key']}.status"] = STATUS_NUMBER[row["status"]]
        out[f"checks.{row['key']}.number"] = row["number"]
    for task, counts in snap.get("cleanups", {}).items():
        out.update({f"cleanups.{task}.{k}": v for k, v in counts.items()})
    out.update(snap.get("page_counts", {}))
    for task, counts in snap.get("previews", {}).items():
        out.update({f"preview.{task}.{k}": v for k, v in counts.items()})
    out["health.exit_code"] = snap["health"]["exit_code"]
    out["snapshot.seconds"] = snap.get("seconds")
    if "table_rows" in snap:
        out["table_rows_exact"] = int(all(m == "count" for m in snap["table_rows"].values()))
    return out


def table_sizes(db, exact=None):
    """({table: {"rows", "bytes", "index_bytes"}}, how table bytes were found: "dbstat" or
    "estimate" on SQLite, "pg_table_size" on PostgreSQL)."""
    db = open_database(db)
    sizes = db.backend.snapshot.sizes(db, exact)
    return sizes["tables"], sizes["table_bytes"]
