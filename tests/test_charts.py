"""Chart builders: valid Vega-Lite for real, empty and no-data frames; one colour per status."""
import json

import altair as alt
import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from r2w_db import config
from r2w_db.figures import confidence

DAYS = pd.date_range("2026-11-20", periods=3, freq="D")


def spec(chart):
    return chart.to_dict()  # validates against the Vega-Lite schema


def test_one_colour_per_status_everywhere():
    long = pd.DataFrame({"period": list(DAYS) * 5, "status": sum([[s] * 3 for s in charts.STATUS_COLORS], []),
                         "uploads": range(15)})
    counts = pd.DataFrame({"status": list(charts.STATUS_COLORS), "uploads": [1, 2, 3, 4, 5]})
    scales = [spec(charts.status_periods(long))["encoding"]["color"]["scale"],
              spec(charts.status_bars(counts))["encoding"]["color"]["scale"]]
    expected = {"domain": ["processing", "completed", "failed", "uploaded", "other"],
                "range": list(charts.STATUS_COLORS.values())}
    assert scales == [expected, expected]
    assert list(charts.STATUS_COLORS) == [*config.STATUSES, "other"]
    assert len(set(charts.STATUS_COLORS.values())) == 5


@pytest.mark.parametrize("grain, unit", [("day", "utcyearmonthdate"), ("hour", "utcyearmonthdatehours")])
def test_time_axes_are_utc(grain, unit):
    frame = pd.DataFrame({"period": DAYS, "rate": [0.5, np.nan, 1.0], "hits": [1, 0, 2]})
    x = spec(charts.rate_line(frame, "rate", grain))["encoding"]["x"]
    assert x["timeUnit"] == unit and x["type"] == "temporal"


def test_rate_line_with_gaps_and_the_overall_level():
    frame = pd.DataFrame({"period": DAYS, "rate": [0.5, np.nan, 1.0], "hits": [1, 0, 2]})
    layered = spec(charts.rate_line(frame, "rate", overall=0.75, counts=("hits",)))
    assert len(layered["layer"]) == 2
    line = layered["layer"][0]["encoding"]
    assert line["y"]["scale"]["domain"] == [0, 1]
    assert [t["field"] for t in line["tooltip"]] == ["period", "rate", "hits"]
    assert layered["layer"][1]["data"]["values"] == [{"overall": 0.75}]


def test_failure_rate_axis_fits_small_rates_and_all_zero():
    frame = pd.DataFrame({"period": DAYS, "rate": [0.0, 0.02, np.nan]})
    y = spec(charts.rate_line(frame, "rate", full_scale=False))["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 0.05]
    frame["rate"] = [0.0, 0.0, np.nan]
    y = spec(charts.rate_line(frame, "rate", full_scale=False))["encoding"]["y"]
    assert y["scale"]["domain"] == [0, 0.05]
    frame["rate"] = [0.4, 0.0, np.nan]
    top = spec(charts.rate_line(frame, "rate", full_scale=False))["encoding"]["y"]["scale"]["domain"][1]
    assert top == pytest.approx(0.44)


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
    lambda f: charts.status_periods(f.rename(columns={"category": "status", "value": "uploads"})),
    lambda f: charts.served_periods(f.rename(columns={"category": "source", "value": "uploads"})),
])
def test_stacked_periods_on_an_empty_frame(build):
    spec(build(pd.DataFrame({"period": pd.to_datetime([]), "category": [], "value": []})))


def test_the_other_builders_produce_valid_specs():
    ids = pd.DataFrame({"period": DAYS, "new_ids": [1, 0, 2], "owning_ids": [5, 5, 7]})
    layered = spec(charts.new_and_total(ids))
    assert layered["resolve"] == {"scale": {"y": "independent"}}
    ages = pd.DataFrame({"bucket": ["< 1 day", "30–90 days"], "ids": [3, 2], "uploads": [3, 4],
                         "stale": [0, 2]})
    spec(charts.age_bars(ages))
    types = pd.DataFrame({"file_type": [".pdf", ".docx"], "uploads": [3, 1], "failed": [1, 0]})
    bars = spec(charts.count_bars(types, "file_type", "uploads", extra=["failed"]))
    assert [t["field"] for t in bars["encoding"]["tooltip"]] == ["file_type", "uploads", "failed"]
    means = pd.DataFrame({"period": DAYS, "mean": [0.8, np.nan, 0.9], "entries": [1, 0, 2]})
    spec(charts.value_line(means, "mean", counts=("entries",)))


def test_specs_carry_no_python_objects():
    frame = pd.DataFrame({"period": DAYS, "rate": [0.5, np.nan, 1.0]})
    json.dumps(spec(charts.rate_line(frame, "rate", overall=0.5)))
    assert isinstance(charts.rate_line(frame, "rate"), alt.TopLevelMixin)
