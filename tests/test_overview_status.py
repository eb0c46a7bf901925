"""The Overview's status line (issue 20): the worst status in the command line's words with
their colours, the counts per status, the watcher, alerts and the heartbeat; then one row
per check needing attention, the passing ones under one expander. Checks are injected
(health.run_checks replaced) so that every state is shown; time is frozen."""
from datetime import timedelta

import pytest

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.figures import health
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.watch import notify

from .signin_helpers import NOW, OVERVIEW, app, demo_path, env, texts  # noqa: F401

SECRET_URL = "https://hooks.example.org/services/T0/B0/s3cr3t-t0ken"


def check(key, status, value="3", task="", params=None):
    return health.Check(key, key.replace("_", " ").title(), status, value, f"{key} detail",
                        "" if status == health.OK else f"fix {key}", f"python -m r2w_db maintain {key}",
                        task=task, task_params=params or {})


def with_checks(monkeypatch, checks):
    def run_checks(db, thresholds=None, last_runs=None, now=None, **kwargs):
        if isinstance(checks, Exception):
            raise checks
        return list(checks)

    monkeypatch.setattr(health, "run_checks", run_checks)


def status_line(at):
    """The status line: the first markdown of the main area that holds a status word."""
    words = ("**OK**", "**WARNING**", "**CRITICAL**", "**UNKNOWN**")
    return next(m.value for m in at.main.markdown if any(w in m.value for w in words))


def overview(query=None):
    at = app(OVERVIEW, query=query).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("statuses, word, colour, counts", [
    ((health.OK, health.OK), "OK", "green", "2 OK"),
    ((health.WARN, health.OK), "WARNING", "orange", "1 WARNING, 1 OK"),
    ((health.ERROR, health.WARN, health.WARN, health.OK), "CRITICAL", "red",
     "1 CRITICAL, 2 WARNING, 1 OK"),
])
def test_the_worst_status_its_colour_and_the_counts(statuses, word, colour, counts, env,
                                                    monkeypatch):
    with_checks(monkeypatch, [check(f"c{i}", s) for i, s in enumerate(statuses)])
    line = status_line(overview())
    assert f":{colour}[" in line and f"**{word}**" in line
    assert counts in line


def test_checks_that_cannot_run_are_unknown_with_the_reason(env, monkeypatch):
    with_checks(monkeypatch, errors.InvalidValue("the checks could not read the schema"))
    at = overview()
    line = status_line(at)
    assert ":grey[" in line and "**UNKNOWN**" in line
    assert "the checks could not read the schema" in line
    assert not at.expander or all("Passing" not in e.label for e in at.expander)


def test_no_watcher_says_how_to_start_one(env, monkeypatch):
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    line = status_line(overview())
    assert "no watcher runs: start `python -m r2w_db watch`" in line


def test_the_watcher_seen_minutes_ago(env, demo_path, monkeypatch):
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    AlertStore().record_cycle(open_database(demo_path), ok=True, interval=60,
                              now=NOW - timedelta(minutes=2))
    assert "watcher seen 2 min ago" in status_line(overview())


def test_a_watcher_gone_quiet_may_have_stopped(env, demo_path, monkeypatch):
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    AlertStore().record_cycle(open_database(demo_path), ok=True, interval=60,
                              now=NOW - timedelta(minutes=30))
    assert "watcher seen 30 min ago: it may have stopped" in status_line(overview())


def test_no_alert_destination_is_said(env, monkeypatch):
    monkeypatch.delenv("R2W_ALERT_URLS", raising=False)
    monkeypatch.delenv("R2W_HEARTBEAT_URL", raising=False)
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    line = status_line(overview())
    assert "alerts: no destination configured" in line and "no heartbeat configured" in line


def _delivery(db_path, ok, minutes_ago, error=None):
    store = AlertStore()
    decide = lambda *_: ({}, {"status": "CRITICAL", "text": "stuck"}, "change")  # noqa: E731
    when = NOW - timedelta(minutes=minutes_ago)
    claimed = store.claim(open_database(db_path), decide,
                          [(notify.destination_id(SECRET_URL), notify.destination_label(SECRET_URL))],
                          now=when)
    store.finish(claimed[0]["id"], ok, error, now=when)


def test_destinations_failing_say_so_without_the_secret(env, demo_path, monkeypatch):
    monkeypatch.setenv("R2W_ALERT_URLS", SECRET_URL + " https://other.example.org/hook")
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    _delivery(demo_path, True, 60)
    _delivery(demo_path, False, 5, "HTTP Error 500: Internal Server Error")
    at = overview()
    line = status_line(at)
    assert "alerts to 2 destinations failing: last failure 5 min ago" in line
    assert "HTTP Error 500" in line and "//hooks.example.org/…" in line
    assert "s3cr3t-t0ken" not in texts(at) and "/services/" not in texts(at)


def test_destinations_working_show_the_last_delivery(env, demo_path, monkeypatch):
    monkeypatch.setenv("R2W_ALERT_URLS", SECRET_URL)
    monkeypatch.setenv("R2W_HEARTBEAT_URL", "https://hc.example.org/ping/abc")
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    _delivery(demo_path, True, 3)
    AlertStore().record_cycle(open_database(demo_path), ok=True, interval=60,
                              heartbeat=(True, None), now=NOW - timedelta(minutes=1))
    line = status_line(overview())
    assert "alerts to 1 destination, last sent 3 min ago" in line
    assert "heartbeat ok" in line and "watcher seen 1 min ago" in line


def test_a_failing_heartbeat_is_red(env, demo_path, monkeypatch):
    monkeypatch.setenv("R2W_HEARTBEAT_URL", "https://hc.example.org/ping/abc")
    with_checks(monkeypatch, [check("stuck", health.ERROR)])
    AlertStore().record_cycle(open_database(demo_path), ok=True, interval=60,
                              heartbeat=(False, "timed out"), now=NOW - timedelta(minutes=1))
    assert ":red[heartbeat failing: timed out]" in status_line(overview())


def test_one_row_per_check_needing_attention_and_the_passing_collapsed(env, monkeypatch):
    with_checks(monkeypatch, [check("wal", health.WARN, "12 MB"), check("stuck", health.ERROR, "10"),
                              check("schema", health.OK, "0"), check("backup", health.OK, "1 h")])
    at = overview()
    labels = [e.label for e in at.expander]
    assert "Stuck: 10" in labels[0] and "Wal: 12 MB" in labels[1], "most urgent first"
    assert labels[2] == "Passing checks (2)"
    assert len(labels) == 3


def test_the_demo_is_critical_with_its_counts(env):
    """Not injected: the demo's own checks (stuck jobs and stale data among them)."""
    line = status_line(overview())
    assert "**CRITICAL**" in line and " CRITICAL" in line.split("**CRITICAL**", 1)[1]


def test_sparklines_from_the_daily_rollups_without_any_snapshot(env, demo_path, tmp_path):
    """The headline's per-day sparklines come from the roll-ups as soon as the watcher has
    recorded them, before any snapshot (issue 20)."""
    import os

    from r2w_db.figures import rollups
    from r2w_db.monitor.history_store import HistoryStore

    store = HistoryStore(os.environ["R2W_MONITOR_DB"])
    rollups.roll_up(demo_path, store, NOW)
    assert not store.snapshots(open_database(demo_path), limit=1)
    at = overview()
    shown = {m.label: list(m.proto.chart_data) for m in at.metric}
    assert len(shown["Uploads"]) >= 2 and len(shown["New users"]) >= 2
    assert not shown["Database size"], "a point-in-time figure waits for two snapshots"
