"""Running the real dashboard for browser tests, and waiting on it the way Streamlit's own
browser tests do: the app's connection and script states, elements by data-testid, no sleeps.

A `Server` is `python -m streamlit run app.py` on a free port of 127.0.0.1 with its own
environment (DATABASE_URL, R2W_MONITOR_DB, R2W_BACKUP_DIR) and its own secrets file, polled on
/_stcore/health until ready (bounded) and killed (its whole process group) when stopped.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("R2W_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT_S = 60
WAIT_MS = 45_000            # one wait for the app (a rerun, a chart): generous, bounded
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"

APP = '[data-testid="stApp"]'
CONNECTED = f'{APP}[data-test-connection-state="CONNECTED"]'
NOT_RUNNING = f'{APP}[data-test-script-state="notRunning"]'

# (url path, title shown by st.title, whether its figures follow the time window)
PAGES = [
    ("", "Overview", True),
    ("Cache_hits", "Cache hits", True),
    ("Confidence", "Confidence", True),
    ("Uploads", "Uploads", True),
    ("Anonymous_users", "Anonymous users", True),
    ("History", "History", True),
    ("Space", "Space", False),
    ("Query_benchmarks", "Query benchmarks", False),
    ("Queries", "Queries", False),
    ("Maintenance", "Maintenance", False),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The dashboard as `streamlit run` serves it."""

    def __init__(self, name, workdir: Path, database: Path, secrets: Path, extra_env=None):
        """`database`: DATABASE_URL (None: unset); `extra_env`: more variables (R2W_DATABASES)."""
        self.name, self.workdir, self.database, self.secrets = name, workdir, database, secrets
        self.extra_env = dict(extra_env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}-server.log"
        self.process = None

    def start(self):
        env = {k: v for k, v in os.environ.items()
               if k not in ("R2W_READ_ONLY", "DATABASE_URL", "R2W_MONITOR_DB", "R2W_BACKUP_DIR",
                            "R2W_DATABASES")}
        env.update(R2W_MONITOR_DB=str(self.workdir / f"{self.name}-monitor.db"),
                   R2W_BACKUP_DIR=str(self.workdir / f"{self.name}-backups"),
                   PYTHONUNBUFFERED="1", **self.extra_env)
        if self.database is not None:
            env["DATABASE_URL"] = str(self.database)
        command = [sys.executable, "-m", "streamlit", "run", "app.py",
                   "--server.port", str(self.port), "--server.address", "127.0.0.1",
                   "--server.headless", "true", "--server.fileWatcherType", "none",
                   "--browser.gatherUsageStats", "false",
                   # only this file: never the developer's ~/.streamlit or the repo's own secrets
                   "--secrets.files", str(self.secrets)]
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.name} server exited ({self.process.returncode}):\n"
                                   + self.log())
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the {self.name} server was not ready within "
                                   f"{START_TIMEOUT_S} s:\n" + self.log())
            time.sleep(0.2)  # polling the health endpoint, as datasette's tests do

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=10)
        if getattr(self, "_log", None):
            self._log.close()


# ------------------------------------------------------------------------ waiting

# Resolves once nothing in the app has changed for `quiet` ms (bounded by `limit` ms): the
# script state turns notRunning a moment before the frontend's last batch of elements is drawn.
SETTLE_JS = """([quiet, limit]) => new Promise(resolve => {
    const root = document.querySelector('[data-testid="stApp"]');
    let timer = null;
    const done = (value) => { observer.disconnect(); clearTimeout(timer); clearTimeout(cap);
                              resolve(value); };
    const observer = new MutationObserver(() => {
        clearTimeout(timer); timer = setTimeout(() => done(true), quiet); });
    observer.observe(root, {subtree: true, childList: true, characterData: true});
    timer = setTimeout(() => done(true), quiet);
    const cap = setTimeout(() => done(false), limit);
})"""


def wait_for_app(page: Page, timeout=WAIT_MS):
    """Connected, the script not running (Streamlit's own e2e tests' wait_for_app_run), no
    element left stale from an earlier run, and the page drawn (no change for a moment)."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        left = max(1, int((deadline - time.monotonic()) * 1000))
        page.wait_for_selector(CONNECTED, timeout=left, state="attached")
        page.wait_for_selector(NOT_RUNNING, timeout=left, state="attached")
        page.wait_for_selector('[data-stale="true"]', state="detached", timeout=left)
        page.evaluate(SETTLE_JS, [150, 5000])
        if page.locator(NOT_RUNNING).count() and not page.locator('[data-stale="true"]').count():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the app did not settle within {timeout} ms")


def open_page(page: Page, server: Server, path="", **query):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    page.goto(f"{server.url}/{path}" + (f"?{params}" if params else ""), wait_until="commit",
              timeout=WAIT_MS)
    wait_for_app(page)


def wait_for_charts(page: Page, at_least=0, timeout=WAIT_MS):
    """Every Vega-Lite chart (at least `at_least` of them) has drawn its marks (an svg or a
    canvas with a size); returns how many."""
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    if at_least:
        expect(charts.nth(at_least - 1)).to_be_attached(timeout=timeout)
    for i in range(charts.count()):
        drawn = charts.nth(i).locator("svg.marks, canvas.marks")
        expect(drawn.first).to_be_attached(timeout=timeout)
        box = drawn.first.bounding_box()
        assert box and box["width"] > 0 and box["height"] > 0, f"chart {i} has no size"
    return charts.count()


def assert_no_exception(page: Page):
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, "exception on the page:\n" + "\n---\n".join(errors.all_inner_texts())


def metric_values(page: Page):
    """{label: value} of every st.metric on the page."""
    expect(page.locator('[data-testid="stMetricValue"]').first).to_be_visible()
    values = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        values[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return values


def screenshot(page: Page, name):
    """The whole page: Streamlit scrolls inside its main area, so the viewport is grown to the
    content's height first (bounded), the charts redrawn, then the shot taken."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("""() => {
        let h = document.documentElement.scrollHeight;
        for (const el of document.querySelectorAll('[data-testid="stMain"], section, div')) {
            if (el.scrollHeight > el.clientHeight + 1 &&
                ['auto', 'scroll'].includes(getComputedStyle(el).overflowY))
                h = Math.max(h, el.scrollHeight + (window.innerHeight - el.clientHeight));
        }
        return h; }""")
    size = page.viewport_size or {"width": 1400, "height": 1000}
    if height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 12_000)})
        wait_for_app(page)
        wait_for_charts(page)
    path = SCREENSHOTS / f"{safe(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "page"


def sidebar_links(page: Page):
    """{href path: text} of the links in the sidebar (page navigation or st.page_link)."""
    links = {}
    for a in page.locator('[data-testid="stSidebar"] a[href]').all():
        href = a.get_attribute("href") or ""
        path = re.sub(r"^https?://[^/]+/", "", href).split("?")[0].strip("/")
        links[path] = a.inner_text().strip()
    return links
