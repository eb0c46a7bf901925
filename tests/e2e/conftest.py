"""Browser tests: the real dashboard (`streamlit run`) in real headless Chromium.

Session-wide: one demo database (fixed seed), two servers on free ports (one open, one with
team accounts in its secrets file, each with its own copy of the database and its own monitor
database), one browser. Each test gets a fresh browser context. Servers are killed at the end,
failed tests leave a screenshot in test-artifacts/screenshots/.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..pg_cluster import apt_install
from . import streamlit_app as app

ON_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
DEMO_SEED = 7
ACCOUNTS = {  # name: (password, role)
    "ada": ("ada-admin-pw-1", "admin"),
    "vic": ("vic-viewer-pw-2", "viewer"),
}


def _unavailable(reason):
    """Locally a machine without the browser skips with the reason; on CI it fails."""
    if ON_CI:
        pytest.fail(f"browser tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _install_chromium():
    """As root on a Debian machine without it, install Debian's Chromium (the test command does
    its own set-up); elsewhere leave it to the person. Returns whether it is there now."""
    if Path(app.CHROMIUM).exists() or app.CHROMIUM != "/usr/bin/chromium":
        return Path(app.CHROMIUM).exists()
    # one apt-get at a time: another pytest-xdist worker may be installing PostgreSQL
    apt_install(["chromium", "fonts-liberation"], "the browser tests", timeout=1200,
                recommends=True)
    return Path(app.CHROMIUM).exists()


@pytest.fixture(scope="session")
def browser():
    if not _install_chromium():
        _unavailable(f"no Chromium at {app.CHROMIUM} (apt-get install chromium, "
                     "or set R2W_CHROMIUM to a Chromium binary)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        _unavailable(f"playwright is not installed ({exc}): pip install -r requirements.txt")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=app.CHROMIUM, headless=True,
                                             args=app.CHROMIUM_ARGS, timeout=60_000)
    except Exception as exc:
        playwright.stop()
        pytest.fail(f"Chromium at {app.CHROMIUM} did not launch: {exc}", pytrace=False)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture(scope="session")
def e2e_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def demo_db(e2e_dir):
    """A demo database of the small scale with a fixed seed, made by the command line."""
    path = e2e_dir / "demo.db"
    subprocess.run([sys.executable, "-m", "r2w_db", "--db", str(path), "demo", "--seed",
                    str(DEMO_SEED), "--quiet"], cwd=app.REPO, check=True, timeout=120)
    return path


def _copy_db(source, target):
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return target


@pytest.fixture(scope="session")
def open_server(e2e_dir, demo_db):
    """The dashboard with no team accounts (it runs open); read-only use. Its monitor database
    holds three weeks of history of the demo (tests/history_builder.py)."""
    from tests.history_builder import build_history

    server = app.Server("open", e2e_dir, demo_db, e2e_dir / "no-secrets" / "secrets.toml")
    build_history(demo_db, e2e_dir / "open-monitor.db")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def team_server(e2e_dir, demo_db):
    """The dashboard with [team.NAME] accounts (admin ada, viewer vic) in its secrets file, on
    its own copy of the database (its maintenance writes)."""
    from r2w_db.app.passwords import hash_password

    secrets = e2e_dir / "team" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text("".join(
        f'[team.{name}]\npassword_hash = "{hash_password(password)}"\nrole = "{role}"\n\n'
        for name, (password, role) in ACCOUNTS.items()))
    server = app.Server("team", e2e_dir, _copy_db(demo_db, e2e_dir / "team.db"), secrets)
    try:
        yield server.start()
    finally:
        server.stop()


VIEWPORT = {"width": 1400, "height": 1000}


def _new_page(browser):
    context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", locale="en-US")
    context.set_default_timeout(app.WAIT_MS)
    return context.new_page()


def _shot_of_a_failure(page, request):
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        try:
            print(f"\nscreenshot of the failure: {app.screenshot(page, 'FAILED-' + request.node.name)}")
        except Exception as exc:  # the page may be gone; the failure itself is what matters
            print(f"\nno screenshot of the failure: {exc}")


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookie, no cache) and its page: for tests of signing in."""
    page = _new_page(browser)
    yield page
    _shot_of_a_failure(page, request)
    page.context.close()


@pytest.fixture(scope="session")
def _viewer(browser):
    page = _new_page(browser)
    yield page
    page.context.close()


@pytest.fixture
def viewer(_viewer, request):
    """One page of one browser context kept for the tests that only look at the open server's
    pages: the dashboard's scripts come from the context's cache instead of being fetched and
    compiled again for each test (Chromium's CPU was a quarter of the suite's). Each test starts
    at the default viewport (a screenshot grows it)."""
    _viewer.set_viewport_size(VIEWPORT)
    yield _viewer
    _shot_of_a_failure(_viewer, request)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


def pytest_terminal_summary(terminalreporter):
    if app.SCREENSHOTS.is_dir() and any(app.SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"browser test screenshots: {app.SCREENSHOTS}")


def sign_in_supported():
    """Whether the app has team sign-in (issue 6): its form's button in the app's own code."""
    sources = [app.REPO / "app.py", *(app.REPO / "pages").glob("*.py"),
               *(app.REPO / "dashboard").glob("*.py")]
    return any('"Sign in"' in p.read_text(errors="replace") or "'Sign in'" in
               p.read_text(errors="replace") for p in sources)
