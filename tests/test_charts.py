"""Chart builders: valid Vega-Lite for real, empty and no-data frames; one colour per status."""
import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from r2w_db import config
from r2w_db.figures import confidence
from r2w_db.figures.periods import Window

DAYS = pd.date_range("2026-11-20", periods=3, freq="D")
DAY_WINDOW = Window.between(DAYS[0].to_pydatetime(), (DAYS[-1] + pd.Timedelta(days=1)).to_pydatetime())
SAMPLE = charts.Sample("hits", ("hashed",), "{part} of {whole} hashed uploads served from cache",
                       "hashed uploads")


def spec(chart):
    return chart.to_dict()  # validates against the Vega-Lite schema


def test_one_colour_per_status_everywhere():
    long = pd.DataFrame({"period": list(DAYS) * 5, "status": sum([[s] * 3 for s in charts.STATUS_COLORS], []),
                         "uploads": range(15)})
    counts = pd.DataFrame({"status": list(charts.STATUS_COLORS), "uploads": [1, 2, 3, 4, 5]})
    scales = [spec(charts.status_periods(long, DAY_WINDOW))["encoding"]["color"]["scale"],
              spec(charts.status_bars(counts))["encoding"]["color"]["scale"]]
    expected = {"domain": ["processing", "completed", "failed", "uploaded", "other"],
                "range": list(charts.STATUS_COLORS.values())}
    assert scales == [expected, expected]
    assert list(charts.STATUS_COLORS) == [*config.STATUSES, "other"]
    assert len(set(charts.STATUS_COLORS.values())) == 5


@pytest.mark.parametrize("grain, key", [("day", "%Y-%m-%d"), ("hour", "%Y-%m-%d %H:%M")])
def test_time_axes_are_utc(grain, key):
    # issue 21: periods are UTC keys on a band scale, parsed and labelled in UTC (no timeUnit
    # left to the browser's time zone)
    window = Window.between(DAYS[0].to_pydatetime(), DAYS[-1].to_pydatetime(), grain=grain)
    frame = pd.DataFrame({"period": DAYS, "rate": [0.5, np.nan, 1.0], "hits": [1, 0, 2],
                          "hashed": [2, 0, 2]})
    x = spec(charts.rate_line(frame, "rate", window, "hit rate", SAMPLE))["layer"][0]["encoding"]["x"]
    assert x["type"] == "ordinal" and x["scale"]["type"] == "band" and "UTC" in x["title"]
    assert f"utcParse(datum.value, '{key}')" in x["axis"]["labelExpr"]


def test_rate_line_with_gaps_and_the_overall_level():
    frame = pd.DataFrame({"period": DAYS, "rate": [0.5, np.nan, 1.0], "hits": [1, 0, 2],
                          "hashed": [2, 0, 2]})
    layered = spec(charts.rate_line(frame, "rate", DAY_WINDOW, "hit rate", SAMPLE, overall=0.75))
    assert len(layered["layer"]) == 5   # interval band, line, judged points, hollow points, rule
    points = layered["layer"][2]["encoding"]
    assert points["y"]["scale"]["domain"] == [0, 1]
    assert [t["field"] for t in points["tooltip"]] == ["period_label", "rate", "sample", "interval",
                                                        "note"]
    assert layered["layer"][-1]["data"]["values"] == [{"overall": 0.75}]


def test_failure_rate_axis_fits_small_rates_and_all_zero():
    def y_domain(failed, finished):
        frame = pd.DataFrame({"period": DAYS, "failed": failed, "completed": [
            n - f for n, f in zip(finished, failed)]})
        frame["rate"] = frame["failed"] / frame["completed"].add(frame["failed"]).where(
            lambda n: n > 0)
        sample = charts.Sample("failed", ("completed", "failed"), "failed {part} of {whole}",
                               "finished jobs")
        chart = charts.rate_line(frame, "rate", DAY_WINDOW, "failure rate", sample,
                                 full_scale=False)
        return spec(chart)["layer"][2]["encoding"]["y"]["scale"]["domain"]

    assert y_domain([0, 100, 0], [5000, 5000, 0]) == [0, 0.05]
    assert y_domain([0, 0, 0], [5000, 5000, 0]) == [0, 0.05]
    assert y_domain([2000, 0, 0], [5000, 5000, 0])[1] == pytest.approx(0.44)


def test_histogram_draws_both_rules():
    histogram = pd.DataFrame({"bin_start": [i / 20 for i in range(20)],
                              "bin_end": [(i + 1) / 20 for i in range(20)], "entries": range(20),
                              "band": [confidence.band(i / 20) for i in range(20)]})
    layered = spec(charts.confidence_histogram(histogram, confidence.BANDS))
    rules = [layer["data"]["values"][0]["at"] for layer in layered["layer"][1:]
             if layer["mark"]["type"] == "rule"]
    assert rules == [config.LOW_CONFIDENCE, config.CACHE_THRESHOLD]
    colours = layered["layer"][0]["encoding"]["color"]["scale"]
    assert colours["domain"] == list(confidence.BANDS)


@pytest.mark.parametrize("build", [
    lambda f: charts.status_periods(f.rename(columns={"category": "status", "value": "uploads"}),
                                    DAY_WINDOW),
    lambda f: charts.served_periods(f.rename(columns={"category": "source", "value": "uploads"}),
                                    DAY_WINDOW),
])
def test_stacked_periods_on_an_empty_frame(build):
    spec(build(pd.DataFrame({"period": pd.to_datetime([]), "category": [], "value": []})))


def test_the_other_builders_produce_valid_specs():
    ids = pd.DataFrame({"period": DAYS, "new_ids": [1, 0, 2], "owning_ids": [5, 5, 7]})
    layered = spec(charts.new_and_total(ids, DAY_WINDOW))
    assert layered["resolve"] == {"scale": {"y": "independent"}}
    ages = pd.DataFrame({"bucket": ["< 1 day", "30–90 days"], "ids": [3, 2], "uploads": [3, 4],
                         "stale": [0, 2]})
    spec(charts.age_bars(ages))
    types = pd.DataFrame({"file_type": [".pdf", ".docx"], "uploads": [3, 1], "failed": [1, 0]})
    bars = spec(charts.count_bars(types, "file_type", "uploads", extra=["failed"]))
    assert [t["field"] for t in bars["encoding"]["tooltip"]] == ["file_type", "uploads", "failed"]
    means = pd.DataFrame({"period": DAYS, "mean": [0.8, np.nan, 0.9], "entries": [1, 0, 2]})
    spec(charts.value_line(means, "mean", DAY_WINDOW, "mean confidence", counts=("entries",)))


def test_specs_carry_no_python_objects():
    frame = pd.DataFrame({"period": DAYS, "rate": [0.5, np.nan, 1.0], "hits": [1, 0, 2],
                          "hashed": [2, 0, 2]})
    json.dumps(spec(charts.rate_line(frame, "rate", DAY_WINDOW, "hit rate", SAMPLE, overall=0.5)))
    assert isinstance(charts.rate_line(frame, "rate", DAY_WINDOW, "hit rate", SAMPLE),
                      alt.TopLevelMixin)
