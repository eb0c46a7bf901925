"""A maintenance task's preview, confirmation and run: the one dialog the Maintenance page's
cards and the Overview's checks open. The request names the database it was made on, so a
confirmation never runs on another; the run has a progress bar and its maintenance-log entry
(r2w_db.maintenance.runner). No SQL here.

    maintenance_dialog.run_pending(ctx.db, user, refusal)  # first: a confirmed task runs here
    st.button("Run", on_click=maintenance_dialog.ask, args=(ctx.db, "stuck"),
              kwargs={"minutes": 60})                    # opens the dialog
    maintenance_dialog.dialog_if_asked(ctx, refusal)     # last
"""
import streamlit as st

from dashboard.safe_text import code, md, prose
from r2w_db import errors
from r2w_db.formatting import human_bytes, plural
from r2w_db.maintenance import backups, registry, runner

CONFIRM, TODO, RESULTS, BACKUP_FIRST = "maint_confirm", "maint_todo", "maint_results", "maint_backup_first"
PARAMETERS = ("days", "quick", "minutes")


def target(location):
    """The one database a task touches, named once: its name and path, or its path alone."""
    return (code(location.display) if location.title == location.display
            else f"**{md(location.title)}** ({code(location.display)})")


def ask(db, name, **params):
    """A Run button's callback: open the confirmation dialog for this task on `db`, with
    `params` (days, quick, minutes) as the card or the check sets them."""
    request = {"task": name, "database": db.key}
    request.update({k: params.get(k) for k in PARAMETERS})
    request["quick"] = bool(request["quick"])
    st.session_state[CONFIRM] = request


def _confirm():
    state = st.session_state
    request = dict(state.get(CONFIRM) or {})
    if request:
        request["backup_first"] = bool(state.get(BACKUP_FIRST, True))
        state[TODO] = request
    state[CONFIRM] = None


def _cancel():
    st.session_state[CONFIRM] = None


def _request(key, db):
    """The pending request of this kind made on this database, or None."""
    request = st.session_state.get(key)
    return request if request and request.get("database") == db.key else None


def result_line(result):
    parts = [prose(result["message"])]
    if result.get("rows") is not None:
        parts.append(f"{result['rows']:,} rows")
    if result.get("bytes_reclaimed"):
        parts.append(f"{human_bytes(result['bytes_reclaimed'])} reclaimed")
    parts.append(f"{result['seconds']:.1f} s")
    if result.get("backup"):
        parts.append(f"backup: {code(result['backup'])}")
    return " · ".join(parts)


def show_result(result, title, where=st):
    """A run's result under the task's title (as this database's engine titles it)."""
    text = f"**{title}** — {result_line(result)}"
    if result["outcome"] == "ok":
        where.success(text, icon=":material/check_circle:")
    elif result["outcome"] == "cancelled":
        where.warning(f"Cancelled: {text}", icon=":material/cancel:")
    elif result["outcome"] == "refused":
        where.warning(f"Refused: {text}", icon=":material/block:")
    else:
        where.error(f"Failed: {text}", icon=":material/error:")


def last_result(name):
    """The result of this session's last run of a task, or None."""
    return st.session_state.setdefault(RESULTS, {}).get(name)


def run_pending(db, user, refusal):
    """A confirmed task on this database: run it here with a status box and a progress bar
    (the runner logs it); keep the result for show_result."""
    request = _request(TODO, db)
    st.session_state.pop(TODO, None)
    if not request:
        return
    task = registry.task_for(db, request["task"])
    if refusal:   # checked again: the role or the read-only switch may have changed
        st.error(refusal, icon=":material/block:")
        return
    with st.status(f"Running: {task.title} …", expanded=True) as status:
        st.caption("Leaving the page or clicking elsewhere stops the run between two batches "
                   "(what is done stays done; the log says cancelled).")
        bar = st.progress(0.0, text="starting")
        last = {"fraction": 0.0}

        def progress(fraction, message):
            if fraction is not None:
                last["fraction"] = max(0.0, min(1.0, float(fraction)))
            bar.progress(last["fraction"], text=prose(message))

        try:
            result = runner.run(
                db, task.name, days=request.get("days"), quick=request.get("quick", False),
                minutes=request.get("minutes"), user=user, progress=progress,
                backup_first=task.destructive and request.get("backup_first", False)).as_dict()
        except registry.MaintenanceError as exc:
            result = exc.result.as_dict() if exc.result is not None else {
                "task": task.name, "outcome": "failed", "message": str(exc), "seconds": 0.0}
        except errors.R2WError as exc:
            result = {"task": task.name, "outcome": "failed", "message": str(exc), "seconds": 0.0}
        ok = result["outcome"] == "ok"
        bar.progress(1.0 if ok else last["fraction"], text=prose(result["message"]))
        status.update(label=f"{task.title}: {md(result['outcome'])}", expanded=not ok,
                      state="complete" if ok else "error")
    keep = {k: result.get(k) for k in ("task", "outcome", "message", "rows", "bytes_reclaimed",
                                       "seconds", "backup", "error")}
    st.session_state.setdefault(RESULTS, {})[task.name] = keep


def dialog_if_asked(ctx, refusal):
    """Once per run of a page, after its Run buttons: the dialog of a task asked for."""
    if _request(CONFIRM, ctx.db):
        _dialog(ctx, refusal)


def _warnings(task, pv, db):
    if task.name == "sessions":
        users = plural(pv.details.get("users", 0), "distinct user")
        st.warning(f"This signs **{users}** out: the application never expires sessions "
                   "itself, so deleting a session ends that sign-in.", icon=":material/logout:")
    if task.name == "vacuum" and db.backend.features.vacuum_blocks_writers:
        st.warning("VACUUM locks the database for writers while it runs: the application's "
                   "writes wait (and may time out) until it ends. Prefer a quiet hour.",
                   icon=":material/lock:")
    if pv.refusal:
        st.warning(f"It will be refused: {prose(pv.refusal)}", icon=":material/block:")


@st.dialog("Confirm maintenance", width="large")
def _dialog(ctx, refusal):
    state = st.session_state
    request = _request(CONFIRM, ctx.db)
    if not request or state.get(TODO):
        st.rerun()  # confirmed or cancelled: close the dialog with a full rerun
    task = registry.task_for(ctx.db, request["task"])
    st.markdown(f"### {task.title}")
    st.markdown(f":material/database: Database: {target(ctx.location)}")
    try:
        pv = registry.preview(ctx.db, task.name, days=request.get("days"),
                              quick=request.get("quick", False), minutes=request.get("minutes"))
    except errors.R2WError as exc:
        st.error(prose(exc), icon=":material/error:")
        st.button("Close", key="maint_dialog_cancel", on_click=_cancel)
        return
    st.markdown(f"**What will happen:** {prose(pv.message)}.")
    _warnings(task, pv, ctx.db)
    if pv.nothing_to_do:
        st.info("Nothing to do: the preview finds nothing this task would change.",
                icon=":material/check_circle:")
    elif task.destructive:
        st.markdown("Its writes run in short batches (a few ms each, with pauses), so the "
                    "application keeps writing; a run stopped midway keeps what it finished.")
        st.checkbox(f"Back up first (verified online backup into "
                    f"{code(backups.default_dest(db=ctx.db))})", value=True, key=BACKUP_FIRST)
    reason = refusal or ("Nothing to do." if pv.nothing_to_do else None)
    left, right = st.columns(2)
    left.button("Confirm", key="maint_dialog_confirm", type="primary", on_click=_confirm,
                disabled=reason is not None, help=reason, width="stretch")
    right.button("Cancel", key="maint_dialog_cancel", on_click=_cancel, width="stretch")
