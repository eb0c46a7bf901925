"""Altair chart builders of the History page: plain functions, DataFrame in, alt.Chart out.

Snapshot times are naive UTC datetimes, drawn on a UTC time scale whose domain is the window
(`span`: its start and end; the data's first and last instant where the window leaves a side
open), with 24-hour UTC labels (dashboard/chart_axes.py). Sizes are bytes, shown as KB/MB/GB on
the axes and in the tooltips, and in full bytes in the tooltips too. With a `zone` (the
browser's), the time axis and the tooltips read its wall time (dashboard/zones.py).
"""
import altair as alt
import pandas as pd

from dashboard.chart_axes import (COUNT, bytes_axis, bytes_expr, count_axis, instant_tooltip,
                                  instant_x, iso_utc, span_of, with_wall)
from r2w_db.figures import history_page

HEIGHT = 260
SIZE_COLORS = {**dict.fromkeys(history_page.DATABASE_SIZE_LABELS, "#2563eb"), "WAL": "#f59e0b",
               "free pages": "#7c3aed", "free disk": "#16a34a"}
LEVEL_COLORS = {"cache entries": "#0891b2", "anonymous ids": "#1e3a8a"}
OUTCOME_SHAPES = {"ok": "circle", "failed": "cross", "refused": "triangle-down",
                  "cancelled": "square", "running": "diamond"}
NO_SPAN = (None, None)


def _x(frame, span, field="taken_at", zone=None):
    return instant_x(field, span_of(frame, field, *span), zone=zone)


def _when(field="taken_at", title="taken (UTC)", zone=None):
    return instant_tooltip(field, title, zone)


def _scale(colors):
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def _with_sizes(chart, **fields):
    """`chart` with a text field per bytes field, as KB/MB/GB (name: bytes field)."""
    return chart.transform_calculate(**{name: bytes_expr(f"datum['{field}']")
                                        for name, field in fields.items()})


def size_lines(frame, colors=SIZE_COLORS, title="size", span=NO_SPAN, zone=None):
    """Sizes over time (frame: taken_at, series, bytes), one line per series."""
    present = [s for s in colors if s in set(frame["series"])] or list(colors)
    return _with_sizes(alt.Chart(with_wall(frame, "taken_at", zone)), size="bytes").mark_line(
        point=alt.OverlayMarkDef(size=18), interpolate="step-after", clip=True).encode(
        x=_x(frame, span, zone=zone),
        y=alt.Y("bytes:Q", **bytes_axis(title, frame["bytes"].max())),
        color=alt.Color("series:N", scale=_scale({s: colors[s] for s in present}),
                        legend=alt.Legend(title=None, orient="top")),
        tooltip=[_when(zone=zone), alt.Tooltip("series:N"), alt.Tooltip("size:N"),
                 alt.Tooltip("bytes:Q", format=COUNT), alt.Tooltip("grain:N", title="kept as")],
    ).properties(height=HEIGHT)


def forecast_chart(observed, band, horizons=(), label="database file + WAL"):
    """The recorded size (points), the fitted line and its extension (dashed), the 95 %
    prediction band (shaded) and a rule at each horizon (horizons: [{"label", "at", "bytes",
    "low", "high"}]; label: the bytes' axis title, history_page.size_label). Its time axis runs
    from the first snapshot fitted to the last horizon."""
    span = span_of(pd.concat([observed[["taken_at"]], band[["taken_at"]]]), "taken_at", None, None)
    x = instant_x("taken_at", span)
    area = _with_sizes(alt.Chart(band), forecast="bytes", low_size="low",
                       high_size="high").mark_area(opacity=0.22, color="#2563eb").encode(
        x=x, y=alt.Y("low:Q", **bytes_axis(label,
                                          pd.concat([band["high"], observed["bytes"]]).max())),
        y2=alt.Y2("high:Q"),
        tooltip=[_when(title="UTC day"), alt.Tooltip("forecast:N"),
                 alt.Tooltip("low_size:N", title="95 % low"),
                 alt.Tooltip("high_size:N", title="95 % high")])
    line = alt.Chart(band).mark_line(strokeDash=[6, 4], color="#1e3a8a").encode(x=x, y=alt.Y("bytes:Q"))
    points = _with_sizes(alt.Chart(observed), recorded="bytes").mark_circle(
        size=22, color="#111827").encode(
        x=x, y=alt.Y("bytes:Q"),
        tooltip=[_when(), alt.Tooltip("recorded:N"), alt.Tooltip("bytes:Q", format=COUNT)])
    layers = [area, line, points]
    if len(horizons):
        marks = alt.Data(values=[{**h, "at": iso_utc(h["at"])} for h in horizons])
        rule = _with_sizes(alt.Chart(marks), forecast="bytes", low_size="low",
                           high_size="high").mark_rule(color="#6b7280", strokeDash=[2, 2]).encode(
            x=alt.X("at:T", scale=alt.Scale(type="utc")),
            tooltip=[alt.Tooltip("label:N", title="in"),
                     alt.Tooltip("at:T", title="UTC day", format="%d %b %Y", formatType="utc"),
                     alt.Tooltip("forecast:N"), alt.Tooltip("low_size:N", title="95 % low"),
                     alt.Tooltip("high_size:N", title="95 % high")])
        label = alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, color="#374151").encode(
            x=alt.X("at:T", scale=alt.Scale(type="utc")), y=alt.value(8), text=alt.Text("label:N"))
        layers += [rule, label]
    return alt.layer(*layers).properties(height=HEIGHT + 40)


def table_bars(frame):
    """Bytes per table (frame: table, rows, bytes, index_bytes): the table's own pages and its
    indexes stacked, rows in the tooltip."""
    parts = {"table": "#2563eb", "indexes": "#93c5fd"}
    long = pd.concat([frame.assign(part=name, part_bytes=frame[column].astype("float64"))
                      for name, column in (("table", "bytes"), ("indexes", "index_bytes"))],
                     ignore_index=True)
    order = list(frame.sort_values("bytes", ascending=False)["table"])
    return _with_sizes(alt.Chart(long), size="part_bytes", table_size="bytes",
                       index_size="index_bytes").mark_bar().encode(
        y=alt.Y("table:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("part_bytes:Q", stack="zero",
                **bytes_axis("size", (frame["bytes"] + frame["index_bytes"]).max())),
        color=alt.Color("part:N", scale=_scale(parts), legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("part:N", sort="descending"),
        tooltip=[alt.Tooltip("table:N"), alt.Tooltip("part:N"), alt.Tooltip("size:N"),
                 alt.Tooltip("rows:Q", format=COUNT),
                 alt.Tooltip("table_size:N", title="table"),
                 alt.Tooltip("index_size:N", title="indexes")],
    ).properties(height=alt.Step(34))


def table_rows(frame, span=NO_SPAN, zone=None):
    """Rows per table over time (frame: taken_at, table, rows, bytes)."""
    return _with_sizes(alt.Chart(with_wall(frame, "taken_at", zone)), size="bytes").mark_line(
        interpolate="step-after", clip=True).encode(
        x=_x(frame, span, zone=zone), y=alt.Y("rows:Q", **count_axis("rows")),
        color=alt.Color("table:N", legend=alt.Legend(title=None, orient="top")),
        tooltip=[_when(zone=zone), alt.Tooltip("table:N"), alt.Tooltip("rows:Q", format=COUNT),
                 alt.Tooltip("size:N")],
    ).properties(height=HEIGHT)


def level_with_runs(frame, runs, series, span=NO_SPAN, zone=None):
    """One level over time (frame: taken_at, grain, series, value; the rows of `series`) with
    every maintenance run (runs: started_at, task, outcome, rows, user) a thin rule on the time
    axis and a mark at its top, one colour per task (the legend) and one shape per outcome,
    with the run in the tooltip: so a cleanup's effect shows on the line, and runs close
    together never write over each other."""
    color = LEVEL_COLORS.get(series, "#1e3a8a")
    part = frame[frame["series"] == series]
    x = _x(part, span, zone=zone)
    line = alt.Chart(with_wall(part, "taken_at", zone)).mark_line(interpolate="step-after", color=color, clip=True,
                                     point=alt.OverlayMarkDef(size=14, color=color)).encode(
        x=x, y=alt.Y("value:Q", **count_axis(series)),
        tooltip=[_when(zone=zone), alt.Tooltip("series:N"), alt.Tooltip("value:Q", format=COUNT)])
    if not len(runs):
        return line.properties(height=HEIGHT)
    data = with_wall(runs, "started_at", zone).assign(started_at=runs["started_at"].map(iso_utc),
                       rows=runs["rows"].astype("float64"))
    outcomes = [o for o in OUTCOME_SHAPES if o in set(data["outcome"])]
    outcomes += sorted(set(data["outcome"]) - set(outcomes))
    run_x = alt.X("started_at:T", scale=alt.Scale(type="utc"))
    tooltip = [alt.Tooltip("task:N"), alt.Tooltip("outcome:N"),
               alt.Tooltip("rows:Q", format=COUNT), alt.Tooltip("user:N"),
               _when("started_at", "started (UTC)", zone)]
    task = alt.Color("task:N", title="maintenance run (task)", scale=alt.Scale(scheme="tableau10"),
                     legend=alt.Legend(orient="top"))
    rules = alt.Chart(data).mark_rule(strokeWidth=1.5, opacity=0.7, clip=True).encode(
        x=run_x, color=task, tooltip=tooltip)
    marks = alt.Chart(data).mark_point(filled=True, size=70, clip=True).encode(
        x=run_x, y=alt.value(6), color=task, tooltip=tooltip,
        shape=alt.Shape("outcome:N", scale=alt.Scale(
            domain=outcomes, range=[OUTCOME_SHAPES.get(o, "circle") for o in outcomes]),
            legend=alt.Legend(orient="top", title="outcome")))
    return alt.layer(line, rules, marks).properties(height=HEIGHT)
