"""Query benchmarks: how fast the key queries run on this database, and how its engine plans them."""
import streamlit as st

from dashboard import bench_charts, ui
from r2w_db import errors
from r2w_db.bench import benchmark, loadtest
from r2w_db.engine import timeutil
from r2w_db.monitor.store import MonitorStore

ctx = ui.page("Query benchmarks", "⏱️", window=False)  # no time window: nothing here reads one

HISTORY_RUNS = 30


def _store_run(store, run, kind):
    try:
        run["id"] = store.save_bench_run(run, user=ui.current_user()[0], kind=kind)
        return True
    except errors.R2WError as exc:
        st.warning(f"The run was not stored in the monitor database: {ui.prose(exc)}")
        return False


def run_queries(ctx, store, iterations):
    with st.status("Timing the key queries ...", expanded=True) as status:
        bar = st.progress(0.0, text="sampling parameters from existing rows")
        run = benchmark.run_benchmark(
            ctx.db, iterations=int(iterations),
            progress=lambda fraction, message: bar.progress(min(1.0, fraction),
                                                            text=ui.prose(message)))
        stored = _store_run(store, run, "queries")
        st.session_state["bench_last_run"] = run
        status.update(label=f"Done: {len(run['queries'])} queries in {run['seconds']:.1f} s"
                            + ("" if stored else " (not stored)"), state="complete", expanded=False)


def run_load(ctx, store, generated, threads, seconds):
    label = "a small generated demo database" if generated else "a temporary copy"
    with st.status(f"Load test on {label} ...", expanded=True) as status:
        bar = st.progress(0.0, text="preparing")
        load = loadtest.load_test_on_copy(
            ctx.db, generated=generated, threads=int(threads), seconds=float(seconds),
            progress=lambda fraction, message: bar.progress(min(1.0, fraction),
                                                            text=ui.prose(message)))
        _store_run(store, load, "load")
        st.session_state["bench_last_load"] = load
        status.update(label=f"Done: {load['ops']:,} operations, {load['ops_per_s']:,.0f} ops/s",
                      state="complete", expanded=False)


def latest(runs, key, db):
    """The newest stored run, or the one just made here when it could not be stored."""
    mine = st.session_state.get(key)
    if mine and mine.get("database") == db.display and mine.get("id") is None:
        return mine
    return runs[0] if runs else None


def show_results(run, runs):
    frame = bench_charts.queries_frame(run)
    scans = frame[frame["full_scan"]]
    engine, plan_method, full_scan_rule = benchmark.run_facts(run)
    row = st.columns(4)
    row[0].metric("Queries", len(frame), border=True)
    row[1].metric("Full table scans", len(scans), border=True,
                  help=f"Plans with {ui.md(full_scan_rule)}.")
    slowest = frame.sort_values("median_ms", ascending=False).iloc[0]
    row[2].metric("Slowest median", bench_charts.human_ms(slowest["median_ms"]), border=True,
                  help=ui.md(slowest["title"]))
    started = timeutil.parse(run.get("started_at"))
    row[3].metric("Run (UTC)", f"{started:%d %b %H:%M}" if started else "–", border=True,
                  help=f"{run['iterations']} iterations per query (fewer for a query past "
                       f"{benchmark.DEFAULT_BUDGET_S:g} s), schema v{run['schema_version']}, "
                       f"{ui.md(engine)}, {run['seconds']:.1f} s in all")

    st.subheader("Median per query")
    ui.chart(bench_charts.medians_chart(frame), frame, "bench_medians",
             what="the median per query",
             caption="Bar: median time of one execution (fetching every row). Black tick: p95. "
                     "Log scale: lookups take microseconds, aggregates over every row "
                     "milliseconds.")

    st.subheader("Every figure")
    table = frame[["name", "median_ms", "p95_ms", "mean_ms", "min_ms", "max_ms", "stdev_ms",
                   "iterations", "rows", "plan_kind", "kind", "source", "title"]]
    ui.table(table, "bench_queries", what="every figure", column_config={
        c: st.column_config.NumberColumn(c.replace("_ms", " (ms)"), format="%.4f")
        for c in ("median_ms", "p95_ms", "mean_ms", "min_ms", "max_ms", "stdev_ms")})

    st.subheader("Compared with the previous run")
    if run.get("id") is None:  # not stored: compare with the newest stored run
        previous = runs[0] if runs else None
    else:
        previous = next((r for r in runs if r["id"] < run["id"]), None)
    comparison = benchmark.compare(run, previous)
    if comparison["previous"] is None:
        st.info("This is the first stored run for this database: the next one is compared with it.",
                icon=":material/info:")
    else:
        prev = comparison["previous"]
        by_name = {i["name"]: i for i in comparison["items"]}
        for name in comparison["slower"]:
            i = by_name[name]
            st.warning(f"**{ui.md(name)}** is slower: median {i['previous_median_ms']:.4f} → "
                       f"{i['median_ms']:.4f} ms ({i['ratio']:.2f}×).", icon=":material/trending_up:")
        for name in comparison["plan_changed"]:
            i = by_name[name]
            st.warning(f"**{ui.md(name)}**: the plan changed.", icon=":material/alt_route:")
            st.code("before:\n  " + "\n  ".join(i["previous_plan"]) + "\nnow:\n  "
                    + "\n  ".join(i["plan"]), language=None)
        if not comparison["slower"] and not comparison["plan_changed"]:
            st.success(f"Against run #{prev['id']} ({ui.md(str(prev['started_at'])[:19])}): no query slower "
                       f"(median more than {benchmark.SLOWER_RATIO}× and "
                       f"{benchmark.SLOWER_MIN_MS} ms), no plan changed.", icon=":material/check:")
        ui.table(bench_charts.comparison_frame(comparison), "bench_comparison",
                 what="the comparison", column_config={
            "previous_median_ms": st.column_config.NumberColumn("previous median (ms)", format="%.4f"),
            "median_ms": st.column_config.NumberColumn("median (ms)", format="%.4f"),
            "ratio": st.column_config.NumberColumn("ratio", format="%.2f×"),
            "delta_ms": st.column_config.NumberColumn("change (ms)", format="%+.4f")})

    st.subheader("Query plans")
    st.caption(f"{ui.code(plan_method)} of each statement with the parameters used ({ui.md(engine)}). "
               f"A full table scan is {ui.md(full_scan_rule)}. A covering-index scan reads every entry of an "
               "index but no table row: not a full table scan.")
    for q in run["queries"]:
        kind = bench_charts.plan_kind(q)
        icon = (":material/warning:" if q["full_scan"] else
                ":material/view_list:" if q["covering_scan"] else ":material/search:")
        with st.expander(f"{ui.md(q['title'])} · {ui.md(kind)} · median "
                         f"{bench_charts.human_ms(q['median_ms'])}",
                         icon=icon):
            st.code(q["plan_text"], language=None)
            for note in q.get("plan_notes", []):
                st.markdown(f"- {ui.prose(note)}")
            if q.get("note"):
                st.caption(ui.prose(q["note"]))
            st.code(q["sql"].strip(), language="sql")
            # sampled from the database's rows (a user_id may hold any character)
            st.caption("Parameters: " + (", ".join(ui.code(p) for p in q["params"]) or "none")
                       + f" · {ui.md(q['rows'])} row(s) returned · {ui.md(q['source'])}")

    st.subheader("History")
    history = bench_charts.history_frame(runs)
    if history["run_id"].nunique() < 2:
        st.info("The history appears once this database has two stored runs.", icon=":material/info:")
    else:
        ui.chart(bench_charts.history_chart(history), history, "bench_history",
                 what="the benchmark history",
                 caption=f"Median of each query, one point per stored run (newest {HISTORY_RUNS}"
                         "; times UTC). Click a legend entry to pick a query out.")


def show_load(load):
    row = st.columns(4)
    row[0].metric("Throughput", f"{load['ops_per_s']:,.0f} ops/s", border=True,
                  help=f"{load['threads']} threads for {load['seconds']:g} s")
    row[1].metric("Operations", ui.human_count(load["ops"]), border=True,
                  help=f"{load['reads']:,} reads, {load['writes']:,} writes")
    row[2].metric("Lock errors", ui.human_count(load["lock_errors"]), border=True,
                  help="writes held up past the lock timeout (SQLite's busy timeout, "
                       "PostgreSQL's lock_timeout)")
    row[3].metric("Other errors", ui.human_count(load["errors"]), border=True)
    st.caption(f"Ran on {ui.md(load.get('ran_on', 'a scratch database'))} at "
               f"{ui.md(str(load.get('started_at', ''))[:19].replace('T', ' '))} UTC; "
               "latency includes opening the connection, as the application does per call.")
    frame = bench_charts.load_frame(load)
    long = bench_charts.load_long(frame)
    ui.chart(bench_charts.load_chart(long), long, "load_latency", what="the load-test latency",
             empty=long.empty, message="No operation completed.")
    ui.table(frame, "load_by_kind", what="the load test by kind", column_config={
        c: st.column_config.NumberColumn(c.replace("_ms", " (ms)"), format="%.3f")
        for c in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")} | {
        "ops_per_s": st.column_config.NumberColumn("ops/s", format="%.0f")})
    for message in load.get("error_messages", []):
        st.caption(f":material/warning: {ui.prose(message)}")


def body(ctx):
    store = MonitorStore()
    st.caption(
        "Times the application's key queries and this project's own (cleanup scans, the "
        "dashboard's aggregates) on a **read-only** connection: parameters are sampled from "
        "existing rows, each statement runs a few times untimed, then N timed executions. "
        "Runs are kept in the monitor database and compared with the previous one.")
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    iterations = left.number_input("Iterations per query", min_value=1, max_value=10_000,
                                   value=50, step=10, key="bench_iterations",
                                   help=f"A query slower than {benchmark.DEFAULT_BUDGET_S:g} s "
                                        f"in all stops early (after at least "
                                        f"{benchmark.MIN_ITERATIONS}).")
    if right.button("Run the benchmark", type="primary", icon=":material/timer:", key="bench_run"):
        run_queries(ctx, store, iterations)

    runs = store.bench_runs(ctx.db, limit=HISTORY_RUNS)
    run = latest(runs, "bench_last_run", ctx.db)
    if run is None:
        st.info("No benchmark has run on this database yet: press **Run the benchmark** "
                "(it only reads, and takes from a second to half a minute on a large file).",
                icon=":material/info:")
    else:
        show_results(run, runs)

    st.divider()
    st.subheader("Load test")
    st.markdown(
        "Several threads mix the application's reads (session validation, CV listing, cache "
        "lookup) and writes (new sessions, uploads with a status update, cache accesses), each "
        "through the same r2w_db function the application calls. **It writes, so it never runs "
        f"on this database**: it runs on {ui.md(loadtest.scratch_method(ctx.db))}, or on a small "
        "generated database.")
    size = ctx.size_bytes or 0
    cols = st.columns([2, 1, 1, 1.3], vertical_alignment="bottom")
    where = cols[0].radio("Run on", ["copy", "generated"], horizontal=True, key="load_target",
                          format_func={"copy": f"a copy of this database ({ui.human_bytes(size)})",
                                       "generated": "a small generated database"}.get)
    threads = cols[1].number_input("Threads", 1, 32, 4, key="load_threads")
    seconds = cols[2].number_input("Seconds", 1, 120, 5, key="load_seconds")
    if cols[3].button("Run the load test", icon=":material/speed:", key="load_run"):
        run_load(ctx, store, where == "generated", threads, seconds)
    loads = store.bench_runs(ctx.db, kind="load", limit=1)
    load = latest(loads, "bench_last_load", ctx.db)
    if load is None:
        st.info("No load test has run for this database yet.", icon=":material/info:")
    else:
        show_load(load)


ui.run(ctx, body)
