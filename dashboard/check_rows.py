"""The Overview's health checks, one compact row each: icon, title, value (and a silence's
mark). A row opens to the detail, the remedy and the actions: an admin runs the remedy's
maintenance task (the Maintenance page's own dialog, the check's parameters filled in) and
silences or lifts; everyone else sees the command. Passing checks stay under one expander.
No SQL here."""
import streamlit as st

from dashboard import maintenance_dialog, silence_form
from dashboard.safe_text import md, prose
from dashboard.status_line import COLOUR, ICON
from dashboard.widgets import page_exists
from r2w_db.figures import health, health_report
from r2w_db.maintenance import registry


def _label(check, silence):
    word = health_report.status_word(check.status)
    mark = " · :violet[silenced]" if silence is not None else ""
    return f":{COLOUR[word]}[**{md(check.title)}: {md(check.value)}**]{mark}"


def _remedy(ctx, check, refusal):
    """The Run button of the check's maintenance task (admins, not read-only), else its command."""
    task = registry.TASKS.get(check.task) if check.task else None
    if task is not None and not refusal:
        st.button(f"Run {task.title.lower()} …", key=f"check_run_{check.key}",
                  on_click=maintenance_dialog.ask, args=(ctx.db, task.name),
                  kwargs=dict(check.task_params or {}), type="primary",
                  icon=":material/play_arrow:",
                  help="Opens the task's preview and confirmation, as on the Maintenance page.")
        return
    if check.command:
        st.code(check.command, language="bash", wrap_lines=True)
    if task is not None:
        st.caption(f":material/lock: {prose(refusal)}")


def row(ctx, check, silence, user, role, refusal):
    word = health_report.status_word(check.status)
    with st.expander(_label(check, silence), icon=ICON[word]):
        st.markdown(prose(check.detail))
        if check.remedy:
            st.markdown(f"**What to do:** {prose(check.remedy)}")
        _remedy(ctx, check, refusal)
        if check.page and page_exists(check.page):
            st.page_link(check.page, label=f"Open {check.page_label}",
                         icon=":material/arrow_forward:")
        silence_form.show(ctx.db, check.key, silence, user, role)


def show(ctx, checks, silenced, user, role, refusal):
    """Every check needing attention as a row (most urgent first), then the passing ones."""
    failing = sorted((c for c in checks if c.status != health.OK),
                     key=lambda c: health.SEVERITY[c.status])
    passing = [c for c in checks if c.status == health.OK]
    for check in failing:
        row(ctx, check, silenced.get(check.key), user, role, refusal)
    if passing:
        with st.expander(f"Passing checks ({len(passing)})", icon=ICON["OK"]):
            for check in passing:
                st.markdown(f":green[{ICON['OK']}] **{md(check.title)}: {md(check.value)}** · "
                            f"{prose(check.detail)}")
