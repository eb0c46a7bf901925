"""The Overview an on-call person acts from (issue 20), in the browser: the status line first,
a check silenced from its row and lifted, and a check's Run button opening the Maintenance
page's own dialog. Its own open server, database copy and monitor database."""
import re

import pytest
from playwright.sync_api import expect

from r2w_db.backends import open_database
from r2w_db.monitor.silences import SilenceStore

from . import streamlit_app as app
from .conftest import _copy_db
from .streamlit_app import assert_no_exception, open_page, screenshot, wait_for_app


@pytest.fixture(scope="module")
def server(e2e_dir, demo_db):
    server = app.Server("overview", e2e_dir, _copy_db(demo_db, e2e_dir / "overview.db"),
                        e2e_dir / "no-secrets" / "secrets.toml")
    try:
        yield server.start()
    finally:
        server.stop()


def row(page, title):
    """A check's row (an expander), opened."""
    expander = page.get_by_test_id("stExpander").filter(has_text=title).first
    expander.locator("summary").click()
    wait_for_app(page)
    return expander


def test_the_status_line_comes_first(page, server):
    open_page(page, server)
    first = page.get_by_test_id("stMarkdownContainer").filter(has_text="CRITICAL").first
    expect(first).to_contain_text(re.compile(r"CRITICAL · \d+ CRITICAL, \d+ WARNING, \d+ OK"))
    expect(first).to_contain_text("no watcher runs: start python -m r2w_db watch")
    expect(first).to_contain_text("alerts: no destination configured")
    assert_no_exception(page)
    screenshot(page, "Overview-status-line")


def test_silence_a_check_from_its_row_then_lift_it(page, server):
    open_page(page, server)
    stuck = row(page, "Stuck jobs")
    stuck.get_by_label("Why silence it (who is on it)?").fill("worker being fixed by ann")
    stuck.get_by_text("1 day", exact=True).click()
    stuck.get_by_role("button", name=re.compile("Silence on this database")).click()
    wait_for_app(page)
    label = page.get_by_test_id("stExpander").filter(has_text="Stuck jobs").first
    expect(label.locator("summary")).to_contain_text("silenced")
    silenced = SilenceStore(server.workdir / "overview-monitor.db").active(
        open_database(server.database))
    assert silenced["stuck"].reason == "worker being fixed by ann"
    assert silenced["stuck"].user == "open: no team accounts"
    screenshot(page, "Overview-check-silenced")
    stuck = row(page, "Stuck jobs") if not label.get_by_role("button", name=re.compile(
        "Lift the silence")).is_visible() else label
    expect(stuck).to_contain_text("silenced by open: no team accounts until")
    stuck.get_by_role("button", name=re.compile("Lift the silence")).click()
    wait_for_app(page)
    expect(page.get_by_test_id("stExpander").filter(has_text="Stuck jobs").first
           .locator("summary")).not_to_contain_text("silenced")
    assert SilenceStore(server.workdir / "overview-monitor.db").active(
        open_database(server.database)) == {}


def test_run_a_checks_remedy_in_the_maintenance_dialog(page, server):
    open_page(page, server)
    stale = row(page, "Stale anonymous data")
    stale.get_by_role("button", name=re.compile(r"^Run ")).click()
    dialog = page.get_by_test_id("stDialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("older than 30 days")  # the check's days
    expect(dialog.get_by_role("button", name="Confirm")).to_be_enabled()
    screenshot(page, "Overview-run-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert_no_exception(page)
