"""r2w monitor: the overview. Is anything wrong, and what do I do about it?"""
import streamlit as st

from dashboard import check_rows, maintenance_dialog, status_line, ui
from r2w_db import errors as r2w_errors
from r2w_db.engine import timeutil
from r2w_db.formatting import snapshot_time, wall_time
from r2w_db.figures import (databases, health, health_report, history_page, watched_checks,
                            watched_now)
from r2w_db.monitor import silences
from r2w_db.watch import alerting


ctx = ui.page("Overview", "🩺")
ui.weak_hashes_warning()


def window_caption(window, zone=None):
    if window.start is None:
        return "All time: the whole history in the database."
    return (f"{window.label}: since {wall_time(window.start, zone)}, compared with "
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
    figures, counted_at = ui.cached(watched_now.headline, ctx.db, ctx.window,
                                    sources=(ctx.db, ui.MONITOR))
    cur, prev, now = figures["current"], figures["previous"] or {}, figures["now"]
    spark = sparklines(ctx)
    st.caption(window_caption(ctx.window, ctx.zone) + ui.rollup_note(ctx)
               + f" Active sessions {active_as_of(counted_at, timeutil.utcnow(), ctx.zone)}."
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
              series=spark.get("active_sessions"), help="Sessions created within the last 7 days, "
                   + active_as_of(counted_at, timeutil.utcnow(), ctx.zone) + " (a point-in-time "
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


def all_databases(ctx):
    """One line per configured database: its worst health, size and last snapshot, a link."""
    rows = ui.cached(databases.summaries, ctx.choices, sources=(*ctx.choices, ui.MONITOR))
    with st.container(border=True):
        st.markdown("**All databases**")
        for row in rows:
            line = st.columns([3, 2, 2, 3])
            current = " (shown)" if row["name"] == ctx.location.name else ""
            line[0].page_link("app.py", label=f"{ui.md(row['title'])}{current}",
                              query_params={"db": row["name"]}, icon=":material/database:")
            if not row["reachable"]:
                line[1].markdown(":red[:material/error:] unreachable")
                line[2].caption(ui.prose(row["error"] or ""))
                continue
            counts = row["health_counts"] or {}
            word = health_report.status_word(row["worst_health"])
            line[1].markdown(f"{status_line.word_badge(word)} {ui.md(counts.get('red', 0))} CRITICAL, "
                             f"{ui.md(counts.get('amber', 0))} WARNING")
            line[2].markdown(ui.human_bytes(row["size_bytes"]))
            line[3].caption(f"last snapshot {ui.md(row['last_snapshot'][:16].replace('T', ' '))} UTC"
                            if row["last_snapshot"] else "no snapshot yet (`python -m r2w_db watch`)")


def checks_of(ctx):
    """(the health checks, None, when the watcher's snapshot counted the figures that grow with
    the rows or None), or ([], why they could not run: the status is UNKNOWN, None)."""
    thresholds, problems = health.load_thresholds(ui.health_overrides()
                                                  | dict(ctx.location.health or {}))
    for problem in problems:
        st.warning(f"Health threshold ignored: {ui.prose(problem)}", icon=":material/settings:")
    try:
        last_runs = health.last_maintenance(ctx.db)
        checks, counted_at = ui.cached(watched_checks.checks, ctx.db, thresholds, last_runs,
                                       sources=(ctx.db, ui.MONITOR))
        return checks, None, counted_at
    except r2w_errors.R2WError as exc:
        return [], r2w_errors.one_line(exc), None


def active_as_of(counted_at, now, zone=None):
    """When the active sessions were counted: the watcher's snapshot (with its age) or now."""
    if counted_at is None:
        return "as of now"
    return f"as of the watcher's snapshot of {snapshot_time(counted_at, now, zone)}"


def counted_note(counted_at, now, zone=None):
    """Whose counts the checks show: the watcher's snapshot (with its age) or now."""
    if counted_at is None:
        return "Every check counted now."
    return (f"Counts as of the watcher's snapshot of {snapshot_time(counted_at, now, zone)}; stuck "
            "jobs, the schema and the file read now.")


def monitor_facts(read, empty):
    """What the monitor database says (the watcher, alerts, silences), or `empty` when it
    cannot be read: the Overview never fails for them."""
    try:
        return read()
    except (r2w_errors.R2WError, OSError):
        return empty


def embedded_note(checks, problem):
    """Embedded: one line, only when something needs attention."""
    word = status_line.worst_word(checks, problem)
    if word != "OK":
        st.markdown(f"{status_line.word_badge(word)} · "
                    + (status_line.counts_text(checks) if checks else ui.prose(problem)))


def body(ctx):
    checks, problem, counted_at = checks_of(ctx)
    if ui.embedded():   # someone else's tool: the figures, and a line when something is wrong
        embedded_note(checks, problem)
        headline(ctx)
        return
    now = timeutil.utcnow()   # the true ages (the window's now is floored to the minute)
    user, role = ui.current_user()
    refusal = ui.maintenance_refusal(role)
    watcher = monitor_facts(lambda: alerting.watcher(ctx.db, now), alerting.NOT_SEEN)
    alerts = monitor_facts(lambda: alerting.alerts(ctx.db, now), alerting.UNREADABLE)
    silenced = monitor_facts(lambda: silences.SilenceStore().active(ctx.db, now), {})
    status_line.show(checks, watcher, alerts, problem)
    if checks:
        st.caption(counted_note(counted_at, now, ctx.zone))
    maintenance_dialog.run_pending(ctx.db, user, refusal)
    check_rows.show(ctx, checks, silenced, user, role, refusal)
    maintenance_dialog.dialog_if_asked(ctx, refusal)
    if len(ctx.choices) > 1:
        all_databases(ctx)
    headline(ctx)


ui.run(ctx, body)
