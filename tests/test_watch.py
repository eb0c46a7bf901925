"""`watch`: each cycle snapshots, rolls up, checks, notifies and pings the heartbeat (URL/fail
after a failed cycle); SIGTERM ends the real process cleanly between cycles."""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from r2w_db.demo.builder import build_demo
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.history_store import HistoryStore
from r2w_db.watch import cycle
from r2w_db.watch.settings import AlertSettings, WatchSettings

from .http_receiver import receiver
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_cycle_and_its_heartbeat(db_path, tmp_path):
    with receiver() as rec:
        alerts = AlertSettings(urls=(rec.url("/hook"),), heartbeat_url=rec.url("/hb/abc"), timeout=2)
        now = datetime(2026, 11, 26, 9, 0)
        got = cycle.run_cycle(db_path, WatchSettings(alerts=alerts), now=now, interval=300)
        assert got["ok"] and got["snapshot_id"] and got["heartbeat"] == (True, None)
        assert [r[1] for r in rec.got("/hb")] == ["/hb/abc"]
        assert len(rec.got("/hook")) == 1              # the first run: every non-green check
        assert HistoryStore().latest_snapshot(db_path)["taken_at"] == now.isoformat(timespec="microseconds")
        status = AlertStore().watch_status(db_path)
        assert status["last_ok"] == 1 and status["heartbeat_ok"] == 1 and status["interval_seconds"] == 300
        failed = cycle.run_cycle(tmp_path / "gone.db", WatchSettings(alerts=alerts), now=now)
        assert not failed["ok"] and failed["health"]["exit_code"] == 3
        assert [r[1] for r in rec.got("/hb")] == ["/hb/abc", "/hb/abc/fail"]
        assert not (tmp_path / "gone.db").exists()


def test_a_hanging_heartbeat_does_not_hold_the_cycle(db_path):
    with receiver() as rec:
        alerts = AlertSettings(heartbeat_url=rec.url("/hang"), timeout=0.3)
        started = time.monotonic()
        got = cycle.run_cycle(db_path, WatchSettings(alerts=alerts), notify=False)
        assert time.monotonic() - started < 10
        assert got["heartbeat"][0] is False
        assert AlertStore().watch_status(db_path)["heartbeat_ok"] == 0


def test_sigterm_ends_watch_cleanly_between_cycles(tmp_path):
    db = tmp_path / "demo.db"
    build_demo(db)
    with receiver() as rec:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
               "R2W_ALERT_URLS": rec.url("/hook"), "R2W_HEARTBEAT_URL": rec.url("/hb"),
               "R2W_ALERT_TIMEOUT": "2"}
        proc = subprocess.Popen([sys.executable, "-m", "r2w_db", "--db", str(db), "watch",
                                 "--every", "1s"], cwd=tmp_path, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert wait_for(lambda: len(rec.got("/hb")) >= 2), "no second heartbeat"
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        assert proc.returncode == 0, err
        assert "stopped by signal" in err and "Traceback" not in err
        lines = out.splitlines()
        assert len(lines) >= 2 and all("R2W " in line for line in lines)
        assert len(rec.got("/hook")) == 1             # one change, however many cycles
        snapshots = HistoryStore(tmp_path / "monitor.db").snapshots(db)
        assert len(snapshots) == len(lines)          # every cycle finished and was recorded


def test_watch_once(db_path, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    env.pop("R2W_ALERT_URLS", None)
    got = run_cli(["--db", str(db_path), "watch", "--once", "--no-notify"], cwd=tmp_path,
                  env=env, timeout=60)
    assert got.returncode == 0, got.stderr
    assert len(got.stdout.splitlines()) == 1 and len(HistoryStore().snapshots(db_path)) == 1


def test_one_slow_database_never_delays_the_others(monkeypatch):
    """watch_all: a database whose cycle hangs is skipped while it runs; the others keep their
    pace (bounded: the slow one is released at the end)."""
    import threading
    import time

    from r2w_db.watch import cycle

    release, calls = threading.Event(), []

    def fake_cycle(db, settings, monitor, **kwargs):
        calls.append((db, time.monotonic()))
        if db == "slow":
            release.wait(10)
        return {"ok": True, "errors": [], "health": None, "metrics": None}

    monkeypatch.setattr(cycle, "run_cycle", fake_cycle)
    seen = []
    stop = cycle.Stop()

    def on_cycle(last, skipped):
        seen.append(list(skipped))
        if len(seen) == 4:
            stop.event.set()

    started = time.monotonic()
    cycle.watch_all([("fast", "fast", lambda s: s), ("slow", "slow", lambda s: s)], 0.2,
                    stop=stop, on_cycle=on_cycle, load=lambda: cycle.settings_mod.WatchSettings())
    release.set()
    assert time.monotonic() - started < 5
    assert sum(1 for db, _ in calls if db == "fast") == 4
    assert sum(1 for db, _ in calls if db == "slow") == 1
    assert seen[1:] == [["slow"]] * 3
