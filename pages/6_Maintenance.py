"""Maintenance: preview, confirm, run (in short batches, with progress), log; backups.

Thin: every figure and every write goes through r2w_db.maintenance (registry, runner, backups).
"""
from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import maintenance_dialog, ui, zones
from dashboard.access import revoke_all_panel
from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.formatting import snapshot_time, wall_time
from r2w_db.maintenance import backups, registry, runner, stuck_jobs, watched_previews
from r2w_db.monitor.store import MonitorStore

DOWNLOAD_LIMIT = 512 * 1024 ** 2   # larger backups are copied from the server, not the browser
ORDER = ("sessions", "cache", "anonymous", "stuck", "backup", "checkpoint", "analyze", "vacuum", "integrity")
JOB_PREFIX = 8   # characters of a job id in the stuck-jobs list
LOG_COLUMNS = ["started_at", "task", "outcome", "user", "rows", "previewed", "bytes_reclaimed",
               "seconds", "backup", "error", "parameters", "finished_at"]

ctx = ui.page("Maintenance", "🧰", window=False)  # no time window: nothing here depends on it
user_name, role = ui.current_user()
is_admin = role == "admin"
refusal = ui.maintenance_refusal(role)   # read-only, or not an admin: no task starts
state = st.session_state
TARGET = maintenance_dialog.target(ctx.location)   # the one database every task touches


# ------------------------------------------------------------------ callbacks (on_click)

def _ask(name):
    """Run button: open the confirmation dialog for this task with the card's settings."""
    maintenance_dialog.ask(ctx.db, name, days=state.get(f"maint_days_{name}"),
                           quick=state.get(f"maint_quick_{name}", False),
                           minutes=state.get(f"maint_minutes_{name}"))


def _verify_all():
    state["maint_verify"] = True


# ---------------------------------------------------------------------- formatting

def _when(iso_text):
    moment = timeutil.parse(iso_text)
    if moment is None:
        return iso_text or "–"
    age = (timeutil.utcnow() - moment).total_seconds()
    return f"{wall_time(moment, ui.shown_zone())} ({ui.human_age(max(age, 0))} ago)"


def _last_run_line(entry):
    if not entry:
        return "Last run: never (on this database)."
    when = _when(entry["finished_at"] or entry["started_at"])
    text = f"Last run: **{ui.md(entry['outcome'])}** · {ui.md(when)} · by {ui.md(entry['user'])}"
    if entry.get("rows") is not None:
        text += f" · {entry['rows']:,} rows"
    if entry.get("bytes_reclaimed"):
        text += f" · {ui.human_bytes(entry['bytes_reclaimed'])} reclaimed"
    if entry.get("seconds") is not None:
        text += f" · {entry['seconds']:.1f} s"
    return text


def _cell(value):
    """Markdown showing exactly `value` on one line ("–" when empty)."""
    return ui.md(" ".join(str(value).split())) if value not in (None, "") else "–"


def _short(job_id):
    """The first JOB_PREFIX characters of a job id (the application's are 36-character UUIDs,
    which would wrap a job's line on the card)."""
    text = str(job_id)
    return text if len(text) <= JOB_PREFIX else text[:JOB_PREFIX] + "…"


def _oldest_stuck(found):
    """The stuck jobs the preview lists (the oldest few; the count covers them all), one line
    each: a data frame would cost the page more than the rows it shows, and a table of five
    columns does not fit the card."""
    shown = stuck_jobs.shown_line(found)
    with st.expander(shown[0].upper() + shown[1:], icon=":material/list:"):
        zone = ui.shown_zone()
        st.caption(f"Processing for · {zones.titled('uploaded', zone)} · file type · owner · job")
        st.markdown("\n".join(
            f"- **{j['age_minutes'] / 60:,.1f} h** · {_cell(zones.cell_text(j['uploaded_at'], zone))}"
            f" · {_cell(j['file_type'])} · {j['owner']} · {_cell(_short(j['job_id']))}"
            for j in found["oldest"]))
        st.caption(f"Oldest first; owners as registered or anonymous, never a name; a job by the "
                   f"first {JOB_PREFIX} characters of its id. Run marks every stuck job failed, "
                   f"not only these.")


# ---------------------------------------------------------------------- the page

def _card(name, last):
    task = registry.task_for(ctx.db, name)   # described as it runs on this backend
    reason = refusal
    with st.container(border=True):
        badge = (":red-badge[:material/delete: changes data]" if task.destructive
                 else ":green-badge[:material/visibility: safe]")
        st.markdown(f"#### {task.title} {badge}")
        st.caption(f":material/database: on {TARGET}")
        st.markdown(task.what)
        st.caption(f"When to run it: {task.when}")
        days = quick = None
        if task.default_days is not None:
            days = int(st.number_input(task.days_label or "Days", min_value=1, max_value=3650,
                                       value=int(task.default_days), step=1,
                                       key=f"maint_days_{name}"))
        minutes = None
        if task.default_minutes is not None:
            minutes = int(st.number_input(task.minutes_label or "Minutes", min_value=1,
                                          max_value=525600, value=int(task.default_minutes),
                                          step=1, key=f"maint_minutes_{name}"))
        if name == "integrity":
            quick = st.checkbox("Quick check (quick_check: faster, skips index contents)",
                                key=f"maint_quick_{name}")
        applicable = True   # a task this database's engine has no use for (checkpoint on PostgreSQL)
        idle = None         # why a run would change nothing now
        try:
            pv, counted_at = ui.cached(watched_previews.preview, ctx.db, name, days=days,
                                       quick=bool(quick), minutes=minutes, signed_out=False,
                                       sources=(ctx.db, ui.MONITOR))
            st.markdown(f"**Preview:** {ui.prose(pv.message)}.")
            if counted_at:
                st.caption(f"As of the watcher's snapshot of "
                           f"{snapshot_time(counted_at, timeutil.utcnow(), ui.shown_zone())}; "
                           "Run counts again "
                           "before it asks for confirmation.")
            if pv.refusal:
                st.warning(ui.prose(pv.refusal), icon=":material/block:")
            if name == "stuck" and pv.count:
                _oldest_stuck(pv.details)
            applicable = (pv.details or {}).get("applicable", True)
            idle = "Nothing to do: the preview finds nothing to change." if pv.nothing_to_do else None
        except errors.R2WError as exc:
            st.warning(f"Preview unavailable: {ui.prose(exc)}", icon=":material/warning:")
        st.markdown(_last_run_line(last))
        if maintenance_dialog.last_result(name):
            maintenance_dialog.show_result(maintenance_dialog.last_result(name), task.title)
        st.button(f"Run {task.title.lower()} …", key=f"maint_run_{name}", on_click=_ask,
                  args=(name,), disabled=bool(reason or not applicable or idle),
                  help=reason or (None if applicable else ui.prose(pv.refusal)) or idle,
                  type="primary" if task.destructive else "secondary",
                  icon=":material/play_arrow:")
        if reason:
            st.caption(":material/lock: " + ("Read-only: no maintenance runs." if ui.read_only()
                                             else "Needs the admin role."))


def _log_table():
    st.subheader("Maintenance log")
    st.caption(f"Runs on {TARGET} only; every database keeps its own log.")
    entries = runner.log_entries(ctx.db, limit=200)
    if not entries:
        st.info("No maintenance has been logged for this database yet.", icon=":material/info:")
        return
    frame, _, headers = zones.table_times(pd.DataFrame(entries).reindex(columns=LOG_COLUMNS), {
        "started_at": ("Started", zones.SECOND), "finished_at": ("Finished", zones.SECOND)},
        ui.shown_zone())
    # blank, not "None", where a task has no such figure (a backup deletes no rows)
    for column in ("previewed", "rows", "bytes_reclaimed"):
        frame[column] = frame[column].map(lambda v: "" if v is None or pd.isna(v) else f"{int(v):,}")
    frame["seconds"] = frame["seconds"].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.2f}")
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "started_at": st.column_config.TextColumn(headers["started_at"]),
        "finished_at": st.column_config.TextColumn(headers["finished_at"]),
        "task": st.column_config.TextColumn("Task"),
        "outcome": st.column_config.TextColumn("Outcome"),
        "user": st.column_config.TextColumn("Who"),
        "backup": st.column_config.TextColumn("Backup taken"),
        "error": st.column_config.TextColumn("Error"),
        "parameters": st.column_config.TextColumn("Parameters"),
        "previewed": st.column_config.TextColumn("Previewed"),
        "rows": st.column_config.TextColumn("Rows"),
        "bytes_reclaimed": st.column_config.TextColumn("Bytes reclaimed"),
        "seconds": st.column_config.TextColumn("Seconds"),
    })


def _backups_section():
    st.subheader("Backups")
    dest = backups.default_dest(db=ctx.db)
    monitor = MonitorStore()
    if state.pop("maint_verify", False):
        with st.spinner("Verifying every backup (integrity_check) ..."):
            backups.list_backups(dest, verify=True, monitor=monitor, stem=backups.stem_of(ctx.db))
    found = backups.list_backups(dest, monitor=monitor, stem=backups.stem_of(ctx.db))
    st.caption(f"In {ui.code(dest)} (set R2W_BACKUP_DIR to move it). Taken by the Backup card, by "
               "\"back up first\", or by `python -m r2w_db backup` from cron; the newest "
               f"{backups.DEFAULT_KEEP} are kept. Restoring is command-line only, with the "
               "application stopped: `python -m r2w_db restore BACKUP --yes`.")
    if not found:
        st.info("No backups of this database yet.", icon=":material/info:")
        return
    st.button("Verify all", key="maint_verify_all", on_click=_verify_all,
              icon=":material/verified:", help="Run integrity_check on every backup now")
    header = st.columns([4, 2, 2, 2, 2])
    for col, label in zip(header, ("Backup", "Size", "Age", "Verified")):
        col.markdown(f"**{label}**")
    for b in found:
        row = st.columns([4, 2, 2, 2, 2])
        row[0].markdown(ui.code(b.name) + (" (pre-restore)" if b.kind == "pre-restore" else ""))
        row[1].markdown(ui.human_bytes(b.size))
        row[2].markdown(ui.human_age(max(b.age_seconds, 0)))
        row[3].markdown({True: ":green[verified]", False: f":red[FAILED] {ui.prose(b.message or '')}",
                         None: "not verified"}[b.verified])
        if not is_admin:
            row[4].caption("admin only")
        elif b.size > DOWNLOAD_LIMIT:
            row[4].caption(f"over {ui.human_bytes(DOWNLOAD_LIMIT)}: copy it from the server")
        else:
            row[4].download_button("Download", data=lambda p=b.path: Path(p).read_bytes(),
                                   file_name=b.name, mime="application/vnd.sqlite3",
                                   key=f"maint_dl_{b.name}", on_click="ignore",
                                   icon=":material/download:", type="tertiary")


def body():
    st.info(f"Every task on this page works on {TARGET}, and on nothing else.",
            icon=":material/database:")
    st.caption(f"{ui.who_line()}. Every task shows a preview first "
               "(nothing is written), asks for confirmation, runs with a progress bar and is "
               "logged below. Starting a task needs the admin role.")
    if refusal:
        st.warning(refusal, icon=":material/lock:")
    maintenance_dialog.run_pending(ctx.db, user_name, refusal)
    last_runs = runner.last_runs(ctx.db)
    columns = st.columns(2)
    for i, name in enumerate(ORDER):
        with columns[i % 2]:
            _card(name, last_runs.get(name))
    maintenance_dialog.dialog_if_asked(ctx, refusal)
    _log_table()
    _backups_section()
    revoke_all_panel()


try:
    body()
except errors.R2WError as exc:
    ui.show_error(exc)
