"""Queries: the statements the application's database really runs (pg_stat_statements), top by
total time over the window, which of them are the application's own operations, and each
one's mean time over the watcher's captures, so that a slow-down shows."""
from datetime import timedelta

import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard import query_charts, ui
from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.figures import queries
from r2w_db.figures.periods import WINDOWS

ctx = ui.page("Queries", "🔎")

BENCH_PAGE = "pages/5_Query_benchmarks.py"
RETENTION = timedelta(days=14)   # the captures are kept as long as the raw snapshots
LIMIT = 50
SHOWN = 5                        # statements drawn over time unless chosen otherwise


def not_here(ctx):
    st.info("SQLite keeps no statement statistics: it does not count or time the statements "
            "it runs. Time the application's key queries with the query benchmark instead: the "
            f"Query benchmarks page, or {ui.code(errors.command(ctx.location.display, 'bench'))}.",
            icon=":material/info:")
    if ui.page_exists(BENCH_PAGE):
        try:
            st.page_link(BENCH_PAGE, label="Query benchmarks", icon=":material/timer:")
        except StreamlitAPIException:   # this page run on its own: the sentence above says it
            pass


def label(row):
    """How a statement is named in the chart: its operation, else the start of its text."""
    if row["known"]:
        return row["operation"]
    text = " ".join(str(row["query"] or "").split())
    return f"{row['queryid']}: {text[:60]}"


def top_table(got):
    frame = pd.DataFrame(got["statements"], columns=[
        "operation", "calls", "total_ms", "mean_ms", "max_ms", "rows", "hit_ratio", "query",
        "queryid", "known"])
    shown = frame.drop(columns=["known"]).assign(queryid=frame["queryid"].astype(str))
    ui.table(shown, "queries", column_config={
        "operation": st.column_config.TextColumn("operation", help="the application's own "
                                                 "known operation, or not the application's"),
        "calls": st.column_config.NumberColumn("calls", format="localized"),
        "total_ms": st.column_config.NumberColumn("total (ms)", format="%.1f"),
        "mean_ms": st.column_config.NumberColumn("mean (ms)", format="%.3f"),
        "max_ms": st.column_config.NumberColumn("max (ms)", format="%.3f",
                                                help="the largest since the statistics' reset"),
        "rows": st.column_config.NumberColumn("rows", format="localized"),
        "hit_ratio": st.column_config.NumberColumn("hit ratio", format="percent",
                                                   help="shared blocks found in the buffer cache"),
        "query": st.column_config.TextColumn("query", width="large"),
    }, message="No statement ran in this window.")
    return frame


def over_time(ctx, got, frame, since):
    st.subheader("Mean time over time")
    if got["source"] != "captures":
        st.info("The watcher has not captured the statistics over this window yet: each "
                f"snapshot captures them ({ui.code(errors.command(ctx.location.display, 'watch'))}"
                "); the chart needs two.", icon=":material/info:")
        return
    names = {row["queryid"]: label(row) for _, row in frame.iterrows()}
    chosen = st.multiselect("Statements", list(names), default=list(names)[:SHOWN],
                            format_func=names.get, key="queries_chosen")
    series = ui.cached(queries.mean_over_time, ctx.db, tuple(chosen), since,
                       sources=(ctx.db, ui.MONITOR))
    series["statement"] = series["queryid"].map(names)
    ui.chart(query_charts.mean_lines(series, ctx.zone), series, "queries_mean_over_time",
             message="None of the chosen statements ran in this window.")


def body(ctx):
    if not queries.supported(ctx.db):
        not_here(ctx)
        return
    length = WINDOWS[ctx.window.key][1] or RETENTION
    since = min(length, RETENTION)
    got = ui.cached(queries.top, ctx.db, since, LIMIT, sources=(ctx.db, ui.MONITOR))
    if not got["available"]:
        st.warning(ui.prose(got["enable"]), icon=":material/visibility_off:")
        return
    reset = f"{got['stats_reset'][:16]} UTC" if got["stats_reset"] else "unknown"
    if got["source"] == "live":
        st.caption(f"**Live: since the statistics were last reset ({reset}).** No capture covers "
                   "this window yet; the watcher captures the statistics at each snapshot.")
    else:
        st.caption(f"From {got['captures']:,} capture(s) since {got['since'][:16]} UTC "
                   f"(the watcher's snapshots, kept {RETENTION.days} days). Statistics last "
                   f"reset {reset}.")
    if got["hidden_line"]:
        st.info(ui.prose(got["hidden_line"]), icon=":material/lock:")
    st.subheader("Top statements by total time")
    frame = top_table(got)
    if got["statement_count"] > len(frame):
        st.caption(f"The top {len(frame)} of {got['statement_count']:,} statements.")
    if len(frame):
        over_time(ctx, got, frame, timeutil.utcnow() - since)


ui.run(ctx, body)
