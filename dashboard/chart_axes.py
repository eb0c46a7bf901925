"""What every chart of the dashboard shares: one time convention and numbers as people read them.

Time is 24-hour UTC everywhere, and the browser's time zone never shifts it:

- a chart of periods (days, hours) puts them on a band scale of UTC period keys formatted here
  (`period_key`, '2026-12-07' or '2026-12-07 14:00'), so a day is one band on every chart of a
  page: bars fill it, points and lines sit in its middle (bandPosition 0.5). The domain is every
  period of the window, so no chart runs past it;
- a chart of instants (snapshots) has a `utc` time scale whose domain is the window's
  [start, end], and 24-hour UTC labels.

With a zone chosen (`zone`, the browser's IANA name; dashboard/zones.py), the bands and
instants stay where UTC puts them, and the labels and tooltips of hours and instants read the
zone's wall time, the zone named in the title; a day stays a UTC day, titled "day (UTC)".

Counts are integers with thousands separators on zero-based axes, bytes are KB/MB/GB (1024,
as formatting.human_bytes), rates percentages, scores 2–3 places. No Streamlit here.
"""
import math
from dataclasses import replace

import altair as alt
import pandas as pd

from dashboard import zones
from r2w_db.figures.periods import PERIOD_FORMAT

TIME_TITLE = {"day": "UTC day", "hour": "UTC hour"}
LABEL_FORMAT = {"day": "%a %d %b %Y", "hour": "%a %d %b %Y, %H:00–%H:59"}
Y_EXTENT = 64   # the y axis's width on every period chart, so stacked charts' bands line up
COUNT = ",d"
RATE, RATE_FINE = ".0%", ".1%"
SCORE = ".3f"

# 1536 -> '1.5 KB': the Vega expression of formatting.human_bytes, for axes and tooltips
_BYTES = ("abs({v}) >= 1099511627776 ? format({v} / 1099511627776, ',.1~f') + ' TB' : "
          "abs({v}) >= 1073741824 ? format({v} / 1073741824, ',.1~f') + ' GB' : "
          "abs({v}) >= 1048576 ? format({v} / 1048576, ',.1~f') + ' MB' : "
          "abs({v}) >= 1024 ? format({v} / 1024, ',.1~f') + ' KB' : format({v}, ',d') + ' B'")
# an instant's axis label: the day at midnight, else the 24-hour time (never %I, never local)
INSTANT_LABEL = ("utcFormat(datum.value, utchours(datum.value) == 0 && "
                 "utcminutes(datum.value) == 0 ? '%d %b' : '%H:%M')")
INSTANT_TOOLTIP = "%d %b %Y %H:%M"


def bytes_expr(value):
    """The Vega expression that writes the bytes in `value` (an expression) as formatting.human_bytes does."""
    return _BYTES.format(v=value)


# ------------------------------------------------------------------ periods on a band scale

def period_keys(frame, window):
    """Every period key a chart of `window` shows, oldest first: from the window's first
    period (the data's first, for all time) to its last (or the data's last, if later)."""
    grain = window.grain
    present = (pd.to_datetime(frame["period"]).dropna()
               if frame is not None and "period" in frame else pd.Series(dtype="datetime64[ns]"))
    first = window.first_period
    if first is None:
        first = present.min() if len(present) else window.last_period
    last = max([window.last_period, *([present.max()] if len(present) else [])])
    step = "h" if grain == "hour" else "D"
    return [p.strftime(PERIOD_FORMAT[grain]) for p in pd.date_range(first, last, freq=step)]


def shared_window(window, *frames):
    """The window every period chart of a page draws: `window`, or for all time the window from
    the first period of any of the page's `frames`, so that their bands line up."""
    if window.start is not None:
        return window
    firsts = [pd.to_datetime(f["period"]).min() for f in frames if len(f)]
    firsts = [f for f in firsts if not pd.isna(f)]
    return replace(window, start=min(firsts).to_pydatetime()) if firsts else window


def time_title(grain, zone=None):
    """The period axis's title: 'UTC hour'; in a zone 'hour (Asia/Kolkata)', and 'day (UTC)'."""
    if zone is None:
        return TIME_TITLE[grain]
    return zones.titled("hour", zone) if grain == "hour" else "day (UTC)"


def _hour_label(start, zone):
    """The tooltip's hour in `zone`: 'Sun 25 Oct 2026, 02:00–02:59 CEST' (the abbreviation
    tells the two 02:00 hours of a daylight-saving change apart)."""
    end = start + pd.Timedelta(minutes=59)
    return (zones.wall_label(start, zone, "%a %d %b %Y, %H:%M–")
            + zones.wall_label(end, zone, "%H:%M %Z"))


def with_periods(frame, grain, zone=None):
    """`frame` with `period_key` (the band, a UTC period) and `period_label` (the tooltip's
    period: UTC, or an hour in `zone`'s wall time)."""
    period = pd.to_datetime(frame["period"])
    labels = (period.dt.strftime(LABEL_FORMAT[grain]) if zone is None or grain != "hour"
              else [_hour_label(p, zone) if not pd.isna(p) else "" for p in period])
    return frame.assign(period_key=period.dt.strftime(PERIOD_FORMAT[grain]),
                        period_label=labels)


def period_label_expr(grain, keys, zone=None):
    """Axis labels of period keys, parsed and written in UTC: '07 Dec' for days ('07 Dec 26'
    over more than a year), '14:00' for hours with the day at midnight; in `zone`, an hour's
    label is its start on the zone's clock ('19:30' in Asia/Kolkata)."""
    if grain == "hour" and zone is not None and keys:
        start, end = pd.Timestamp(keys[0]), pd.Timestamp(keys[-1]) + pd.Timedelta(hours=1)
        wall = zones.shift_expr(zone, start, end, "utcParse(datum.value, '%Y-%m-%d %H:%M')")
        return (f"utcFormat({wall}, utchours({wall}) == 0 ? (utcminutes({wall}) == 0 ? "
                "'%d %b' : '%d %b %H:%M') : '%H:%M')")
    if grain == "hour":
        return ("utcFormat(utcParse(datum.value, '%Y-%m-%d %H:%M'), "
                "slice(datum.value, 11) == '00:00' ? '%d %b' : '%H:%M')")
    fmt = "%d %b %y" if len(keys) > 366 else "%d %b"
    return f"utcFormat(utcParse(datum.value, '%Y-%m-%d'), '{fmt}')"


def period_x(grain, keys, centred=False, zone=None):
    """The x encoding of every period chart: one band per period of the window. `centred` puts
    a point or line mark in the middle of its band, level with the bars of the same period."""
    return alt.X("period_key:O", title=time_title(grain, zone),
                 scale=alt.Scale(type="band", domain=keys),
                 bandPosition=0.5 if centred else alt.Undefined,
                 axis=alt.Axis(labelExpr=period_label_expr(grain, keys, zone), labelAngle=0,
                               labelOverlap=True, labelSeparation=6, labelFlush=False,
                               ticks=False))


def period_tooltip(grain, zone=None):
    return alt.Tooltip("period_label:N", title=time_title(grain, zone))


# ------------------------------------------------------------------ instants on a UTC time scale

def utc_datetime(moment):
    """A naive UTC datetime as a Vega-Lite DateTime in UTC (never read as local time)."""
    moment = pd.Timestamp(moment).to_pydatetime()
    return alt.DateTime(year=moment.year, month=moment.month, date=moment.day, hours=moment.hour,
                        minutes=moment.minute, seconds=moment.second, utc=True)


def instant_domain(start, end):
    """[start, end] of a time axis as UTC DateTimes (None when either is unknown)."""
    if start is None or end is None or pd.isna(start) or pd.isna(end):
        return None
    return [utc_datetime(start), utc_datetime(end)]


def span_of(frame, column, start, end):
    """(start, end) of a chart of instants: the window's, or the data's first and last instant
    where the window leaves a side open (all time) or the data runs past it."""
    times = pd.to_datetime(frame[column]).dropna() if column in frame else pd.Series(dtype=object)
    low = start if start is not None else (times.min() if len(times) else None)
    high = end if end is not None else None
    if len(times):
        high = times.max() if high is None else max(pd.Timestamp(high), times.max())
    return low, high


def instant_label(span, zone=None):
    """The labels of a time axis over `span`: UTC, or the wall time of `zone` (the day at its
    midnight, else the 24-hour time)."""
    if zone is None or span[0] is None or span[1] is None:
        return INSTANT_LABEL
    wall = zones.shift_expr(zone, span[0], span[1], "datum.value")
    return (f"utcFormat({wall}, utchours({wall}) == 0 && utcminutes({wall}) == 0 ? "
            "'%d %b' : '%H:%M')")


def instant_x(field, span, title="UTC time", zone=None):
    """A time axis of instants on a UTC scale ending where the window ends; in `zone`, its
    labels read the zone's clock and its title names it ('time (Europe/Berlin)')."""
    domain = instant_domain(*span)
    return alt.X(f"{field}:T", title=title if zone is None else zones.titled("time", zone),
                 scale=alt.Scale(type="utc", domain=domain) if domain else alt.Scale(type="utc"),
                 axis=alt.Axis(labelExpr=instant_label(span, zone), labelOverlap=True,
                               labelSeparation=8))


def instant_tooltip(field, title, zone=None):
    """An instant in a tooltip: `title` names UTC; in `zone`, the text of with_wall's column
    (`field`_wall), titled with the zone ('taken (Asia/Kolkata)')."""
    if zone is None:
        return alt.Tooltip(f"{field}:T", title=title, format=INSTANT_TOOLTIP, formatType="utc")
    return alt.Tooltip(f"{field}_wall:N", title=zones.titled(title.replace(" (UTC)", ""), zone))


def with_wall(frame, field, zone=None):
    """`frame` with `field`_wall, the instant's wall time in `zone` for instant_tooltip ('07 Dec
    2026 19:33', with the zone's abbreviation where a daylight-saving change repeats it);
    `frame` itself for UTC."""
    if zone is None:
        return frame
    return frame.assign(**{f"{field}_wall": [zones.cell_text(v, zone, "%d %b %Y %H:%M")
                                             for v in frame[field]]})


def iso_utc(moment):
    """A naive UTC moment as an ISO text a browser reads as UTC ('Z'), for inline data."""
    moment = pd.Timestamp(moment)
    if moment.tzinfo is not None:
        moment = moment.tz_convert("UTC").tz_localize(None)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------ numbers

def count_axis(title, **kwargs):
    """A zero-based count axis: whole numbers with thousands separators, a handful of ticks."""
    return dict(title=title, scale=alt.Scale(zero=True),
                axis=alt.Axis(format=COUNT, tickMinStep=1, tickCount=5, **kwargs))


def bytes_ticks(largest, count=5):
    """About `count` tick values from 0 to at least `largest` bytes at round steps of one
    binary unit (0, 2, 4, 6, 8 MB; never 976.6 KB, 1.9 MB)."""
    if not largest or largest != largest or largest <= 0:
        return [0, 1024]
    unit = 1024 ** min(4, int(math.log(largest, 1024)))
    raw = largest / unit / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw) * unit
    return [i * step for i in range(math.ceil(largest / step - 1e-9) + 1)]


def bytes_axis(title, largest):
    """A zero-based bytes axis with round binary ticks up to `largest`, labelled KB/MB/GB."""
    ticks = bytes_ticks(largest)
    return dict(title=title, scale=alt.Scale(domain=[0, ticks[-1]]),
                axis=alt.Axis(labelExpr=bytes_expr("datum.value"), values=ticks))

