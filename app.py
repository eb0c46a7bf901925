"""r2w monitor: the overview. Is anything wrong, and what do I do about it?"""
import streamlit as st

from dashboard import ui
from r2w_db import errors as r2w_errors
from r2w_db.figures import databases, health, history_page, windowed

ICON = {health.OK: ":green[:material/check_circle:]", health.WARN: ":orange[:material/warning:]",
        health.ERROR: ":red[:material/error:]"}

ctx = ui.page("Overview", "🩺")
ui.weak_hashes_warning()


def window_caption(window):
    if window.start is None:
        return "All time: the whole history in the database."
    return (f"{window.label}: since {window.start:%Y-%m-%d %H:%M} UTC, compared with "
            f"{window.previous.label}.")


def sparklines(ctx):
    """{headline key: numbers} from history; {} without history or when the monitor database
    cannot be read (the Overview never fails for its sparklines)."""
    try:
        return ui.cached(history_page.sparklines, ctx.db, ctx.window.start,
                                 ctx.window.now, sources=(ctx.db, ui.MONITOR))
    except (r2w_errors.R2WError, OSError):
        return {}


def headline(ctx):
    figures = ui.cached(windowed.headline, ctx.db, ctx.window)
    cur, prev, now = figures["current"], figures["previous"] or {}, figures["now"]
    spark = sparklines(ctx)
    st.caption(window_caption(ctx.window) + ui.rollup_note(ctx)
               + (" Sparklines: per closed UTC day from the daily roll-ups, and snapshots for the "
                  "figures as of now (History page)." if spark else ""))
    row = st.columns(5)
    ui.metric(row[0], "New users", ui.human_count(cur["registered_new"]),
              cur["registered_new"], prev.get("registered_new"), series=spark.get("registered_new"),
              series_type="bar", help="Users rows created in the window (anonymous ids are not users).")
    ui.metric(row[1], "New anonymous ids", ui.human_count(cur["anonymous_new"]),
              cur["anonymous_new"], prev.get("anonymous_new"), series=spark.get("anonymous_new"),
              series_type="bar", help="user_ids with the literal prefix `anonymous_` first seen in the window.")
    ui.metric(row[2], "Active sessions", ui.human_count(now["active_sessions"]),
              series=spark.get("active_sessions"), help="Sessions created within the last 7 days, as of now (a point-in-time "
                   "figure: expired sessions are cleaned up, so no change is shown).")
    ui.metric(row[3], "Uploads", ui.human_count(cur["uploads"]), cur["uploads"], prev.get("uploads"),
              series=spark.get("uploads"), series_type="bar", help=f"CV uploads in the window, whatever their status: {cur['uploaded']:,} "
                   "waiting for extraction ('uploaded': anonymous, until the person signs up), "
                   f"{cur['other']:,} with a status the application never writes.")
    ui.metric(row[4], "Failure rate", ui.human_percent(cur["failure_rate"]),
              cur["failure_rate"], prev.get("failure_rate"), "percent", inverse=True,
              series=spark.get("failure_rate"), help="failed / (completed + failed) among the window's uploads; "
                   "'no data' when no job finished.")
    row = st.columns(5)
    ui.metric(row[0], "Stuck jobs", ui.human_count(cur["stuck"]), cur["stuck"], prev.get("stuck"),
              inverse=True, series=spark.get("stuck"),
              help=f"Uploads of the window still 'processing' more than 60 minutes after "
                   f"upload. Stuck now, whenever uploaded: {now['stuck_total']:,}.")
    ui.metric(row[1], "Cache hit rate", ui.human_percent(cur["cache_hit_rate"]),
              cur["cache_hit_rate"], prev.get("cache_hit_rate"), "percent",
              series=spark.get("cache_hit_rate"), help="Uploads with a file_hash whose cache entry was created before them, "
                   "over uploads with a file_hash; 'no data' when there are none.")
    ui.metric(row[2], "Average confidence", ui.human_score(cur["average_confidence"]),
              cur["average_confidence"], prev.get("average_confidence"), "score",
              series=spark.get("average_confidence"), help="Mean confidence_score of cache entries created in the window "
                   "(NULL and values outside [0, 1] left out).")
    ui.metric(row[3], "Database size", ui.human_bytes(now["size_bytes"]),
              series=spark.get("size_bytes"), series_type="area", help="The database file now (without its WAL); on "
              "PostgreSQL the four tables with their indexes and TOAST.")
    ui.metric(row[4], "WAL size", ui.human_bytes(now["wal_bytes"]),
              series=spark.get("wal_bytes"), series_type="area", help="The write-ahead log now; it shrinks when a "
              "checkpoint completes. '–' on PostgreSQL: its WAL belongs to the whole server, "
              "not to one database.")


def check_box(check):
    with st.container(border=True):
        st.markdown(f"{ICON[check.status]} **{ui.md(check.title)}: {ui.md(check.value)}**  \n"
                    f"{ui.prose(check.detail)}")
        if check.remedy:
            st.markdown(f"**What to do:** {ui.prose(check.remedy)}")
        if check.command:
            st.code(check.command, language="bash", wrap_lines=True)
        if check.page and ui.page_exists(check.page):
            st.page_link(check.page, label=f"Open {check.page_label}", icon=":material/arrow_forward:")


def all_databases(ctx):
    """One line per configured database: its worst health, size and last snapshot, a link."""
    rows = ui.cached(databases.summaries, ctx.choices, sources=(*ctx.choices, ui.MONITOR))
    with st.container(border=True):
        st.markdown("**All databases**")
        for row in rows:
            line = st.columns([3, 2, 2, 3])
            icon = ICON.get(row["worst_health"], ":grey[:material/help:]")
            current = " (shown)" if row["name"] == ctx.location.name else ""
            line[0].page_link("app.py", label=f"{ui.md(row['title'])}{current}",
                              query_params={"db": row["name"]}, icon=":material/database:")
            if not row["reachable"]:
                line[1].markdown(":red[:material/error:] unreachable")
                line[2].caption(ui.prose(row["error"] or ""))
                continue
            counts = row["health_counts"] or {}
            line[1].markdown(f"{icon} {ui.md(counts.get('red', 0))} red, "
                             f"{ui.md(counts.get('amber', 0))} amber")
            line[2].markdown(ui.human_bytes(row["size_bytes"]))
            line[3].caption(f"last snapshot {ui.md(row['last_snapshot'][:16].replace('T', ' '))} UTC"
                            if row["last_snapshot"] else "no snapshot yet (`python -m r2w_db watch`)")


def health_checks(ctx):
    thresholds, problems = health.load_thresholds(ui.health_overrides()
                                                  | dict(ctx.location.health or {}))
    last_runs = health.last_maintenance(ctx.db)
    checks = ui.cached(health.run_checks, ctx.db, thresholds, last_runs)
    failing = [c for c in checks if c.status != health.OK]
    failing.sort(key=lambda c: health.SEVERITY[c.status])
    passing = [c for c in checks if c.status == health.OK]
    st.subheader("Health checks")
    for problem in problems:
        st.warning(f"Health threshold ignored: {ui.prose(problem)}", icon=":material/settings:")
    errors = sum(c.status == health.ERROR for c in checks)
    if not failing:
        st.success(f"All {len(checks)} checks pass.", icon=":material/check_circle:")
    else:
        st.markdown(f"**{len(failing)} of {len(checks)} checks need attention**"
                    + (f" ({errors} red)" if errors else "") + ", most urgent first.")
    columns = st.columns(2)
    for i, check in enumerate(failing):
        with columns[i % 2]:
            check_box(check)
    if passing:
        with st.expander(f"Passing checks ({len(passing)})", expanded=not failing):
            for check in passing:
                st.markdown(f"{ICON[check.status]} **{ui.md(check.title)}: {ui.md(check.value)}** · "
                            f"{ui.prose(check.detail)}")


def body(ctx):
    if len(ctx.choices) > 1:
        all_databases(ctx)
    headline(ctx)
    health_checks(ctx)


ui.run(ctx, body)
