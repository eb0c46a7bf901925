"""Every page's figures on PostgreSQL equal SQLite's on the same data (the parity test), and
every page renders against a postgresql:// URL.

The data: the demo history and the production-like fixture, each moved into PostgreSQL
(tests/test_pg_stats.py does the same for `stats`). Each figure function is called through its
public SQLite name with the SQLite file and with the URL (the backend seam dispatches), for the
windows 24h, 7d and all at a fixed now. Frames must be equal with pandas' assert_frame_equal
(exact: columns, dtypes, index, order, values); dicts with ==, key by key.

Two comparisons are not bit-for-bit, and why:
- ages in minutes (stuck_jobs' age_minutes, awaiting_extraction's oldest_age_minutes): SQLite
  subtracts two julian-day doubles (resolution about 40 µs at today's dates), PostgreSQL two
  instants; both round the instants to the millisecond, and the results agree within 1e-6
  minutes (60 µs).
- on the production-like fixture, confidence.lowest's created_at: the fixture stores one cache
  entry with a 'Z' suffix; PostgreSQL holds the instant, not its spelling, and shows the stored
  form (timeutil.iso's). Compared as instants there (timeutil.parse), exactly everywhere else.
"""
import html
import math
import shutil
import sqlite3
from datetime import datetime

import pandas as pd
import pytest

from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.figures import (anonymous, cache_hits, confidence, database_file, earlier_days,
                            overview, uploads)
from r2w_db.figures.periods import Window
from r2w_db.maintenance import move

from .prodlike import build_prodlike

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
WINDOWS = ("24h", "7d", "all")
AGES = {"age_minutes", "oldest_age_minutes"}
AGE_TOLERANCE_MIN = 1e-6


def windowed(func):
    return lambda db, window: func(db, window)


def as_of_now(func):
    return lambda db, window: func(db, window.now)


def whole_cache(func):
    return lambda db, window: func(db)


FIGURES = {
    "overview.headline": windowed(overview.headline),
    "cache_hits.hit_rate": windowed(cache_hits.hit_rate),
    "cache_hits.contents": whole_cache(cache_hits.contents),
    "cache_hits.access_counts": whole_cache(cache_hits.access_counts),
    "earlier_days.hit_rate": windowed(earlier_days.hit_rate),
    "confidence.summary": windowed(confidence.summary),
    "confidence.histogram": windowed(confidence.histogram),
    "confidence.mean_by_period": windowed(confidence.mean_by_period),
    "confidence.lowest": windowed(confidence.lowest),
    "confidence.by_model": windowed(confidence.by_model),
    "uploads.status_counts": windowed(uploads.status_counts),
    "uploads.stuck_jobs": as_of_now(uploads.stuck_jobs),
    "uploads.awaiting_extraction": as_of_now(uploads.awaiting_extraction),
    "uploads.by_period": windowed(uploads.by_period),
    "uploads.file_types": windowed(uploads.file_types),
    "uploads.other_statuses": windowed(uploads.other_statuses),
    "anonymous.ages": as_of_now(anonymous.ages),
    "anonymous.share_by_period": windowed(anonymous.share_by_period),
    "anonymous.ids_by_period": windowed(anonymous.ids_by_period),
    "earlier_days.anonymous_ids": windowed(earlier_days.anonymous_ids),
}


def close_ages(lite, pg):
    """Ages in minutes equal within AGE_TOLERANCE_MIN (see the module's docstring)."""
    return len(lite) == len(pg) and all(
        math.isclose(a, b, rel_tol=0, abs_tol=AGE_TOLERANCE_MIN) for a, b in zip(lite, pg))


def frame_differences(lite, pg, path, instants):
    """assert_frame_equal, exact, after the age columns (compared with close_ages, same dtype)
    and the `instants` columns (parsed) are set aside."""
    lite, pg, found = lite.copy(), pg.copy(), []
    for column in AGES & set(lite.columns):
        a, b = lite.pop(column), pg.pop(column) if column in pg else None
        if b is None or a.dtype != b.dtype or not close_ages(list(a), list(b)):
            found.append((path + (column,), f"{a.tolist()} != {b if b is None else b.tolist()}"))
    for column in set(instants) & set(lite.columns) & set(pg.columns):
        lite[column], pg[column] = lite[column].map(timeutil.parse), pg[column].map(timeutil.parse)
    try:
        pd.testing.assert_frame_equal(lite, pg, check_exact=True)
    except AssertionError as exc:
        found.append((path, str(exc)))
    return found


def differences(lite, pg, path=(), instants=()):
    """[(path, what)] where the PostgreSQL result differs from SQLite's: frames exactly (but
    for the module docstring's two exceptions), dicts key by key, values by == and type."""
    if isinstance(lite, pd.DataFrame):
        if not isinstance(pg, pd.DataFrame):
            return [(path, f"a frame on SQLite, {type(pg).__name__} on PostgreSQL")]
        return frame_differences(lite, pg, path, instants)
    if isinstance(lite, dict):
        if not isinstance(pg, dict) or set(lite) != set(pg):
            return [(path, f"keys {sorted(lite)} != {sorted(pg) if isinstance(pg, dict) else pg}")]
        return [d for key in lite for d in differences(lite[key], pg[key], path + (key,), instants)]
    if path and path[-1] in AGES and isinstance(lite, float) and isinstance(pg, float):
        return [] if close_ages([lite], [pg]) else [(path, f"{lite!r} != {pg!r}")]
    if lite != pg or type(lite) is not type(pg):
        return [(path, f"{lite!r} != {pg!r}")]
    return []


# what describes the storage, not the data: compared on their own (test_storage_*)
STORAGE = {("now", "size_bytes"), ("now", "wal_bytes")}


def assert_parity(lite_db, pg_url, key, instants=None):
    window = Window.of(key, now=NOW)
    found = {}
    for name, figure in FIGURES.items():
        got = differences(figure(lite_db, window), figure(pg_url, window),
                          instants=(instants or {}).get(name, ()))
        got = [(p, what) for p, what in got if p not in STORAGE]
        if got:
            found[name] = got
    assert not found, found


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    """The same `now` for both backends wherever a figure takes the current time."""
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, pg_templates):
    """(SQLite demo file, the same history moved into PostgreSQL: a clone of the session's
    template)."""
    return pg_templates.moved_demo(tmp_path_factory.mktemp("pg_pages"), seed=11, now=NOW,
                                   prefix="pages_demo")


@pytest.fixture(scope="module")
def prodlike(tmp_path_factory, pg_cluster):
    """(SQLite file, its move into PostgreSQL): the production-like fixture, migrated; the one
    row whose timestamp does not convert ('yesterday', session s6) is left behind by the move
    and deleted from the SQLite copy, so both hold the same rows."""
    folder = tmp_path_factory.mktemp("pg_pages_prod")
    path = folder / "prod.db"
    build_prodlike(path, now=NOW)
    migrations.migrate(path)
    url = pg_cluster.create_database("pages_prod")
    report = move.move(path, url, unconvertible="skip-row")
    assert [(p["table"], p["key"]) for p in report["unconvertible"]] == [("sessions", "s6")]
    same = folder / "same.db"
    shutil.copyfile(path, same)
    with sqlite3.connect(same) as conn:
        conn.execute("DELETE FROM sessions WHERE session_id = 's6'")
    return same, url


@pytest.mark.parametrize("key", WINDOWS)
def test_parity_on_the_production_like_fixture(prodlike, key):
    path, url = prodlike
    assert_parity(path, url, key, instants={"confidence.lowest": ("created_at",)})


def test_the_production_like_traps_are_counted_alike(prodlike):
    """The fixture's traps (a space-separated date, a 'Z' cache entry created a second before
    its upload, 'queued', a NULL confidence) give the figures stats gives on both."""
    path, url = prodlike
    window = Window.of("all", now=NOW)
    for db in (path, url):
        hits = cache_hits.hit_rate(db, window)
        assert (hits["hits"], hits["hashed"]) == (2, 7)
        assert uploads.other_statuses(db, window).to_dict("records") == [
            {"status": "queued", "uploads": 1}]
        summary = confidence.summary(db, window)
        assert (summary["null"], summary["entries"]) == (1, 5)


def test_the_size_estimate_samples_the_newest_entries(demo, monkeypatch):
    """Above SIZE_SAMPLE entries the documents' size is estimated: on PostgreSQL from the
    newest entries by created_at (there is no rowid), exact below it (as on SQLite)."""
    path, url = demo
    monkeypatch.setattr(cache_hits, "SIZE_SAMPLE", 10)
    got = cache_hits.contents(url)
    with sqlite3.connect(path) as conn:
        entries = conn.execute("SELECT count(*) FROM cv_extraction_cache").fetchone()[0]
        newest = [len(r[0].encode()) for r in conn.execute(
            "SELECT cv_data FROM cv_extraction_cache ORDER BY created_at DESC LIMIT 10")]
    assert got["bytes_estimated"] and entries > 10
    assert got["bytes"] == round(sum(newest) / 10 * entries)
    monkeypatch.setattr(cache_hits, "SIZE_SAMPLE", entries)
    assert cache_hits.contents(url)["bytes"] == cache_hits.contents(path)["bytes"]


def test_storage_has_the_same_keys_in_postgresql_terms(demo, pg_cluster):
    path, url = demo
    lite, pg = database_file.storage(path), database_file.storage(url)
    assert set(lite) == set(pg)
    assert pg["wal_bytes"] is None and pg["freelist_count"] is None and pg["rows"] is True
    assert pg["page_size"] == 8192 and pg["page_count"] == pg["size_bytes"] // 8192
    assert pg["size_bytes"] == overview.headline(url, Window.of("7d", now=NOW))["now"]["size_bytes"]
    assert pg["size_bytes"] > 100_000
    # statistics: some for each of the four tables once they are analysed
    pg_cluster.execute("ANALYZE", dbname=url.split("/")[3].split("?")[0])
    after = database_file.storage(url)
    assert after["stat_tables"] == 4 and after["stat_rows"] > 10


def test_storage_of_an_empty_database(pg_url):
    pg_schema.init(pg_url)
    got = database_file.storage(pg_url)
    assert got["rows"] is False and got["stat_rows"] is None and got["stat_tables"] is None
    assert got["size_bytes"] > 0 and got["journal_mode"] is None


# ------------------------------------------------------------------ the pages on PostgreSQL

PAGES = ["app.py", "pages/1_Cache_hits.py", "pages/2_Confidence.py", "pages/3_Uploads.py",
         "pages/4_Anonymous_users.py", "pages/5_Query_benchmarks.py", "pages/6_Maintenance.py",
         "pages/7_History.py"]
CHARTED = PAGES[1:5]   # the pages whose every figure is a chart of the window
PASSWORD = "s3cret-pw"


@pytest.fixture
def fresh_pages(monkeypatch):
    """Each page run starts with empty dashboard caches and reads the change token anew."""
    import streamlit as st

    from r2w_db.backends.postgresql import database_file as pg_database_file

    monkeypatch.delenv("R2W_DATABASES", raising=False)
    monkeypatch.setattr(pg_database_file, "TOKEN_REUSE_S", 0.0)
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def run_page(page, location, monkeypatch, window=None):
    from streamlit.testing.v1 import AppTest

    from .test_pages import ROOT

    monkeypatch.setenv("DATABASE_URL", str(location))
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    if window:
        at.query_params["window"] = window
    return at.run()


def with_password(url):
    """The same URL with a password (the test cluster trusts its socket and ignores it)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@", 1)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_against_a_postgresql_url(page, demo, monkeypatch, fresh_pages):
    from .test_pages import assert_clean, chart_data, rendered

    path, url = demo
    at = run_page(page, with_password(url), monkeypatch)
    assert_clean(at)
    assert at.title[0].value
    if page in CHARTED:
        assert chart_data(at), "its charts are drawn"
        assert len(at.get("download_button")) >= len(chart_data(at))
    text = rendered(at)
    assert PASSWORD not in text
    # the markdown escapes what it must (a '_' of the socket folder's random name is &#95;)
    sidebar = html.unescape(" ".join(m.value for m in at.sidebar.markdown))
    assert with_password(url).replace(PASSWORD, "***") in sidebar


@pytest.mark.parametrize("page", CHARTED)
@pytest.mark.parametrize("window", ["24h", "all"])
def test_every_chart_holds_the_same_data_on_both(page, window, demo, monkeypatch, fresh_pages):
    """The same page on the SQLite file and on its move draws the same charts from the same
    frames, and shows the same metrics and tables."""
    import streamlit as st

    from .test_pages import chart_data, metric_values

    path, url = demo
    shown = {}
    for location in (path, url):
        st.cache_data.clear()
        at = run_page(page, location, monkeypatch, window=window)
        shown[location] = (chart_data(at), metric_values(at),
                           [t.value for t in at.dataframe])
    (lite_charts, lite_metrics, lite_tables), (pg_charts, pg_metrics, pg_tables) = (
        shown[path], shown[url])
    assert lite_metrics == pg_metrics
    assert [spec for spec, _ in lite_charts] == [spec for spec, _ in pg_charts]
    for (_, lite_frames), (_, pg_frames) in zip(lite_charts, pg_charts):
        for lite, pg in zip(lite_frames, pg_frames, strict=True):
            pd.testing.assert_frame_equal(lite, pg, check_exact=True)
    assert len(lite_tables) == len(pg_tables)
    for lite, pg in zip(lite_tables, pg_tables):
        assert not differences(lite, pg), page


def test_the_sidebar_shows_the_url_redacted_and_the_postgresql_size(demo, monkeypatch,
                                                                     fresh_pages):
    from r2w_db.formatting import human_bytes

    path, url = demo
    at = run_page("pages/3_Uploads.py", with_password(url), monkeypatch)
    captions = " ".join(c.value for c in at.sidebar.caption)
    size = database_file.describe(url)["size_bytes"]
    assert f"from DATABASE_URL · {human_bytes(size)} · schema v" in captions
    assert size == database_file.storage(url)["size_bytes"]
    assert "demo data" not in captions


def test_a_write_shows_on_the_next_run(pg_url, monkeypatch, fresh_pages):
    """The cache keys hold PostgreSQL's change token: a new upload is on the page at once."""
    from r2w_db.backends.postgresql.database import PgDatabase

    from .test_pages import metric_values

    pg_schema.init(pg_url)
    before = database_file.change_token(pg_url)
    at = run_page("pages/3_Uploads.py", pg_url, monkeypatch, window="24h")
    assert metric_values(at)["Uploads"] == "0"
    with PgDatabase(pg_url).write() as conn:
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, status) VALUES ('x', 'u', 'j', 'f.pdf', '.pdf', %s,"
                     " 'completed')", (NOW.isoformat() + "+00:00",))
    assert database_file.change_token(pg_url) != before
    at.run()
    assert metric_values(at)["Uploads"] == "1"


def test_the_token_is_read_once_per_moment_and_never_raises(pg_cluster, monkeypatch):
    from r2w_db.backends.postgresql import database_file as pg_database_file

    url = pg_cluster.create_database()
    pg_schema.init(url)
    monkeypatch.setattr(pg_database_file, "TOKEN_REUSE_S", 60.0)
    first = database_file.change_token(url)
    pg_cluster.execute("DROP TABLE users", dbname=url.split("/")[3].split("?")[0])
    assert database_file.change_token(url) == first   # reused, not read again
    gone = url.replace("/scratch_", "/no_such_db_")
    token = database_file.change_token(gone)
    assert token[0] == "unreadable" and "no_such_db_" in token[1]


def test_the_overview_shows_the_postgresql_size_and_no_wal(demo, monkeypatch, fresh_pages):
    from r2w_db.formatting import human_bytes

    from .test_pages import metric_values

    path, url = demo
    values = metric_values(run_page("app.py", url, monkeypatch))
    assert values["Database size"] == human_bytes(database_file.describe(url)["size_bytes"])
    assert values["WAL size"] == "–"
