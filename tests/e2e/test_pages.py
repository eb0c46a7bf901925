"""Every page of the sidebar, in a real browser: no exception, every chart drawn, the figures
the library computes on the same database, a full-page screenshot."""
import pytest
from playwright.sync_api import expect

from dashboard import ui
from r2w_db.figures import periods, watched_now

from .streamlit_app import (
    PAGES,
    WAIT_MS,
    assert_no_exception,
    metric_values,
    open_page,
    screenshot,
    sidebar_links,
    wait_for_charts,
)

# every page in the day-grain windows (7 days, all time); the hour grain (24 hours) on the Uploads
# page, whose charts are the hourly ones the other pages draw too (their 24-hour specs:
# tests/test_chart_specs.py, their pages under AppTest: tests/test_pages.py)
CASES = [(path, title, window) for path, title, windowed in PAGES
         for window in ((("7d", "all", "24h") if path == "Uploads" else ("7d", "all"))
                        if windowed else (None,))]


@pytest.mark.parametrize("path,title,window", CASES,
                         ids=[f"{t}-{w}" if w else t for _, t, w in CASES])
def test_page_renders(viewer, open_server, path, title, window):
    query = {"window": window} if window else {}
    open_page(viewer, open_server, path, **query)
    assert viewer.locator('[data-testid="stHeading"] h1').first.inner_text().strip() == title
    assert_no_exception(viewer)
    chart_page = path in ("Cache_hits", "Confidence", "Uploads", "Anonymous_users")
    # the History page always has charts: the open server's monitor holds weeks of history
    drawn = wait_for_charts(viewer, at_least=7 if path == "History" else
                            1 if chart_page and window != "24h" else 0)
    shot = screenshot(viewer, f"{title}-{window}" if window else title)
    print(f"{title} ({window or 'no window'}): {drawn} charts, screenshot {shot}")
    assert_no_exception(viewer)


def test_sidebar_lists_every_page(viewer, open_server):
    open_page(viewer, open_server)
    # the navigation is drawn with the page: wait for all of it (a loaded machine is slow)
    expect(viewer.locator('[data-testid="stSidebar"] a[href]')).to_have_count(len(PAGES),
                                                                          timeout=WAIT_MS)
    links = sidebar_links(viewer)
    for path, title, _ in PAGES:
        assert path in links, f"no sidebar link to {title!r} ({links})"
        assert links[path].splitlines()[-1].strip() == title, links[path]


def test_history_page_and_sparklines(viewer, open_server):
    """The History page's charts and its watcher; the Overview's sparklines from the history."""
    open_page(viewer, open_server, "History", window="30d")
    assert_no_exception(viewer)
    # 7 from the snapshots (sizes, forecast, tables, levels) and 4 day by day from the roll-ups
    assert wait_for_charts(viewer, at_least=11) == 11
    shown = metric_values(viewer)
    assert shown["Disk full"] and shown["Size in 30 days"] and shown["Last snapshot"].endswith("ago")
    assert viewer.get_by_text("No watcher has run").count() == 0
    open_page(viewer, open_server, window="30d")
    sparks = viewer.locator('[data-testid="stMetric"] [data-testid="stMetricChart"]')
    expect(sparks).to_have_count(10, timeout=WAIT_MS)   # every headline figure has its sparkline


def test_overview_headline_numbers(viewer, open_server, demo_db):
    """All time: the figures r2w_db computes on the same file, the active sessions as of the
    watcher's newest snapshot in the server's monitor database, as the page shows them (a
    session that expired since would make a count of now differ)."""
    from r2w_db.monitor.history_store import HistoryStore
    from r2w_db.monitor.store import MonitorStore

    monitor = open_server.workdir / f"{open_server.name}-monitor.db"
    history = HistoryStore(monitor)
    expected, _ = watched_now.headline(demo_db, periods.Window.of("all"), history, history=history,
                                       log=MonitorStore(monitor))
    open_page(viewer, open_server, window="all")
    shown = metric_values(viewer)
    cur, now = expected["current"], expected["now"]
    assert shown["Uploads"] == ui.human_count(cur["uploads"])
    assert shown["New users"] == ui.human_count(cur["registered_new"])
    assert shown["New anonymous ids"] == ui.human_count(cur["anonymous_new"])
    assert shown["Failure rate"] == ui.human_percent(cur["failure_rate"])
    assert shown["Cache hit rate"] == ui.human_percent(cur["cache_hit_rate"])
    assert shown["Active sessions"] == ui.human_count(now["active_sessions"])
    assert shown["Database size"] == ui.human_bytes(now["size_bytes"])
