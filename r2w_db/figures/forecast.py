"""Growth and forecasts of a size series (the database file over time): pure functions.

Method: ordinary least squares of bytes on time (in days) over the most recent `FIT_DAYS` days of
the series (all of it when there is less), after the last step down (a VACUUM or a cleanup that
shrank the file by more than `DROP_SHARE`: growth before it says nothing about growth after it).

- growth per day is the slope, per week 7x it, each with its 95 % confidence interval;
- the size in 30 and 90 days is the line extended, with a 95 % *prediction* interval
  (t quantile x residual standard error x sqrt(1 + 1/n + (t - mean t)^2 / Sxx)): it widens with
  the horizon. Snapshots a few minutes apart are not independent, so the band is a floor on the
  uncertainty, not a promise;
- the disk fills when the growth has used up today's free disk: free / slope, between
  free / upper slope and free / lower slope (None for a bound beyond FULL_HORIZON_DAYS; the
  latest is None too when it is that far). Only said when the file grows (the slope's lower
  bound is above 0): otherwise the state is "not growing", never a date centuries away.

States (`Forecast.state`): "not enough history" (fewer than MIN_POINTS points or a span shorter
than MIN_DAYS days in the fit), "not growing", "growing".
"""
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd

FIT_DAYS = 14
MIN_DAYS = 3
MIN_POINTS = 5
DROP_SHARE = 0.05
HORIZONS = (30, 90)
FULL_HORIZON_DAYS = 3650    # a disk-full date further out than this is "not within 10 years"
NOT_ENOUGH, NOT_GROWING, GROWING = "not enough history", "not growing", "growing"

# two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(df):
    """The two-sided 95 % quantile of Student's t with `df` degrees of freedom."""
    if df < 1:
        return math.inf
    if df <= len(_T95):
        return _T95[int(df) - 1]
    z = 1.959964  # Cornish-Fisher expansion around the normal quantile (error < 1e-4 here)
    return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)


@dataclass
class Forecast:
    state: str
    reason: str                                  # one sentence: what was fitted, or why not
    points: int = 0                              # points in the fit
    fit_from: datetime | None = None
    fit_to: datetime | None = None
    current_bytes: float | None = None           # the newest point
    per_day: float | None = None                 # bytes per day (slope)
    per_day_low: float | None = None
    per_day_high: float | None = None
    residual_bytes: float | None = None          # residual standard error
    horizons: dict = field(default_factory=dict)  # days: {"at", "bytes", "low", "high"}
    free_bytes: float | None = None              # free disk used for the disk-full date
    full_at: datetime | None = None
    full_earliest: datetime | None = None
    full_latest: datetime | None = None          # None: possibly never (lower slope <= 0)
    full_beyond: bool = False                    # growing, but the disk lasts > FULL_HORIZON_DAYS
    dropped_at: datetime | None = None           # the last step down before the fit
    line: dict = field(default_factory=dict, repr=False)  # intercept, slope, t_mean, sxx, q

    @property
    def per_week(self):
        return None if self.per_day is None else 7 * self.per_day

    def as_dict(self):
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "line"} | {
            "per_week": self.per_week}


def _clean(series: pd.DataFrame, value: str):
    frame = series[["taken_at", value]].dropna().copy()
    # a moment pandas cannot hold (year 1500, 2300: a clock far off) is left out, never a stop
    frame["taken_at"] = pd.to_datetime(frame["taken_at"], errors="coerce")
    frame = frame.dropna(subset=["taken_at"])
    frame[value] = frame[value].astype("float64")
    return frame.sort_values("taken_at").reset_index(drop=True)


def last_drop(frame, value, share=DROP_SHARE):
    """The index of the first point after the last step down of more than `share`, or 0."""
    values = frame[value].tolist()
    for i in range(len(values) - 1, 0, -1):
        before = values[i - 1]
        if before > 0 and (before - values[i]) / before > share:
            return i
    return 0


def fit(series: pd.DataFrame, value="bytes", free_bytes=None, days=FIT_DAYS,
        horizons=HORIZONS) -> Forecast:
    """The forecast of `series` (taken_at, `value`) over its last `days` days; `free_bytes`
    (free disk now) for the disk-full date."""
    frame = _clean(series, value)
    if frame.empty:
        return Forecast(NOT_ENOUGH, "No size recorded yet.")
    newest = frame["taken_at"].iloc[-1]
    frame = frame[frame["taken_at"] >= newest - timedelta(days=days)].reset_index(drop=True)
    dropped_at = None
    start = last_drop(frame, value)
    if start:
        dropped_at = frame["taken_at"].iloc[start].to_pydatetime()
        frame = frame.iloc[start:].reset_index(drop=True)
    n = len(frame)
    first = frame["taken_at"].iloc[0]
    span = (newest - first).total_seconds() / 86400
    base = Forecast(NOT_ENOUGH, "", points=n, fit_from=first.to_pydatetime(),
                    fit_to=newest.to_pydatetime(), current_bytes=float(frame[value].iloc[-1]),
                    dropped_at=dropped_at, free_bytes=free_bytes)
    since = f" since the size dropped on {dropped_at:%Y-%m-%d %H:%M} UTC" if dropped_at else ""
    if n < MIN_POINTS or span < MIN_DAYS:
        base.reason = (f"Not enough history{since}: {n} snapshot{'s' * (n != 1)} over "
                       f"{span:.1f} days; a forecast needs at least {MIN_POINTS} over "
                       f"{MIN_DAYS} days.")
        return base
    t = [(moment - first).total_seconds() / 86400 for moment in frame["taken_at"]]
    y = frame[value].tolist()
    t_mean, y_mean = sum(t) / n, sum(y) / n
    sxx = sum((ti - t_mean) ** 2 for ti in t)
    slope = sum((ti - t_mean) * (yi - y_mean) for ti, yi in zip(t, y)) / sxx
    intercept = y_mean - slope * t_mean
    ssr = sum((yi - (intercept + slope * ti)) ** 2 for ti, yi in zip(t, y))
    s = math.sqrt(ssr / (n - 2))
    q = t95(n - 2)
    slope_half = q * s / math.sqrt(sxx)
    base.per_day, base.residual_bytes = slope, s
    base.per_day_low, base.per_day_high = slope - slope_half, slope + slope_half
    base.line = {"intercept": intercept, "slope": slope, "t_mean": t_mean, "sxx": sxx, "q": q}
    for h in horizons:
        mid, half = _at(base.line, n, s, t[-1] + h)
        base.horizons[h] = {"at": (newest + timedelta(days=h)).to_pydatetime(), "bytes": mid,
                            "low": max(0.0, mid - half), "high": mid + half}
    fitted = (f"least squares over {n} snapshots, {first:%Y-%m-%d} to {newest:%Y-%m-%d} "
              f"({span:.1f} days{since})")
    if base.per_day_low <= 0:
        base.state = NOT_GROWING
        base.reason = (f"Not growing: {fitted}; the growth is not distinguishable from none "
                       "(its 95 % interval includes 0)." if slope > 0 else
                       f"Not growing: {fitted}; the file shrinks or stays the same.")
        return base
    base.state = GROWING
    base.reason = f"Growing: {fitted}."
    if free_bytes is not None and free_bytes >= 0:
        now = newest.to_pydatetime()

        def when(rate):
            days_left = free_bytes / rate
            return None if days_left > FULL_HORIZON_DAYS else now + timedelta(days=days_left)

        base.full_at, base.full_earliest = when(slope), when(base.per_day_high)
        base.full_latest = when(base.per_day_low)
        base.full_beyond = base.full_at is None
    return base


def band(forecast: Forecast, step_days=1.0, until_days=None):
    """DataFrame taken_at, bytes, low, high: the fitted line over the fit and its extension to
    the last horizon, with the 95 % prediction band (no rows when there is no fit)."""
    if forecast.per_day is None or not forecast.line:
        return pd.DataFrame(columns=["taken_at", "bytes", "low", "high"])
    until_days = until_days or max(forecast.horizons or {0: None})
    line, first = forecast.line, forecast.fit_from
    span = (forecast.fit_to - first).total_seconds() / 86400
    rows, t = [], 0.0
    while t <= span + until_days + 1e-9:
        mid, half = _at(line, forecast.points, forecast.residual_bytes, t)
        rows.append((first + timedelta(days=t), mid, max(0.0, mid - half), mid + half))
        t += step_days
    return pd.DataFrame(rows, columns=["taken_at", "bytes", "low", "high"])


def _at(line, n, s, t):
    """(fitted value, half-width of the 95 % prediction interval) at t days after the fit's start."""
    mid = line["intercept"] + line["slope"] * t
    return mid, line["q"] * s * math.sqrt(1 + 1 / n + (t - line["t_mean"]) ** 2 / line["sxx"])


def growth_table(series: pd.DataFrame, value: str):
    """{"per_day", "per_week"}: the change of `value` over the last day and the last week of the
    series (newest minus the point nearest to 1 / 7 days before; None when the series is shorter)."""
    frame = _clean(series, value)
    out = {"per_day": None, "per_week": None}
    if len(frame) < 2:
        return out
    newest, last = frame["taken_at"].iloc[-1], frame[value].iloc[-1]
    for key, days in (("per_day", 1), ("per_week", 7)):
        earlier = frame[frame["taken_at"] <= newest - timedelta(days=days)]
        if not earlier.empty:
            out[key] = float(last - earlier[value].iloc[-1])
    return out
