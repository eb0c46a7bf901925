"""The sidebar: the page links, the database shown, who is signed in, and the open-dashboard and
read-only notices (none of it when the page is embedded). No SQL here."""
from pathlib import Path

import streamlit as st

from dashboard.access import (OPEN_BANNER, OPEN_BANNER_READ_ONLY, SESSION_USER,
                              accounts_configured, read_only, sign_out)
from dashboard.safe_text import code, md
from r2w_db.engine import schema
from r2w_db.formatting import human_bytes

NAV = (("app.py", "Overview", ":material/monitor_heart:"),
       ("pages/1_Cache_hits.py", "Cache hits", ":material/cached:"),
       ("pages/2_Confidence.py", "Confidence", ":material/verified:"),
       ("pages/3_Uploads.py", "Uploads", ":material/upload_file:"),
       ("pages/4_Anonymous_users.py", "Anonymous users", ":material/person_off:"),
       ("pages/7_History.py", "History", ":material/timeline:"),
       ("pages/9_Space.py", "Space", ":material/storage:"),
       ("pages/5_Query_benchmarks.py", "Query benchmarks", ":material/timer:"),
       ("pages/8_Queries.py", "Queries", ":material/query_stats:"),
       ("pages/6_Maintenance.py", "Maintenance", ":material/build:"))


def embedded():
    """Whether the page is shown with ?embed=true (pages then write nothing to the sidebar). The
    browser says so in st.context.is_embedded: st.query_params never holds `embed`."""
    try:
        return bool(st.context.is_embedded)
    except Exception:  # outside a script run
        return False


def sidebar_navigation():
    """Page links in the sidebar (Streamlit's own list is off: it would call the home page
    'app'). A link whose file is not a page of this run (a page run on its own, as AppTest
    does) is left out."""
    from streamlit.errors import StreamlitAPIException

    root = Path(__file__).resolve().parent.parent
    with st.sidebar:
        for path, label, icon in NAV:
            if not (root / path).is_file():
                continue
            try:
                st.page_link(path, label=label, icon=icon)
            except StreamlitAPIException:
                pass
        st.divider()


def sidebar_account():
    """Who is signed in and the sign-out button; the open-dashboard and read-only notices."""
    user = st.session_state.get(SESSION_USER)
    if user:
        if not embedded():
            with st.sidebar:
                st.caption(f"Signed in as **{md(user['name'])}** ({md(user['role'])})")
                st.button("Sign out", key="_r2w_sign_out", on_click=sign_out,
                          icon=":material/logout:")
    elif not accounts_configured() and not embedded():   # embedded: the figures only
        st.sidebar.warning(OPEN_BANNER_READ_ONLY if read_only() else OPEN_BANNER,
                      icon=":material/lock_open:")
    if read_only() and not embedded():
        st.sidebar.info("Read-only: maintenance is switched off.", icon=":material/lock:")


def sidebar_database(location, version, demo, chosen=False, size=None):
    with st.sidebar:
        if not chosen:  # a selectbox above already names it
            st.caption("Database")
            if location.name and location.label != location.display:
                st.markdown(f"**{md(location.title)}**")
        st.markdown(code(location.display))
        details = [f"from {md(location.source)}"]
        if size is not None:
            details.append(human_bytes(size))
        if version is not None:
            details.append(f"schema v{version}" + ("" if version >= schema.CURRENT_VERSION else
                                                  f" (v{schema.CURRENT_VERSION} available)"))
        if demo:
            details.append("demo data")
        st.caption(" · ".join(details))

