"""Forecasts on known growth: linear, flat, noisy, shrinking after a VACUUM, too little history."""
import random
from datetime import datetime, timedelta

import pandas as pd
import pytest

from r2w_db.figures import forecast as fc

START = datetime(2026, 3, 1)
MB = 2 ** 20


def series(days, per_day, every=timedelta(hours=6), start_bytes=100 * MB, noise=0.0, seed=1):
    rng = random.Random(seed)
    rows, t = [], START
    while t <= START + timedelta(days=days):
        d = (t - START).total_seconds() / 86400
        rows.append((t, start_bytes + per_day * d + rng.gauss(0, noise)))
        t += every
    return pd.DataFrame(rows, columns=["taken_at", "bytes"])


def test_linear_growth_is_found_exactly_and_the_disk_full_date_follows():
    f = fc.fit(series(20, 2 * MB), free_bytes=100 * MB)
    assert f.state == fc.GROWING
    assert f.per_day == pytest.approx(2 * MB) and f.per_week == pytest.approx(14 * MB)
    assert f.points == 57 and f.fit_from == START + timedelta(days=6)    # the last 14 days
    assert f.horizons[30]["bytes"] == pytest.approx(100 * MB + 2 * MB * 50)
    assert f.horizons[90]["bytes"] == pytest.approx(100 * MB + 2 * MB * 110)
    # 100 MB free at 2 MB a day: 50 days after the newest point
    assert f.full_at == pytest.approx(START + timedelta(days=70), abs=timedelta(seconds=1))
    assert "14.0 days" in f.reason


def test_noise_gives_a_band_that_holds_the_truth_and_widens_with_the_horizon():
    f = fc.fit(series(14, 1 * MB, noise=0.5 * MB), free_bytes=500 * MB)
    assert f.state == fc.GROWING
    assert f.per_day_low < 1 * MB < f.per_day_high
    assert f.per_day == pytest.approx(MB, rel=0.15)
    h30, h90 = f.horizons[30], f.horizons[90]
    truth30, truth90 = 100 * MB + 44 * MB, 100 * MB + 104 * MB
    assert h30["low"] < truth30 < h30["high"] and h90["low"] < truth90 < h90["high"]
    assert h90["high"] - h90["low"] > h30["high"] - h30["low"] > 0
    assert f.full_earliest < f.full_at < f.full_latest
    band = fc.band(f)
    widths = (band["high"] - band["low"]).tolist()
    assert widths[-1] > widths[len(widths) // 2] and band["taken_at"].iloc[-1] == \
        START + timedelta(days=14 + 90)


def test_a_flat_or_noisy_flat_file_is_not_growing_and_has_no_date():
    for frame in (series(14, 0), series(14, 0, noise=MB)):
        f = fc.fit(frame, free_bytes=10 * MB)
        assert f.state == fc.NOT_GROWING, f.reason
        assert f.full_at is None and f.full_latest is None
        assert f.horizons[30]["low"] <= 100 * MB <= f.horizons[30]["high"] + 1


def test_a_shrinking_file_is_not_growing():
    f = fc.fit(series(14, -MB / 4), free_bytes=MB)
    assert f.state == fc.NOT_GROWING and "shrinks" in f.reason and f.full_at is None


def test_growth_after_a_vacuum_is_fitted_from_the_drop_on():
    before = series(10, 3 * MB)
    after = series(6, 1 * MB, start_bytes=60 * MB)
    after["taken_at"] += timedelta(days=10, hours=3)
    f = fc.fit(pd.concat([before, after]), free_bytes=50 * MB)
    assert f.dropped_at == START + timedelta(days=10, hours=3)
    assert f.state == fc.GROWING and f.per_day == pytest.approx(MB)
    assert "since the size dropped" in f.reason
    # right after the VACUUM there is not enough history since the drop
    short = pd.concat([before, after.iloc[:4]])
    got = fc.fit(short)
    assert got.state == fc.NOT_ENOUGH and "since the size dropped" in got.reason
    assert got.per_day is None and got.horizons == {} and got.full_at is None


@pytest.mark.parametrize("days,every", [(1, timedelta(hours=1)), (10, timedelta(days=5))])
def test_too_little_history_is_a_state_never_a_number(days, every):
    f = fc.fit(series(days, MB, every=every), free_bytes=MB)
    assert f.state == fc.NOT_ENOUGH and "Not enough history" in f.reason
    assert f.per_day is None and f.horizons == {} and f.full_at is None
    assert fc.band(f).empty
    empty = fc.fit(pd.DataFrame(columns=["taken_at", "bytes"]))
    assert empty.state == fc.NOT_ENOUGH and empty.points == 0


def test_a_disk_that_lasts_beyond_ten_years_gets_no_date():
    f = fc.fit(series(14, 1024), free_bytes=10 ** 12)
    assert f.state == fc.GROWING and f.full_at is None and f.full_beyond


def test_t_quantiles():
    assert fc.t95(1) == 12.706 and fc.t95(30) == 2.042
    assert fc.t95(60) == pytest.approx(2.000, abs=2e-3) and fc.t95(1000) == pytest.approx(1.962, abs=2e-3)


def test_growth_over_the_last_day_and_week():
    got = fc.growth_table(series(10, 2 * MB), "bytes")
    assert got["per_day"] == pytest.approx(2 * MB) and got["per_week"] == pytest.approx(14 * MB)
    assert fc.growth_table(series(0.5, MB), "bytes") == {"per_day": None, "per_week": None}
