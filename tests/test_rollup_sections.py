"""Roll-up sections (issue 21): rollups.compute (the engine's `fill`) asked for some sections
counts exactly those sections' figures of the full fill, on SQLite and PostgreSQL; the windowed
figures read only their sections live, once per (range, section) in a page; a live edge's
statements are index ranges on SQLite; and a page shows the same figures as before."""
import itertools
import shutil
import sqlite3
from datetime import datetime, timedelta

import pytest

from r2w_db.backends import open_database
from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.figures import rollup_window, rollups, windowed
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore

from .test_windowed import PAIRS, same

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)   # mid-hour: a window's edges hold rows
RANGES = [  # (start, end, grain): bounded, a live edge (cut hour), the open hour, open sides
    (NOW - timedelta(days=9, hours=5), NOW - timedelta(days=2, minutes=3), "day"),
    (NOW - timedelta(days=7), NOW.replace(minute=0, second=0, microsecond=0)
     - timedelta(days=7) + timedelta(hours=1), "day"),
    (NOW.replace(minute=0, second=0, microsecond=0), None, "day"),
    (NOW - timedelta(days=2), None, "hour"),
    (None, NOW - timedelta(days=30), "day"),
]
SUBSETS = [*[(s,) for s in rollups.SECTIONS], ("uploads", "file_types"), ("cache",),
           windowed.HEADLINE_SECTIONS, ("uploads", "anonymous")]


def assert_subset_of_full(db, start, end, grain, sections):
    full = rollups.compute(db, start, end, grain)
    part = rollups.compute(db, start, end, grain, sections)
    empty = rollups.empty_day()
    assert set(part) <= set(full)
    for key, figures in full.items():
        got = part.get(key, empty)
        for name in rollups.SECTIONS:
            want = figures[name] if name in sections else empty[name]
            assert got[name] == want, (key, name, sections)
        if key not in part:   # only an open side leaves out a period, and only an empty one
            assert start is None or end is None
            assert all(figures[name] == empty[name] for name in sections), (key, sections)
    return full


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sections")
    build_demo(folder / "demo.db", now=NOW)
    store = HistoryStore(folder / "monitor.db")
    rollups.roll_up(folder / "demo.db", store, now=NOW)
    return folder / "demo.db", store


def add_rows_at(conn, moment, n):
    """A sign-up with a session, its upload of a file cached before (a hit), a new anonymous
    id's upload and a cache entry, at `moment` (naive UTC)."""
    at, before = timeutil.iso(moment), timeutil.iso(moment - timedelta(minutes=1))
    conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                 " VALUES (?, ?, 'h', ?)", (f"edge_user_{n}", f"edge{n}@x", at))
    conn.execute("INSERT INTO sessions VALUES (?, ?, ?)", (f"edge_s{n}", f"edge_user_{n}", at))
    conn.execute("INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
                 " temperature, created_at, confidence_score, last_accessed)"
                 " VALUES (?, '{}', 'm', 0, ?, 0.9, ?)", (f"edge_hash_{n}", before, before))
    conn.execute("INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
                 " temperature, created_at, confidence_score, last_accessed)"
                 " VALUES (?, '{}', 'm', 0, ?, 0.5, ?)", (f"edge_new_{n}", at, at))
    for i, (user, status, file_hash) in enumerate([
            (f"edge_user_{n}", "completed", f"edge_hash_{n}"),
            (f"anonymous_edge{n:08d}", "failed", None), (f"anonymous_edge{n:08d}", "odd", None)]):
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, status, file_hash)"
                     " VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, ?, ?)",
                     (f"edge_u{n}_{i}", user, f"edge_j{n}_{i}", at, status, file_hash))


@pytest.fixture(scope="module")
def edged(demo, tmp_path_factory):
    """The demo with rows of every section in a 7-day window's live edges (its partial first
    hour, the previous window's last, the open hour), rolled up."""
    folder = tmp_path_factory.mktemp("edged")
    shutil.copy(demo[0], folder / "demo.db")
    with sqlite3.connect(folder / "demo.db") as conn:
        edges = [NOW - timedelta(days=7) + timedelta(minutes=10),
                 NOW - timedelta(days=7, minutes=3), NOW - timedelta(minutes=5)]
        for n, moment in enumerate(edges):
            add_rows_at(conn, moment, n)
    store = HistoryStore(folder / "monitor.db")
    rollups.roll_up(folder / "demo.db", store, now=NOW)
    return folder / "demo.db", store


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p[0].__name__)
def test_each_figure_reads_every_section_it_shows(edged, pair):
    """The live edges hold rows of every section: a figure that left out one it shows would
    differ from its live twin."""
    path, store = edged
    window = Window.of("7d", now=NOW)
    for start, end in (RANGES[1][:2], RANGES[2][:2]):
        held = rollups.compute(path, start, end)
        assert all(any(f[name] != rollups.empty_day()[name] for f in held.values())
                   for name in rollups.SECTIONS), (start, end)
    rollup_window._LIVE.clear()
    same(pair[0](path, window, store), pair[1](path, window))


@pytest.mark.parametrize("start, end, grain", RANGES)
def test_sqlite_fills_exactly_the_sections_asked(demo, start, end, grain):
    path, _ = demo
    full = None
    for sections in SUBSETS:
        full = assert_subset_of_full(path, start, end, grain, sections)
    # the week holds rows of every section and the edge uploads, else this proves little
    held = {name for figures in full.values() for name in rollups.SECTIONS
            if figures[name] != rollups.empty_day()[name]}
    if (start, end) == RANGES[0][:2]:
        assert held == set(rollups.SECTIONS)
    if (start, end) == RANGES[1][:2]:
        assert "uploads" in held


def test_an_unknown_section_is_refused(demo):
    path, _ = demo
    with pytest.raises(ValueError, match="hits"):
        rollups.compute(path, NOW - timedelta(hours=1), NOW, "hour", ["uploads", "hits"])


def test_postgresql_fills_exactly_the_sections_asked(pg_templates, tmp_path):
    _, url = pg_templates.moved_demo(tmp_path, seed=11, now=NOW, prefix="sections")
    for (start, end, grain), sections in itertools.product(RANGES, SUBSETS):
        assert_subset_of_full(url, start, end, grain, sections)


class Counted:
    """rollups.compute, counting the sections read per range."""

    def __init__(self, monkeypatch):
        self.calls, self.compute = [], rollups.compute
        monkeypatch.setattr(rollups, "compute", self)

    def __call__(self, db, start, end, grain="day", sections=None):
        self.calls.append((start, end, tuple(sorted(sections or rollups.SECTIONS))))
        return self.compute(db, start, end, grain, sections)


def test_a_pages_figures_share_one_read_per_range_and_section(demo, monkeypatch):
    path, store = demo
    rollup_window._LIVE.clear()
    rollup_window._RECENT.clear()
    counted = Counted(monkeypatch)
    window = Window.of("7d", now=NOW)
    windowed.upload_status_counts(path, window, store)
    ranges = [(s, e) for s, e, _ in counted.calls]
    assert len(ranges) == 2 and {c[2] for c in counted.calls} == {("file_types", "uploads")}
    windowed.upload_by_period(path, window, store)
    windowed.upload_file_types(path, window, store)
    assert len(counted.calls) == 2          # the same ranges' sections: read once
    windowed.hit_rate(path, window, store)
    assert [c[2] for c in counted.calls[2:]] == [("cache",)] * 2
    windowed.headline(path, window, store)
    # the headline's current side reads only what the page has not read yet
    assert [c[2] for c in counted.calls[4:6]] == [("anonymous", "confidence", "signups")] * 2
    assert all("uploads" not in c[2] for c in counted.calls[2:] if c[:2] in ranges)
    assert {c[:2] for c in counted.calls[6:]}.isdisjoint(ranges)   # the previous side's edges
    assert len(set(counted.calls)) == len(counted.calls)


def test_the_sections_and_the_full_read_give_the_same_figures(edged, monkeypatch):
    path, store = edged
    figures = [windowed.upload_status_counts, windowed.upload_by_period,
               windowed.upload_file_types, windowed.hit_rate, windowed.anonymous_share,
               windowed.anonymous_ids, windowed.confidence_summary,
               windowed.confidence_histogram, windowed.confidence_by_period, windowed.headline]
    window = Window.of("7d", now=NOW)
    rollup_window._LIVE.clear()
    got = [figure(path, window, store) for figure in figures]
    full = rollup_window.days_of
    monkeypatch.setattr(rollup_window, "days_of",
                        lambda db, w, s=None, sections=None: full(db, w, s))
    rollup_window._LIVE.clear()
    for figure, value in zip(figures, got):
        assert repr(figure(path, window, store)) == repr(value), figure.__name__


class Plans:
    """A connection that records each statement's EXPLAIN QUERY PLAN."""

    def __init__(self, conn):
        self.conn, self.plans = conn, []

    def execute(self, sql, params=()):
        detail = [row[3] for row in self.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
        self.plans.append((" ".join(sql.split())[:80], detail))
        return self.conn.execute(sql, params)


@pytest.mark.parametrize("start, end", [RANGES[1][:2], RANGES[2][:2]])
def test_a_live_edges_statements_are_index_ranges_on_sqlite(demo, start, end):
    path, _ = demo
    db = open_database(path)
    with db.read() as conn:
        spy = Plans(conn)
        db.backend.rollups.fill(spy, Window.between(start, end, now=end or start),
                                rollups.Periods(start, end, "day"))
    assert len(spy.plans) >= 9
    for sql, detail in spy.plans:
        scans = [d for d in detail if d.startswith("SCAN ") and d.split()[1] in (
            "cv_uploads", "u", "o", "users", "s", "sessions", "cv_extraction_cache", "c")]
        assert not scans, (sql, detail)
        for d in detail:   # a search over a table names its time column, or looks up one id
            if d.startswith("SEARCH ") and " USING " in d and "sqlite_master" not in d:
                assert any(col in d for col in ("upload_date>", "created_at>", "=?)")) or \
                    d.startswith("SEARCH cv_extraction_cache"), (sql, d)


@pytest.mark.parametrize("page", ["app.py", "pages/1_Cache_hits.py", "pages/2_Confidence.py",
                                  "pages/3_Uploads.py", "pages/4_Anonymous_users.py"])
def test_a_page_shows_the_same_figures_as_with_every_section_read(page, edged, monkeypatch):
    import streamlit as st

    from .test_pages import assert_clean, chart_data, metric_values
    from .test_pg_pages import run_page

    path, store = edged
    monkeypatch.delenv("R2W_DATABASES", raising=False)
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("R2W_MONITOR_DB", str(store.path))
    shown = []
    for read_all in (False, True):
        if read_all:
            full = rollup_window.days_of
            monkeypatch.setattr(rollup_window, "days_of",
                                lambda db, w, s=None, sections=None: full(db, w, s))
        rollup_window._LIVE.clear()
        st.cache_data.clear()
        at = run_page(page, path, monkeypatch, window="7d")
        assert_clean(at)
        shown.append((metric_values(at), [(spec, [f.to_json(date_format="iso") for f in frames])
                                          for spec, frames in chart_data(at)]))
    assert shown[0] == shown[1]
    assert shown[0][0] or shown[0][1]
