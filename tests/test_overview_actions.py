"""Acting from the Overview's check rows (issue 20): an admin runs the check's maintenance
task through the Maintenance page's own dialog (its parameters filled in, logged like a run
from that page); viewers, read-only mode and embedded pages get no Run button. An admin
silences a failing check from its row (reason required, an expiry) and lifts it; the check
keeps its colour, marked silenced."""
import sqlite3
from datetime import timedelta

import pytest

from r2w_db.backends import open_database
from r2w_db.figures import health
from r2w_db.maintenance import runner
from r2w_db.monitor.silences import SilenceStore

from .signin_helpers import (NOW, OVERVIEW, app, demo_path, env, signed_in,  # noqa: F401
                             texts)
from .test_overview_status import check, with_checks

STALE = check("cache_cleanup", health.WARN, "12", task="cache", params={"days": 30})
STUCK = check("stuck", health.ERROR, "10", task="stuck", params={"minutes": 60})


@pytest.fixture
def copy(demo_path, tmp_path, monkeypatch, env):
    """A copy of the demo the Overview shows (a run changes it)."""
    path = tmp_path / "demo.db"
    with sqlite3.connect(demo_path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    monkeypatch.setenv("DATABASE_URL", str(path))
    return path


def overview(team=None, query=None, name=None):
    at = signed_in(OVERVIEW, name, query=query) if name else app(OVERVIEW, team, query).run()
    assert not at.exception, at.exception
    return at


def run_keys(at):
    return {b.key for b in at.button if b.key and b.key.startswith("check_run_")}


def test_an_admin_runs_the_remedy_through_the_maintenance_dialog(copy, monkeypatch):
    with_checks(monkeypatch, [STALE])
    at = overview()
    at.button(key="check_run_cache_cleanup").click().run()
    assert not at.exception, at.exception
    assert at.button(key="maint_dialog_confirm"), "the Maintenance page's dialog is open"
    shown = texts(at)
    assert "older than 30 days" in shown, "the check's parameters are filled in"
    at.checkbox(key="maint_backup_first").uncheck()
    at.button(key="maint_dialog_confirm").click().run()
    assert not at.exception, at.exception
    entry = runner.log_entries(open_database(copy), limit=5)[0]
    assert entry["task"] == "cache" and entry["outcome"] == "ok"
    assert '"days": 30' in entry["parameters"]
    assert entry["user"] == "open: no team accounts"
    assert "maint_dialog_confirm" not in {b.key for b in at.button}, "the dialog closed"


def test_the_stuck_check_offers_the_stuck_task(copy, monkeypatch):
    with_checks(monkeypatch, [STUCK])
    at = overview()
    at.button(key="check_run_stuck").click().run()
    assert not at.exception, at.exception
    assert at.button(key="maint_dialog_confirm")
    assert "Stuck jobs" in texts(at), "the stuck task's own dialog"


def test_nothing_to_do_disables_confirm(copy, monkeypatch):
    with_checks(monkeypatch, [check("sessions", health.WARN, "0", task="sessions",
                                    params={"days": 3650})])
    at = overview()
    at.button(key="check_run_sessions").click().run()
    assert at.button(key="maint_dialog_confirm").disabled
    assert "Nothing to do" in texts(at)


def test_a_viewer_sees_the_command_not_the_button(env, monkeypatch):
    from .signin_helpers import TEAM
    with_checks(monkeypatch, [STALE, STUCK])
    at = signed_in(OVERVIEW, "vic", team=TEAM)
    assert not run_keys(at)
    assert "python -m r2w_db maintain cache_cleanup" in [c.value for c in at.code]
    assert not [f for f in at.get("form")], "no silence form for a viewer"


def test_read_only_shows_the_command(env, monkeypatch):
    monkeypatch.setenv("R2W_READ_ONLY", "1")
    with_checks(monkeypatch, [STALE])
    at = overview()
    assert not run_keys(at)
    assert "python -m r2w_db maintain cache_cleanup" in [c.value for c in at.code]


def test_embedded_shows_one_line_and_no_actions(env, monkeypatch):
    with_checks(monkeypatch, [STALE, STUCK])
    at = overview(query={"embed": "true"})
    assert not run_keys(at) and not at.expander
    lines = [m.value for m in at.main.markdown if "**CRITICAL**" in m.value]
    assert len(lines) == 1 and "1 CRITICAL, 1 WARNING" in lines[0]
    assert len(at.metric) == 10, "the figures"


def test_embedded_says_nothing_when_all_pass(env, monkeypatch):
    with_checks(monkeypatch, [check("stuck", health.OK, "0")])
    at = overview(query={"embed": "true"})
    assert not [m for m in at.main.markdown if "**OK**" in m.value]


# ------------------------------------------------------------------ silences

def silence(at, key, reason, expiry="1 day"):
    at.text_input(key=f"silence_reason_{key}").input(reason)
    at.radio(key=f"silence_for_{key}").set_value(expiry)
    form_button = next(b for b in at.button if "Silence on this database" in str(b.label)
                       and key in str(b.proto.form_id))
    form_button.click().run()
    assert not at.exception, at.exception
    return at


def test_silence_from_the_row_then_lift(env, demo_path, monkeypatch):
    with_checks(monkeypatch, [STUCK])
    at = silence(overview(), "stuck", "worker being fixed by ann")
    active = SilenceStore().active(open_database(demo_path), NOW)
    assert active["stuck"].reason == "worker being fixed by ann"
    assert active["stuck"].until == NOW + timedelta(days=1)
    label = at.expander[0].label
    assert ":red[" in label and "silenced" in label, "its true colour, marked silenced"
    assert ("silenced by **open: no team accounts** until 2026-11-25 12:00 UTC: worker being "
            "fixed by ann") in texts(at)
    at.button(key="silence_lift_stuck").click().run()
    assert not at.exception, at.exception
    assert SilenceStore().active(open_database(demo_path), NOW) == {}
    assert "silenced" not in at.expander[0].label
    events = [e["event"] for e in SilenceStore().log(open_database(demo_path))]
    assert events == ["lifted", "set"]


def test_a_silence_needs_a_reason(env, demo_path, monkeypatch):
    with_checks(monkeypatch, [STUCK])
    at = silence(overview(), "stuck", "   ")
    assert SilenceStore().active(open_database(demo_path), NOW) == {}
    assert any("Not silenced" in e.value and "reason" in e.value for e in at.error)


def test_a_silence_until_a_week(env, demo_path, monkeypatch):
    with_checks(monkeypatch, [STUCK])
    silence(overview(), "stuck", "known, ticket 42", expiry="1 week")
    until = SilenceStore().active(open_database(demo_path), NOW)["stuck"].until
    assert until == NOW + timedelta(weeks=1)
