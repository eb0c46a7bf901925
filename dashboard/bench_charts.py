"""Frames and Altair charts of the query benchmarks: plain functions, no Streamlit here.

Frame builders turn stored runs (dicts from r2w_db.bench.benchmark / r2w_db.bench.loadtest) into
DataFrames; chart builders take a DataFrame and return an alt.Chart. Times span
four orders of magnitude (a 5 µs lookup, a 500 ms aggregate), so time axes are
logarithmic.
"""
import math

import altair as alt
import pandas as pd

PLAN_COLORS = {
    "full table scan": "#dc2626",      # red: reads every row of a table
    "covering-index scan": "#f59e0b",  # amber: reads every entry of an index, no table row
    "index search": "#2563eb",         # blue: a B-tree search
}
PERCENTILE_COLORS = {"p50": "#2563eb", "p95": "#f59e0b", "p99": "#dc2626"}
QUERY_COLUMNS = ["name", "title", "kind", "source", "plan_kind", "median_ms", "p95_ms", "mean_ms",
                 "min_ms", "max_ms", "stdev_ms", "iterations", "rows", "full_scan"]


def human_ms(ms):
    """A duration given in milliseconds, in the unit that reads best: 3.6 µs, 41.8 ms, 1.26 s."""
    if ms is None:
        return "–"
    if ms < 1:
        return f"{ms * 1000:,.1f} µs"
    if ms < 1000:
        return f"{ms:,.1f} ms"
    return f"{ms / 1000:,.2f} s"


def plan_kind(query):
    if query.get("full_scan"):
        return "full table scan"
    if query.get("covering_scan"):
        return "covering-index scan"
    return "index search"


def queries_frame(run):
    """One row per query of a run (empty frame with the columns when there is none)."""
    rows = [{**{k: q.get(k) for k in QUERY_COLUMNS}, "plan_kind": plan_kind(q)}
            for q in (run or {}).get("queries", [])]
    return pd.DataFrame(rows, columns=QUERY_COLUMNS)


def history_frame(runs):
    """run_id, started_at, name, title, median_ms, p95_ms, plan_kind for every query of every run."""
    rows = []
    for run in runs or []:
        started = pd.to_datetime(run.get("started_at"), errors="coerce")
        for q in run.get("queries", []):
            rows.append({"run_id": run.get("id"), "started_at": started, "name": q["name"],
                         "title": q.get("title", q["name"]), "median_ms": q["median_ms"],
                         "p95_ms": q["p95_ms"], "plan_kind": plan_kind(q)})
    frame = pd.DataFrame(rows, columns=["run_id", "started_at", "name", "title", "median_ms",
                                        "p95_ms", "plan_kind"])
    return frame.sort_values(["started_at", "name"]).reset_index(drop=True)


def comparison_frame(comparison):
    """One row per query present in both runs: previous and current median, ratio, flags."""
    rows = [{"name": i["name"], "previous_median_ms": i["previous_median_ms"],
             "median_ms": i["median_ms"], "ratio": i["ratio"], "delta_ms": i["delta_ms"],
             "slower": i["slower"], "faster": i["faster"], "plan_changed": i["plan_changed"]}
            for i in (comparison or {}).get("items", [])]
    return pd.DataFrame(rows, columns=["name", "previous_median_ms", "median_ms", "ratio",
                                       "delta_ms", "slower", "faster", "plan_changed"])


def load_frame(load):
    """One row per operation kind of a load test."""
    columns = ["kind", "access", "count", "ops_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_ms",
               "max_ms", "lock_errors", "errors"]
    return pd.DataFrame([{k: row.get(k) for k in columns} for row in (load or {}).get("by_kind", [])],
                        columns=columns)


def load_long(frame):
    """kind, percentile, ms: the p50/p95/p99 of load_frame in long form (kinds with samples)."""
    present = frame[frame["count"] > 0]
    long = present.melt(id_vars=["kind", "access", "count"], value_vars=["p50_ms", "p95_ms", "p99_ms"],
                        var_name="percentile", value_name="ms")
    long["percentile"] = long["percentile"].str.replace("_ms", "", regex=False)
    return long


def _floor(values):
    """A power of ten below every positive value: where log-scale bars start."""
    positive = [v for v in values if v and v > 0]
    return 10 ** math.floor(math.log10(min(positive))) if positive else 0.001


def medians_chart(frame):
    """Horizontal bars of each query's median (log scale), a black tick at its p95; colour
    says how the plan reads the data."""
    data = frame.copy()
    data["floor"] = _floor(list(data["min_ms"]) + list(data["median_ms"]))
    order = list(data.sort_values("median_ms", ascending=False)["name"])
    y = alt.Y("name:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(type="log")
    tooltip = [alt.Tooltip("title:N", title="query"), alt.Tooltip("name:N"),
               alt.Tooltip("median_ms:Q", title="median (ms)", format=",.4f"),
               alt.Tooltip("p95_ms:Q", title="p95 (ms)", format=",.4f"),
               alt.Tooltip("mean_ms:Q", title="mean (ms)", format=",.4f"),
               alt.Tooltip("min_ms:Q", title="min (ms)", format=",.4f"),
               alt.Tooltip("max_ms:Q", title="max (ms)", format=",.4f"),
               alt.Tooltip("iterations:Q"), alt.Tooltip("plan_kind:N", title="plan")]
    base = alt.Chart(data).properties(height=alt.Step(24))
    bars = base.mark_bar().encode(
        x=alt.X("floor:Q", scale=x_scale, title="median time per execution (ms, log scale)"),
        x2=alt.X2("median_ms:Q"),
        y=y,
        color=alt.Color("plan_kind:N", title="plan",
                        scale=alt.Scale(domain=list(PLAN_COLORS), range=list(PLAN_COLORS.values())),
                        legend=alt.Legend(orient="top")),
        tooltip=tooltip)
    ticks = base.mark_tick(color="#111827", thickness=2, size=16).encode(
        x=alt.X("p95_ms:Q", scale=x_scale), y=y, tooltip=tooltip)
    return bars + ticks


def history_chart(frame):
    """Median per run for each query (log scale), runs in order; click a legend entry to
    pick one query out."""
    data = frame.copy()
    data["run"] = [f"#{rid} · {ts:%d %b %H:%M}" if pd.notna(ts) else f"#{rid}"
                   for rid, ts in zip(data["run_id"], data["started_at"])]
    order = list(dict.fromkeys(data.sort_values(["run_id"])["run"]))
    pick = alt.selection_point(fields=["name"], bind="legend")
    return alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("run:O", sort=order, title="run (UTC)", axis=alt.Axis(labelAngle=-30, labelLimit=140)),
        y=alt.Y("median_ms:Q", scale=alt.Scale(type="log"), title="median (ms, log scale)"),
        color=alt.Color("name:N", title="query", scale=alt.Scale(scheme="category20"),
                        legend=alt.Legend(orient="bottom", columns=4, symbolLimit=0, labelLimit=220)),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
        tooltip=[alt.Tooltip("name:N"), alt.Tooltip("started_at:T", title="run (UTC)",
                                                    format="%Y-%m-%d %H:%M:%S", formatType="utc"),
                 alt.Tooltip("run_id:Q", title="run id"),
                 alt.Tooltip("median_ms:Q", title="median (ms)", format=",.4f"),
                 alt.Tooltip("p95_ms:Q", title="p95 (ms)", format=",.4f"),
                 alt.Tooltip("plan_kind:N", title="plan")],
    ).add_params(pick).properties(
        # Streamlit fits axes and legend inside the height: room for a 260 px plot as well
        height=260 + 130 + 22 * math.ceil(data["name"].nunique() / 4))


def load_chart(long):
    """p50, p95 and p99 latency per operation kind (log scale), from load_long()."""
    y = alt.Y("kind:N", title=None, sort=None)
    x = alt.X("ms:Q", scale=alt.Scale(type="log"), title="latency (ms, log scale)")
    base = alt.Chart(long).properties(height=alt.Step(30))
    span = base.mark_rule(color="#9ca3af").encode(
        x=alt.X("min(ms):Q", scale=alt.Scale(type="log"), title="latency (ms, log scale)"),
        x2=alt.X2("max(ms):Q"), y=y)
    points = base.mark_point(filled=True, size=80).encode(
        x=x, y=y,
        color=alt.Color("percentile:N", scale=alt.Scale(domain=list(PERCENTILE_COLORS),
                                                          range=list(PERCENTILE_COLORS.values())),
                        legend=alt.Legend(orient="top", title=None)),
        tooltip=[alt.Tooltip("kind:N"), alt.Tooltip("access:N"), alt.Tooltip("percentile:N"),
                 alt.Tooltip("ms:Q", format=",.3f"), alt.Tooltip("count:Q", format=",")])
    return span + points
