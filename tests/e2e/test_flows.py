"""What a person does in the browser: change the time window (sidebar radio, URL), embed a
page, sign in and out, maintenance as a viewer (no Run) and as an admin (confirm, result, log)."""
import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from dashboard import ui
from r2w_db.app import sessions
from r2w_db.figures import overview, periods
from r2w_db.maintenance import registry, runner
from r2w_db.monitor.store import MonitorStore

from .conftest import ACCOUNTS, sign_in_supported
from .streamlit_app import (
    assert_no_exception,
    metric_values,
    open_page,
    screenshot,
    wait_for_app,
    wait_for_charts,
)

needs_sign_in = pytest.mark.skipif(
    not sign_in_supported(),
    reason="the app has no team sign-in form yet (issue 6): no 'Sign in' button in app.py, "
           "pages/ or dashboard/")


def uploads_in(db, key):
    """The Uploads figure of window `key` as the page formats it, for this minute and the next
    (the window ends at the current minute; a test may straddle two)."""
    now = periods.Window.of(key).now
    return {ui.human_count(overview.headline(db, periods.Window.of(key, now=now + delta))
                           ["current"]["uploads"]) for delta in (timedelta(0),
                                                                  timedelta(minutes=1))}


def sidebar(page):
    return page.get_by_test_id("stSidebar")


def go_to(page, label):
    """Follow a sidebar link (keeps the browser session, and so the sign-in)."""
    sidebar(page).get_by_role("link", name=re.compile(rf"{re.escape(label)}$")).click()
    expect(page.locator('[data-testid="stHeading"] h1').first).to_have_text(label)
    wait_for_app(page)


# ------------------------------------------------------------------------ time window

def test_time_window_from_the_sidebar(viewer, open_server, demo_db):
    open_page(viewer, open_server)
    radio = sidebar(viewer).get_by_test_id("stRadio").first
    expect(radio.get_by_role("radio", name="7 d")).to_be_checked()
    radio.locator("label").filter(has_text=re.compile(r"^30 d$")).click()
    expect(viewer).to_have_url(re.compile(r"[?&]window=30d"))
    wait_for_app(viewer)
    expect(radio.get_by_role("radio", name="30 d")).to_be_checked()
    expect(viewer.get_by_text(re.compile(r"^Last 30 days: since"))).to_be_visible()
    assert metric_values(viewer)["Uploads"] in uploads_in(demo_db, "30d")
    # the choice follows the person to the next viewer
    go_to(viewer, "Uploads")
    expect(sidebar(viewer).get_by_role("radio", name="30 d")).to_be_checked()
    assert metric_values(viewer)["Uploads"] in uploads_in(demo_db, "30d")
    assert_no_exception(viewer)


def test_time_window_from_the_url(viewer, open_server, demo_db):
    open_page(viewer, open_server, window="30d")
    expect(sidebar(viewer).get_by_role("radio", name="30 d")).to_be_checked()
    assert metric_values(viewer)["Uploads"] in uploads_in(demo_db, "30d")
    assert uploads_in(demo_db, "30d") != uploads_in(demo_db, "7d")  # the figure really moved
    open_page(viewer, open_server, "Uploads", window="24h")
    expect(sidebar(viewer).get_by_role("radio", name="24 h")).to_be_checked()
    assert metric_values(viewer)["Uploads"] in uploads_in(demo_db, "24h")
    assert_no_exception(viewer)


def test_embed_draws_its_figures(viewer, open_server):
    open_page(viewer, open_server, "Uploads", embed="true", window="30d")
    assert wait_for_charts(viewer, at_least=1) > 0
    assert metric_values(viewer)["Uploads"] not in ("", "–")
    assert_no_exception(viewer)
    print(f"embedded Uploads: {screenshot(viewer, 'Uploads-embed')}")


def test_embed_has_no_sidebar(viewer, open_server):
    open_page(viewer, open_server, "Uploads", embed="true")
    expect(viewer.get_by_test_id("stSidebar")).to_be_hidden()


# ------------------------------------------------------------------------ sign-in

def sign_in(page, server, name, password=None):
    open_page(page, server)
    page.get_by_label("Username", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(password or ACCOUNTS[name][0])
    page.get_by_role("button", name=re.compile("Sign in")).click()
    wait_for_app(page)


@needs_sign_in
def test_sign_in_and_out(page, team_server):
    open_page(page, team_server)
    expect(page.get_by_role("button", name=re.compile("Sign in"))).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)        # nothing before sign-in
    screenshot(page, "Sign-in form")

    sign_in(page, team_server, "vic", "not-the-password")
    expect(page.get_by_test_id("stAlertContentError")).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)

    sign_in(page, team_server, "vic")
    expect(sidebar(page).get_by_text("Signed in as")).to_contain_text("vic")
    expect(page.locator('[data-testid="stHeading"] h1').first).to_have_text("Overview")
    assert "Uploads" in metric_values(page)
    assert_no_exception(page)

    sidebar(page).get_by_role("button", name=re.compile("Sign out")).click()
    wait_for_app(page)
    expect(page.get_by_role("button", name=re.compile("Sign in"))).to_be_visible()
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    assert_no_exception(page)


@needs_sign_in
def test_viewer_cannot_run_maintenance(page, team_server):
    sign_in(page, team_server, "vic")
    go_to(page, "Maintenance")
    runs = page.get_by_role("button", name=re.compile(r"^(play_arrow)?\s*Run "))
    expect(runs.first).to_be_visible()
    assert runs.count() == len(registry.TASKS)
    for i in range(runs.count()):
        expect(runs.nth(i)).to_be_disabled()
    assert_no_exception(page)
    screenshot(page, "Maintenance-viewer")


def test_admin_runs_the_sessions_cleanup(page, team_server):
    """Signed in as the admin (or, without sign-in, as the open dashboard's local admin)."""
    db = team_server.database
    expired_before = sessions.count_old_sessions(db)
    assert expired_before > 0
    if sign_in_supported():
        sign_in(page, team_server, "ada")
        go_to(page, "Maintenance")
        who = "ada"
    else:
        open_page(page, team_server, "Maintenance")
        who = None
    card = page.locator(".st-key-maint_run_sessions")
    run = card.get_by_role("button")
    expect(run).to_be_enabled()
    run.click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Expired sessions")
    expect(dialog).to_contain_text(f"{expired_before:,}")
    screenshot(page, "Maintenance-confirm-dialog")
    dialog.get_by_role("button", name="Confirm").click()
    expect(dialog).to_have_count(0)
    wait_for_app(page)
    done = page.get_by_test_id("stAlertContentSuccess").filter(has_text="Expired sessions")
    expect(done.first).to_be_visible()
    expect(done.first).to_contain_text(f"{expired_before:,} rows")
    expect(page.get_by_text(re.compile(r"^Last run: ok")).first).to_be_visible()
    assert_no_exception(page)
    screenshot(page, "Maintenance-after-sessions-cleanup")

    assert sessions.count_old_sessions(db) == 0
    monitor = MonitorStore(team_server.workdir / f"{team_server.name}-monitor.db")
    entry = runner.last_runs(db, monitor=monitor)["sessions"]
    assert entry["outcome"] == "ok" and entry["rows"] == expired_before
    if who:
        assert entry["user"] == who
