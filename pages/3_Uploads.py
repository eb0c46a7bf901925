"""Uploads: statuses, failures, stuck jobs and file types."""
import streamlit as st

from dashboard import charts, ui
from r2w_db import config
from r2w_db.figures import uploads as uploads

ctx = ui.page("Uploads", "📤")


def body(ctx):
    window = ctx.window
    counts = ui.cached(uploads.status_counts, ctx.db, window)
    summary = uploads.summarise(counts)
    stuck = ui.cached(uploads.stuck_jobs, ctx.db, window.now)
    row = st.columns(4)
    row[0].metric("Uploads", ui.human_count(summary["uploads"]), border=True)
    row[1].metric("Failure rate", ui.human_percent(summary["failure_rate"]), border=True,
                  help="failed / (completed + failed); 'no data' when no job finished.")
    row[2].metric("Stuck now", ui.human_count(stuck["count"]), border=True,
                  help=f"'processing' more than {config.STUCK_MINUTES} minutes after upload, "
                       "whenever uploaded.")
    row[3].metric("Other statuses", ui.human_count(summary["other"]), border=True,
                  help="Statuses outside processing, completed and failed (NULL included).")

    left, right = st.columns([1, 2])
    with left:
        st.subheader("By status")
        ui.chart(charts.status_bars(counts), counts, "upload_status_counts",
                 empty=not summary["uploads"], message="No uploads in this window.")
    frame = ui.cached(uploads.by_period, ctx.db, window)
    with right:
        st.subheader(f"Status {ui.per(window)}")
        ui.chart(charts.status_periods(uploads.status_long(frame), window.grain),
                 frame.drop(columns="failure_rate"), "upload_status_by_period",
                 empty=not summary["uploads"], message="No uploads in this window.")

    st.subheader(f"Failure rate {ui.per(window)}")
    ui.chart(charts.rate_line(frame, "failure_rate", window.grain, "failure rate",
                              overall=summary["failure_rate"], counts=("failed", "completed"),
                              color=charts.STATUS_COLORS["failed"], full_scale=False),
             frame[["period", "completed", "failed", "failure_rate"]], "upload_failure_rate",
             empty=not summary["finished"], message="No job finished in this window.")

    st.subheader("Stuck jobs")
    st.caption(f"Still 'processing' more than {config.STUCK_MINUTES} minutes after upload, "
               "oldest first, whatever the window.")
    jobs = stuck["jobs"]
    if stuck["count"] > len(jobs):
        st.caption(f"The oldest {len(jobs):,} of {stuck['count']:,}.")
    ui.table(jobs.assign(age=jobs["age_minutes"].map(lambda m: ui.human_age(m * 60))),
             "stuck_jobs", message="No stuck job.",
             column_config={"job_id": "job id", "file_type": "file type",
                            "uploaded_at": "uploaded (UTC)",
                            "age_minutes": None})  # in the CSV; shown as `age`

    st.subheader("File types")
    types = ui.cached(uploads.file_types, ctx.db, window)
    ui.chart(charts.count_bars(types, "file_type", "uploads", extra=["failed"]), types,
             "upload_file_types", message="No uploads in this window.")

    st.subheader("Statuses outside the documented three")
    others = ui.cached(uploads.other_statuses, ctx.db, window)
    if len(others):
        st.warning("The application only writes processing, completed and failed: find "
                   "what wrote these.", icon=":material/warning:")
    ui.table(others, "upload_other_statuses",
             message="None: every upload of the window is processing, completed or failed.")


ui.run(ctx, body)
