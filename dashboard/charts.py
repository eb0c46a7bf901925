"""Altair chart builders: plain functions, DataFrame in, alt.Chart out (no Streamlit here).

Periods are naive UTC datetimes; the time axes use UTC time units so the browser's
time zone never shifts a day. One colour per upload status on every page (STATUS_COLORS).
"""
import altair as alt

from r2w_db import config

STATUS_COLORS = {
    "processing": "#f59e0b",   # amber: in flight
    "completed": "#16a34a",    # green
    "failed": "#dc2626",       # red
    "uploaded": "#64748b",     # slate: an anonymous upload waiting for extraction
    "other": "#7c3aed",        # violet: a status the application never writes
}
SOURCE_COLORS = {"from cache": "#0891b2", "extracted": "#2563eb", "no file hash": "#9ca3af"}
BAND_COLORS = ("#dc2626", "#f59e0b", "#16a34a")   # low, below the caching threshold, cacheable
ACCENT = "#2563eb"
HEIGHT = 260

TIME_UNIT = {"day": "utcyearmonthdate", "hour": "utcyearmonthdatehours"}
TIME_FORMAT = {"day": "%a %d %b %Y", "hour": "%d %b %H:00"}


def status_scale():
    return alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))


def _scale(colors):
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def _time_x(grain, title=None, centred=False):
    """The time axis; `centred` puts marks mid-period, level with bars drawn over the period."""
    label = "UTC day" if grain == "day" else "UTC hour"
    return alt.X("period:T", timeUnit=TIME_UNIT[grain], title=title or label,
                 bandPosition=0.5 if centred else alt.Undefined,
                 axis=alt.Axis(format=TIME_FORMAT[grain] if grain == "hour" else "%d %b",
                               labelOverlap=True))


def _time_tooltip(grain):
    return alt.Tooltip("period:T", timeUnit=TIME_UNIT[grain], format=TIME_FORMAT[grain],
                       title="UTC hour" if grain == "hour" else "UTC day")


def _base(frame):
    return alt.Chart(frame).properties(height=HEIGHT)


ROLLUP = "daily roll-up"   # figures.earlier_days: a day the live database no longer holds


def _source(frame, field="source"):
    """(opacity encoding, tooltip list) for a frame with a `source` column (live / daily
    roll-up: the roll-up days drawn lighter; `field` is its name in the chart's data), else
    (Undefined, [])."""
    if "source" not in getattr(frame, "columns", ()):
        return alt.Undefined, []
    legend = alt.Legend(title=None, orient="top") if (frame["source"] == ROLLUP).any() else None
    return (alt.Opacity(f"{field}:N", scale=alt.Scale(domain=["live", ROLLUP], range=[1.0, 0.45]),
                        legend=legend),
            [alt.Tooltip(f"{field}:N", title="from")])


def stacked_periods(frame, category, value, colors, grain="day", title=None, value_title=None):
    """Stacked bars per period: frame has period, `category`, `value` (long form)."""
    order = list(colors)
    # long rows of a frame from figures.earlier_days carry their day's source as source_of_day
    opacity, source_tip = (_source(frame[["source_of_day"]].set_axis(["source"], axis=1),
                                   "source_of_day") if "source_of_day" in frame
                           else (alt.Undefined, []))
    return _base(frame).mark_bar().encode(
        x=_time_x(grain),
        y=alt.Y(f"{value}:Q", stack="zero", title=value_title or value),
        color=alt.Color(f"{category}:N", scale=_scale(colors), sort=order,
                        legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("order:Q"), opacity=opacity,
        tooltip=[_time_tooltip(grain), alt.Tooltip(f"{category}:N"),
                 alt.Tooltip(f"{value}:Q", format=","), *source_tip],
    ).transform_calculate(
        order=f"indexof({order!r}, datum.{category})"
    ).properties(title=title or "")


def status_periods(frame, grain="day"):
    """Uploads per period stacked by status (frame: period, status, uploads)."""
    return stacked_periods(frame, "status", "uploads", STATUS_COLORS, grain, value_title="uploads")


def served_periods(frame, grain="day"):
    """Uploads per period: served from cache vs extracted (frame: period, source, uploads)."""
    return stacked_periods(frame, "source", "uploads", SOURCE_COLORS, grain, value_title="uploads")


def rate_line(frame, rate, grain="day", title="rate", overall=None, counts=(), color=ACCENT,
              full_scale=True):
    """A share (0..1) per period as a line with points; gaps where there is no data (NaN).

    `overall` draws a dashed rule at that level; `counts` are extra tooltip fields;
    `full_scale` fixes the axis at 0–100 % (else from 0 to a little above the largest value,
    at least 5 %).
    """
    largest = frame[rate].max() if len(frame) else None
    largest = 0.0 if largest is None or largest != largest else float(largest)  # NaN: no data
    top = 1.0 if full_scale else min(1.0, max(0.05, largest * 1.1))
    opacity, source_tip = _source(frame)
    y = alt.Y(f"{rate}:Q", title=title, axis=alt.Axis(format=".0%"), scale=alt.Scale(domain=[0, top]))
    tooltip = [_time_tooltip(grain), alt.Tooltip(f"{rate}:Q", format=".1%", title=title),
               *[alt.Tooltip(f"{c}:Q", format=",") for c in counts], *source_tip]
    line = _base(frame).mark_line(point=True, color=color).encode(
        x=_time_x(grain), y=y, tooltip=tooltip)
    if source_tip:   # the points carry the source (a line cannot change opacity midway)
        line = _base(frame).mark_line(color=color).encode(x=_time_x(grain), y=y) + _base(
            frame).mark_point(filled=True, color=color, size=40).encode(
            x=_time_x(grain), y=y, opacity=opacity, tooltip=tooltip)
    if overall is None:
        return line
    level = alt.Data(values=[{"overall": overall}])
    rule = alt.Chart(level).mark_rule(strokeDash=[6, 4], color="#6b7280").encode(
        y="overall:Q", tooltip=alt.Tooltip("overall:Q", format=".1%", title="whole window"))
    return alt.layer(line, rule)


def value_line(frame, value, grain="day", title=None, fmt=".3f", counts=(), domain=None):
    """A value (e.g. mean confidence) per period."""
    y = alt.Y(f"{value}:Q", title=title or value,
              scale=alt.Scale(domain=domain, zero=False) if domain else alt.Scale(zero=False))
    return _base(frame).mark_line(point=True, color=ACCENT).encode(
        x=_time_x(grain), y=y,
        tooltip=[_time_tooltip(grain), alt.Tooltip(f"{value}:Q", format=fmt, title=title or value),
                 *[alt.Tooltip(f"{c}:Q", format=",") for c in counts]],
    )


def count_bars(frame, category, value, title=None, sort=None, color=ACCENT, horizontal=True,
               extra=()):
    """One bar per category (file types, access-count buckets); `extra`: more count fields for
    the tooltip."""
    cat = alt.Y if horizontal else alt.X
    val = alt.X if horizontal else alt.Y
    return _base(frame).mark_bar(color=color).encode(
        cat(f"{category}:N", sort=sort if sort is not None else "-x" if horizontal else None,
            title=None, axis=alt.Axis(labelLimit=320)),
        val(f"{value}:Q", title=title or value),
        tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=","),
                 *[alt.Tooltip(f"{e}:Q", format=",") for e in extra]],
    )


def status_bars(frame):
    """Uploads per status (frame: status, uploads), in the status colours; every label shown."""
    return _base(frame).mark_bar().encode(
        y=alt.Y("status:N", sort=list(STATUS_COLORS), title=None,
                axis=alt.Axis(labelOverlap=False, labelLimit=200)),
        x=alt.X("uploads:Q", title="uploads"),
        color=alt.Color("status:N", scale=status_scale(), legend=None),
        tooltip=[alt.Tooltip("status:N"), alt.Tooltip("uploads:Q", format=",")],
    ).properties(height=40 * len(STATUS_COLORS))


def confidence_histogram(frame, bands):
    """Entries per 0.05 bin (frame: bin_start, bin_end, entries, band), with the 0.7 (low) and
    0.75 (caching threshold) rules drawn on it."""
    colors = dict(zip(bands, BAND_COLORS))
    bars = _base(frame).mark_bar(binSpacing=1).encode(
        x=alt.X("bin_start:Q", bin="binned", title="confidence score",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".2f", tickCount=20)),
        x2="bin_end:Q",
        y=alt.Y("entries:Q", title="cache entries"),
        color=alt.Color("band:N", scale=_scale(colors),
                        legend=alt.Legend(title=None, orient="top", labelLimit=400)),
        tooltip=[alt.Tooltip("bin_start:Q", title="from", format=".2f"),
                 alt.Tooltip("bin_end:Q", title="to", format=".2f"),
                 alt.Tooltip("entries:Q", format=","), alt.Tooltip("band:N")],
    )
    rules = [(config.LOW_CONFIDENCE, f"low below {config.LOW_CONFIDENCE}", "right", -4),
             (config.CACHE_THRESHOLD, f"caching threshold {config.CACHE_THRESHOLD}", "left", 4)]
    marks = []
    for at, text, align, dx in rules:  # the low label left of its rule, the threshold's right
        data = alt.Data(values=[{"at": at, "rule": text}])
        marks.append(alt.Chart(data).mark_rule(strokeDash=[5, 3], color="#111827", size=2).encode(
            x="at:Q", tooltip=[alt.Tooltip("rule:N"), alt.Tooltip("at:Q", format=".2f")]))
        marks.append(alt.Chart(data).mark_text(align=align, dx=dx, dy=2, baseline="top",
                                               color="#111827").encode(
            x="at:Q", y=alt.value(0), text="rule:N"))
    return alt.layer(bars, *marks)


def new_and_total(frame, grain="day"):
    """Anonymous ids: new per period (bars) and the running total still owning uploads (line),
    on their own y axes."""
    base = _base(frame).encode(x=_time_x(grain))
    opacity, source_tip = _source(frame)
    tooltip = [_time_tooltip(grain), alt.Tooltip("new_ids:Q", title="new ids", format=","),
               alt.Tooltip("owning_ids:Q", title="ids owning uploads", format=","), *source_tip]
    bars = base.mark_bar(color="#93c5fd").encode(
        y=alt.Y("new_ids:Q", title="new anonymous ids (bars)"), tooltip=tooltip, opacity=opacity)
    line = base.mark_line(color="#1e3a8a", point=True).encode(
        x=_time_x(grain, centred=True),
        y=alt.Y("owning_ids:Q", title="ids still owning uploads (line)"), tooltip=tooltip)
    return alt.layer(bars, line).resolve_scale(y="independent")


def age_bars(frame):
    """Anonymous ids by the age of their newest upload (frame: bucket, ids, uploads, stale),
    split into within and beyond the retention."""
    colors = {"within retention": "#60a5fa", "beyond retention (stale)": "#dc2626"}
    return _base(frame).transform_calculate(
        **{"within retention": "datum.ids - datum.stale", "beyond retention (stale)": "datum.stale"}
    ).transform_fold(list(colors), as_=["side", "count"]).mark_bar().encode(
        y=alt.Y("bucket:N", sort=list(frame["bucket"]), title=None),
        x=alt.X("count:Q", stack="zero", title="anonymous ids"),
        color=alt.Color("side:N", scale=_scale(colors), legend=alt.Legend(title=None, orient="top")),
        tooltip=[alt.Tooltip("bucket:N", title="newest upload"), alt.Tooltip("side:N"),
                 alt.Tooltip("count:Q", title="ids", format=","),
                 alt.Tooltip("uploads:Q", title="uploads (whole bucket)", format=",")],
    )
