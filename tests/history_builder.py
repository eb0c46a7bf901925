"""A monitor database with weeks of history for a database, on a fixed clock: the History page's
tests, the Overview's sparklines and the browser tests use it.

One real snapshot of the database (as of `now`) gives realistic metrics; the snapshots before it
are that snapshot with known growth applied backwards (the file grows GROWTH_PER_DAY bytes a
day, the WAL swings, free disk shrinks as the file grows), with the cache entries and the
anonymous ids dropping at the two logged cleanups. Then the daily roll-ups (back-filled from the
database), a watcher status and two notifications (one sent, one failed).

    python -m tests.history_builder APP_DB MONITOR_DB [--days 21]     # for a look in a browser
"""
import math
import sys
from datetime import timedelta
from unittest import mock

from r2w_db.engine import timeutil
from r2w_db.figures import rollups
from r2w_db.figures.snapshot import take_snapshot
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore

GROWTH_PER_DAY = 64 * 1024          # bytes a day, exactly (the forecast tests know it)
EVERY = timedelta(hours=6)


def build_history(app_db, monitor_path, now=None, days=21, every=EVERY, watcher_age=None,
                  notifications=True):
    """Record `days` of snapshots ending at `now` (every `every`) of `app_db` into
    `monitor_path`; returns {"now", "snapshots", "cleanups": [(task, moment)], "last"}.
    `watcher_age`: the watcher's last cycle this long before `now` (None: at `now`)."""
    now = now or timeutil.utcnow().replace(microsecond=0)
    monitor = MonitorStore(monitor_path)
    history, alerts = HistoryStore(monitor), AlertStore(monitor)
    real = take_snapshot(app_db, now=now)["metrics"]
    cleanups = [("anonymous_cleanup", now - timedelta(days=days * 2 // 3)),
                ("cache_cleanup", now - timedelta(days=days // 3))]
    moments, moment = [], now - timedelta(days=days)
    while moment <= now:
        moments.append(moment)
        moment += every
    for i, moment in enumerate(moments):
        back = (now - moment).total_seconds() / 86400      # days before now
        metrics = dict(real)
        if moment == now:   # the newest snapshot is the real one
            history.record_snapshot(app_db, metrics, taken_at=moment, seconds=0.05)
            continue
        grown = GROWTH_PER_DAY * back
        metrics["file.size_bytes"] = max(4096.0, real["file.size_bytes"] - grown)
        metrics["file.wal_bytes"] = float(round(abs(math.sin(i / 3)) * 512 * 1024))
        metrics["disk.free_bytes"] = real["disk.free_bytes"] + grown
        for key in ("stats.cache.cached_extractions", "stats.users.anonymous"):
            task = "cache_cleanup" if "cache" in key else "anonymous_cleanup"
            at = dict(cleanups)[task]
            # fewer entries the further back, plus what the cleanup deleted before it ran
            removed = 0 if moment >= at else max(3, (real[key] or 0) // 5)
            metrics[key] = max(0, (real[key] or 0) - int(back * 2) + removed)
        for name in [k for k in real if k.startswith("tables.") and k.endswith(".rows")]:
            metrics[name] = max(0, (real[name] or 0) - int(back * 3))
        history.record_snapshot(app_db, metrics, taken_at=moment, seconds=0.05)
    for task, at in cleanups:
        with mock.patch.object(timeutil, "utcnow", return_value=at):
            entry = monitor.log_start(user="cron", task=task, database=app_db)
            monitor.log_finish(entry, outcome="ok", rows=42, seconds=0.4)
    rollups.roll_up(app_db, history, now)
    last = moments[-1]
    cycle_at = now - (watcher_age or timedelta(0))
    alerts.record_cycle(app_db, ok=True, snapshot_at=min(last, cycle_at), interval=every.total_seconds(),
                        pid=None, now=cycle_at)
    if notifications:
        for n, (ok, status) in enumerate(((True, "WARNING"), (False, "CRITICAL"))):
            def decide(state, first, silenced, status=status, n=n):
                return ({"stuck": {"status": "warn" if n == 0 else "error", "number": n,
                                   "notified": True}},
                        {"text": f"R2W {status} - stuck jobs", "status": status}, "change")
            at = now - timedelta(hours=5 - n)
            for claim in alerts.claim(app_db, decide, [("dest1", "https://hooks.example/…")],
                                      now=at):
                alerts.finish(claim["id"], ok, None if ok else "HTTP 500", now=at)
    return {"now": now, "snapshots": len(moments), "cleanups": cleanups, "last": last}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app_db")
    parser.add_argument("monitor_db")
    parser.add_argument("--days", type=int, default=21)
    args = parser.parse_args()
    done = build_history(args.app_db, args.monitor_db, days=args.days)
    print(f"{done['snapshots']} snapshots up to {done['now']:%Y-%m-%d %H:%M} UTC", file=sys.stderr)
