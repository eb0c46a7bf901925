"""Altair chart builders: plain functions, DataFrame in, alt.Chart out (no Streamlit here).

Periods are naive UTC datetimes, drawn on the band scale of dashboard/chart_axes.py: 24-hour
UTC, one band per period of the window (bars fill it, points sit in its middle), nothing past
the window's end. One colour per upload status on every page (STATUS_COLORS). A rate per period
says in its tooltip how many cases it stands on; a period with fewer than
proportions.MIN_CASES is drawn hollow and grey and says why, and the others carry their Wilson
95 % interval as a band (docs/figures.md).
"""
from dataclasses import dataclass

import altair as alt
from altair.utils import schemapi

from dashboard.chart_axes import (COUNT, RATE, RATE_FINE, SCORE, Y_EXTENT, count_axis,
                                  period_keys, period_tooltip, period_x, with_periods)
from r2w_db import config
from r2w_db.figures.proportions import MIN_CASES, too_few, wilson

# Altair's "debug mode" validates every schema object against the Vega-Lite schema when it is
# created (each encoding, axis, layer), which was most of the time a page spent building its
# charts. Off: a chart is validated whole by its tests (tests/test_charts.py and
# tests/test_chart_specs.py call to_dict(), which validates); pages draw it unvalidated
# (widgets.Unvalidated).
schemapi.disable_debug_mode()

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
TOO_FEW = "#9ca3af"   # a period with too few cases to judge: hollow grey points
HEIGHT = 260


@dataclass(frozen=True)
class Sample:
    """What a rate per period stands on: `part` of `whole` (columns; the whole is their sum),
    told as `says` ("failed {part} of {whole} finished jobs"); `cases` names them ("finished
    jobs")."""
    part: str
    whole: tuple
    says: str
    cases: str


HIT_SAMPLE = Sample("hits", ("hashed",), "{part} of {whole} hashed uploads served from cache",
                    "hashed uploads")
FAILURE_SAMPLE = Sample("failed", ("completed", "failed"), "failed {part} of {whole} finished jobs",
                        "finished jobs")
SHARE_SAMPLE = Sample("anonymous", ("uploads",), "{part} of {whole} uploads anonymous", "uploads")


def status_scale():
    return alt.Scale(domain=list(STATUS_COLORS), range=list(STATUS_COLORS.values()))


def _scale(colors):
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def _base(frame):
    # the height in the constructor: .properties() validates its argument against the schema
    # (a few ms on every chart)
    return alt.Chart(frame, height=HEIGHT)


def _layered(data, *layers):
    """The layers (built on `_base(alt.Undefined)`) over one data set given once, at the top.
    Layers that each carried the same frame cost Altair a hash of the frame's text per layer
    (a DataFrame repr) and a deep copy: most of a chart's construction time."""
    return alt.layer(*layers, data=data)


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


def stacked_periods(frame, category, value, colors, window, title=None, value_title=None,
                    zone=None):
    """Stacked bars per period: frame has period, `category`, `value` (long form); `zone`: the
    wall time of hours' labels (dashboard/chart_axes.py)."""
    order = list(colors)
    # long rows of a frame from figures.earlier_days carry their day's source as source_of_day
    opacity, source_tip = (_source(frame[["source_of_day"]].set_axis(["source"], axis=1),
                                   "source_of_day") if "source_of_day" in frame
                           else (alt.Undefined, []))
    grain = window.grain
    return _base(with_periods(frame, grain, zone)).mark_bar().encode(
        x=period_x(grain, period_keys(frame, window), zone=zone),
        y=alt.Y(f"{value}:Q", stack="zero",
                **count_axis(value_title or value, minExtent=Y_EXTENT, maxExtent=Y_EXTENT)),
        color=alt.Color(f"{category}:N", scale=_scale(colors), sort=order,
                        legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("order:Q"), opacity=opacity,
        tooltip=[period_tooltip(grain, zone), alt.Tooltip(f"{category}:N"),
                 alt.Tooltip(f"{value}:Q", format=COUNT), *source_tip],
    ).transform_calculate(
        order=f"indexof({order!r}, datum.{category})"
    ).properties(title=title or "")


def status_periods(frame, window, zone=None):
    """Uploads per period stacked by status (frame: period, status, uploads)."""
    return stacked_periods(frame, "status", "uploads", STATUS_COLORS, window, value_title="uploads",
                           zone=zone)


def served_periods(frame, window, zone=None):
    """Uploads per period: served from cache vs extracted (frame: period, source, uploads)."""
    return stacked_periods(frame, "source", "uploads", SOURCE_COLORS, window, value_title="uploads",
                           zone=zone)


def judged(frame, sample):
    """`frame` with, per period, `cases`, `judged` (at least MIN_CASES cases), `sample` (the
    sentence of its cases), `note` (why it is not judged), and the Wilson 95 % interval `low`,
    `high` and its text `interval` (NaN / "–" where not judged)."""
    cases = sum(frame[c] for c in sample.whole).astype("int64")
    part = frame[sample.part].astype("int64")
    enough = ~cases.map(too_few).astype(bool)
    bounds = [wilson(int(p), int(n)) if ok else None for p, n, ok in zip(part, cases, enough)]
    return frame.assign(
        cases=cases, judged=enough,
        sample=[sample.says.format(part=f"{p:,}", whole=f"{n:,}") for p, n in zip(part, cases)],
        note=["" if ok else f"no {sample.cases}" if not n else
              f"fewer than {MIN_CASES} {sample.cases}: too few to judge"
              for ok, n in zip(enough, cases)],
        low=[b[0] if b else float("nan") for b in bounds],
        high=[b[1] if b else float("nan") for b in bounds],
        interval=[f"{b[0]:.1%} to {b[1]:.1%}" if b else "–" for b in bounds])


def _judged_marks(data, x, field, y_axis, color, tooltip, opacity=alt.Undefined):
    """A line through the judged periods (a gap at the others), filled points on them, and
    hollow grey points on the periods with too few cases (`y_axis`: title, scale, axis)."""
    base = _base(alt.Undefined)   # the caller layers these over `data` (_layered)
    y = alt.Y(f"{field}:Q", **y_axis)
    size = 45 if len(data) <= 40 else 16   # 90 days of points would crowd the line
    line = base.transform_calculate(
        shown=f"datum.judged ? datum['{field}'] : null").mark_line(color=color).encode(
        x=x, y=alt.Y("shown:Q", **y_axis))
    solid = base.transform_filter("datum.judged").mark_point(
        filled=True, size=size, color=color).encode(x=x, y=y, tooltip=tooltip, opacity=opacity)
    hollow = base.transform_filter("!datum.judged").mark_point(
        filled=False, size=size * 1.5, strokeWidth=1.5, color=TOO_FEW).encode(
        x=x, y=y, tooltip=tooltip)
    return [line, solid, hollow]


def rate_line(frame, rate, window, title, sample, overall=None, color=ACCENT, full_scale=True,
              zone=None):
    """A share (0..1) per period: its Wilson 95 % band, a line through the periods with at least
    MIN_CASES cases and points; hollow grey points where there are fewer; gaps where none.

    `sample` (Sample) says what each period stands on; `overall` draws a dashed rule at the
    whole window's level; `full_scale` fixes the axis at 0–100 % (else from 0 to a little above
    the largest rate, at least 5 %; an interval reaching higher is cut at the top, its bounds
    in the tooltip). `zone`: the wall time of hours' labels (dashboard/chart_axes.py).
    """
    grain = window.grain
    data = with_periods(judged(frame, sample), grain, zone)
    rates = [float(v) for v in data[rate] if v == v]
    top = 1.0 if full_scale else min(1.0, max(0.05, max(rates, default=0.0) * 1.1))
    x = period_x(grain, period_keys(frame, window), centred=True, zone=zone)
    y_axis = dict(title=title, scale=alt.Scale(domain=[0, top]),
                  axis=alt.Axis(format=RATE, tickCount=5, minExtent=Y_EXTENT, maxExtent=Y_EXTENT))
    opacity, source_tip = _source(frame)
    tooltip = [period_tooltip(grain, zone), alt.Tooltip(f"{rate}:Q", format=RATE_FINE, title=title),
               alt.Tooltip("sample:N", title="out of"),
               alt.Tooltip("interval:N", title="95 % interval"),
               alt.Tooltip("note:N", title="note"), *source_tip]
    band = _base(alt.Undefined).mark_area(opacity=0.16, color=color, clip=True).encode(
        x=x, y=alt.Y("low:Q", **y_axis), y2=alt.Y2("high:Q"), tooltip=tooltip)
    layers = [band, *_judged_marks(data, x, rate, y_axis, color, tooltip, opacity)]
    if overall is not None:
        level = alt.Data(values=[{"overall": overall}])
        layers.append(alt.Chart(level).mark_rule(strokeDash=[6, 4], color="#6b7280").encode(
            y=alt.Y("overall:Q"), tooltip=alt.Tooltip("overall:Q", format=RATE_FINE, title="whole window")))
    return _layered(data, *layers)


def rate_caption(cases):
    """The sentence under a rate chart that says how to read its marks."""
    return (f"Shaded: the 95 % Wilson interval of each period's rate. Hollow grey points: "
            f"periods with fewer than {MIN_CASES} {cases}, too few to judge (hover for the "
            "counts).")


def threshold_rules(rules=((config.LOW_CONFIDENCE, "low below"),
                           (config.CACHE_THRESHOLD, "caching threshold"))):
    """Dashed rules at the confidence thresholds, each with its tooltip."""
    data = alt.Data(values=[{"at": at, "rule": f"{text} {at}"} for at, text in rules])
    return alt.Chart(data).mark_rule(strokeDash=[5, 3], color="#111827").encode(
        y=alt.Y("at:Q"),
        tooltip=[alt.Tooltip("rule:N"), alt.Tooltip("at:Q", format=".2f")])


def value_line(frame, value, window, title, counts=(), cases="entries", noun="cache entries",
               zone=None):
    """A score (e.g. mean confidence) per period on its whole 0–1 axis, with the low and the
    caching thresholds as dashed rules: a dip reads against them, never as a cliff. A period
    with fewer than MIN_CASES `cases` is hollow and grey and says why."""
    grain = window.grain
    n = frame[cases].astype("int64")
    data = with_periods(frame.assign(
        judged=~n.map(too_few).astype(bool),
        note=[f"fewer than {MIN_CASES} {noun}: too few to judge" if too_few(k) else ""
              for k in n]), grain, zone)
    x = period_x(grain, period_keys(frame, window), centred=True, zone=zone)
    y_axis = dict(title=title, scale=alt.Scale(domain=[0, 1]),
                  axis=alt.Axis(format=".2f", tickCount=5, minExtent=Y_EXTENT, maxExtent=Y_EXTENT))
    tooltip = [period_tooltip(grain, zone), alt.Tooltip(f"{value}:Q", format=SCORE, title=title),
               *[alt.Tooltip(f"{c}:Q", format=COUNT) for c in counts],
               alt.Tooltip("note:N", title="note")]
    return _layered(data, *_judged_marks(data, x, value, y_axis, ACCENT, tooltip), threshold_rules())


def count_bars(frame, category, value, title=None, sort=None, color=ACCENT, horizontal=True,
               extra=()):
    """One bar per category (file types, access-count buckets); `extra`: more count fields for
    the tooltip."""
    cat = alt.Y if horizontal else alt.X
    val = alt.X if horizontal else alt.Y
    return _base(frame).mark_bar(color=color).encode(
        cat(f"{category}:N", sort=sort if sort is not None else "-x" if horizontal else None,
            title=None, axis=alt.Axis(labelLimit=320)),
        val(f"{value}:Q", **count_axis(title or value)),
        tooltip=[alt.Tooltip(f"{category}:N"), alt.Tooltip(f"{value}:Q", format=COUNT),
                 *[alt.Tooltip(f"{e}:Q", format=COUNT) for e in extra]],
    )


def status_bars(frame):
    """Uploads per status (frame: status, uploads), in the status colours; every label shown."""
    return _base(frame).mark_bar().encode(
        y=alt.Y("status:N", sort=list(STATUS_COLORS), title=None,
                axis=alt.Axis(labelOverlap=False, labelLimit=200)),
        x=alt.X("uploads:Q", **count_axis("uploads")),
        color=alt.Color("status:N", scale=status_scale(), legend=None),
        tooltip=[alt.Tooltip("status:N"), alt.Tooltip("uploads:Q", format=COUNT)],
    ).properties(height=40 * len(STATUS_COLORS))


def confidence_histogram(frame, bands):
    """Entries per 0.05 bin (frame: bin_start, bin_end, entries, band), with the 0.7 (low) and
    0.75 (caching threshold) rules drawn on it."""
    colors = dict(zip(bands, BAND_COLORS))
    bars = _base(frame).mark_bar(binSpacing=1).encode(
        x=alt.X("bin_start:Q", bin="binned", title="confidence score",
                scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format=".2f", tickCount=10)),
        x2=alt.X2("bin_end:Q"),
        y=alt.Y("entries:Q", **count_axis("cache entries")),
        color=alt.Color("band:N", scale=_scale(colors),
                        legend=alt.Legend(title=None, orient="top", labelLimit=400)),
        tooltip=[alt.Tooltip("bin_start:Q", title="from", format=".2f"),
                 alt.Tooltip("bin_end:Q", title="to", format=".2f"),
                 alt.Tooltip("entries:Q", format=COUNT), alt.Tooltip("band:N")],
    )
    rules = [(config.LOW_CONFIDENCE, f"low below {config.LOW_CONFIDENCE}", "right", -4),
             (config.CACHE_THRESHOLD, f"caching threshold {config.CACHE_THRESHOLD}", "left", 4)]
    marks = []
    for at, text, align, dx in rules:  # the low label left of its rule, the threshold's right
        data = alt.Data(values=[{"at": at, "rule": text}])
        marks.append(alt.Chart(data).mark_rule(strokeDash=[5, 3], color="#111827", size=2).encode(
            x=alt.X("at:Q"), tooltip=[alt.Tooltip("rule:N"), alt.Tooltip("at:Q", format=".2f")]))
        marks.append(alt.Chart(data).mark_text(align=align, dx=dx, dy=2, baseline="top",
                                               color="#111827").encode(
            x=alt.X("at:Q"), y=alt.value(0), text=alt.Text("rule:N")))
    return alt.layer(bars, *marks)


def new_and_total(frame, window, zone=None):
    """Anonymous ids: new per period (bars) and the running total still owning uploads (line,
    in the middle of each period's band), on their own y axes."""
    grain = window.grain
    keys = period_keys(frame, window)
    base = _base(alt.Undefined)
    opacity, source_tip = _source(frame)
    tooltip = [period_tooltip(grain, zone), alt.Tooltip("new_ids:Q", title="new ids", format=COUNT),
               alt.Tooltip("owning_ids:Q", title="ids owning uploads", format=COUNT), *source_tip]
    bars = base.mark_bar(color="#93c5fd").encode(
        x=period_x(grain, keys, zone=zone), tooltip=tooltip, opacity=opacity,
        y=alt.Y("new_ids:Q", **count_axis("new anonymous ids (bars)", minExtent=Y_EXTENT,
                                          maxExtent=Y_EXTENT)))
    line = base.mark_line(color="#1e3a8a", point=True).encode(
        x=period_x(grain, keys, centred=True, zone=zone), tooltip=tooltip,
        y=alt.Y("owning_ids:Q", **count_axis("ids still owning uploads (line)")))
    return _layered(with_periods(frame, grain, zone), bars, line).resolve_scale(y="independent")


def age_bars(frame):
    """Anonymous ids by the age of their newest upload (frame: bucket, ids, uploads, stale),
    split into within and beyond the retention."""
    colors = {"within retention": "#60a5fa", "beyond retention (stale)": "#dc2626"}
    return _base(frame).transform_calculate(
        **{"within retention": "datum.ids - datum.stale", "beyond retention (stale)": "datum.stale"}
    ).transform_fold(list(colors), as_=["side", "count"]).mark_bar().encode(
        y=alt.Y("bucket:N", sort=list(frame["bucket"]), title=None),
        x=alt.X("count:Q", stack="zero", **count_axis("anonymous ids")),
        color=alt.Color("side:N", scale=_scale(colors), legend=alt.Legend(title=None, orient="top")),
        tooltip=[alt.Tooltip("bucket:N", title="newest upload"), alt.Tooltip("side:N"),
                 alt.Tooltip("count:Q", title="ids", format=COUNT),
                 alt.Tooltip("uploads:Q", title="uploads (whole bucket)", format=COUNT)],
    )
