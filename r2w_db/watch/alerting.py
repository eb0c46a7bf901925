"""Whether someone would hear about a problem: the watcher's last cycle, the alert destinations
and the heartbeat as configured, and how their last deliveries went (the Overview's status
line). Read-only: the settings and the monitor database; never a destination's secret (the
notification log holds labels, scheme://host/..., and scrubbed errors)."""
from r2w_db.engine import timeutil
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.watch import settings as watch_settings

RECENT = 50   # the newest notifications looked at for the last delivery and the last failure
NOT_SEEN = {"seen": False, "last_cycle_at": None, "age_seconds": None, "interval_seconds": None,
            "ok": None, "error": None, "stale": False, "heartbeat_at": None,
            "heartbeat_ok": None, "heartbeat_error": None}
UNREADABLE = {"destinations": 0, "heartbeat": False, "last_sent": None, "last_failed": None,
              "failing": False, "problem": "the monitor database cannot be read"}


def _age(now, stamp):
    moment = timeutil.parse(stamp)
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


def watcher(db, now=None, monitor=None):
    """{"seen": bool, "last_cycle_at", "age_seconds", "interval_seconds", "ok" (its last
    cycle), "error", "stale" (not seen for more than two intervals), "heartbeat_at",
    "heartbeat_ok", "heartbeat_error"} of the database's watcher; seen False when no watcher
    has run on it."""
    now = now or timeutil.utcnow()
    status = AlertStore(monitor).watch_status(db) or {}
    age = _age(now, status.get("last_cycle_at"))
    if age is None:
        return dict(NOT_SEEN)
    interval = status.get("interval_seconds")
    return {"seen": True, "last_cycle_at": status["last_cycle_at"], "age_seconds": age,
            "interval_seconds": interval, "ok": status.get("last_ok") != 0,
            "error": status.get("last_error"),
            "stale": bool(interval and age > 2 * interval),
            "heartbeat_at": status.get("heartbeat_at"),
            "heartbeat_ok": None if status.get("heartbeat_ok") is None
            else bool(status["heartbeat_ok"]),
            "heartbeat_error": status.get("heartbeat_error")}


def alerts(db, now=None, monitor=None, environ=None, files=None):
    """{"destinations": how many alert URLs are configured, "heartbeat": whether a heartbeat
    URL is, "problem": why the alert settings cannot be trusted (or None), "last_sent" and
    "last_failed": {"at", "age_seconds", "destination", "error"} of the newest delivery of
    each outcome among the last RECENT (None when there is none), "failing": the newest
    finished delivery failed}."""
    now = now or timeutil.utcnow()
    configured = watch_settings.alert_settings(environ, files)
    log = AlertStore(monitor).notifications(db, limit=RECENT)
    finished = [row for row in log if row["outcome"] in ("sent", "failed", "abandoned")]

    def delivery(row):
        if row is None:
            return None
        at = row["sent_at"] or row["last_attempt_at"] or row["created_at"]
        return {"at": at, "age_seconds": _age(now, at), "destination": row["destination"],
                "error": row["error"]}

    sent = next((r for r in finished if r["outcome"] == "sent"), None)
    failed = next((r for r in finished if r["outcome"] != "sent"), None)
    return {"destinations": len(configured.urls), "heartbeat": bool(configured.heartbeat_url),
            "problem": configured.problem, "last_sent": delivery(sent),
            "last_failed": delivery(failed),
            "failing": bool(finished) and finished[0]["outcome"] != "sent"}
