"""Silences and notifications (issue 20), with injected time: a silenced check sends nothing, no
reminder either; its recovery is sent and ends the silence; reminders resume after expiry; two
watchers agree. Then the command line: `health --notify` against a real receiver, the JSON and
Prometheus marks with the true exit code, silence/unsilence/silences, watch --once without a
destination, and per-database snapshot numbers."""
import json
import os
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from r2w_db.app import uploads
from r2w_db.backends import migrations
from r2w_db.engine import timeutil
from r2w_db.figures.health import ERROR, OK, WARN
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.silences import SilenceStore
from r2w_db.watch import notify

from .http_receiver import receiver
from .test_alerts import T0, hook, posts, report
from .test_stuck_task import fill
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rec():
    with receiver() as r:
        yield r


def at(hours):
    return T0 + timedelta(hours=hours)


def send(db, rec, hours, store, **statuses):
    """notify() of a report with these statuses at T0 + hours: [(check, change)] sent."""
    before = len(posts(rec))
    got = notify.notify(db, report(db, at(hours), **statuses), hook(rec), store, now=at(hours))
    assert got["failed"] == 0
    return [(c["key"], c["change"]) for body in posts(rec)[before:] for c in body["checks"]]


def test_silenced_nothing_then_the_recovery_ends_it(rec, db_path, tmp_path):
    store = AlertStore(tmp_path / "monitor.db")
    silences = SilenceStore(store.monitor)
    assert send(db_path, rec, 0, store, stuck=ERROR, backup=OK) == [("stuck", "first")]
    silences.silence(db_path, "stuck", until=at(72), reason="worker fix", user="ana", now=at(1))
    assert send(db_path, rec, 2, store, stuck=ERROR, backup=OK) == []
    assert send(db_path, rec, 30, store, stuck=ERROR, backup=OK) == []    # no 24 h reminder
    # another check still speaks, alone
    assert send(db_path, rec, 31, store, stuck=ERROR, backup=WARN) == [("backup", "worse")]
    assert send(db_path, rec, 32, store, stuck=OK, backup=WARN) == [("stuck", "recovered")]
    body = posts(rec)[-1]
    [check] = body["checks"]
    assert check["silenced"]["by"] == "ana" and check["silenced"]["ended"] == "recovered"
    assert (check["status_word"], check["previous"]) == ("OK", ERROR)
    assert "CRITICAL → OK" in body["text"] and "its silence ends" in body["text"]
    assert silences.active(db_path, now=at(32)) == {}
    assert [e["event"] for e in silences.log(db_path)] == ["recovered", "set"]
    # silence over: a new failure is news again
    assert send(db_path, rec, 33, store, stuck=ERROR, backup=WARN) == [("stuck", "worse")]


def test_reminders_resume_after_expiry(rec, db_path, tmp_path):
    store = AlertStore(tmp_path / "monitor.db")
    silences = SilenceStore(store.monitor)
    assert send(db_path, rec, 0, store, stuck=ERROR) == [("stuck", "first")]
    silences.silence(db_path, "stuck", until=at(10), reason="r", user="u", now=at(1))
    assert send(db_path, rec, 5, store, stuck=ERROR) == []
    assert send(db_path, rec, 11, store, stuck=ERROR) == []        # expired, 11 h since: not yet
    assert [e["event"] for e in silences.log(db_path)] == ["expired", "set"]
    assert send(db_path, rec, 24, store, stuck=ERROR) == [("stuck", "reminder")]
    assert send(db_path, rec, 25, store, stuck=ERROR) == []


def test_a_worsening_while_silenced_is_sent_after_expiry(rec, db_path, tmp_path):
    store = AlertStore(tmp_path / "monitor.db")
    SilenceStore(store.monitor).silence(db_path, "wal", until=at(5), reason="r", user="u",
                                        now=T0)
    assert send(db_path, rec, 0, store, stuck=OK, wal=OK) == []
    assert send(db_path, rec, 1, store, stuck=OK, wal=WARN) == []
    assert send(db_path, rec, 6, store, stuck=OK, wal=WARN) == [("wal", "worse")]


def test_a_check_silenced_before_any_message_recovers_with_a_message(rec, db_path, tmp_path):
    store = AlertStore(tmp_path / "monitor.db")
    SilenceStore(store.monitor).silence(db_path, "stuck", until=at(48), reason="r", user="u",
                                        now=T0)
    assert send(db_path, rec, 0, store, stuck=ERROR, backup=WARN) == [("backup", "first")]
    assert send(db_path, rec, 1, store, stuck=OK, backup=WARN) == [("stuck", "recovered")]
    # a green check silenced ahead of time keeps its silence until it expires
    SilenceStore(store.monitor).silence(db_path, "wal", until=at(48), reason="r", user="u",
                                        now=at(2))
    assert send(db_path, rec, 3, store, stuck=OK, backup=WARN, wal=OK) == []
    assert list(SilenceStore(store.monitor).active(db_path, now=at(3))) == ["wal"]


def test_two_watchers_agree(rec, db_path, tmp_path):
    """Two watchers at the moment a silenced check recovers: one recovery sent, logged once."""
    path = tmp_path / "monitor.db"
    assert send(db_path, rec, 0, AlertStore(path), stuck=ERROR) == [("stuck", "first")]
    SilenceStore(path).silence(db_path, "stuck", until=at(48), reason="r", user="u", now=at(1))
    barrier = threading.Barrier(2)

    def watcher():
        barrier.wait()
        notify.notify(db_path, report(db_path, at(2), stuck=OK), hook(rec), AlertStore(path),
                      now=at(2))

    threads = [threading.Thread(target=watcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [c["change"] for body in posts(rec)[1:] for c in body["checks"]] == ["recovered"]
    assert [e["event"] for e in SilenceStore(path).log(db_path)] == ["recovered", "set"]


# ------------------------------------------------------------------ the command line

def cli(env, *args):
    return run_cli([*map(str, args)], cwd=ROOT, env=env, timeout=120)


@pytest.fixture
def stuck_db(tmp_path, monkeypatch):
    """(path, env): four jobs stuck for over an hour (red from 1: R2W_HEALTH_STUCK_ERROR)."""
    real = timeutil.utcnow()
    moment = {"now": real}
    path = tmp_path / "stuck.db"
    migrations.init(path)
    with monkeypatch.context() as patched:
        patched.setattr(timeutil, "utcnow", lambda: moment["now"])
        fill(path, moment, now=real)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "R2W_ALERT_URLS")}
    env |= {"R2W_HEALTH_STUCK_ERROR": "1", "R2W_MONITOR_DB": str(tmp_path / "monitor.db")}
    return path, env


def test_health_notify_sends_nothing_for_a_silenced_check_until_it_recovers(stuck_db, rec,
                                                                            tmp_path):
    path, env = stuck_db
    env = env | {"R2W_ALERT_URLS": rec.url("/hook")}
    first = cli(env, "--db", path, "health", "--notify")
    assert first.returncode == 2
    assert "stuck" in {c["key"] for c in posts(rec)[0]["checks"]}
    set_ = cli(env, "--db", path, "silence", "stuck", "--for", "1d", "--reason", "worker fix",
               "--user", "ana", "--json")
    assert set_.returncode == 0, set_.stderr
    assert json.loads(set_.stdout)["by"] == "ana"
    prom = tmp_path / "r2w.prom"
    quiet = cli(env, "--db", path, "health", "--notify", "--json", "--prometheus", prom)
    assert quiet.returncode == 2                    # the true exit code, silenced or not
    body = json.loads(quiet.stdout)
    marks = {c["key"]: c["silenced"] for c in body["checks"]}
    assert marks["stuck"]["by"] == "ana" and marks["stuck"]["reason"] == "worker fix"
    assert marks["backup"] is None
    stuck = next(c for c in body["checks"] if c["key"] == "stuck")
    assert (stuck["status"], stuck["status_word"]) == (ERROR, "CRITICAL")
    assert len(posts(rec)) == 1
    text = prom.read_text()
    assert 'r2w_health_check_silenced{check="stuck",database=' in text
    assert [line.split()[-1] for line in text.splitlines()
            if line.startswith('r2w_health_check_silenced{check="stuck"')] == ["1.0"]
    assert 'check="stuck",database=' in text and 'status="CRITICAL"} 1.0' in text
    plain = cli(env, "--db", path, "health")
    assert plain.returncode == 2
    assert "(silenced by ana until " in plain.stdout and ": worker fix)" in plain.stdout
    assert ", 1 silenced |" in plain.stdout.splitlines()[0]
    for job in ("stuck-1", "stuck-2", "stuck-3", "stuck-4"):
        uploads.update_cv_upload_status(path, job, "completed")
    cli(env, "--db", path, "health", "--notify")
    recovered = [c for c in posts(rec)[-1]["checks"] if c["key"] == "stuck"]
    assert len(posts(rec)) == 2 and recovered[0]["change"] == "recovered"
    listed = json.loads(cli(env, "--db", path, "silences", "--json", "--log").stdout)
    assert listed["silences"] == []
    assert [e["event"] for e in listed["log"]] == ["recovered", "set"]


def test_silence_commands(stuck_db):
    path, env = stuck_db
    bad = cli(env, "--db", path, "silence", "nosuch", "--for", "1d", "--reason", "x")
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "unknown check 'nosuch': one of stuck, sessions" in bad.stderr
    for args, words in ((("--for", "soon", "--reason", "x"), "neither a duration"),
                        (("--for", "1d", "--reason", " "), "needs a reason"),
                        (("--for", "2020-01-01", "--reason", "x"), "not in the future")):
        got = cli(env, "--db", path, "silence", "stuck", *args)
        assert got.returncode == 1 and words in got.stderr and "Traceback" not in got.stderr
    assert cli(env, "--db", path, "silence", "backup", "--for", "2h", "--reason", "r").returncode == 0
    listed = json.loads(cli(env, "--db", path, "silences", "--json").stdout)
    assert [s["check"] for s in listed["silences"]] == ["backup"]
    assert listed["silences"][0]["by"]                      # the OS user, recorded
    text = cli(env, "--db", path, "silences").stdout
    assert text.startswith("backup ") and ": r" in text
    lifted = cli(env, "--db", path, "unsilence", "backup", "--json")
    assert json.loads(lifted.stdout)["lifted"] is True
    again = cli(env, "--db", path, "unsilence", "backup")
    assert again.returncode == 0 and "was not silenced" in again.stdout
    assert "no active silence" in cli(env, "--db", path, "silences", "--all").stdout


def test_watch_once_without_a_destination_says_so(stuck_db):
    path, env = stuck_db
    got = cli(env, "--db", path, "watch", "--once")
    assert "no alert destination configured" in got.stdout
    assert "notifications: 0 sent" not in got.stdout


def test_snapshot_numbers_are_per_database(stuck_db, tmp_path):
    path, env = stuck_db
    other = tmp_path / "b.db"
    migrations.init(other)
    for _ in range(3):
        assert cli(env, "--db", path, "snapshot").returncode == 0
    got = cli(env, "--db", other, "snapshot")
    assert got.stdout.startswith(f"snapshot 1 of {other} "), got.stdout
    again = json.loads(cli(env, "--db", path, "snapshot", "--json").stdout)
    assert again["number"] == 4 and again["id"] == 5
