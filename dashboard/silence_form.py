"""Silence a failing check on one database from its row, and lift it: admins only, with a
reason (required) and an expiry (1 hour, 1 day, 1 week, or a date). Silences live in the
monitor database (r2w_db.monitor.silences); a silenced check keeps its true colour, and only
its notifications stop. Writes only the monitor database, so it works in read-only mode too
(like signing everyone out). No SQL here."""
import streamlit as st

from dashboard.safe_text import md, prose
from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.monitor import silences

EXPIRY = {"1 hour": "1h", "1 day": "1d", "1 week": "1w", "until a date": None}


def marking(silence):
    """'silenced by ann until 2026-11-25 12:00 UTC: worker being fixed' (Markdown, escaped)."""
    return (f"silenced by **{md(silence.user)}** until {silence.until:%Y-%m-%d %H:%M} UTC: "
            f"{prose(silence.reason)}")


def _set(db, check, user):
    state = st.session_state
    reason = state.get(f"silence_reason_{check}") or ""
    chosen = EXPIRY.get(state.get(f"silence_for_{check}"))
    day = state.get(f"silence_date_{check}")
    text = chosen or (day.isoformat() if day else "")
    try:
        now = timeutil.utcnow()
        until = silences.parse_for(text, now)
        silences.SilenceStore().silence(db, check, until=until, reason=reason, user=user, now=now)
    except errors.R2WError as exc:
        state[f"silence_error_{check}"] = str(exc)


def _lift(db, check, user):
    try:
        silences.SilenceStore().lift(db, check, user=user, now=timeutil.utcnow())
    except errors.R2WError as exc:
        st.session_state[f"silence_error_{check}"] = str(exc)


def show(db, check, silence, user, role):
    """The row's silence: its marking, and for an admin the form to set it or the Lift button."""
    if silence is not None:
        st.markdown(f":violet[:material/notifications_off:] {marking(silence)}")
    problem = st.session_state.pop(f"silence_error_{check}", None)
    if problem:
        st.error(f"Not silenced: {prose(problem)}", icon=":material/error:")
    if role != "admin":
        st.caption(":material/lock: Silencing a check needs the admin role.")
        return
    if silence is not None:
        st.button("Lift the silence", key=f"silence_lift_{check}", on_click=_lift,
                  args=(db, check, user), icon=":material/notifications_active:")
        return
    with st.form(f"silence_{check}", clear_on_submit=True, border=False):
        st.text_input("Why silence it (who is on it)?", key=f"silence_reason_{check}",
                      max_chars=silences.MAX_REASON)
        left, right = st.columns(2)
        left.radio("For", list(EXPIRY), key=f"silence_for_{check}", horizontal=True)
        right.date_input("Until (UTC, with 'until a date')", value=None,
                         min_value=timeutil.utcnow().date(), key=f"silence_date_{check}")
        st.form_submit_button("Silence on this database", on_click=_set, args=(db, check, user),
                              icon=":material/notifications_off:")
