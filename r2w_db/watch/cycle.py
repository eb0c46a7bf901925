"""One watch cycle (snapshot -> roll-ups -> health -> notify -> heartbeat), and the loop that
runs it every interval until SIGTERM or SIGINT, which end it between cycles.

A cycle fails (the heartbeat gets /fail) when the database cannot be read, the settings cannot
be trusted, a step raises, or a notification could not be delivered.
"""
import os
import signal
import threading
import time

from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.figures import health, health_report, queries, rollups
from r2w_db.figures.snapshot import take_snapshot
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.watch import notify as notify_mod, prometheus, settings as settings_mod


def record_snapshot(db, settings, history=None, now=None):
    """Take a snapshot, store it, apply the retention, record pending roll-ups and capture the
    statements' deltas (figures/queries.py; None where the engine keeps no statistics).
    Returns (snapshot, {"id", "number" (this database's snapshots kept, this one included),
    "pruned", "rollups", "statements"}); raises what reading the database raises."""
    db = open_database(db)
    history = history if isinstance(history, HistoryStore) else HistoryStore(history)
    now = now or timeutil.utcnow()
    last_runs = health.last_maintenance(db, history.monitor)
    snap = take_snapshot(db, settings.thresholds, last_runs=last_runs, now=now,
                         monitor=history.monitor)
    snap["health"] = health_report.with_problem(snap["health"], settings.problem)
    snap["metrics"]["health.exit_code"] = snap["health"]["exit_code"]
    snap_id = history.record_snapshot(db, snap["metrics"], taken_at=now, seconds=snap["seconds"])
    pruned = history.prune(db, settings.retention, now)
    done = rollups.roll_up(db, history, now)
    captured = queries.capture(db, history.monitor, now, settings.retention.raw_days)
    return snap, {"id": snap_id, "number": history.count_snapshots(db), "pruned": pruned,
                  "rollups": done, "statements": captured}


def run_cycle(db, settings=None, monitor=None, now=None, notify=True, prometheus_file=None,
              interval=None, send_heartbeat=True):
    """One cycle; returns {"ok", "errors", "health", "metrics", "snapshot_id", "rollups",
    "notify", "heartbeat"}. Never raises for a database or a destination that fails."""
    db = open_database(db)
    settings = settings or settings_mod.load()
    now = now or timeutil.utcnow()
    history, alerts = HistoryStore(monitor), AlertStore(monitor)
    result = {"ok": True, "errors": [], "health": None, "snapshot_id": None, "rollups": None,
              "notify": None, "heartbeat": None, "as_of": timeutil.iso(now)}
    snap = None
    try:
        snap, stored = record_snapshot(db, settings, history, now)
        result.update(snapshot_id=stored["id"], rollups=stored["rollups"]["recorded"])
        report = snap["health"]
    except (errors.R2WError, OSError) as exc:
        # The monitor database may be what failed (corrupt, read-only, full): the database's
        # own status is still judged, never made better (or UNKNOWN) by a side failure.
        report = _judged_anyway(db, settings, now, exc)
        result["errors"].append(errors.one_line(exc))
    report = health_report.silenced(db, report, history.monitor, now)
    result["health"] = report
    result["metrics"] = snap["metrics"] if snap else None
    if settings.problem:
        result["errors"].append(settings.problem)
    if prometheus_file:
        try:
            prometheus.write_textfile(prometheus_file, report, snap and snap["metrics"])
        except OSError as exc:
            result["errors"].append(f"cannot write {prometheus_file}: {exc.strerror or exc}")
    if notify:
        try:
            sent = notify_mod.notify(db, report, settings.alerts, alerts, now)
        except (errors.R2WError, OSError) as exc:
            sent = {"sent": 0, "failed": 1, "changes": [], "problem": errors.one_line(exc)}
        result["notify"] = sent
        if sent["failed"]:
            result["errors"].append(sent["problem"] or f"{sent['failed']} notification(s) failed")
    result["errors"] = list(dict.fromkeys(result["errors"]))   # one broken monitor: one line
    result["ok"] = not result["errors"]
    url = settings.alerts.heartbeat_url
    if url and send_heartbeat:
        result["heartbeat"] = notify_mod.heartbeat(url, result["ok"], settings.alerts.timeout,
                                                   settings.alerts.heartbeat_fail_url)
    try:
        alerts.record_cycle(db, ok=result["ok"], error="; ".join(result["errors"]) or None,
                            snapshot_at=now if snap else None, interval=interval,
                            pid=os.getpid(), heartbeat=result["heartbeat"], now=now)
    except (errors.R2WError, OSError) as exc:
        if errors.one_line(exc) not in result["errors"]:
            result["errors"].append(errors.one_line(exc))
    return result


def _judged_anyway(db, settings, now, exc):
    """The health report when the snapshot could not be recorded: the checks run on their own
    (they need no monitor database to be written); UNKNOWN only when they cannot run either."""
    try:
        report = health_report.evaluate(db, settings.thresholds, now=now)
    except (errors.R2WError, OSError):
        report = None
    if report is None or (report["exit_code"] == health_report.UNKNOWN_CODE
                          and not report["checks"]):
        report = health_report.unknown(db, errors.one_line(exc), now)
    return health_report.with_problem(report, settings.problem)


class Stop:
    """Set by SIGTERM or SIGINT: the loop ends after the cycle it is in."""

    def __init__(self):
        self.event = threading.Event()
        self.signal = None

    def __call__(self, signum, frame):
        self.signal = signum
        self.event.set()


def watch(db, every, once=False, monitor=None, notify=True, prometheus_file=None,
          on_cycle=None, stop=None, load=None):
    """Run cycles every `every` seconds (or once); settings are re-read every cycle. Returns
    (cycles run, the last result)."""
    stop = stop or Stop()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, stop)
    cycles, result = 0, None
    try:
        while not stop.event.is_set():
            started = time.monotonic()
            result = run_cycle(db, (load or settings_mod.load)(), monitor, notify=notify,
                               prometheus_file=prometheus_file, interval=every)
            cycles += 1
            if on_cycle:
                on_cycle(result)
            if once:
                break
            stop.event.wait(max(0.0, every - (time.monotonic() - started)))
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return cycles, result


def watch_all(targets, every, once=False, monitor=None, notify=True, prometheus_file=None,
              on_cycle=None, stop=None, load=None):
    """Watch several databases in one process: `targets` is [(name, db)]. Each cycle runs every
    database's cycle in a thread of its own; a database whose last cycle is still running is
    skipped this time (and says so), so one slow or broken database never delays or breaks the
    others. One heartbeat per cycle (ok only when every database's cycle was), one Prometheus
    file for all. Returns (cycles run, {name: its last result})."""
    from concurrent.futures import ThreadPoolExecutor, wait

    stop = stop or Stop()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, stop)
    running, last, cycles = {}, {}, 0
    pool = ThreadPoolExecutor(max_workers=max(1, len(targets)), thread_name_prefix="r2w-watch")
    try:
        while not stop.event.is_set():
            started = time.monotonic()
            settings = (load or settings_mod.load)()
            skipped = []
            for name, db, per_db in targets:
                if name in running and not running[name].done():
                    skipped.append(name)
                    continue
                running[name] = pool.submit(run_cycle, db, per_db(settings), monitor,
                                            notify=notify, interval=every, send_heartbeat=False)
            wait([running[n] for n, _, _ in targets if n not in skipped],
                 timeout=None if once else every)
            for name, _, _ in targets:
                future = running.get(name)
                if future is not None and future.done() and name not in skipped:
                    try:
                        last[name] = future.result()
                    except Exception as exc:  # a bug in one cycle never stops the others
                        last[name] = {"ok": False, "errors": [errors.one_line(exc)],
                                      "health": None, "metrics": None}
            ok = not skipped and all(last.get(n, {}).get("ok") for n, _, _ in targets)
            _after_all(settings, prometheus_file, last, ok)
            cycles += 1
            if on_cycle:
                on_cycle(last, skipped)
            if once:
                break
            stop.event.wait(max(0.0, every - (time.monotonic() - started)))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    return cycles, last


def _after_all(settings, prometheus_file, last, ok):
    """The one heartbeat and the one Prometheus file of a cycle over several databases."""
    if prometheus_file:
        pairs = [(r["health"], r.get("metrics")) for r in last.values() if r.get("health")]
        if pairs:
            try:
                prometheus.write_textfile(prometheus_file, *pairs[0], more=pairs[1:])
            except OSError:
                ok = False
    url = settings.alerts.heartbeat_url
    if url:
        notify_mod.heartbeat(url, ok, settings.alerts.timeout, settings.alerts.heartbeat_fail_url)
