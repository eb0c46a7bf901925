"""The Overview's health checks without a scan per page view.

`health.run_checks` counts what grows with the rows (the cache's entries below the threshold
and with invalid values, the uploads with a foreign status, unreadable timestamps, the
cleanups' waiting and overdue rows): as many seconds as `stats`. The watcher's snapshot counts
the same figures with the same functions; `checks` reads them back from the newest snapshot,
with its age, and counts live only what is an index seek (stuck jobs) or the schema and the
file's own figures. It counts everything live when there is no usable snapshot: none yet,
older than MAX_AGE, taken before the newest maintenance run on this database (which may have
changed the counts), or counted with other grace days than the page's thresholds.
"""
from datetime import timedelta

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import timeutil
from r2w_db.figures import health
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.monitor.store import MonitorStore

MAX_AGE = timedelta(hours=1)   # an older snapshot's counts are not shown as the Overview's


def checks(db, thresholds=None, last_runs=None, now=None, history=None, log=None):
    """(health.run_checks' checks, the snapshot's taken_at as a datetime, or None when every
    figure was counted now). The checks are run_checks' own, figure for figure, as of the
    snapshot for the counts it kept."""
    db = open_database(db)
    t = thresholds or health.Thresholds()
    now = now or timeutil.utcnow()
    kept = recent_snapshot(db, now, history, log)
    if kept is not None and not _same_grace(kept[1], t):
        kept = None
    if kept is None:
        return health.run_checks(db, t, last_runs, now), None
    taken_at, metrics = kept
    got = _stats_of(metrics)
    with db.read() as conn:   # stuck jobs: an index seek (status, upload_date), as of now
        got["uploads"]["stuck"] = db.backend.stats.stuck(conn, now)
    cleanups = {task: (metrics[f"cleanups.{task}.waiting"], metrics[f"cleanups.{task}.overdue"])
                for task in health.CLEANUP_GRACE}
    return health.run_checks(db, t, last_runs, now, stats_figures=got, cleanups=cleanups), taken_at


def recent_snapshot(db, now=None, history=None, log=None):
    """(taken_at, metrics) of the newest snapshot whose counts may stand for now: at most
    MAX_AGE old and taken after the newest maintenance run on the database; else None."""
    db = open_database(db)
    now = now or timeutil.utcnow()
    try:
        snap = (history or HistoryStore()).latest_snapshot(db)
        newest_run = (log or MonitorStore()).recent_log(limit=1, database=db)
    except (errors.R2WError, OSError):   # the monitor database unreadable: count live
        return None
    if snap is None:
        return None
    taken_at = timeutil.parse(snap["taken_at"])
    metrics = snap["metrics"]
    if taken_at is None or not timedelta(0) <= now - taken_at <= MAX_AGE:
        return None
    if newest_run and newest_run[0]["started_at"] >= snap["taken_at"]:
        return None
    return taken_at, metrics


def _same_grace(metrics, t):
    """The snapshot counted the cleanups with the thresholds' grace days."""
    return all(metrics.get(f"cleanups.{task}.grace_days") == getattr(t, grace)
               and metrics.get(f"cleanups.{task}.waiting") is not None
               and metrics.get(f"cleanups.{task}.overdue") is not None
               for task, grace in health.CLEANUP_GRACE.items())


def _stats_of(metrics):
    """The nested `stats` groups health.figures_from_stats reads, from stats.<group>.<name>."""
    got = {"uploads": {}, "cache": {}, "data_quality": {}}
    for name, value in metrics.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "stats" and parts[1] in got:
            got[parts[1]][parts[2]] = value
    return got
