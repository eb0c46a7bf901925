"""The History page, the Overview's sparklines and history on the Anonymous users and Cache hits
pages (AppTest, a fixed clock, a monitor database with three weeks of history)."""
import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import history_charts as hc
from r2w_db.demo.builder import build_demo
from r2w_db.engine import timeutil
from r2w_db.figures import earlier_days, history_page, rollups
from r2w_db.figures.periods import Window
from r2w_db.monitor.history_store import HistoryStore

from .history_builder import GROWTH_PER_DAY, build_history

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 12, 0, 0)
HISTORY, OVERVIEW = "pages/7_History.py", "app.py"


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(path, scale="small", seed=0, now=NOW)
    return path


@pytest.fixture
def monitor(monkeypatch, tmp_path):
    path = tmp_path / "monitor.db"
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    monkeypatch.setenv("R2W_MONITOR_DB", str(path))
    st.cache_data.clear()
    yield path
    st.cache_data.clear()


def run(page, db, monkeypatch, window="30d"):
    monkeypatch.setenv("DATABASE_URL", str(db))
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    at.query_params["window"] = window
    return at.run()


def texts(at, kind):
    return [e.value for e in getattr(at, kind)]


def metrics(at):
    return {m.label: m for m in at.metric}


def test_the_history_page_with_three_weeks_of_history(demo_db, monitor, monkeypatch):
    build_history(demo_db, monitor, now=NOW)
    at = run(HISTORY, demo_db, monkeypatch, window="all")
    assert not at.exception, [e.value for e in at.exception]
    shown = metrics(at)
    assert shown["Last snapshot"].value == "0 s ago"
    growth = history_page.size_forecast(demo_db, monitor)["forecast"]
    assert growth.state == "growing"
    assert growth.per_day == pytest.approx(GROWTH_PER_DAY, rel=0.1)   # file + a swinging WAL
    assert shown["Growth per day"].value.startswith("+")
    assert shown["Size in 30 days"].value and shown["Disk full"].value == "> 10 years"
    assert not any("two intervals" in w for w in texts(at, "warning"))
    # day by day x4 (issue 21), sizes, free disk, forecast, tables x2, levels x2
    assert len(at.get("vega_lite_chart")) == 11
    captions = " ".join(texts(at, "caption"))
    assert "dbstat (exact)" in captions and "prediction interval" in captions
    assert "1 sent, 1 failed" in captions
    log = at.dataframe[0].value
    assert sorted(log["outcome"]) == ["failed", "sent"]
    spec = json.loads(at.get("vega_lite_chart")[-1].proto.spec)   # a level with the runs
    assert "maintenance run" in json.dumps(spec) and '"task"' in json.dumps(spec)


def test_the_history_page_without_history_says_how_to_start_it(demo_db, monitor, monkeypatch):
    at = run(HISTORY, demo_db, monkeypatch)
    assert not at.exception
    assert any("No watcher has run" in w and "watch" in w for w in texts(at, "warning"))
    assert any("crontab" in c.value for c in at.code)
    infos = texts(at, "info")
    assert len([i for i in infos if "No snapshot yet: run `python -m r2w_db --db" in i]) == 1
    assert not at.get("vega_lite_chart") and not at.get("download_button")
    assert any("No notification yet" in i for i in infos)


def test_a_watcher_older_than_two_intervals_is_a_warning(demo_db, monitor, monkeypatch):
    build_history(demo_db, monitor, now=NOW - timedelta(hours=13), notifications=False)
    at = run(HISTORY, demo_db, monkeypatch)
    assert not at.exception
    warned = [w for w in texts(at, "warning") if "two intervals" in w]
    assert len(warned) == 1 and "13.0 h old" in warned[0] and "every 6.0 h" in warned[0]
    # 11 hours is less than two 6-hour intervals: no warning
    st.cache_data.clear()
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW - timedelta(hours=2))
    at = run(HISTORY, demo_db, monkeypatch)
    assert not [w for w in texts(at, "warning") if "two intervals" in w]


def test_a_broken_monitor_database_is_one_message(demo_db, monitor, monkeypatch):
    monitor.write_bytes(b"this is not a database" * 100)
    at = run(HISTORY, demo_db, monkeypatch)
    assert not at.exception
    assert len(at.error) == 1 and str(monitor) in at.error[0].value
    assert not at.get("vega_lite_chart")
    # the Overview still shows its figures, without sparklines
    st.cache_data.clear()
    at = run(OVERVIEW, demo_db, monkeypatch)
    assert not at.exception and at.metric
    assert all(not m.proto.chart_data for m in at.metric)


def test_overview_sparklines_with_history_and_none_without(demo_db, monitor, monkeypatch):
    at = run(OVERVIEW, demo_db, monkeypatch)
    assert not at.exception and len(at.metric) == 10
    assert all(not m.proto.chart_data for m in at.metric)      # no history: no sparkline
    build_history(demo_db, monitor, now=NOW)
    st.cache_data.clear()
    at = run(OVERVIEW, demo_db, monkeypatch)
    shown = metrics(at)
    size = list(shown["Database size"].proto.chart_data)
    assert len(size) >= 2 and size[-1] == demo_db.stat().st_size
    assert size == sorted(size)                                  # the history grows
    days = list(shown["Uploads"].proto.chart_data)
    rolled = HistoryStore(monitor).rollups(demo_db, "2026-10-25", "2026-11-23")
    assert days == [r["figures"]["uploads"]["total"] for r in rolled.values()]
    assert all(shown[k].proto.chart_data for k in ("Active sessions", "New users", "WAL size"))


@pytest.fixture
def cleaned(demo_db, monitor, tmp_path):
    """The demo after its old rows were deleted, with roll-ups recorded before that."""
    path = tmp_path / "cleaned.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(path) as target:
        source.backup(target)
    rollups.roll_up(path, HistoryStore(monitor), NOW)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM cv_uploads WHERE julianday(upload_date) < julianday(?)",
                     ((NOW - timedelta(days=40)).date().isoformat(),))
    return path


def test_days_the_database_no_longer_holds_come_from_the_rollups(cleaned, monitor):
    window = Window.of("90d", now=NOW)
    got = earlier_days.anonymous_ids(cleaned, window, monitor)
    frame = got["by_period"]
    rolled = frame[frame["source"] == earlier_days.ROLLUP]
    assert got["first_live"] == pd.Timestamp((NOW - timedelta(days=40)).date())
    assert len(rolled) == got["rollup_days"] > 40
    assert (rolled["period"] < got["first_live"]).all()
    recorded = HistoryStore(monitor).rollups(cleaned)
    for _, row in rolled.iterrows():
        assert row["new_ids"] == recorded[f"{row['period']:%Y-%m-%d}"]["figures"]["anonymous"]["new_ids"]
    live = frame[frame["source"] == earlier_days.LIVE]
    from r2w_db.figures import anonymous
    exact = anonymous.ids_by_period(cleaned, window).set_index("period")
    assert (live.set_index("period")["new_ids"] == exact.loc[live["period"], "new_ids"]).all()
    hits = earlier_days.hit_rate(cleaned, window, monitor)
    assert hits["rollup_days"] > 40 and hits["rollup_hashed"] > 0
    assert earlier_days.hit_rate(cleaned, Window.of("24h", now=NOW), monitor)["rollup_days"] == 0


def test_the_anonymous_and_cache_pages_mark_the_rollup_days(cleaned, monitor, monkeypatch):
    for page, words in (("pages/4_Anonymous_users.py", "Lighter bars"),
                        ("pages/1_Cache_hits.py", "Lighter points")):
        st.cache_data.clear()
        at = run(page, cleaned, monkeypatch, window="90d")
        assert not at.exception
        assert any(words in c and "daily roll-ups" in c for c in texts(at, "caption")), page
        assert "daily roll-up" in at.get("vega_lite_chart")[0].proto.spec


def test_history_chart_builders(demo_db, monitor):
    build_history(demo_db, monitor, now=NOW)
    # the growth of a 24-hour window still looks a day and a week back
    day = history_page.sizes(demo_db, NOW - timedelta(hours=24), monitor)["growth"]
    file_row = day.set_index("series").loc["database file"]
    assert file_row["per_day"] == pytest.approx(GROWTH_PER_DAY, rel=0.01)
    assert file_row["per_week"] == pytest.approx(7 * GROWTH_PER_DAY, rel=0.01)
    sizes = history_page.sizes(demo_db, monitor=monitor)
    spec = hc.size_lines(sizes["series"]).to_dict()
    assert spec["encoding"]["x"]["scale"]["type"] == "utc"
    assert {t["field"] for t in spec["encoding"]["tooltip"]} >= {"taken_at", "series", "bytes"}
    got = history_page.size_forecast(demo_db, monitor)
    horizons = [{"label": f"{d} days", **got["forecast"].horizons[d]} for d in (30, 90)]
    layers = hc.forecast_chart(got["observed"], got["band"], horizons).to_dict()["layer"]
    assert layers[0]["mark"]["type"] == "area" and layers[0]["encoding"]["y2"]["field"] == "high"
    tables = history_page.tables(demo_db, monitor=monitor)
    assert tables["exact"] is True and set(tables["latest"]["table"]) >= {"cv_uploads", "users"}
    hc.table_bars(tables["latest"]).to_dict()
    hc.table_rows(tables["series"]).to_dict()
    levels = history_page.levels(demo_db, monitor=monitor)
    assert list(levels["runs"]["task"]) == ["anonymous_cleanup", "cache_cleanup"]
    chart = hc.level_with_runs(levels["series"], levels["runs"], "cache entries").to_dict()
    rule = chart["layer"][1]
    assert rule["mark"]["type"] == "rule"
    assert [t["field"] for t in rule["encoding"]["tooltip"]][:3] == ["task", "outcome", "rows"]
    # a drop at the logged cleanup shows in the series
    anon = levels["series"][levels["series"]["series"] == "anonymous ids"]
    at = levels["runs"]["started_at"].iloc[0]
    assert anon[anon["taken_at"] < at]["value"].iloc[-1] > anon[anon["taken_at"] >= at]["value"].iloc[0]


@pytest.mark.parametrize("page", [OVERVIEW, "pages/1_Cache_hits.py", "pages/2_Confidence.py",
                                  "pages/3_Uploads.py", "pages/4_Anonymous_users.py"])
def test_pages_say_when_their_figures_come_from_the_rollups(demo_db, monitor, monkeypatch, page):
    note = "from the watcher's roll-ups"
    at = run(page, demo_db, monkeypatch, window="7d")
    assert not at.exception and not [c for c in texts(at, "caption") if note in c]
    without = {m.label: m.value for m in at.metric}
    rollups.roll_up(demo_db, HistoryStore(monitor), NOW)
    st.cache_data.clear()
    at = run(page, demo_db, monkeypatch, window="7d")
    assert not at.exception and [c for c in texts(at, "caption") if note in c]
    # the same figures either way (the demo does not change between the two runs)
    assert {m.label: m.value for m in at.metric} == without
