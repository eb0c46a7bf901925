"""Setting a page up: config, the gate, the database it reads (or a clear message), the sidebar's
choices (database, time window, auto-refresh), and running its body. No SQL here."""
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import streamlit as st

from dashboard import csv_names, zones
from dashboard.access import allowed_databases, gate
from dashboard.messages import show_error
from dashboard.navigation import embedded, sidebar_account, sidebar_database, sidebar_navigation
from dashboard.safe_text import code, md, prose
from dashboard.widgets import CSV_CONTEXT, TIME_ZONE
from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.demo.default import ensure_default
from r2w_db.engine import locations, schema
from r2w_db.figures import database_file, periods
from r2w_db.formatting import wall_time

REFRESH = {"off": None, "30s": 30, "60s": 60}
REFRESH_LABELS = {"off": "off", "30s": "30 s", "60s": "60 s"}
WINDOW_LABELS = {"24h": "24 h", "7d": "7 d", "30d": "30 d", "90d": "90 d", "all": "All"}
TIMES_LABELS = {"utc": "UTC", "local": "your browser's time"}


@dataclass
class PageContext:
    db: object    # the database object (backends.open_database)
    location: locations.DbLocation
    is_demo: bool
    schema_version: int
    window: periods.Window = None
    refresh_s: int | None = None
    refreshed: object = None  # the sidebar placeholder for "last refresh"
    choices: list = None      # every database the dashboard offers (DbLocation)
    size_bytes: int = None    # the database's size (database_file.describe)
    windowed: bool = True     # the page offers a time window (its figures depend on one)
    zone: str | None = None   # the zone times are shown in: None (UTC) or the browser's


def cli_db_argument(argv=None):
    """`streamlit run app.py -- --db PATH` passes --db through to the script."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--db="):
            return arg.split("=", 1)[1]
    return None


def _inspect(db):
    """(schema version, demo data?, size in bytes) of the page's database, or its R2WError."""
    facts = database_file.describe(db)
    return facts["schema_version"], facts["demo"], facts["size_bytes"]


def page(title, icon="📊", window=True) -> PageContext:
    """Set up a page: config, the database (or a clear message and stop), the sidebar.

    `window=False` leaves the time window and auto-refresh out of the sidebar (a page whose
    figures do not depend on them); ctx.window is then the default window.
    """
    st.set_page_config(page_title=f"{title} · r2w monitor", page_icon=icon, layout="wide")
    gate()          # signed out: the sign-in form and st.stop(), nothing else drawn
    embed = embedded()  # embedded: nothing goes to the sidebar, so Streamlit shows none
    if not embed:
        sidebar_navigation()
    sidebar_account()
    try:
        every = locations.dashboard_choices(cli_db_argument())
        choices = allowed_databases(every)
        wanted = st.query_params.get("db")
        if wanted and wanted in {c.name for c in every} - {c.name for c in choices}:
            raise errors.BadLocation(f"your account may not open the database {wanted!r}")
        if not choices:
            raise errors.BadLocation("your account may open none of the databases configured "
                                     "here ([team.NAME] databases in the secrets)")
        if wanted is not None and wanted not in {c.name for c in choices}:
            offer_databases(title, wanted, choices)   # never another database's figures
        location = choose_database(choices, draw=not embed)
    except errors.R2WError as exc:  # an empty, malformed, unknown or unsupported location
        st.title(title)
        show_error(exc)
        st.stop()
    try:
        if location.is_default and not location.path.exists():
            with st.spinner("Creating the embedded demo database ..."):
                ensure_default(location)
        version, demo, size = _inspect(open_database(location))
    except errors.R2WError as exc:
        st.title(title)
        if not embed:
            sidebar_database(location, None, None)
        show_error(exc)
        st.stop()
    if not embed:
        sidebar_database(location, version, demo, chosen=len(choices) > 1, size=size)
    window_key, refresh = periods.DEFAULT_WINDOW, "off"
    if window:
        window_key = _choice("Time window", list(periods.WINDOWS), "window",
                             periods.DEFAULT_WINDOW, WINDOW_LABELS, query_param="window",
                             draw=not embed)
        refresh = _choice("Auto-refresh", list(REFRESH), "refresh", "off", REFRESH_LABELS,
                          query_param="refresh", draw=not embed)
    zone = times_in(draw=not embed)
    st.session_state[CSV_CONTEXT] = (csv_names.database_name(location),
                                     window_key if window else "now")
    st.session_state[TIME_ZONE] = zone
    ctx = PageContext(open_database(location), location, demo, version,
                      periods.Window.of(window_key), REFRESH[refresh],
                      None if embed else st.sidebar.empty(), choices, size, window, zone)
    st.title(title)
    if len(choices) > 1:
        st.caption(f"Database: {code(location.display)}" if location.title == location.display
                   else f"Database: **{md(location.title)}** · {code(location.display)}")
    if version > schema.CURRENT_VERSION:
        st.warning(f"{code(location.display)} is at schema version {version}, newer than this r2w "
                   f"monitor knows ({schema.CURRENT_VERSION}): figures may be incomplete, and "
                   "maintenance refuses to touch it. Upgrade r2w monitor.",
                   icon=":material/warning:")
    if demo and not embed:   # embedded in someone else's tool: the figures only
        st.info("This is **demo data**. To monitor production, set `DATABASE_URL` to the real "
                "database, or start with `streamlit run app.py -- --db PATH`.",
                icon=":material/science:")
    return ctx


def offer_databases(title, wanted, choices):
    """`?db=` names no database of this dashboard: an error line and a selector of the valid
    names (choosing one opens it), then st.stop(): no figures of any database."""
    st.title(title)
    st.error(f"?db={prose(repr(wanted))} is not one of the databases configured here. Choose one:",
             icon=":material/error:")
    labels = {c.name: c.title for c in choices}

    def _open():
        chosen = st.session_state["_r2w_db_offered"]
        st.query_params["db"] = chosen
        st.session_state["_r2w_db_widget"] = st.session_state["_r2w_db"] = chosen  # see _choice

    st.selectbox("Database", list(labels), index=None, format_func=labels.get,
                 placeholder="Choose a database", key="_r2w_db_offered", on_change=_open)
    st.stop()


def choose_database(choices, draw=True):
    """The database of this page: `?db=NAME` or the sidebar's choice among `choices` (the
    first by default). An unknown name in the link is an error, never another database."""
    names = [c.name for c in choices]
    wanted = st.query_params.get("db")
    if wanted is not None and wanted not in names:
        raise errors.BadLocation(f"?db={wanted!r} is not one of the databases configured here "
                                 f"({', '.join(n for n in names if n)})")
    if len(choices) == 1:
        return choices[0]
    labels = {c.name: c.title for c in choices}
    chosen = _choice("Database", names, "db", names[0], labels, query_param="db", draw=draw,
                     widget=st.sidebar.selectbox)
    return choices[names.index(chosen)]


def _choice(label, options, name, default, labels=None, query_param=None, draw=True, widget=None):
    """A sidebar radio whose value survives page changes (session state) and, with
    `query_param`, can be deep-linked (`?window=30d&refresh=60s`). draw=False (embedded):
    no radio, the value comes from the link."""
    state = st.session_state
    key, remembered = f"_r2w_{name}_widget", f"_r2w_{name}"
    wanted = st.query_params.get(query_param) if query_param else None
    if state.get(key) in options:
        value = state[key]               # the widget, as the user just left it
    elif wanted in options:
        value = wanted                   # a deep link
    elif state.get(remembered) in options:
        value = state[remembered]        # chosen on another page
    else:
        value = default
    if draw:
        state[key] = value
        kwargs = {"horizontal": True} if widget is None else {}
        (widget or st.sidebar.radio)(label, options, key=key,
                                     format_func=(labels or {}).get if labels else str, **kwargs)
    state[remembered] = value
    if query_param and st.query_params.get(query_param) != value:
        st.query_params[query_param] = value
    return value


def times_in(draw=True):
    """The zone times are shown in: None (UTC, the default) or, when the sidebar's "Times in"
    says so, the browser's zone (st.context.timezone). Without a browser zone (AppTest, an old
    browser) the choice is not offered and times stay UTC; it persists like the window
    (session state, `?times=local`)."""
    browser = zones.valid_zone(st.context.timezone)
    if browser is None:
        return None
    labels = {**TIMES_LABELS, "local": f"your browser's time ({browser})"}
    chosen = _choice("Times in", list(TIMES_LABELS), "times", "utc", labels, query_param="times",
                     draw=draw)
    if chosen != "local":
        return None
    if draw:
        st.sidebar.caption("Hours and times in your browser's zone; daily charts stay on UTC "
                           "days (their figures are per UTC day).")
    return browser


def run(ctx: PageContext, body):
    """Run the page body: inside an auto-refreshing fragment when auto-refresh is on (with a
    fresh window each time), and with a clear message instead of any database error."""

    def once():
        fresh = replace(ctx, window=periods.Window.of(ctx.window.key))
        _refreshed_at(fresh)
        try:
            body(fresh)
        except errors.R2WError as exc:
            show_error(exc)

    if ctx.refresh_s:
        st.fragment(once, run_every=ctx.refresh_s)()
    else:
        once()


def _refreshed_at(ctx):
    stamp = wall_time(datetime.now(timezone.utc).replace(tzinfo=None), ctx.zone, "%H:%M:%S")
    every = f", every {ctx.refresh_s} s" if ctx.refresh_s else ""
    text = f"Last refresh {stamp}{every}" + (f" · {ctx.window.label.lower()}" if ctx.windowed
                                               else "")
    if ctx.refreshed is not None:
        ctx.refreshed.caption(text)

