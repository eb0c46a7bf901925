"""Every configured database at a glance: reachable, schema version, size, worst health and the
last snapshot. One broken database is a row saying why, never an error for the others."""
from r2w_db import config, errors
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends import open_database
from r2w_db.figures import health, health_report
from r2w_db.figures.database_file import storage
from r2w_db.monitor.history_store import HistoryStore


def thresholds_for(location, environ=None):
    """(Thresholds, problems): `[health]` of the secrets, then the database's own
    `[databases.NAME.health]`, then R2W_HEALTH_* variables."""
    overrides = dict(config.secrets_table("health")) | dict(location.health or {})
    return health.load_thresholds(overrides, environ)


def summary(location, now=None, history=None):
    """{name, title, location (redacted), reachable, error, schema_version, size_bytes,
    status (OK, WARNING, CRITICAL, UNKNOWN: the command line's words), worst_health (the worst
    check's level), health_counts, last_snapshot} of one database."""
    now = now or timeutil.utcnow()
    db = open_database(location)
    row = {"name": location.name, "title": location.title, "location": location.display,
           "reachable": False, "error": None, "schema_version": None, "size_bytes": None,
           "status": health_report.status_word(None), "worst_health": None,
           "health_counts": None, "last_snapshot": None}
    try:
        row["schema_version"] = migrations.schema_version(db)
        row["size_bytes"] = storage(db)["size_bytes"]
        row["reachable"] = True
        thresholds, _ = thresholds_for(location)
        report = health_report.evaluate(db, thresholds, now=now)
        row["status"] = report["status"]
        row["worst_health"] = report["worst"]
        row["health_counts"] = report["counts"]
        row["error"] = report["error"]
    except (errors.R2WError, OSError) as exc:
        row["error"] = errors.one_line(exc)
    try:
        latest = (history or HistoryStore()).latest_snapshot(db)
        row["last_snapshot"] = latest["taken_at"] if latest else None
    except (errors.R2WError, OSError) as exc:
        row["error"] = row["error"] or f"history: {errors.one_line(exc)}"
    return row


def summaries(choices, now=None, history=None):
    """summary() of each location, in order."""
    history = history or HistoryStore()
    return [summary(location, now, history) for location in choices]
