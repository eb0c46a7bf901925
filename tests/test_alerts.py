"""Alerts: a notification per change (worse, recovered, a reminder while red), none when nothing
changed, every non-green check on the first run; a real receiver on 127.0.0.1, one that hangs and
one answering 500; no double notification with two watchers; broken secrets fail loudly."""
import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from r2w_db.figures import health_report
from r2w_db.figures.health import ERROR, OK, WARN
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.watch import notify, settings
from r2w_db.watch.settings import AlertSettings

from .http_receiver import receiver
from tests.cli_process import run_cli

T0 = datetime(2026, 11, 2, 8, 0)
ROOT = Path(__file__).resolve().parent.parent


def report(db, now=T0, **statuses):
    """A health report with these check statuses (numbers: 0, 1, 2 for green, amber, red)."""
    order = {OK: 0, WARN: 1, ERROR: 2}
    checks = [{"key": k, "title": f"Check {k}", "status": s, "colour": health_report.COLOUR[s],
               "number": order[s], "unit": "", "warn": None, "crit": None, "value": str(order[s]),
               "detail": "", "remedy": "" if s == OK else f"fix {k}", "command": "", "page": ""}
              for k, s in statuses.items()]
    code = max((order[s] for s in statuses.values()), default=0)
    return {"database": str(db), "status": health_report.LABEL[code], "exit_code": code,
            "worst": None, "counts": {}, "checks": checks, "as_of": now.isoformat(), "error": None}


@pytest.fixture
def rec():
    with receiver() as r:
        yield r


def hook(rec, path="/hook", timeout=2.0, repeat=24):
    return AlertSettings(urls=(rec.url(path),), timeout=timeout, repeat_hours=repeat)


def posts(rec, path="/hook"):
    return [body for method, p, body in rec.got(path) if method == "POST"]


def test_first_run_reports_every_check_that_is_not_green(rec, db_path):
    got = notify.notify(db_path, report(db_path, stuck=ERROR, backup=WARN, wal=OK), hook(rec))
    assert got["sent"] == 1 and got["failed"] == 0
    [body] = posts(rec)
    assert {c["key"] for c in body["checks"]} == {"stuck", "backup"}
    assert body["status"] == "CRITICAL" and body["database"] == str(db_path)
    assert "Check stuck" in body["text"] and "fix stuck" in body["text"]
    assert all(c["remedy"] for c in body["checks"])
    # nothing changed: nothing sent
    assert notify.notify(db_path, report(db_path, stuck=ERROR, backup=WARN, wal=OK),
                         hook(rec))["sent"] == 0
    assert len(posts(rec)) == 1


def test_worse_recovered_and_reminder_with_a_fixed_clock(rec, db_path):
    alerts = hook(rec, repeat=24)
    steps = [  # (hours after T0, status of "stuck", the change expected or None)
        (0, OK, None),            # first run, all green: nothing to report
        (1, WARN, "worse"),
        (2, ERROR, "worse"),
        (3, ERROR, None),
        (25, ERROR, None),        # 23 h after the last message: not yet
        (26, ERROR, "reminder"),
        (27, ERROR, None),
        (28, WARN, None),         # better but not green: remembered, not sent
        (29, ERROR, "worse"),
        (30, OK, "recovered"),
        (31, OK, None),
    ]
    for hours, status, expected in steps:
        before = len(posts(rec))
        now = T0 + timedelta(hours=hours)
        notify.notify(db_path, report(db_path, now, stuck=status, wal=OK), alerts, now=now)
        new = posts(rec)[before:]
        if expected is None:
            assert new == [], (hours, new)
        else:
            [body] = new
            assert [c["change"] for c in body["checks"]] == [expected], hours
    assert len(posts(rec)) == 5
    log = AlertStore().notifications(db_path)
    assert [n["outcome"] for n in log] == ["sent"] * 5


def test_a_database_that_cannot_be_read_is_red_then_recovers(rec, db_path):
    alerts = hook(rec)
    notify.notify(db_path, report(db_path, stuck=OK), alerts)
    notify.notify(db_path, health_report.unknown(db_path, "database not found"), alerts)
    notify.notify(db_path, report(db_path, stuck=OK), alerts)
    first, second = posts(rec)
    assert first["status"] == "UNKNOWN" and first["checks"][0]["key"] == "database"
    assert first["checks"][0]["change"] == "worse"
    assert second["checks"][0]["change"] == "recovered"


def test_a_receiver_that_hangs_or_fails_never_breaks_the_check(rec, db_path):
    alerts = AlertSettings(urls=(rec.url("/hang"), rec.url("/fail500"), rec.url("/hook")),
                           timeout=0.5)
    started = time.monotonic()
    got = notify.notify(db_path, report(db_path, stuck=ERROR), alerts)
    assert time.monotonic() - started < 3
    assert got == {"sent": 1, "failed": 2, "problem": None, "changes": got["changes"]}
    assert len(posts(rec, "/hook")) == 1
    log = {n["destination"]: n for n in AlertStore().notifications(db_path)}
    assert len(log) == 1  # the label hides the path: all three show as the same host
    rows = AlertStore().notifications(db_path)
    errors = sorted(r["error"] or "" for r in rows)
    assert errors[0] == "" and any("HTTP 500" in e for e in errors)
    assert any("no answer within" in e or "timed out" in e for e in errors)
    # the next cycle, with nothing changed, retries only the failed ones
    notify.notify(db_path, report(db_path, stuck=ERROR), alerts)
    assert len(posts(rec, "/hook")) == 1
    assert len(posts(rec, "/fail500")) == 2
    assert sorted(r["attempts"] for r in AlertStore().notifications(db_path)) == [1, 2, 2]


def test_failed_notifications_are_abandoned_after_the_retry_window(rec, db_path):
    alerts = hook(rec, "/fail500", timeout=1)
    notify.notify(db_path, report(db_path, stuck=ERROR), alerts, now=T0)
    notify.notify(db_path, report(db_path, stuck=ERROR), alerts, now=T0 + timedelta(hours=25))
    outcomes = [n["outcome"] for n in AlertStore().notifications(db_path)]
    assert "abandoned" in outcomes  # the first one: over 24 h old, not retried


def test_two_watchers_never_notify_one_change_twice(rec, db_path):
    alerts = hook(rec)
    barrier = threading.Barrier(4)
    results = []

    def watcher():
        barrier.wait()
        results.append(notify.notify(db_path, report(db_path, stuck=ERROR), alerts))

    threads = [threading.Thread(target=watcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(posts(rec)) == 1
    assert sorted(r["sent"] for r in results) == [0, 0, 0, 1]


def test_databases_are_kept_apart(rec, tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    alerts = hook(rec)
    notify.notify(a, report(a, stuck=ERROR), alerts)
    notify.notify(b, report(b, stuck=ERROR), alerts)
    assert [p["database"] for p in posts(rec)] == [str(a), str(b)]
    assert len(AlertStore().notifications(a)) == len(AlertStore().notifications(b)) == 1


def test_the_log_never_holds_a_webhook_token(rec, db_path):
    url = "https://bot:pw@hooks.slack.com/services/T000/B000/SECRETTOKEN"
    assert notify.destination_label(url) == "https://hooks.slack.com/…"
    alerts = AlertSettings(urls=(rec.url("/hook/SECRETTOKEN"),), timeout=2)
    notify.notify(db_path, report(db_path, stuck=ERROR), alerts)
    assert len(posts(rec, "/hook/SECRETTOKEN")) == 1
    [row] = AlertStore().notifications(db_path)
    assert row["destination"] == rec.base + "/…" and row["outcome"] == "sent"
    monitor = Path(os.environ["R2W_MONITOR_DB"])
    stored = b"".join(p.read_bytes() for p in monitor.parent.glob(monitor.name + "*"))
    assert b"SECRETTOKEN" not in stored


def test_destinations_from_the_environment_and_the_secrets(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[alerts]\nurls = ["https://a.example/x"]\nheartbeat_url = "https://hb/1"\n'
                       'repeat_hours = 6\n')
    got = settings.alert_settings({"R2W_ALERT_URLS": "https://b.example/y, https://c.example/z"},
                                  files=[secrets])
    assert got.urls == ("https://b.example/y", "https://c.example/z", "https://a.example/x")
    assert got.heartbeat_url == "https://hb/1" and got.repeat_hours == 6 and got.problem is None
    env = settings.alert_settings({"R2W_HEARTBEAT_URL": "https://hb/env"}, files=[secrets])
    assert env.heartbeat_url == "https://hb/env"


def test_secrets_that_do_not_parse_never_switch_alerts_off_silently(rec, db_path, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[alerts]\nurls = ["https://a.example/x"\n')
    alerts = settings.alert_settings({"R2W_ALERT_URLS": rec.url("/hook")}, files=[secrets])
    assert alerts.problem and str(secrets) in alerts.problem
    got = notify.notify(db_path, report(db_path, stuck=ERROR), alerts)
    assert got["failed"] == 1 and got["problem"] == alerts.problem
    [row] = AlertStore().notifications(db_path)
    assert row["outcome"] == "failed" and str(secrets) in row["error"]
    notify.notify(db_path, report(db_path, stuck=ERROR), alerts)   # counted, not repeated
    [row] = AlertStore().notifications(db_path)
    assert row["attempts"] == 2


def test_health_notify_on_the_command_line(rec, db_path, tmp_path):
    """A real database: the first `health --notify` reports the non-green checks, the second
    sends nothing; broken secrets give one clear line and exit 3."""
    env = {**os.environ, "R2W_ALERT_URLS": rec.url("/hook"), "HOME": str(tmp_path),
           "R2W_ALERT_TIMEOUT": "2"}
    run = lambda: run_cli(  # noqa: E731
        ["--db", str(db_path), "health", "--notify", "--json"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, timeout=60)
    first = run()
    body = json.loads(first.stdout)
    assert first.returncode == body["exit_code"]
    [sent] = posts(rec)
    assert {c["key"] for c in sent["checks"]} == {r["key"] for r in body["checks"]
                                                 if r["status"] != OK}
    assert run().returncode == body["exit_code"] and len(posts(rec)) == 1
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text("[alerts\n")
    broken = run()
    assert broken.returncode == 3
    assert "secrets.toml" in broken.stderr and "Traceback" not in broken.stderr
    assert json.loads(broken.stdout)["status"] == "UNKNOWN"
