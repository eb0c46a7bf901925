"""AppTest tests of the Overview and the four monitoring pages.

Every page on an empty database, the demo database and the production-like fixture
(as production wrote it, then migrated): no exception, the expected figures, and
chart data equal to r2w_db's own numbers. Bad databases give a message and a
remedy, never a traceback. No page shows a secret.

Time is frozen (timeutil.utcnow) so that the page and the test agree to the second.
"""
import sqlite3
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.figures import anonymous, cache_hits, confidence, health, overview, uploads
from r2w_db.figures.periods import Window

from .prodlike import SECRETS, build_prodlike

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, 0)
OVERVIEW, CACHE, CONFIDENCE, UPLOADS, ANONYMOUS = (
    "app.py", "pages/1_Cache_hits.py", "pages/2_Confidence.py", "pages/3_Uploads.py",
    "pages/4_Anonymous_users.py")
PAGES = [OVERVIEW, CACHE, CONFIDENCE, UPLOADS, ANONYMOUS]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(path, scale="small", seed=0, now=NOW)
    return path


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def run(page, db, monkeypatch, window=None, timeout=30):
    monkeypatch.setenv("DATABASE_URL", str(db))
    at = AppTest.from_file(str(ROOT / page), default_timeout=timeout)
    if window:
        at.query_params["window"] = window
    return at.run()


def metric_values(at):
    return {m.label: m.value for m in at.metric}


def metric_deltas(at):
    return {m.label: m.delta for m in at.metric}


def chart_data(at):
    """[(spec JSON text, [DataFrame, ...])] of every Vega-Lite chart on the page."""
    found = []
    for chart in at.get("vega_lite_chart"):
        frames = [dataframe_util.convert_arrow_bytes_to_pandas_df(ds.data.data)
                  for ds in chart.proto.datasets]
        found.append((chart.proto.spec, frames))
    return found


# what the chart builders add to a period frame for drawing (issue 21): the UTC period's band
# key and tooltip label; a rate's cases, whether they are enough to judge, and its interval
PERIOD_COLUMNS = ("period_key", "period_label")
RATE_COLUMNS = (*PERIOD_COLUMNS, "cases", "judged", "sample", "note", "low", "high", "interval")


def frame_with(at, *columns):
    """The one chart dataset that has exactly these columns."""
    hits = [f for _, frames in chart_data(at) for f in frames if set(columns) == set(f.columns)]
    assert len(hits) == 1, (columns, [list(f.columns) for _, fs in chart_data(at) for f in fs])
    return hits[0]


def rendered(at):
    """Everything the page sent to the browser, as text (protos, including table data)."""
    parts = []

    def walk(node):
        if getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def overview_text(at):
    """The Overview's Markdown and its check rows' labels (issue 20: a row per check)."""
    return " ".join([m.value for m in at.markdown] + [e.label for e in at.expander])


def assert_clean(at):
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


# ------------------------------------------------------------------ every page, every database

@pytest.mark.parametrize("page", PAGES)
def test_empty_database(page, db_path, monkeypatch):
    at = run(page, db_path, monkeypatch)
    assert_clean(at)
    assert not chart_data(at) or page == OVERVIEW
    if page != OVERVIEW:
        assert at.info, "an empty window says so in a sentence"
    values = metric_values(at)
    assert "0" in values.values() or "no data" in values.values()


@pytest.mark.parametrize("page", PAGES)
def test_demo_database(page, demo_db, monkeypatch):
    at = run(page, demo_db, monkeypatch)
    assert_clean(at)
    assert at.title[0].value
    if page != OVERVIEW:
        assert chart_data(at)
        assert len(at.get("download_button")) >= len(chart_data(at))


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("migrated", [False, True])
def test_prodlike_database(page, migrated, tmp_path, monkeypatch):
    path = tmp_path / "prod.db"
    build_prodlike(path, now=NOW)
    if migrated:
        migrations.migrate(path)
    for window in ("all", "7d"):
        at = run(page, path, monkeypatch, window=window)
        assert_clean(at)
        text = rendered(at)
        for what, secret in SECRETS.items():
            assert secret not in text, what
        assert "CONFIDENTIAL" not in text and "jane.secret" not in text


# ------------------------------------------------------------------ figures and chart data

def test_overview_figures_and_deltas(demo_db, monkeypatch):
    at = run(OVERVIEW, demo_db, monkeypatch)
    assert_clean(at)
    figures = overview.headline(demo_db, Window.of("7d", now=NOW))
    cur, prev, now = figures["current"], figures["previous"], figures["now"]
    values, deltas = metric_values(at), metric_deltas(at)
    assert values["New users"] == f"{cur['registered_new']:,}"
    assert values["New anonymous ids"] == f"{cur['anonymous_new']:,}"
    assert values["Active sessions"] == f"{now['active_sessions']:,}"
    assert values["Uploads"] == f"{cur['uploads']:,}"
    assert deltas["Uploads"] == f"{cur['uploads'] - prev['uploads']:+,}"
    assert values["Stuck jobs"] == f"{cur['stuck']:,}"
    assert values["Failure rate"] == f"{cur['failure_rate']:.1%}"
    assert values["Cache hit rate"] == f"{cur['cache_hit_rate']:.1%}"
    assert deltas["Cache hit rate"].endswith(" pp")
    assert values["Average confidence"] == f"{cur['average_confidence']:.3f}"
    assert not deltas["Database size"] and not deltas["Active sessions"]
    assert len(values) == 10


def test_overview_health_checks_link_to_the_pages(demo_db, monkeypatch):
    at = run(OVERVIEW, demo_db, monkeypatch)
    checks = health.run_checks(demo_db, last_runs=health.last_maintenance(demo_db))
    text = overview_text(at)
    for check in checks:
        assert f"**{check.title}: {check.value}**" in text
    failing = [c for c in checks if c.status != health.OK]
    # issue 20: the status line counts the checks per status word; one row per failing check
    assert len([e for e in at.expander if "Passing" not in e.label]) == len(failing)
    assert any(c.key == "stuck" for c in failing)
    links = [link.proto.page for link in at.get("page_link")]
    assert "Uploads" in links and "Confidence" in links
    assert ("Maintenance" in links) == (ROOT / health.MAINTENANCE_PAGE).exists()
    # the open dashboard's admin runs a remedy from its row (a viewer sees the command)
    assert at.button(key="check_run_sessions")


def test_overview_all_green_says_so(db_path, monkeypatch, tmp_path):
    from r2w_db.monitor.store import MonitorStore

    store = MonitorStore(tmp_path / "monitor.db")
    for task in health.LOGGED_TASKS:
        store.log_finish(store.log_start(user="t", task=task, database=db_path), outcome="ok")
    at = run(OVERVIEW, db_path, monkeypatch)
    assert_clean(at)
    # issue 20: the status line says OK, with every check counted
    checks = health.run_checks(db_path, last_runs=health.last_maintenance(db_path))
    line = next(m.value for m in at.markdown if "**OK**" in m.value)
    assert f"{len(checks)} OK" in line and not [e for e in at.expander if "Passing" not in e.label]


def test_health_thresholds_from_the_environment(demo_db, monkeypatch):
    monkeypatch.setenv("R2W_HEALTH_STUCK_ERROR", "1000")
    monkeypatch.setenv("R2W_HEALTH_NONSENSE", "1")
    at = run(OVERVIEW, demo_db, monkeypatch)
    assert_clean(at)
    assert any("R2W_HEALTH_NONSENSE" in w.value for w in at.warning)
    assert any(e.label.startswith(":orange[**Stuck jobs") for e in at.expander)  # issue 20: a row


def test_cache_page_chart_data(demo_db, monkeypatch):
    at = run(CACHE, demo_db, monkeypatch, window="30d")
    assert_clean(at)
    window = Window.of("30d", now=NOW)
    hits = cache_hits.hit_rate(demo_db, window)
    assert metric_values(at)["Hit rate"] == f"{hits['hit_rate']:.1%}"
    rates = frame_with(at, "period", "uploads", "hashed", "hits", "extracted", "unhashed", "hit_rate",
                       "source", *RATE_COLUMNS)
    assert rates["hits"].sum() == hits["hits"] and rates["hashed"].sum() == hits["hashed"]
    assert len(rates) == len(hits["by_period"]) == 31
    served = frame_with(at, "period", "source", "uploads", "source_of_day", *PERIOD_COLUMNS)
    assert served.groupby("source")["uploads"].sum()["from cache"] == hits["hits"]
    access = frame_with(at, "bucket", "entries", "accesses")
    contents = cache_hits.contents(demo_db)
    assert access["entries"].sum() == contents["entries"]
    assert metric_values(at)["Eligible for cleanup"] == f"{contents['eligible_for_cleanup']:,}"


def test_confidence_page_chart_data(demo_db, monkeypatch):
    at = run(CONFIDENCE, demo_db, monkeypatch, window="all")
    assert_clean(at)
    window = Window.of("all", now=NOW)
    summary = confidence.summary(demo_db, window)
    histogram = frame_with(at, "bin_start", "bin_end", "entries", "band")
    assert histogram["entries"].sum() == summary["valid"]
    pd.testing.assert_frame_equal(histogram, confidence.histogram(demo_db, window),
                                  check_dtype=False)
    values = metric_values(at)
    assert values["Low (< 0.7)"] == f"{summary['low']:,}"
    assert values["Invalid"] == f"{summary['invalid']:,}"
    assert at.warning  # the demo holds entries below the caching threshold
    means = frame_with(at, "period", "mean", "entries", "judged", "note", *PERIOD_COLUMNS)
    assert means["entries"].sum() == summary["valid"]
    tables = at.dataframe
    lowest = confidence.lowest(demo_db, window)
    assert list(tables[-1].value["hash_prefix"]) == list(lowest["hash_prefix"])
    assert all(len(prefix) == 12 for prefix in lowest["hash_prefix"])


def test_uploads_page_chart_data(demo_db, monkeypatch):
    at = run(UPLOADS, demo_db, monkeypatch, window="24h")
    assert_clean(at)
    window = Window.of("24h", now=NOW)
    counts = uploads.status_counts(demo_db, window)
    shown = frame_with(at, "status", "uploads")
    assert dict(zip(shown["status"], shown["uploads"])) == dict(zip(counts["status"], counts["uploads"]))
    by_status = frame_with(at, "period", "status", "uploads", *PERIOD_COLUMNS)
    assert by_status["period"].nunique() == 25   # hourly buckets over 24 hours
    assert by_status.groupby("status")["uploads"].sum().to_dict() == dict(
        zip(counts["status"], counts["uploads"]))
    stuck = uploads.stuck_jobs(demo_db, NOW)
    assert metric_values(at)["Stuck now"] == f"{stuck['count']:,}"
    jobs = [t.value for t in at.dataframe if "job_id" in t.value.columns][0]
    assert list(jobs["job_id"]) == list(stuck["jobs"]["job_id"])


def test_anonymous_page_chart_data(demo_db, monkeypatch):
    at = run(ANONYMOUS, demo_db, monkeypatch, window="90d")
    assert_clean(at)
    window = Window.of("90d", now=NOW)
    ids = anonymous.ids_by_period(demo_db, window)
    shown = frame_with(at, "period", "new_ids", "owning_ids", "source", *PERIOD_COLUMNS)
    assert shown["new_ids"].tolist() == ids["new_ids"].tolist()
    assert shown["owning_ids"].iloc[-1] == ids["owning_ids"].iloc[-1]
    ages = anonymous.ages(demo_db, NOW)
    assert shown["owning_ids"].iloc[-1] == ages["ids"]
    assert frame_with(at, "bucket", "ids", "uploads", "stale")["stale"].sum() == ages["stale_ids"]
    assert metric_values(at)["Ids owning uploads"] == f"{ages['ids']:,}"
    share = anonymous.share_by_period(demo_db, window)
    shares = frame_with(at, "period", "uploads", "anonymous", "share", *RATE_COLUMNS)
    assert shares["anonymous"].sum() == share["anonymous"]


# ------------------------------------------------------------------ the sidebar

def test_window_deep_link_and_choice(demo_db, monkeypatch):
    at = run(UPLOADS, demo_db, monkeypatch, window="30d")
    radio = at.sidebar.radio[0]
    assert radio.value == "30d"
    total = uploads.status_counts(demo_db, Window.of("30d", now=NOW))["uploads"].sum()
    assert metric_values(at)["Uploads"] == f"{total:,}"
    radio.set_value("all").run()
    assert_clean(at)
    assert at.query_params["window"] in ("all", ["all"])
    total = uploads.status_counts(demo_db, Window.of("all", now=NOW))["uploads"].sum()
    assert metric_values(at)["Uploads"] == f"{total:,}"


def test_unknown_window_falls_back_to_seven_days(demo_db, monkeypatch):
    at = run(OVERVIEW, demo_db, monkeypatch, window="1y")
    assert_clean(at)
    assert at.sidebar.radio[0].value == "7d"


def test_auto_refresh_runs_the_page_in_a_fragment(demo_db, monkeypatch):
    at = run(UPLOADS, demo_db, monkeypatch)
    at.sidebar.radio[1].set_value("30s").run()
    assert_clean(at)
    assert metric_values(at)["Uploads"]
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "Last refresh" in captions and "every 30 s" in captions
    assert at.query_params["refresh"] in ("30s", ["30s"])


# ------------------------------------------------------------------ bad databases

def not_sqlite(path):
    path.write_bytes(b"PK\x03\x04 this is a zip file, not a database" * 50)


def empty_file(path):
    path.write_bytes(b"")


def old_schema(path):
    build_prodlike(path, now=NOW, migrated_by_app=False)


def missing_tables(path):
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (user_id TEXT PRIMARY KEY, email TEXT, password_hash TEXT,"
                 " created_at TEXT)")
    conn.close()


def directory(path):
    path.mkdir()


BAD = {  # how to make it, what the message says, the remedy
    "missing": (lambda p: None, "database not found", "init"),
    "not sqlite": (not_sqlite, "is not an SQLite database", "restore"),
    "empty file": (empty_file, "holds none of the Resume2Website tables", "init"),
    "old schema": (old_schema, "old or incomplete schema", "migrate"),
    "missing tables": (missing_tables, "old or incomplete schema", "migrate"),
    "directory": (directory, "is not an SQLite database", "restore"),
}


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("case", list(BAD))
def test_bad_database(page, case, tmp_path, monkeypatch):
    make, message, remedy = BAD[case]
    path = tmp_path / "bad.db"
    make(path)
    at = run(page, path, monkeypatch)
    assert not at.exception, at.exception
    assert len(at.error) == 1 and message in at.error[0].value
    assert remedy in at.error[0].value
    assert not at.metric and not chart_data(at)
    if case in ("old schema", "missing tables"):
        assert at.code and at.code[0].value == f"python -m r2w_db --db {path} migrate"
    assert path.exists() == (case != "missing")   # never a new database in its place


@pytest.mark.parametrize("page", [OVERVIEW, UPLOADS])
def test_locked_database(page, db_path, monkeypatch):
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute("BEGIN EXCLUSIVE")
    try:
        at = run(page, db_path, monkeypatch)
    finally:
        conn.execute("ROLLBACK")
        conn.close()
    assert not at.exception
    assert "locked" in at.error[0].value and "try again" in at.error[0].value
    assert at.button and at.button[0].label == "Try again"


def test_pages_never_write(prod_db, monkeypatch):
    path, _, _ = prod_db
    migrations.migrate(path)
    before = path.read_bytes()
    for page in PAGES:
        run(page, path, monkeypatch, window="all")
    assert path.read_bytes() == before


# ------------------------------------------------------------------ what the application writes, and worse

def test_uploads_page_knows_the_applications_statuses(tmp_path, monkeypatch):
    path = tmp_path / "prod.db"
    build_prodlike(path, now=NOW)
    at = run(UPLOADS, path, monkeypatch, window="all")
    assert_clean(at)
    shown = frame_with(at, "status", "uploads")
    assert dict(zip(shown["status"], shown["uploads"])) == {
        "processing": 2, "completed": 5, "failed": 1, "uploaded": 1, "other": 1}
    assert metric_values(at)["Waiting for extraction now"] == "1"
    line = " ".join(m.value for m in at.markdown if "Waiting for extraction" in m.value)
    assert "the oldest uploaded 40.0 d ago" in line
    others = [t.value for t in at.dataframe if list(t.value.columns) == ["status", "uploads"]][0]
    assert list(others["status"]) == ["queued"]          # 'uploaded' is not foreign
    assert any("only writes processing, completed, failed and uploaded" in w.value for w in at.warning)
    types = frame_with(at, "file_type", "uploads", "failed", "failure_rate")
    assert set(types["file_type"]) == {".pdf", ".docx", ".txt"}


def hostile(path):
    """Every column holding what SQLite lets it hold: huge, negative, 1e300, inf, text, blobs."""
    build_prodlike(path, now=NOW)
    migrations.migrate(path)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', ?, 0, ?, ?, ?, ?)", [
        (f"odd{i}", model, when, score, count, when) for i, (model, when, score, count) in enumerate([
            ("m", "2026-11-23T00:00:00", 1e300, 2**63 - 1), ("m", "2026-11-23T01:00:00", -1e300, 2**63 - 1),
            (b"\x00blob", "2026-11-23T02:00:00", float("inf"), 1e300), ("m", 2461000, "high", -7),
            ("m", "0100-01-01T00:00:00", 0.8, b"\x01"), ("m", "9999-12-31T00:00:00", 0.9, "many")])])
    conn.executemany("INSERT INTO cv_uploads VALUES (?, ?, ?, 'x', ?, ?, NULL, ?, NULL)", [
        ("odd1", "anonymous_odd1", "odd-j1", b"\xff", "2026-11-23T00:00:00", b"\x00"),
        ("odd2", "r", "odd-j2", 42, 2461000.5, 2**63 - 1),
        ("odd3", "anonymous_odd3", "odd-j3", ".pdf", "0100-01-01T00:00:00", "uploaded"),
        ("odd4", "r", "odd-j4", ".pdf", "9999-12-31T23:59:59", 1e300)])
    conn.execute("INSERT INTO sessions VALUES ('odd', 'r', 1e300)")
    conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                 " VALUES ('odd', 'odd@example.com', 'x', -1e300)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("page", PAGES)
def test_out_of_range_cells_never_break_a_page(page, tmp_path, monkeypatch):
    path = tmp_path / "odd.db"
    hostile(path)
    for window in ("all", "7d", "24h"):
        at = run(page, path, monkeypatch, window=window)
        assert_clean(at)
        assert at.metric
        for _, frames in chart_data(at):
            for frame in frames:
                assert len(frame) < 20_000
    if page == CACHE:
        buckets = frame_with(at, "bucket", "entries", "accesses").set_index("bucket")
        assert buckets.loc[cache_hits.INVALID_COUNT, "entries"] == 6
        assert metric_values(at)["Accesses"] == f"{9:,}"     # the prodlike counts; the rest invalid
    if page == OVERVIEW:
        assert "**Values the application never writes: 10**" in overview_text(at)
