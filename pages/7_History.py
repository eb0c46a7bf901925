"""History: day by day from the first day (the daily roll-ups, and the database for the days
they do not hold), how the database grows, when the disk fills, what the cleanups did, and
whether the watcher that records all this is alive (the monitor database's snapshots)."""
import itertools
import shlex
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import chart_axes, charts
from dashboard import history_charts as hc
from dashboard import ui
from r2w_db import errors
from r2w_db.engine import timeutil
from dashboard import zones
from r2w_db.formatting import signed_bytes, wall_time
from r2w_db.figures import forecast as fc
from r2w_db.figures import history_page as hist
from r2w_db.figures import rollups
from r2w_db.figures import uploads
from r2w_db.monitor import silences

ctx = ui.page("History", "📈")

SCHEDULE = """# crontab (every 5 minutes; or one long-running `watch`, below)
*/5 * * * *  cd {folder} && {python} -m r2w_db --db {db} snapshot >/dev/null
# or as a service (docs/deployment.md): ExecStart={python} -m r2w_db --db {db} watch --every 5m"""


def schedule(db):
    """The crontab and service lines for a database, its location shell-quoted, run by this
    dashboard's own Python (its virtual environment's) from this project's folder."""
    return SCHEDULE.format(folder=shlex.quote(str(Path.cwd())), python=shlex.quote(sys.executable),
                           db=shlex.quote(db))


def when(stamp):
    return "–" if stamp is None else wall_time(timeutil.parse(str(stamp)), ui.shown_zone())


def watcher(ctx, status):
    st.subheader("The watcher")
    db = ctx.location.display
    if status["state"] == "none":
        st.warning("No watcher has run for this database: "
                   f"{ui.code(errors.command(db, 'watch'))} records a snapshot every 5 minutes "
                   "and the daily roll-ups (or a `snapshot` from cron).",
                   icon=":material/visibility_off:")
        st.code(schedule(db), language="bash")
        return
    interval = status["interval_seconds"]
    every = (f"every {ui.human_age(interval)}" + (" (the watcher's interval)"
             if status["from"] == "watch" else " (the usual gap between snapshots)")
             if interval else "interval unknown")
    row = st.columns(3)
    row[0].metric("Last snapshot", ui.human_age(max(0.0, status["age_seconds"])) + " ago", border=True,
                  help=when(status["last_snapshot_at"]))
    row[1].metric("Snapshots", every.split(" (")[0], border=True, help=every)
    info = status["status"] or {}
    beat = ("not configured" if info.get("heartbeat_ok") is None else
            "ok" if info.get("heartbeat_ok") else f"failed: {ui.prose(info.get('heartbeat_error'))}")
    row[2].metric("Heartbeat", beat, border=True, help=f"Last sent {when(info.get('heartbeat_at'))}"
                  if info.get("heartbeat_at") else "R2W_HEARTBEAT_URL or [alerts] heartbeat_url")
    if status["state"] == "stale":
        st.warning(f"The newest snapshot is {ui.human_age(status['age_seconds'])} old, more than "
                   f"two intervals ({every}): the watcher has stopped or cannot read the "
                   f"database. Check it: {ui.code(errors.command(db, 'watch', '--once'))}.",
                   icon=":material/warning:")
        st.code(schedule(db), language="bash")
    elif status["state"] == "failing":
        st.error(f"The watcher's last cycle ({when(info.get('last_cycle_at'))}) failed: "
                 f"{ui.prose(info.get('last_error') or 'see its log')}.", icon=":material/error:")


NEW_PER_DAY = (("confidence_entries", "new cache entries", "#0891b2"),
               ("new_anonymous_ids", "new anonymous ids", "#1e3a8a"),
               ("signups", "sign-ups", "#16a34a"))


def day_by_day(ctx, window):
    st.subheader("Day by day")
    got = ui.cached(hist.daily, ctx.db, window, sources=(ctx.db, ui.MONITOR))
    days = got["days"]
    if not got["rolled_up"]:
        once = ui.code(errors.command(ctx.location.display, "watch", "--once"))
        st.info("Day by day starts with the daily roll-ups: the watcher's first cycle records "
                f"them back to the first day the database holds ({once}). Until then the "
                "Uploads, Cache hits and Anonymous users pages read the same figures live.",
                icon=":material/info:")
        record_rollups_now(ctx)
        return
    if not len(days):
        st.info("No row in this window.", icon=":material/info:")
        return
    st.caption(f"{len(days):,} UTC days, {days['period'].min():%Y-%m-%d} to "
               f"{days['period'].max():%Y-%m-%d}: {got['rollup_days']:,} from the watcher's "
               "roll-ups (as recorded when each day, or today's hours, closed: they keep what cleanups "
               f"deleted since), {got['live_days']:,} read at least in part from the database "
               "now (the days since the newest roll-up).")
    st.markdown("**Uploads per day, by status**")
    drawn = chart_axes.shared_window(replace(window, grain="day"), days)   # one band a day
    ui.chart(charts.status_periods(uploads.status_long(days), drawn, ctx.zone), days,
             "history_days", what="uploads per day", empty=not days["uploads"].sum(),
             message="No upload in this window.")
    for column, (name, label, color) in zip(st.columns(len(NEW_PER_DAY)), NEW_PER_DAY):
        with column:
            st.markdown(f"**{label.capitalize()} per day**")
            part = days[["period", name]].assign(series=label)
            ui.chart(charts.stacked_periods(part, "series", name, {label: color}, drawn,
                                            value_title=label, zone=ctx.zone),
                     part.drop(columns="series"), f"history_{name}_per_day",
                     what=f"{label} per day",
                     empty=not part[name].sum(), message=f"No {label} in this window.")


def record_rollups_now(ctx):
    """An admin may record the roll-ups from here (they go to the monitor database only; on a
    large database this reads every row once, as the watcher's first cycle does)."""
    _, role = ui.current_user()
    if role != "admin":
        return
    if st.button("Record the daily roll-ups now", icon=":material/history:",
                 key="history_record_rollups"):
        try:
            with st.spinner("Recording the daily roll-ups (every closed day the database holds) ..."):
                done = rollups.roll_up(ctx.db)
        except (errors.R2WError, OSError) as exc:
            ui.show_error(exc if isinstance(exc, errors.R2WError) else errors.R2WError(str(exc)))
            return
        st.toast(f"{len(done['recorded']):,} days recorded.", icon=":material/check:")
        st.rerun()


def one_snapshot(frame, what):
    """True (and a caption) when `frame` holds a single snapshot: numbers, not a chart of a
    point."""
    if frame["taken_at"].nunique() != 1:
        return False
    st.caption(f"One snapshot in this window ({when(frame['taken_at'].iloc[0])}): {what} "
               "draws a line from the second.")
    return True


def sizes(ctx, since, empty, span):
    st.subheader("Database size over time")
    got = ui.cached(hist.sizes, ctx.db, since, sources=(ctx.db, ui.MONITOR))
    growth = got["growth"]
    if len(growth):
        row = st.columns(len(growth))
        for col, (_, g) in zip(row, growth.iterrows()):
            col.metric(ui.md(g["series"]), ui.human_bytes(g["now"]), border=True,
                       help=f"Change over the last day {signed_bytes(g['per_day'])}, over the "
                            f"last week {signed_bytes(g['per_week'])} (newest snapshot minus the "
                            "one a day / a week before it; – when the history is shorter).")
        st.caption(" · ".join(f"**{ui.md(g['series'])}**: {signed_bytes(g['per_day'])} a day, "
                              f"{signed_bytes(g['per_week'])} a week"
                              for _, g in growth.iterrows()))
    series = got["series"]
    if one_snapshot(series, "the chart of sizes"):
        return
    left, right = st.columns(2)
    with left:
        part = series[series["series"] != "free disk"]
        ui.chart(hc.size_lines(part, span=span, zone=ctx.zone), part, "history_sizes",
                 what="the file sizes", message=empty)
    with right:
        part = series[series["series"] == "free disk"]
        ui.chart(hc.size_lines(part, title="free disk", span=span, zone=ctx.zone), part,
                 "history_free_disk", what="the free disk", message=empty)


def forecast(ctx, empty):
    st.subheader("Forecast")
    got = ui.cached(hist.size_forecast, ctx.db, sources=(ctx.db, ui.MONITOR))
    f = got["forecast"]
    if f.state == fc.NOT_ENOUGH:
        st.info(ui.prose(f.reason), icon=":material/info:")
        return
    row = st.columns(4)
    row[0].metric("Growth per day", signed_bytes(f.per_day), border=True,
                  help=f"{signed_bytes(f.per_week)} a week; 95 % interval "
                       f"{signed_bytes(f.per_day_low)} to {signed_bytes(f.per_day_high)} a day.")
    for col, days in zip(row[1:3], fc.HORIZONS):
        h = f.horizons[days]
        col.metric(f"Size in {days} days", ui.human_bytes(h["bytes"]), border=True,
                   help=f"95 % prediction interval {ui.human_bytes(h['low'])} to "
                        f"{ui.human_bytes(h['high'])} ({h['at']:%Y-%m-%d}).")
    if f.state == fc.NOT_GROWING:
        full, full_help = "not growing", "The fit shows no growth, so no date."
    elif f.full_at is None:
        full = "> 10 years" if f.full_beyond else "free disk unknown"
        full_help = (f"{ui.human_bytes(f.free_bytes)} free: at this growth the disk lasts more "
                     "than 10 years." if f.full_beyond else "No free-disk figure recorded.")
    else:
        full = f"{f.full_at:%Y-%m-%d}"
        full_help = (f"{ui.human_bytes(f.free_bytes)} free now. 95 % interval: "
                     f"{f.full_earliest:%Y-%m-%d} to "
                     + (f"{f.full_latest:%Y-%m-%d}" if f.full_latest else "after 10 years") + ".")
    row[3].metric("Disk full", full, border=True, help=full_help)
    moved = (f" Fitted on the snapshots since the move on {got['moved_at']:%Y-%m-%d %H:%M} UTC "
             "(the sizes before it are the other engine's file)." if got.get("moved_at") else "")
    st.caption(f"{ui.prose(f.reason)}{moved} Shaded: the 95 % prediction interval (it widens with the horizon; "
               "snapshots close together are not independent, so read it as the least "
               "uncertainty). Dashed: the fitted line, extended 90 days.")
    horizons = [{"label": f"{d} days", **f.horizons[d]} for d in fc.HORIZONS]
    ui.chart(hc.forecast_chart(got["observed"], got["band"], horizons, got["label"]),
             got["band"], "history_forecast", what="the forecast")


def tables(ctx, since, empty, span):
    st.subheader("Rows and bytes per table")
    got = ui.cached(hist.tables, ctx.db, since, sources=(ctx.db, ui.MONITOR))
    if got["exact"] is not None:
        st.caption(f"As of {when(got['taken_at'])}. Bytes "
                   + ("read from PostgreSQL's catalog (pg_table_size, exact)." if got["catalog"]
                      else "measured with SQLite's dbstat (exact)." if got["exact"] else
                      "estimated from each table's newest rows, scaled to the file's used pages "
                      "(dbstat is skipped on large files)."))
    left, right = st.columns(2)
    with left:
        ui.chart(hc.table_bars(got["latest"]), got["latest"], "history_tables",
                 what="the table sizes", message=empty)
    with right:
        if one_snapshot(got["series"], "rows over time"):
            for col, (_, row) in zip(itertools.cycle(st.columns(2)), got["latest"].iterrows()):
                col.metric(ui.md(row["table"]), ui.human_count(int(row["rows"])), border=True,
                           help=f"rows; {ui.human_bytes(row['bytes'])} of table pages")
        else:
            ui.chart(hc.table_rows(got["series"], span=span, zone=ctx.zone), got["series"],
                     "history_table_rows", what="the rows per table", message=empty)


def levels(ctx, since, empty, span):
    st.subheader("Cache entries and anonymous ids, with the maintenance runs")
    got = ui.cached(hist.levels, ctx.db, since, sources=(ctx.db, ui.MONITOR))
    series, runs = got["series"], got["runs"]
    if one_snapshot(series, "each level"):
        for col, (_, row) in zip(st.columns(2), series.iterrows()):
            col.metric(ui.md(row["series"]).capitalize(), ui.human_count(int(row["value"])),
                       border=True)
        return
    drawn = False
    for column, (name, label) in zip(st.columns(2), (("cache entries", "history_cache_entries"),
                                                     ("anonymous ids", "history_anonymous_ids"))):
        with column:
            part = series[series["series"] == name]
            drawn |= ui.chart(hc.level_with_runs(series, runs, name, span, ctx.zone), part, label,
                              what=f"the {name}", message=empty)
    if drawn:
        st.caption("Thin rules, one colour per task, a mark per outcome at the top: maintenance "
                   "runs from the maintenance log (hover for the task, outcome and rows), so a "
                   "cleanup's effect shows on the line."
                   + ("" if len(runs) else " No maintenance run in this span."))
        if len(runs):
            ui.csv_download(runs, "history_maintenance_runs", "the maintenance runs")


def notifications(ctx):
    st.subheader("Notifications")
    log = ui.cached(hist.notifications, ctx.db, sources=(ctx.db, ui.MONITOR))
    if len(log):
        sent, failed = int((log["outcome"] == "sent").sum()), int((log["outcome"] == "failed").sum())
        st.caption(f"The newest {len(log):,}: {sent:,} sent, {failed:,} failed (failed ones are "
                   "retried at the next cycles for 24 h).")
    shown = log.copy()
    shown["error"] = shown["error"].fillna("")
    ui.table(shown, "history_notifications", what="the notifications", column_config={
        "kind": st.column_config.TextColumn("Kind"), "status": st.column_config.TextColumn("Status"),
        "summary": st.column_config.TextColumn("Summary"),
        "destination": st.column_config.TextColumn("Destination"),
        "outcome": st.column_config.TextColumn("Outcome"),
        "attempts": st.column_config.NumberColumn("Attempts"),
        "error": st.column_config.TextColumn("Error")},
             times={"created_at": ("When", zones.SECOND), "sent_at": ("Sent", zones.SECOND)},
             message="No notification yet: `health --notify` or `watch` sends one when a check "
                     "changes (R2W_ALERT_URLS or [alerts] urls).")


def silence_log(ctx):
    """The silences set, lifted, expired and ended by a recovery on this database (issue 20)."""
    st.subheader("Silences")
    log = ui.cached(silences.SilenceStore().log, ctx.db, sources=(ctx.db, ui.MONITOR))
    frame = pd.DataFrame(log, columns=["at", "check", "event", "user", "reason", "until"])
    titles = {"check": "Check", "event": "Event", "user": "Who", "reason": "Reason"}
    ui.table(frame, "history_silences",
             column_config={k: st.column_config.TextColumn(v) for k, v in titles.items()},
             times={"at": ("When", zones.MINUTE), "until": ("Until", zones.MINUTE)},
             message="No silence yet: an admin silences a failing check from its row on the "
                     "Overview, or with `python -m r2w_db silence CHECK --for 1d --reason TEXT`.")


def body(ctx):
    window = ctx.window
    # the true age: window.now is floored to the minute (a snapshot 28 s old read "0 s ago")
    status = hist.watcher(ctx.db, timeutil.utcnow())
    watcher(ctx, status)
    day_by_day(ctx, window)
    snapshot = ui.code(errors.command(ctx.location.display, "snapshot"))
    empty = (f"No snapshot in this window: run {snapshot}." if status["state"] != "none" else
             f"No snapshot yet: run {snapshot}.")
    if status["state"] == "none":   # nothing recorded: one sentence, not one per chart
        st.info(empty + " The sizes (the file, each table, free disk), the forecast and the "
                "levels start with the first snapshot; "
                f"{ui.code(errors.command(ctx.location.display, 'watch'))} takes one every "
                "5 minutes and records the daily roll-ups.", icon=":material/info:")
        notifications(ctx)
        silence_log(ctx)
        return
    if window.start is not None:
        st.caption(f"Charts: {window.label.lower()}, since {wall_time(window.start, ctx.zone)}. "
                   "The forecast always fits the last 14 days.")
    span = (window.start, window.end or window.now)   # the charts' time axes: the window
    sizes(ctx, window.start, empty, span)
    forecast(ctx, empty)
    tables(ctx, window.start, empty, span)
    levels(ctx, window.start, empty, span)
    notifications(ctx)
    silence_log(ctx)


ui.run(ctx, body)
