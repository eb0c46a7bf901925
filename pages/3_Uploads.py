"""Uploads: statuses, failures, stuck jobs, uploads waiting for extraction and file types."""
import streamlit as st

from dashboard import charts, ui
from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures import uploads, watched_now, windowed
from dashboard import zones
from r2w_db.formatting import snapshot_time

ctx = ui.page("Uploads", "📤")


def body(ctx):
    window = ctx.window
    counts = ui.cached(windowed.upload_status_counts, ctx.db, window)
    summary = uploads.summarise(counts)
    stuck = ui.cached(uploads.stuck_jobs, ctx.db, window.now)
    waiting, counted_at = ui.cached(watched_now.awaiting_extraction, ctx.db, window.now,
                                    sources=(ctx.db, ui.MONITOR))
    row = st.columns(5)
    row[0].metric("Uploads", ui.human_count(summary["uploads"]), border=True)
    row[1].metric("Failure rate", ui.human_percent(summary["failure_rate"]), border=True,
                  help="failed / (completed + failed); 'no data' when no job finished.")
    row[2].metric("Stuck now", ui.human_count(stuck["count"]), border=True,
                  help=f"'processing' more than {config.STUCK_MINUTES} minutes after upload, "
                       "whenever uploaded.")
    row[3].metric("Waiting for extraction now", ui.human_count(waiting["count"]), border=True,
                  help="Status 'uploaded': anonymous uploads the application extracts once the "
                       "person signs up and claims them, whenever uploaded"
                       + (" (counted by the watcher's snapshot: the line below says when). "
                          if counted_at else ". ")
                       + f"{summary['uploaded']:,} of this window's uploads.")
    row[4].metric("Other statuses", ui.human_count(summary["other"]), border=True,
                  help="Statuses the application never writes (anything but processing, "
                       "completed, failed and uploaded; NULL included).")
    st.markdown(waiting_line(waiting, counted_at, timeutil.utcnow(), ctx.zone))
    if ui.rollup_note(ctx):
        st.caption(ui.rollup_note(ctx).strip() + " An upload that finished after its hour closed "
                   "keeps the status it had then; stuck jobs " + (
                       "are read live." if counted_at else "and waiting uploads are read live."))

    left, right = st.columns([1, 2])
    with left:
        st.subheader("By status")
        ui.chart(charts.status_bars(counts), counts, "upload_status_counts",
                 what="uploads by status", empty=not summary["uploads"],
                 message="No uploads in this window.")
    frame = ui.cached(windowed.upload_by_period, ctx.db, window)
    with right:
        st.subheader(f"Status {ui.per(window)}")
        ui.chart(charts.status_periods(uploads.status_long(frame), window, ctx.zone),
                 frame.drop(columns="failure_rate"), "upload_status_by_period",
                 what=f"uploads {ui.per(window)}", empty=not summary["uploads"],
                 message="No uploads in this window.")

    st.subheader(f"Failure rate {ui.per(window)}")
    ui.chart(charts.rate_line(frame, "failure_rate", window, "failure rate", charts.FAILURE_SAMPLE,
                              overall=summary["failure_rate"],
                              color=charts.STATUS_COLORS["failed"], full_scale=False,
                              zone=ctx.zone),
             frame[["period", "completed", "failed", "failure_rate"]], "upload_failure_rate",
             what=f"the failure rate {ui.per(window)}", empty=not summary["finished"],
             message="No job finished in this window.",
             caption="failed / (completed + failed) per period; dashed: the whole window. "
                     + charts.rate_caption("finished jobs"))

    st.subheader("Stuck jobs")
    st.caption(f"Still 'processing' more than {config.STUCK_MINUTES} minutes after upload, "
               "oldest first, whatever the window.")
    jobs = stuck["jobs"]
    if stuck["count"] > len(jobs):
        st.caption(f"The oldest {len(jobs):,} of {stuck['count']:,}.")
    ui.table(jobs.assign(age=jobs["age_minutes"].map(lambda m: ui.human_age(m * 60))),
             "stuck_jobs", message="No stuck job.", what="the stuck jobs",
             column_config={"job_id": "job id", "file_type": "file type",
                            "age_minutes": None},   # in the CSV; shown as `age`
             times={"uploaded_at": ("uploaded", zones.SECOND)})

    st.subheader("File types")
    types = ui.cached(windowed.upload_file_types, ctx.db, window)
    ui.chart(charts.count_bars(types, "file_type", "uploads", extra=["failed"]), types,
             "upload_file_types", what="uploads by file type", message="No uploads in this window.")

    st.subheader("Statuses the application never writes")
    others = ui.cached(uploads.other_statuses, ctx.db, window)
    if len(others):
        st.warning("The application only writes processing, completed, failed and uploaded: "
                   "find what wrote these.", icon=":material/warning:")
    ui.table(others, "upload_other_statuses", what="the unexpected statuses",
             message="None: every upload of the window is processing, completed, failed or "
                     "uploaded.")


def waiting_line(waiting, counted_at=None, now=None, zone=None):
    """One sentence on the uploads in status 'uploaded' (as of the watcher's snapshot taken at
    `counted_at`, or now when None) and the age of the oldest."""
    line = f"**Waiting for extraction ('uploaded'):** {waiting['count']:,} " + (
        f"as of the watcher's snapshot of {snapshot_time(counted_at, now, zone)}"
        if counted_at else "now")
    if waiting["oldest_at"]:
        age = ui.human_age(max(waiting["oldest_age_minutes"], 0) * 60)
        when = zones.cell_text(waiting["oldest_at"], zone, zones.MINUTE)   # or the database's text
        line += f"; the oldest uploaded {age} ago ({ui.md(when)} {zones.zone_name(zone)})"
    if waiting["unreadable"]:
        line += f"; {waiting['unreadable']:,} with an unreadable upload date"
    return line + (f". The anonymous cleanup removes those still anonymous after "
                   f"{config.ANONYMOUS_RETENTION_DAYS} days." if waiting["count"] else ".")


ui.run(ctx, body)
