"""The health checks and headline figures in node_exporter's textfile format, written atomically
(a temporary file in the same folder, then os.replace), with the Prometheus client library.

Every series is labelled `database` (its absolute path). Check statuses: 0 OK, 1 WARNING,
2 CRITICAL; r2w_health_status follows the exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), and
r2w_health_status_info and r2w_health_check_info carry the same statuses as a `status` label in
the command line's words. A silenced check keeps its status and is marked by a gauge of its own,
r2w_health_check_silenced (1 silenced, 0 not), so that no existing series changes its labels.
"""
import math
import os
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from r2w_db.engine import timeutil
from r2w_db.figures import health_report
from r2w_db.figures.snapshot import STATUS_NUMBER

# (metric, help, {label: value} or None, flat snapshot metric)
HEADLINE = [
    ("r2w_database_size_bytes", "size of the database file", None, "file.size_bytes"),
    ("r2w_database_wal_bytes", "size of its WAL", None, "file.wal_bytes"),
    ("r2w_database_free_page_bytes", "bytes in free pages", None, "file.free_bytes"),
    ("r2w_disk_free_bytes", "free space on the database's volume", None, "disk.free_bytes"),
    ("r2w_stuck_jobs", "uploads processing for over 60 minutes", None, "stats.uploads.stuck"),
    ("r2w_cache_entries", "entries of the extraction cache", None, "stats.cache.cached_extractions"),
    ("r2w_cache_hit_ratio", "cache hits / uploads with a file hash (NaN: no data)", None,
     "stats.cache.cache_hit_rate"),
    *[("r2w_users", "users by kind", {"kind": k}, f"stats.users.{k}") for k in ("registered", "anonymous")],
    *[("r2w_sessions", "sessions by state", {"state": k}, f"stats.sessions.{k}")
      for k in ("active", "expired")],
    *[("r2w_uploads", "uploads by status", {"status": k}, f"stats.uploads.{k}")
      for k in ("processing", "completed", "failed", "uploaded", "other")],
]


def _value(value):
    return math.nan if value is None else float(value)


def registry_for(report, metrics=None):
    """A CollectorRegistry holding the report's checks and, when given, a snapshot's metrics."""
    return registry_for_all([(report, metrics)])


def registry_for_all(pairs):
    """One registry for several databases: [(report, snapshot metrics or None)], each series
    labelled by its database (one metric family per name, as the textfile format requires)."""
    registry = CollectorRegistry()
    gauges = {}

    def gauge(name, text, labels):
        if name not in gauges:
            gauges[name] = Gauge(name, text, ["database", *labels], registry=registry)
        return gauges[name]

    for report, metrics in pairs:
        database = report["database"]
        gauge("r2w_health_status", "worst status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN",
              []).labels(database).set(report["exit_code"])
        gauge("r2w_health_status_info", "1, labelled with the worst status's word",
              ["status"]).labels(database, report["status"]).set(1)
        gauge("r2w_database_up", "1 when the database could be read", []).labels(database).set(
            0 if report["exit_code"] == health_report.UNKNOWN_CODE and not report["checks"] else 1)
        for row in report["checks"]:
            gauge("r2w_health_check_status", "check status: 0 OK, 1 WARNING, 2 CRITICAL",
                  ["check"]).labels(database, row["key"]).set(STATUS_NUMBER[row["status"]])
            gauge("r2w_health_check_info", "1, labelled with the check's status word",
                  ["check", "status"]).labels(
                database, row["key"], health_report.status_word(row["status"])).set(1)
            gauge("r2w_health_check_silenced", "1 while the check is silenced (its status stays)",
                  ["check"]).labels(database, row["key"]).set(1 if row.get("silenced") else 0)
            gauge("r2w_health_check_value", "the number a check is judged on (NaN: none)",
                  ["check"]).labels(database, row["key"]).set(_value(row["number"]))
        moment = timeutil.parse(report["as_of"])
        gauge("r2w_health_timestamp_seconds", "when the checks ran (Unix time)", []).labels(
            database).set((moment - moment.__class__(1970, 1, 1)).total_seconds())
        for name, text, labels, key in HEADLINE if metrics else ():
            if key in metrics:
                gauge(name, text, list(labels or {})).labels(
                    database, *(labels or {}).values()).set(_value(metrics[key]))
        for table in sorted({k.split(".")[1] for k in metrics or {} if k.startswith("tables.")}):
            gauge("r2w_table_rows", "rows per table", ["table"]).labels(database, table).set(
                _value(metrics.get(f"tables.{table}.rows")))
            size = gauge("r2w_table_bytes", "bytes per table (index_bytes for its indexes)",
                         ["table", "part"])
            size.labels(database, table, "table").set(_value(metrics.get(f"tables.{table}.bytes")))
            size.labels(database, table, "indexes").set(
                _value(metrics.get(f"tables.{table}.index_bytes")))
    return registry


def write_textfile(path, report, metrics=None, more=()):
    """Write the textfile atomically (`more`: further (report, metrics) pairs of other
    databases); returns its path."""
    path = Path(path)
    data = generate_latest(registry_for_all([(report, metrics), *more]))
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    return path
