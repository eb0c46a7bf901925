"""Charts a person can trust (issue 21), read from their Vega-Lite specs: 24-hour UTC time,
one band per period shared by a page's charts and ending with the window, numbers as people
read them, rates that say what they stand on, maintenance runs as marks, captions and Download
buttons together, CSV names that say what they hold."""
import json
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

from dashboard import chart_axes, charts, csv_names
from dashboard import history_charts as hc
from r2w_db.engine.locations import DbLocation
from r2w_db.figures.periods import Window
from r2w_db.figures.proportions import MIN_CASES

from .history_builder import build_history
from .test_pages import NOW as PAGE_NOW
from .test_pages import assert_clean, demo_db, isolated  # noqa: F401  (fixtures: the demo, the frozen clock)
from .test_pages import run as run_page

NOW = datetime(2026, 12, 7, 18, 38)
WEEK = Window.of("7d", now=NOW)
DAY = Window.of("24h", now=NOW)
DAYS = pd.date_range("2026-11-30", "2026-12-07", freq="D")
FAILURES = charts.FAILURE_SAMPLE


def spec(chart):
    return chart.to_dict()


def failures(completed, failed, periods=DAYS):
    frame = pd.DataFrame({"period": periods, "completed": completed, "failed": failed})
    frame["failure_rate"] = frame["failed"] / (frame["completed"] + frame["failed"]).where(
        lambda n: n > 0)
    return frame


def layers(chart):
    got = spec(chart)
    return got.get("layer", [got])


def x_of(layer):
    return {k: v for k, v in layer["encoding"]["x"].items() if k != "bandPosition"}


# ------------------------------------------------------------------ time

def every_builder(window=WEEK):
    periods = DAYS if window.grain == "day" else pd.date_range("2026-12-06 18:00", periods=25, freq="h")
    n = len(periods)
    long = pd.DataFrame({"period": list(periods) * 2, "status": ["completed"] * n + ["failed"] * n,
                         "uploads": range(2 * n)})
    ids = pd.DataFrame({"period": periods, "new_ids": range(n), "owning_ids": range(n)})
    means = pd.DataFrame({"period": periods, "mean": [0.9] * n, "entries": [9] * n})
    return [charts.rate_line(failures([10] * n, [1] * n, periods), "failure_rate", window,
                             "failure rate", FAILURES, overall=0.1),
            charts.status_periods(long, window), charts.new_and_total(ids, window),
            charts.value_line(means, "mean", window, "mean confidence", counts=("entries",))]


@pytest.mark.parametrize("window", [WEEK, DAY], ids=["days", "hours"])
def test_period_axes_are_24_hour_utc_and_say_so(window):
    for chart in every_builder(window):
        text = json.dumps(spec(chart))
        assert "%I" not in text and "%p" not in text
        for layer in layers(chart):
            if "x" not in layer.get("encoding", {}):
                continue
            x = layer["encoding"]["x"]
            assert x["title"].startswith("UTC ")
            assert x["scale"]["type"] == "band" and x["type"] == "ordinal"
            # parsed and written as UTC: the browser's time zone never shifts a period
            assert "utcParse(" in x["axis"]["labelExpr"] and "utcFormat(" in x["axis"]["labelExpr"]
            assert "timeFormat(" not in x["axis"]["labelExpr"]
            if "tooltip" in layer["encoding"]:
                tooltip = layer["encoding"]["tooltip"][0]
                assert tooltip == {"field": "period_label", "type": "nominal", "title": x["title"]}


def test_hour_labels_are_24_hour():
    frame = chart_axes.with_periods(pd.DataFrame({"period": [datetime(2026, 12, 7, 15, 0)]}), "hour")
    assert frame["period_key"][0] == "2026-12-07 15:00"
    assert frame["period_label"][0] == "Mon 07 Dec 2026, 15:00–15:59"
    assert "'%H:%M'" in chart_axes.period_label_expr("hour", [])


def test_instant_axes_are_utc_with_24_hour_labels_and_end_with_the_window():
    frame = pd.DataFrame({"taken_at": [NOW - timedelta(days=3), NOW - timedelta(hours=1)],
                          "series": ["database file"] * 2, "bytes": [5_000_000, 7_600_000],
                          "grain": ["raw"] * 2})
    x = spec(hc.size_lines(frame, span=(WEEK.start, NOW)))["encoding"]["x"]
    assert x["scale"]["type"] == "utc" and x["title"] == "UTC time"
    assert x["axis"]["labelExpr"] == chart_axes.INSTANT_LABEL
    assert "%H:%M" in x["axis"]["labelExpr"] and "%I" not in x["axis"]["labelExpr"]
    start, end = x["scale"]["domain"]
    assert end == {"year": 2026, "month": 12, "date": 7, "hours": 18, "minutes": 38, "seconds": 0,
                   "utc": True}
    assert (start["date"], start["hours"], start["utc"]) == (30, 18, True)
    # all time: from the first snapshot to now, never past it
    start, end = spec(hc.size_lines(frame, span=(None, NOW)))["encoding"]["x"]["scale"]["domain"]
    assert start["date"] == 4 and end["hours"] == 18
    tooltip = spec(hc.size_lines(frame))["encoding"]["tooltip"][0]
    assert tooltip["formatType"] == "utc" and tooltip["format"] == "%d %b %Y %H:%M"


def test_inline_instants_are_read_as_utc():
    assert chart_axes.iso_utc(datetime(2026, 12, 7, 15, 13)) == "2026-12-07T15:13:00Z"
    assert chart_axes.iso_utc(pd.Timestamp("2026-12-07T16:13:00+01:00")) == "2026-12-07T15:13:00Z"


# ------------------------------------------------------------------ one band per period, ending with the window

def test_a_day_is_one_band_on_every_chart_of_a_page():
    rate, bars, ids, means = every_builder()
    reference = x_of(layers(bars)[0])
    for chart in (rate, ids, means):
        for layer in layers(chart):
            if "x" in layer.get("encoding", {}):
                assert x_of(layer) == reference
                if layer["mark"]["type"] not in ("bar", "rect"):   # mid-band, level with the bars
                    assert layer["encoding"]["x"]["bandPosition"] == 0.5
    assert "bandPosition" not in layers(bars)[0]["encoding"]["x"]


@pytest.mark.parametrize("window, first, last, count", [
    (WEEK, "2026-11-30", "2026-12-07", 8), (DAY, "2026-12-06 18:00", "2026-12-07 18:00", 25)])
def test_the_domain_is_every_period_of_the_window_and_no_more(window, first, last, count):
    keys = layers(every_builder(window)[1])[0]["encoding"]["x"]["scale"]["domain"]
    assert (keys[0], keys[-1], len(keys)) == (first, last, count)   # never 08 Dec on a 7 Dec window


def test_all_time_starts_with_the_data_and_ends_today():
    window = Window.of("all", now=NOW)
    frame = failures([10] * 3, [1] * 3, pd.date_range("2026-10-01", periods=3, freq="D"))
    keys = layers(charts.rate_line(frame, "failure_rate", window, "failure rate",
                                   FAILURES))[0]["encoding"]["x"]["scale"]["domain"]
    assert keys[0] == "2026-10-01" and keys[-1] == "2026-12-07" and len(keys) == 68


# ------------------------------------------------------------------ numbers

def test_counts_are_whole_numbers_on_zero_based_axes():
    _, bars, ids, _ = every_builder()
    types = pd.DataFrame({"file_type": [".pdf"], "uploads": [140], "failed": [3]})
    ages = pd.DataFrame({"bucket": ["< 1 day"], "ids": [3], "uploads": [3], "stale": [0]})
    axes = [layers(bars)[0]["encoding"]["y"], *[l["encoding"]["y"] for l in layers(ids)],
            spec(charts.count_bars(types, "file_type", "uploads"))["encoding"]["x"],
            spec(charts.age_bars(ages))["encoding"]["x"],
            spec(charts.status_bars(pd.DataFrame({"status": ["failed"], "uploads": [370]})))[
                "encoding"]["x"]]
    for y in axes:
        assert y["axis"]["format"] == ",d" and y["axis"]["tickMinStep"] == 1
        assert y["axis"]["tickCount"] == 5 and y["scale"]["zero"] is True
    assert layers(bars)[0]["encoding"]["tooltip"][2]["format"] == ",d"


def test_rates_are_percentages_and_a_score_keeps_its_context():
    rate, _, _, means = every_builder()
    y = layers(rate)[2]["encoding"]["y"]
    assert y["axis"]["format"] == ".0%" and y["scale"]["domain"][0] == 0
    assert layers(rate)[2]["encoding"]["tooltip"][1]["format"] == ".1%"
    # the confidence mean on its whole 0-1 scale, with both thresholds: no 0.84-0.94 zoom
    y = layers(means)[1]["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 1] and y["axis"]["format"] == ".2f"
    rules = [l for l in layers(means) if l["mark"]["type"] == "rule"][0]
    assert [v["at"] for v in rules["data"]["values"]] == [0.7, 0.75]
    assert layers(means)[1]["encoding"]["tooltip"][1]["format"] == ".3f"


def test_bytes_are_kb_mb_gb_at_round_ticks():
    assert chart_axes.bytes_ticks(7_600_000) == [i * 2 * 1024 ** 2 for i in range(5)]
    assert chart_axes.bytes_ticks(74.5 * 1024 ** 3) == [i * 20 * 1024 ** 3 for i in range(5)]
    assert chart_axes.bytes_ticks(300) == [0, 100, 200, 300]
    table = pd.DataFrame({"table": ["cv_uploads"], "rows": [1500], "bytes": [4_000_000],
                          "index_bytes": [1_000_000]})
    x = spec(hc.table_bars(table))["encoding"]["x"]
    assert x["axis"]["values"] == chart_axes.bytes_ticks(5_000_000)
    assert x["axis"]["labelExpr"] == chart_axes.bytes_expr("datum.value")
    assert "' MB'" in x["axis"]["labelExpr"] and "1048576" in x["axis"]["labelExpr"]


# ------------------------------------------------------------------ honest rates

def test_each_rate_says_what_it_stands_on_and_small_samples_are_drawn_apart():
    frame = failures([1, 19, 0, 0, 30, 40, 50, 2], [1, 1, 0, 0, 2, 3, 1, 0])
    shown = charts.judged(frame, FAILURES)
    assert shown["sample"][0] == "failed 1 of 2 finished jobs"
    assert shown["sample"][1] == "failed 1 of 20 finished jobs"
    assert shown["note"][0] == f"fewer than {MIN_CASES} finished jobs: too few to judge"
    assert shown["note"][2] == "no finished jobs" and shown["note"][1] == ""
    assert list(shown["judged"]) == [False, True, False, False, True, True, True, False]
    assert shown["low"][1] == pytest.approx(0.0089, abs=1e-4) and pd.isna(shown["low"][0])
    assert shown["interval"][1] == "0.9% to 23.6%" and shown["interval"][0] == "–"
    band, line, solid, hollow, rule = layers(charts.rate_line(
        frame, "failure_rate", WEEK, "failure rate", FAILURES, overall=0.05))
    assert band["mark"]["type"] == "area" and band["encoding"]["y2"]["field"] == "high"
    assert solid["transform"] == [{"filter": "datum.judged"}] and solid["mark"]["filled"] is True
    assert hollow["transform"] == [{"filter": "!datum.judged"}] and hollow["mark"]["filled"] is False
    assert hollow["mark"]["color"] == charts.TOO_FEW
    fields = [t["field"] for t in hollow["encoding"]["tooltip"]]
    assert fields == ["period_label", "failure_rate", "sample", "interval", "note"]
    assert "datum.judged ?" in line["transform"][0]["calculate"]   # no line through them
    assert rule["data"]["values"] == [{"overall": 0.05}]


# ------------------------------------------------------------------ maintenance runs

def test_maintenance_runs_are_marks_with_a_legend_never_text():
    series = pd.DataFrame({"taken_at": [NOW - timedelta(days=2), NOW], "grain": ["raw"] * 2,
                           "series": ["cache entries"] * 2, "value": [400, 380]})
    runs = pd.DataFrame({"started_at": [NOW - timedelta(days=1), NOW - timedelta(days=1, minutes=5)],
                         "task": ["backup", "sessions"], "outcome": ["ok", "failed"],
                         "rows": [0, 12], "user": ["ana", "ana"]})
    chart = spec(hc.level_with_runs(series, runs, "cache entries", span=(WEEK.start, NOW)))
    marks = [l["mark"]["type"] for l in chart["layer"]]
    assert "text" not in marks and marks[1:] == ["rule", "point"]
    for layer in chart["layer"][1:]:
        assert layer["encoding"]["color"]["field"] == "task"
        assert [t["field"] for t in layer["encoding"]["tooltip"]][:3] == ["task", "outcome", "rows"]
    assert chart["layer"][2]["encoding"]["shape"]["field"] == "outcome"
    runs_data = chart["datasets"][chart["layer"][1]["data"]["name"]]
    assert [r["started_at"] for r in runs_data] == ["2026-12-06T18:38:00Z", "2026-12-06T18:33:00Z"]


# ------------------------------------------------------------------ CSV names

def test_csv_names_carry_database_what_window_and_date():
    assert csv_names.csv_file_name("prod", "upload_status_by_period", "7d", date(2026, 12, 7)) == \
        "prod_upload-status-by-period_7d_2026-12-07.csv"
    assert csv_names.csv_file_name("../etc/x y", "a/b", "all", date(2026, 1, 2)) == \
        "etc-x-y_a-b_all_2026-01-02.csv"
    assert csv_names.database_name(DbLocation("/srv/data/resume2website.db", False, "--db")) == \
        "resume2website"
    assert csv_names.database_name(DbLocation("x.db", False, "secrets", name="prod")) == "prod"
    given = DbLocation("/tmp/a/shop.db", False, "DATABASE_URL", name="default", label="/tmp/a/shop.db")
    assert csv_names.database_name(given) == "shop"
    url = DbLocation("postgresql://u:***@host/r2w", False, "DATABASE_URL",
                     url="postgresql://u:secret@host/r2w?sslmode=require")
    assert csv_names.database_name(url) == "r2w"


# ------------------------------------------------------------------ the pages

def run(page, db, monkeypatch, window="7d"):
    at = run_page(page, db, monkeypatch, window=window, timeout=60)
    assert_clean(at)
    return at


def in_order(node, out):
    """(type, text) of every element of the page, in the order drawn."""
    kids = getattr(node, "children", None)
    if isinstance(kids, dict):
        for key in sorted(kids):
            in_order(kids[key], out)
    else:
        text = node.value if node.type == "caption" else getattr(getattr(node, "proto", None),
                                                                   "label", "")
        out.append((node.type, text))
    return out


PERIOD_PAGES = {"pages/1_Cache_hits.py": 2, "pages/2_Confidence.py": 1, "pages/3_Uploads.py": 2,
                "pages/4_Anonymous_users.py": 2}


@pytest.mark.parametrize("page", list(PERIOD_PAGES))
@pytest.mark.parametrize("window", ["7d", "all"])
def test_every_period_chart_of_a_page_shares_one_band_per_day(page, window, demo_db, monkeypatch):
    at = run(page, demo_db, monkeypatch, window)
    xs = []
    for chart in at.get("vega_lite_chart"):
        got = json.loads(chart.proto.spec)
        for layer in got.get("layer", [got]):
            x = layer.get("encoding", {}).get("x", {})
            if x.get("field") == "period_key":
                xs.append({k: v for k, v in x.items() if k != "bandPosition"})
    assert len({json.dumps(x, sort_keys=True) for x in xs}) == 1
    assert len(xs) >= PERIOD_PAGES[page]
    assert xs[0]["scale"]["domain"][-1] == f"{PAGE_NOW:%Y-%m-%d}"


def test_a_caption_sits_under_its_chart_above_a_button_that_says_what_it_downloads(
        demo_db, monkeypatch):
    at = run("pages/3_Uploads.py", demo_db, monkeypatch)
    drawn = in_order(at.main, [])
    chart = [i for i, (kind, _) in enumerate(drawn) if kind == "vega_lite_chart"][2]
    assert drawn[chart + 1][0] == "caption" and "95 % Wilson" in drawn[chart + 1][1]
    assert drawn[chart + 2] == ("download_button", "Download the failure rate per day (CSV)")
    labels = [text for kind, text in drawn if kind == "download_button"]
    assert "Download uploads per day (CSV)" in labels and "Download the stuck jobs (CSV)" in labels
    assert all(label.startswith("Download ") and label.endswith(" (CSV)") and label != "Download CSV"
               for label in labels)
    assert at.session_state["_r2w_csv_context"] == ("demo", "7d")


def test_history_charts_end_with_the_window(demo_db, monkeypatch, tmp_path):
    build_history(demo_db, tmp_path / "monitor.db", now=PAGE_NOW)
    at = run("pages/7_History.py", demo_db, monkeypatch)
    ends = {}
    for chart in at.get("vega_lite_chart"):
        got = json.loads(chart.proto.spec)
        first = (got.get("layer") or [got])[0]["encoding"]
        if first.get("x", {}).get("scale", {}).get("type") == "utc":
            ends[first["y"]["title"]] = first["x"]["scale"]["domain"][1]
        assert "%I" not in chart.proto.spec
    forecast = ends.pop("database file + WAL")   # the forecast runs 90 days ahead, by design
    assert forecast["month"] == 2   # 90 days after 24 Nov
    assert set(ends) == {"size", "free disk", "rows", "cache entries", "anonymous ids"}
    assert all((e["month"], e["date"], e["hours"], e["minutes"], e["utc"]) == (11, 24, 12, 0, True)
               for e in ends.values())
