"""Altair chart builders of the History page: plain functions, DataFrame in, alt.Chart out.

Snapshot times are naive UTC datetimes, drawn on a UTC time scale so the browser's time zone
never shifts them. Sizes are in bytes, shown with SI prefixes on the axes and in full in the
tooltips.
"""
import altair as alt
import pandas as pd

from r2w_db.figures import history_page

HEIGHT = 260
SIZE_COLORS = {**dict.fromkeys(history_page.DATABASE_SIZE_LABELS, "#2563eb"), "WAL": "#f59e0b",
               "free pages": "#7c3aed", "free disk": "#16a34a"}
LEVEL_COLORS = {"cache entries": "#0891b2", "anonymous ids": "#1e3a8a"}
OUTCOME_COLORS = {"ok": "#6b7280", "failed": "#dc2626", "refused": "#f59e0b",
                  "cancelled": "#9ca3af", "running": "#2563eb"}
TIME_FORMAT = "%d %b %H:%M"


def _x(field="taken_at", title="UTC time"):
    return alt.X(f"{field}:T", title=title, scale=alt.Scale(type="utc"),
                 axis=alt.Axis(format="%d %b", labelOverlap=True, formatType="utc"))


def _when(field="taken_at", title="taken (UTC)"):
    return alt.Tooltip(f"{field}:T", title=title, format=TIME_FORMAT, formatType="utc")


def _scale(colors):
    return alt.Scale(domain=list(colors), range=list(colors.values()))


def size_lines(frame, colors=SIZE_COLORS, title="bytes"):
    """Sizes over time (frame: taken_at, series, bytes), one line per series."""
    present = [s for s in colors if s in set(frame["series"])] or list(colors)
    return alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=18), interpolate="step-after"
                                      ).encode(
        x=_x(),
        y=alt.Y("bytes:Q", title=title, axis=alt.Axis(format="~s")),
        color=alt.Color("series:N", scale=_scale({s: colors[s] for s in present}),
                        legend=alt.Legend(title=None, orient="top")),
        tooltip=[_when(), alt.Tooltip("series:N"), alt.Tooltip("bytes:Q", format=",.0f"),
                 alt.Tooltip("grain:N", title="kept as")],
    ).properties(height=HEIGHT)


def forecast_chart(observed, band, horizons=()):
    """The recorded size (points), the fitted line and its extension (dashed), the 95 %
    prediction band (shaded) and a rule at each horizon (horizons: [{"label", "at", "bytes",
    "low", "high"}])."""
    area = alt.Chart(band).mark_area(opacity=0.22, color="#2563eb").encode(
        x=_x(), y=alt.Y("low:Q", title="database file + WAL (bytes)", axis=alt.Axis(format="~s")),
        y2="high:Q",
        tooltip=[_when(title="UTC day"), alt.Tooltip("bytes:Q", title="forecast", format=",.0f"),
                 alt.Tooltip("low:Q", title="95 % low", format=",.0f"),
                 alt.Tooltip("high:Q", title="95 % high", format=",.0f")])
    line = alt.Chart(band).mark_line(strokeDash=[6, 4], color="#1e3a8a").encode(
        x=_x(), y="bytes:Q")
    points = alt.Chart(observed).mark_circle(size=22, color="#111827").encode(
        x=_x(), y="bytes:Q",
        tooltip=[_when(), alt.Tooltip("bytes:Q", title="recorded", format=",.0f")])
    layers = [area, line, points]
    if len(horizons):
        marks = alt.Data(values=[{**h, "at": h["at"].isoformat()} for h in horizons])
        rule = alt.Chart(marks).mark_rule(color="#6b7280", strokeDash=[2, 2]).encode(
            x=alt.X("at:T", scale=alt.Scale(type="utc")),
            tooltip=[alt.Tooltip("label:N", title="in"),
                     alt.Tooltip("at:T", title="UTC day", format="%d %b %Y", formatType="utc"),
                     alt.Tooltip("bytes:Q", title="forecast", format=",.0f"),
                     alt.Tooltip("low:Q", title="95 % low", format=",.0f"),
                     alt.Tooltip("high:Q", title="95 % high", format=",.0f")])
        label = alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, color="#374151").encode(
            x=alt.X("at:T", scale=alt.Scale(type="utc")), y=alt.value(8), text="label:N")
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
    return alt.Chart(long).mark_bar().encode(
        y=alt.Y("table:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("part_bytes:Q", stack="zero", title="bytes", axis=alt.Axis(format="~s")),
        color=alt.Color("part:N", scale=_scale(parts), legend=alt.Legend(title=None, orient="top")),
        order=alt.Order("part:N", sort="descending"),
        tooltip=[alt.Tooltip("table:N"), alt.Tooltip("part:N"),
                 alt.Tooltip("part_bytes:Q", title="bytes", format=",.0f"),
                 alt.Tooltip("rows:Q", format=","),
                 alt.Tooltip("bytes:Q", title="table bytes", format=",.0f"),
                 alt.Tooltip("index_bytes:Q", title="index bytes", format=",.0f")],
    ).properties(height=alt.Step(34))


def table_rows(frame):
    """Rows per table over time (frame: taken_at, table, rows, bytes)."""
    return alt.Chart(frame).mark_line(interpolate="step-after").encode(
        x=_x(), y=alt.Y("rows:Q", title="rows", axis=alt.Axis(format="~s")),
        color=alt.Color("table:N", legend=alt.Legend(title=None, orient="top")),
        tooltip=[_when(), alt.Tooltip("table:N"), alt.Tooltip("rows:Q", format=","),
                 alt.Tooltip("bytes:Q", format=",.0f")],
    ).properties(height=HEIGHT)


def level_with_runs(frame, runs, series):
    """One level over time (frame: taken_at, grain, series, value; the rows of `series`) with
    every maintenance run (runs: started_at, task, outcome, rows, user) a vertical rule on the
    time axis, so a cleanup's effect shows on the line."""
    color = LEVEL_COLORS.get(series, "#1e3a8a")
    part = frame[frame["series"] == series]
    line = alt.Chart(part).mark_line(interpolate="step-after", color=color,
                                     point=alt.OverlayMarkDef(size=14, color=color)).encode(
        x=_x(), y=alt.Y("value:Q", title=series, scale=alt.Scale(zero=False)),
        tooltip=[_when(), alt.Tooltip("series:N"), alt.Tooltip("value:Q", format=",")])
    if not len(runs):
        return line.properties(height=HEIGHT)
    data = runs.assign(started_at=runs["started_at"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
                       rows=runs["rows"].astype("float64"))
    present = [o for o in OUTCOME_COLORS if o in set(data["outcome"])]
    present += sorted(set(data["outcome"]) - set(present))
    rules = alt.Chart(data).mark_rule(strokeWidth=2, strokeDash=[4, 3]).encode(
        x=alt.X("started_at:T", scale=alt.Scale(type="utc")),
        color=alt.Color("outcome:N", title="maintenance run",
                        scale=alt.Scale(domain=present,
                                        range=[OUTCOME_COLORS.get(o, "#111827") for o in present]),
                        legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("task:N"), alt.Tooltip("outcome:N"),
                 alt.Tooltip("rows:Q", format=","), alt.Tooltip("user:N"),
                 _when("started_at", "started (UTC)")])
    labels = alt.Chart(data).mark_text(align="left", dx=3, dy=4, baseline="top", fontSize=10,
                                       color="#374151").encode(
        x=alt.X("started_at:T", scale=alt.Scale(type="utc")), y=alt.value(0), text="task:N")
    return alt.layer(line, rules, labels).properties(height=HEIGHT)
