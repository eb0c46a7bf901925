"""Any value SQLite can hold, in any column, never breaks a figure: out-of-range cells are left
out of sums and averages, counted as invalid, and the rest is shown.

Each case builds a small database, puts one hostile value into every row of one column, and
computes every figure and chart the dashboard draws from it.
"""
import json
import math
import sqlite3
from datetime import datetime

import pytest

from dashboard import charts
from r2w_db.app import cache
from r2w_db.backends import migrations
from r2w_db.figures import anonymous, cache_hits, confidence, health, overview, stats, uploads
from r2w_db.figures.periods import CHART_HISTORY, Window

NOW = datetime(2026, 11, 24, 12, 0, 0)
BIG = 2**63 - 1
NUMBERS = [BIG, -2**63, -5, 2.5, 1e300, -1e300, float("inf"), float("-inf"), "many", "1e999",
           b"\x00\x01", cache.MAX_ACCESS_COUNT + 1]
TIMES = [2461000, 0, 1721059.5, 5373484.4, 1e300, -1e300, float("inf"), b"\x00",
         "0100-01-01T00:00:00", "9999-12-31T23:59:59", "1900-01-01T00:00:00", "2099-01-01T00:00:00"]
ODD = [BIG, 1e300, float("-inf"), b"\xff", ""]
CELLS = ([("cv_extraction_cache", c, v) for c in ("access_count", "confidence_score") for v in NUMBERS]
         + [(t, c, v) for t, c in (("cv_extraction_cache", "created_at"), ("cv_uploads", "upload_date"))
            for v in TIMES]
         + [(t, c, v) for t, c in (("sessions", "created_at"), ("users", "created_at"),
                                    ("cv_extraction_cache", "temperature")) for v in TIMES[::2]]
         + [("cv_uploads", c, v) for c in ("status", "file_type", "file_hash") for v in ODD])


def build(path):
    """Two of everything, so that a sum over the column has two huge terms."""
    migrations.init(path)
    conn = sqlite3.connect(path)
    conn.executemany("INSERT INTO users (user_id, email, password_hash, created_at) VALUES (?,?,?,?)",
                     [("r1", "a@example.com", "$2b$12$x", "2026-11-20T00:00:00"),
                      ("anonymous_0123456789ab", "b@example.com", "$2b$12$x", "2026-11-21T00:00:00")])
    conn.executemany("INSERT INTO sessions VALUES (?, 'r1', ?)",
                     [("s1", "2026-11-23T00:00:00"), ("s2", "2026-11-10T00:00:00")])
    conn.executemany("INSERT INTO cv_uploads VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, NULL, ?, ?)", [
        ("u1", "r1", "j1", "2026-11-23T00:00:00", "completed", "h1"),
        ("u2", "anonymous_aaaaaaaaaaaa", "j2", "2026-11-23T01:00:00", "uploaded", "h2"),
        ("u3", "r1", "j3", "2026-11-24T09:00:00", "processing", None)])
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0.0, ?, ?, ?, ?)", [
        ("h1", "2026-11-22T00:00:00", 0.9, 3, "2026-11-22T00:00:00"),
        ("h2", "2026-11-22T01:00:00", 0.8, 2, "2026-11-22T01:00:00")])
    conn.commit()
    return conn


def draw_chart(chart):
    """The chart's spec with its data, as the page sends it (valid JSON); the schema is
    validated in test_charts."""
    return json.dumps(chart.to_dict(validate=False), allow_nan=False, default=str)


DRAWN = ("all", "24h")   # a day and an hour grain; 7d's rows are all of 'all''s (its charts too)
# no cache entry of build() is from the last 24 hours: a hostile cache number draws nothing there
NOT_IN_THE_LAST_DAY = {("cv_extraction_cache", c) for c in ("access_count", "confidence_score",
                                                            "temperature")}


def every_figure(path, drawn=DRAWN):
    """Every figure of the five pages and `stats` in three windows, and every chart in the
    `drawn` ones; returns stats."""
    for key in ("all", "7d", "24h"):
        window = Window.of(key, now=NOW)
        draw = draw_chart if key in drawn else (lambda chart: None)
        json.dumps(overview.headline(path, window), allow_nan=False)
        hits = cache_hits.hit_rate(path, window)
        draw(charts.rate_line(hits["by_period"], "hit_rate", window, "hit rate", charts.HIT_SAMPLE))
        draw(charts.served_periods(cache_hits.served_long(hits["by_period"]), window))
        json.dumps(confidence.summary(path, window), allow_nan=False)
        draw(charts.confidence_histogram(confidence.histogram(path, window), confidence.BANDS))
        confidence.by_model(path, window)
        draw(charts.value_line(confidence.mean_by_period(path, window), "mean", window,
                               "mean confidence"))
        confidence.lowest(path, window)
        counts = uploads.status_counts(path, window)
        uploads.summarise(counts)
        draw(charts.status_bars(counts))
        frame = uploads.by_period(path, window)
        assert len(frame) <= (CHART_HISTORY.days + 2 if window.grain == "day" else 49)
        draw(charts.status_periods(uploads.status_long(frame), window))
        draw(charts.rate_line(frame, "failure_rate", window, "failure rate",
                              charts.FAILURE_SAMPLE, full_scale=False))
        draw(charts.count_bars(uploads.file_types(path, window), "file_type", "uploads"))
        uploads.other_statuses(path, window)
        draw(charts.new_and_total(anonymous.ids_by_period(path, window), window))
        share = anonymous.share_by_period(path, window)
        draw(charts.rate_line(share["by_period"], "share", window, "anonymous share",
                              charts.SHARE_SAMPLE))
    uploads.stuck_jobs(path, NOW)
    uploads.awaiting_extraction(path, NOW)
    draw_chart(charts.age_bars(anonymous.ages(path, NOW)["by_age"]))
    draw_chart(charts.count_bars(cache_hits.access_counts(path), "bucket", "entries"))
    json.dumps(cache_hits.contents(path)["accesses"])
    health.run_checks(path, last_runs={}, now=NOW)
    stats.get_extraction_stats(path)
    figures = stats.collect_stats(path, now=NOW)
    json.dumps(figures, allow_nan=False)   # valid JSON: no NaN, no Infinity
    return figures


@pytest.mark.parametrize("table, column, value", CELLS,
                         ids=[f"{t}.{c}={v!r:.20}" for t, c, v in CELLS])
def test_one_hostile_column_never_breaks_a_figure(tmp_path, table, column, value):
    path = tmp_path / "odd.db"
    conn = build(path)
    conn.execute(f"UPDATE {table} SET {column} = ?", (value,))
    conn.commit()
    conn.close()
    figures = every_figure(path, ("all",) if (table, column) in NOT_IN_THE_LAST_DAY else DRAWN)
    assert figures["uploads"]["total"] == 3 and figures["cache"]["cached_extractions"] == 2
    for number in (v for group in figures.values() if isinstance(group, dict) for v in group.values()):
        assert not isinstance(number, float) or math.isfinite(number)


def test_huge_access_counts_are_invalid_and_the_rest_is_summed(tmp_path):
    path = tmp_path / "odd.db"
    conn = build(path)
    odd = [BIG, BIG, -1, 1e300, float("inf"), "many", b"\x00", cache.MAX_ACCESS_COUNT + 1]
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0.0,"
                     " '2026-11-22T02:00:00', 0.9, ?, '2026-11-22T02:00:00')",
                     [(f"x{i}", v) for i, v in enumerate(odd)])
    conn.execute("INSERT INTO cv_extraction_cache VALUES ('y', '{}', 'm', 0.0,"
                 " '2026-11-22T02:00:00', 0.9, ?, '2026-11-22T02:00:00')", (cache.MAX_ACCESS_COUNT,))
    conn.commit()
    conn.close()
    got = stats.collect_stats(path, now=NOW)["cache"]
    assert got["total_cache_accesses"] == 3 + 2 + cache.MAX_ACCESS_COUNT   # the largest count is one
    assert got["invalid_access_count"] == len(odd)
    contents = cache_hits.contents(path)
    assert (contents["accesses"], contents["invalid_access_counts"]) == (3 + 2 + cache.MAX_ACCESS_COUNT,
                                                                         len(odd))
    buckets = cache_hits.access_counts(path).set_index("bucket")
    assert buckets.loc[cache_hits.INVALID_COUNT].tolist() == [len(odd), 0]
    assert buckets["entries"].sum() == 2 + len(odd) + 1
    assert buckets.loc["51+", "accesses"] == cache.MAX_ACCESS_COUNT
    checks = {c.key: c for c in health.run_checks(path, last_runs={}, now=NOW)}
    assert checks["foreign_values"].value == f"{len(odd):,}"
    assert overview.headline(path, Window.of("7d", now=NOW))["current"]["uploads"] == 3


def test_out_of_range_confidences_are_invalid_and_the_rest_is_averaged(tmp_path):
    path = tmp_path / "odd.db"
    conn = build(path)
    odd = [1e300, -1e300, float("inf"), float("-inf"), 1.0000001, -0.0000001, "0.9x", b"\x01", None]
    conn.executemany("INSERT INTO cv_extraction_cache VALUES (?, '{}', 'm', 0.0,"
                     " '2026-11-22T02:00:00', ?, 1, '2026-11-22T02:00:00')",
                     [(f"x{i}", v) for i, v in enumerate(odd)])
    conn.commit()
    conn.close()
    got = stats.collect_stats(path, now=NOW)["cache"]
    assert got["invalid_confidence"] == len(odd)
    assert got["average_confidence_score"] == pytest.approx(0.85)
    assert got["below_caching_threshold"] == got["low_confidence_extractions"] == 0
    summary = confidence.summary(path, Window.of("7d", now=NOW))
    assert (summary["valid"], summary["invalid"], summary["null"]) == (2, len(odd), 1)
    assert confidence.histogram(path, Window.of("7d", now=NOW))["entries"].sum() == 2
    assert cache_hits.contents(path)["by_model"]["average_confidence"].tolist() == [
        pytest.approx(0.85)]


def test_timestamps_far_from_now_keep_the_charts_small(tmp_path):
    path = tmp_path / "odd.db"
    conn = build(path)
    conn.executemany("INSERT INTO cv_uploads VALUES (?, 'r1', ?, 'cv.pdf', '.pdf', ?, NULL,"
                     " 'completed', NULL)",
                     [("y1", "k1", "0100-01-01T00:00:00"), ("y2", "k2", "9999-12-31T23:59:59"),
                      ("y3", "k3", "1990-06-01T00:00:00"), ("y4", "k4", "2026-11-25T06:00:00")])
    conn.commit()
    conn.close()
    everything = Window.of("all", now=NOW)
    frame = uploads.by_period(path, everything)
    # from ten years back to a day after now; the far rows still count in the totals
    assert frame["period"].iloc[0] >= NOW - CHART_HISTORY and frame["period"].iloc[-1] == datetime(
        2026, 11, 25)
    assert frame["uploads"].sum() == 3 + 1
    assert uploads.status_counts(path, everything)["uploads"].sum() == 3 + 4
    assert overview.headline(path, everything)["current"]["uploads"] == 3 + 4
