"""Times people can read (issue 21): table times, and a "Times in" choice of UTC or the browser's zone.

Table cells are 24-hour wall time to the second (or minute), the zone in the header, ISO-8601
UTC in the CSV, odd stored values shown as stored. With the browser's zone chosen, hours and
instants on chart axes and in tooltips read its clock, labelled with its name, while days stay
UTC days; a half-hour zone (Asia/Kolkata) and a daylight-saving change (Europe/Berlin, 25 Oct
2026) keep one band per UTC hour. The default path (UTC) is what tests/test_chart_specs.py pins.
"""
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from dashboard import chart_axes, charts, history_charts, query_charts, zones
from r2w_db.figures import uploads
from r2w_db.figures.periods import Window
from r2w_db.formatting import snapshot_time, wall_time

from .test_pages import NOW, demo_db, isolated  # noqa: F401  (the demo at NOW; frozen time)

ROOT = Path(__file__).resolve().parent.parent
BERLIN, KOLKATA = "Europe/Berlin", "Asia/Kolkata"
DST_END = datetime(2026, 10, 25, 1, 0)   # 03:00 CEST -> 02:00 CET: 01:00 UTC


# ------------------------------------------------------------------ table cells

def test_cells_read_to_the_second_without_microseconds_or_t():
    assert zones.cell_text("2026-12-07T14:03:22.123456") == "2026-12-07 14:03:22"
    assert zones.cell_text(datetime(2026, 12, 7, 14, 3, 22, 999999)) == "2026-12-07 14:03:22"
    assert zones.cell_text("2026-12-07T14:03:22.5", fmt=zones.MINUTE) == "2026-12-07 14:03"
    assert zones.cell_text("2026-12-07T14:03:22+02:00") == "2026-12-07 12:03:22"   # to UTC
    assert zones.cell_text("2026-12-07T14:03:22Z", KOLKATA) == "2026-12-07 19:33:22"


def test_odd_values_show_as_stored_or_empty():
    for odd in ("yesterday", "2026-13-45 99:00", "12", "not a time at all"):
        assert zones.cell_text(odd) == odd
        assert zones.iso_text(odd) == odd
    assert zones.cell_text(12) == "12"
    for missing in (None, float("nan"), pd.NaT, "", "  "):
        assert zones.cell_text(missing) == ""
        assert zones.iso_text(missing) == ""


def test_a_repeated_wall_time_names_its_abbreviation():
    assert zones.cell_text("2026-10-25T00:30:00", BERLIN) == "2026-10-25 02:30:00 CEST"
    assert zones.cell_text("2026-10-25T01:30:00", BERLIN) == "2026-10-25 02:30:00 CET"
    assert zones.cell_text("2026-10-25T03:30:00", BERLIN) == "2026-10-25 04:30:00"
    assert zones.cell_text("2026-10-25T01:30:00") == "2026-10-25 01:30:00"   # UTC: never


def test_table_times_header_names_the_zone_and_the_csv_keeps_iso_utc():
    frame = pd.DataFrame({"job_id": [1, 2, 3],
                          "uploaded_at": ["2026-12-07T14:03:22.123456", None, "garbage"]})
    shown, csv, headers = zones.table_times(frame, {"uploaded_at": ("uploaded", zones.SECOND),
                                                    "absent": ("absent", zones.SECOND)})
    assert headers == {"uploaded_at": "uploaded (UTC)"}
    assert list(shown["uploaded_at"]) == ["2026-12-07 14:03:22", "", "garbage"]
    assert list(csv["uploaded_at"]) == ["2026-12-07T14:03:22.123456Z", "", "garbage"]
    assert list(frame["uploaded_at"])[0] == "2026-12-07T14:03:22.123456"   # not changed
    shown, _, headers = zones.table_times(frame, {"uploaded_at": ("uploaded", zones.SECOND)},
                                          KOLKATA)
    assert headers == {"uploaded_at": "uploaded (Asia/Kolkata)"}
    assert shown["uploaded_at"][0] == "2026-12-07 19:33:22"


def test_captions_name_the_zone():
    taken = datetime(2026, 11, 24, 11, 55)
    assert snapshot_time(taken, NOW) == "2026-11-24 11:55:00 UTC (5 min ago)"
    assert snapshot_time(taken, NOW, KOLKATA) == "2026-11-24 17:25:00 Asia/Kolkata (5 min ago)"
    assert wall_time(taken) == "2026-11-24 11:55 UTC"
    assert wall_time(DST_END, BERLIN) == "2026-10-25 02:00 Europe/Berlin"


def test_only_real_zones_are_taken():
    assert zones.valid_zone(KOLKATA) == KOLKATA
    for junk in (None, "", "Mars/Olympus", "../../etc/passwd", 5, "x" * 100, "UTC", "Etc/UTC"):
        assert zones.valid_zone(junk) is None


# ------------------------------------------------------------------ offsets and chart specs

def test_offsets_find_the_daylight_saving_change_to_the_minute():
    got = zones.offsets(BERLIN, datetime(2026, 10, 20), datetime(2026, 10, 30))
    assert got == [(int(pd.Timestamp("2026-10-20").timestamp() * 1000), 7_200_000),
                   (int(pd.Timestamp(DST_END).timestamp() * 1000), 3_600_000)]
    assert zones.offsets(KOLKATA, datetime(2026, 1, 1), datetime(2026, 12, 31)) == [
        (int(pd.Timestamp("2026-01-01").timestamp() * 1000), 19_800_000)]


def _spec(chart):
    return json.dumps(chart.to_dict())


def _hourly(start):
    hours = pd.date_range(start, periods=24, freq="h")
    frame = pd.DataFrame({"period": hours, "hits": [3] * 24, "hashed": [6] * 24})
    window = Window.between(hours[0].to_pydatetime(),
                            (hours[-1] + pd.Timedelta(hours=1)).to_pydatetime(), grain="hour")
    return frame.assign(hit_rate=0.5), window


def _x_axes(spec):
    found = []

    def walk(node):
        if isinstance(node, dict):
            x = node.get("encoding", {}).get("x")
            if isinstance(x, dict) and "axis" in x:
                found.append(x)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(spec)
    return found


def _tooltip_titles(spec):
    return {t.get("title") for t in _walk_tooltips(spec)}


def _walk_tooltips(node):
    if isinstance(node, dict):
        tips = node.get("encoding", {}).get("tooltip")
        yield from (tips if isinstance(tips, list) else [tips] if tips else [])
        for value in node.values():
            yield from _walk_tooltips(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_tooltips(value)


def test_an_hourly_chart_in_kolkata_labels_half_hours_and_names_the_zone():
    frame, window = _hourly("2026-12-07 00:00")
    chart = charts.rate_line(frame, "hit_rate", window, "hit rate", charts.HIT_SAMPLE,
                             zone=KOLKATA)
    spec = chart.to_dict()
    axes = _x_axes(spec)
    assert axes and {x["title"] for x in axes} == {"hour (Asia/Kolkata)"}
    assert all("19800000" in x["axis"]["labelExpr"] for x in axes)   # +05:30, server-side
    assert all(x["scale"]["domain"] == chart_axes.period_keys(frame, window) for x in axes)
    assert "hour (Asia/Kolkata)" in _tooltip_titles(spec)
    data = chart_axes.with_periods(frame, "hour", KOLKATA)
    assert data["period_label"][0] == "Mon 07 Dec 2026, 05:30–06:29 IST"
    assert data["period_label"][23] == "Tue 08 Dec 2026, 04:30–05:29 IST"
    assert data["period_key"][0] == "2026-12-07 00:00"   # the band stays the UTC hour


def test_an_hourly_chart_across_the_october_change_keeps_one_band_an_hour():
    frame, window = _hourly("2026-10-24 12:00")
    keys = chart_axes.period_keys(frame, window)
    assert len(keys) == len(set(keys)) == 24   # no hour repeated or missing
    data = chart_axes.with_periods(frame, "hour", BERLIN)
    labels = list(data["period_label"])
    assert "Sun 25 Oct 2026, 02:00–02:59 CEST" in labels
    assert "Sun 25 Oct 2026, 02:00–02:59 CET" in labels   # the repeated hour, told apart
    assert len(set(labels)) == 24
    spec = charts.status_periods(
        pd.DataFrame({"period": frame["period"], "status": "completed", "uploads": 1}),
        window, BERLIN).to_dict()
    (x,) = _x_axes(spec)
    assert x["title"] == "hour (Europe/Berlin)"
    change = int(pd.Timestamp(DST_END).timestamp() * 1000)
    assert f">= {change} ? 3600000 : 7200000" in x["axis"]["labelExpr"]


def test_daily_charts_stay_on_utc_days_in_a_zone():
    days = pd.date_range("2026-11-18", periods=7, freq="D")
    frame = pd.DataFrame({"period": days, "hits": 3, "hashed": 6, "hit_rate": 0.5})
    window = Window.between(days[0].to_pydatetime(), NOW)
    utc = charts.rate_line(frame, "hit_rate", window, "hit rate", charts.HIT_SAMPLE).to_dict()
    local = charts.rate_line(frame, "hit_rate", window, "hit rate", charts.HIT_SAMPLE,
                             zone=KOLKATA).to_dict()
    assert {x["title"] for x in _x_axes(local)} == {"day (UTC)"}
    assert {x["title"] for x in _x_axes(utc)} == {"UTC day"}
    assert ({x["axis"]["labelExpr"] for x in _x_axes(local)}
            == {x["axis"]["labelExpr"] for x in _x_axes(utc)})   # the same UTC days
    assert "day (UTC)" in _tooltip_titles(local)


def test_the_default_path_is_the_utc_chart():
    frame, window = _hourly("2026-12-07 00:00")
    built = charts.rate_line(frame, "hit_rate", window, "hit rate", charts.HIT_SAMPLE)
    same = charts.rate_line(frame, "hit_rate", window, "hit rate", charts.HIT_SAMPLE, zone=None)
    assert _spec(built) == _spec(same)
    assert {x["title"] for x in _x_axes(built.to_dict())} == {"UTC hour"}
    assert "Asia" not in _spec(built) and "19800000" not in _spec(built)


def test_snapshot_charts_in_a_zone_label_the_axis_and_tooltips():
    taken = pd.date_range("2026-10-24 22:00", periods=8, freq="30min")
    frame = pd.DataFrame({"taken_at": taken, "series": "database file", "bytes": 4096,
                          "grain": "snapshot"})
    span = (datetime(2026, 10, 24, 22), datetime(2026, 10, 25, 2))
    utc = history_charts.size_lines(frame, span=span).to_dict()
    local = history_charts.size_lines(frame, span=span, zone=BERLIN).to_dict()
    (x,) = _x_axes(local)
    assert x["title"] == "time (Europe/Berlin)"
    assert x["scale"] == _x_axes(utc)[0]["scale"]   # the same UTC instants
    assert "3600000" in x["axis"]["labelExpr"] and "7200000" in x["axis"]["labelExpr"]
    assert "taken (Europe/Berlin)" in _tooltip_titles(local)
    walls = chart_axes.with_wall(frame, "taken_at", BERLIN)["taken_at_wall"]
    assert list(walls)[5:8] == ["25 Oct 2026 02:30 CEST", "25 Oct 2026 02:00 CET",
                                "25 Oct 2026 02:30 CET"]
    assert _x_axes(utc)[0]["title"] == "UTC time" and "taken (UTC)" in _tooltip_titles(utc)


# ------------------------------------------------------------------ pages (AppTest)

def _page(page, db, monkeypatch, zone=None, times=None, window="24h"):
    monkeypatch.setenv("DATABASE_URL", str(db))
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    if zone:
        at.context = {"timezone": zone}
    at.query_params["window"] = window
    if times:
        at.query_params["times"] = times
    return at.run()


def _headers(at):
    """Every dataframe's column headers (its column config's labels)."""
    found = []
    for frame in at.dataframe:
        config = json.loads(frame.proto.columns or "{}")
        found.append({c: v.get("label") for c, v in config.items()})
    return found


def _texts(at):
    return " ".join([c.value for c in at.caption] + [m.value for m in at.markdown])


def test_the_choice_is_not_offered_without_a_browser_zone(demo_db, monkeypatch):
    at = _page("pages/3_Uploads.py", demo_db, monkeypatch, times="local")
    assert not at.exception
    assert "Times in" not in [r.label for r in at.sidebar.radio]
    assert {"uploaded_at": "uploaded (UTC)"} in [
        {k: v for k, v in h.items() if k == "uploaded_at"} for h in _headers(at)]
    assert "Asia/Kolkata" not in _texts(at)


def test_the_choice_is_offered_utc_by_default(demo_db, monkeypatch):
    at = _page("pages/3_Uploads.py", demo_db, monkeypatch, zone=KOLKATA)
    assert not at.exception
    (choice,) = [r for r in at.sidebar.radio if r.label == "Times in"]
    assert choice.value == "utc"
    assert "your browser's time (Asia/Kolkata)" in choice.options
    assert any(h.get("uploaded_at") == "uploaded (UTC)" for h in _headers(at))


def test_uploads_in_the_browser_zone_show_local_times(demo_db, monkeypatch):
    at = _page("pages/3_Uploads.py", demo_db, monkeypatch, zone=KOLKATA, times="local")
    assert not at.exception
    stuck = [i for i, h in enumerate(_headers(at)) if "uploaded_at" in h]
    assert stuck and _headers(at)[stuck[0]]["uploaded_at"] == "uploaded (Asia/Kolkata)"
    shown = list(at.dataframe[stuck[0]].value["uploaded_at"])
    stored = uploads.stuck_jobs(str(demo_db), NOW)["jobs"]["uploaded_at"]
    assert shown and len(shown) == len(stored)
    assert all(len(v) == 19 and "T" not in v and "." not in v for v in shown)
    assert shown == [(pd.Timestamp(v) + pd.Timedelta(hours=5, minutes=30)).strftime(zones.SECOND)
                     for v in stored]   # the stored UTC times on Kolkata's clock (+05:30)
    text = _texts(at)
    assert "Asia/Kolkata" in text
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any("hour (Asia/Kolkata)" in s for s in specs)
    assert not any("UTC hour" in s for s in specs)
    (caption,) = [c.value for c in at.sidebar.caption if "UTC days" in c.value]
    assert "daily charts stay on UTC days" in caption


def test_the_choice_persists_across_pages(demo_db, monkeypatch):
    at = _page("app.py", demo_db, monkeypatch, zone=BERLIN)
    at.sidebar.radio(key="_r2w_times_widget").set_value("local").run()
    assert not at.exception
    assert at.query_params["times"] in ("local", ["local"])
    assert at.session_state["_r2w_times"] == "local"
    at.switch_page("pages/2_Confidence.py").run()
    assert not at.exception
    headers = _headers(at)
    assert any(h.get("created_at") == "created (Europe/Berlin)" for h in headers)


def test_the_queries_chart_in_a_zone_names_it():
    frame = pd.DataFrame({"captured_at": pd.to_datetime(["2026-12-07T10:00", "2026-12-07T10:05"]),
                          "statement": "1: SELECT 1", "mean_ms": [1.5, 2.0], "calls": [3, 4]})
    utc = query_charts.mean_lines(frame).to_dict()
    local = query_charts.mean_lines(frame, KOLKATA).to_dict()
    assert _x_axes(utc)[0]["title"] == "UTC" and "captured (UTC)" in _tooltip_titles(utc)
    (x,) = _x_axes(local)
    assert x["title"] == "time (Asia/Kolkata)" and "19800000" in x["axis"]["labelExpr"]
    assert "captured (Asia/Kolkata)" in _tooltip_titles(local)
    walls = chart_axes.with_wall(frame, "captured_at", KOLKATA)["captured_at_wall"]
    assert list(walls) == ["07 Dec 2026 15:30", "07 Dec 2026 15:35"]


def test_a_table_column_reads_as_its_cells_one_by_one():
    values = ["2026-12-07T14:03:22.123456", None, "garbage", "2026-10-25 00:30:00",
              "2026-10-25T01:30:00Z", float("nan"), 12, "2026-12-07 14:03:22+02:00", "",
              datetime(2026, 10, 25, 1, 30), "2026-12-07T14:03:22"]
    frame = pd.DataFrame({"at": pd.Series(values, dtype=object)})
    for zone in (None, BERLIN, KOLKATA):
        shown, csv, _ = zones.table_times(frame, {"at": ("at", zones.SECOND)}, zone)
        assert list(shown["at"]) == [zones.cell_text(v, zone) for v in values]
        assert list(csv["at"]) == [zones.iso_text(v) for v in values]
