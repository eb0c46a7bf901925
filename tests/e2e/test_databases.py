"""Several databases in the browser: ?db= and the sidebar's selector each show that database's
own figures, and the Overview lists them all."""
import subprocess
import sys

import pytest
from playwright.sync_api import expect

from r2w_db.figures import overview
from r2w_db.figures.periods import Window

from . import streamlit_app as app


@pytest.fixture(scope="module")
def two_server(e2e_dir):
    folder = e2e_dir / "two"
    folder.mkdir()
    for name, seed in (("prod", 11), ("staging", 12)):
        subprocess.run([sys.executable, "-m", "r2w_db", "--db", str(folder / f"{name}.db"), "demo",
                        "--seed", str(seed), "--quiet"], cwd=app.REPO, check=True, timeout=120)
    server = app.Server("two", e2e_dir, None, e2e_dir / "no-secrets" / "secrets.toml",
                        {"R2W_DATABASES": f"prod={folder}/prod.db staging={folder}/staging.db"})
    try:
        yield server.start(), folder
    finally:
        server.stop()


def uploads_of(folder, name):
    figures = overview.headline(folder / f"{name}.db", Window.of("7d"))["current"]
    return f"{figures['uploads']:,}"


def test_db_in_the_link_and_in_the_sidebar(two_server, page):
    server, folder = two_server
    assert uploads_of(folder, "staging") != uploads_of(folder, "prod")  # the test can tell them apart
    app.open_page(page, server, "Uploads", db="staging")
    app.assert_no_exception(page)
    expect(page.get_by_text("Database: staging")).to_be_visible()
    assert app.metric_values(page)["Uploads"] == uploads_of(folder, "staging")
    app.screenshot(page, "Uploads-db-staging")
    select = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
    select.click()
    page.get_by_role("option", name="prod").click()
    app.wait_for_app(page)
    app.assert_no_exception(page)
    expect(page.get_by_text("Database: prod")).to_be_visible()
    assert "db=prod" in page.url
    assert app.metric_values(page)["Uploads"] == uploads_of(folder, "prod")


def test_the_overview_lists_every_database(two_server, page):
    server, _ = two_server
    app.open_page(page, server, "", db="prod")
    app.assert_no_exception(page)
    expect(page.get_by_text("All databases")).to_be_visible()
    expect(page.get_by_text("prod (shown)")).to_be_visible()
    expect(page.locator('[data-testid="stPageLink"]').filter(has_text="staging")).to_be_visible()
    app.screenshot(page, "Overview-all-databases")
