"""What every page shares: page set-up, the database it reads, the sidebar, caching, formatting.

Pages stay thin:

    ctx = ui.page("Title", "icon")          # config, database (or a clear message), sidebar
    def body(ctx):                          # figures via ui.cached(r2w_db function, ctx.db, ...)
        ...
    ui.run(ctx, body)                       # auto-refresh, and clear messages for database errors

`ui.page` first runs the gate (dashboard/access.py): secrets that cannot be trusted close every
page with one message; with team accounts in the secrets ([team.NAME] with password_hash and
role) nothing of a page is drawn until someone signs in. It also draws the navigation (the
sidebar's page links) and the read-only / open-dashboard notices.

No SQL here.
"""
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from dashboard.access import (  # noqa: F401  (pages and tests use them as ui.*)
    OPEN_BANNER,
    OPEN_BANNER_READ_ONLY,
    SESSION_USER,
    allowed_databases,
    accounts_configured,
    client_address,
    current_user,
    gate,
    maintenance_refusal,
    read_only,
    secrets_problem,
    sign_out,
    team_accounts,
    weak_hashes_warning,
)
from dashboard.safe_text import code, md, prose  # noqa: F401  (pages use them as ui.*)
from r2w_db import errors, formatting
from r2w_db.demo.default import ensure_default
from r2w_db.engine import locations, schema
from r2w_db.engine.files import file_token
from r2w_db.backends import open_database
from r2w_db.figures import database_file, periods

CACHE_TTL_S = 30
REFRESH = {"off": None, "30s": 30, "60s": 60}
REFRESH_LABELS = {"off": "off", "30s": "30 s", "60s": "60 s"}
WINDOW_LABELS = {"24h": "24 h", "7d": "7 d", "30d": "30 d", "90d": "90 d", "all": "All"}

human_bytes = formatting.human_bytes
human_age = formatting.human_age


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


def cli_db_argument(argv=None):
    """`streamlit run app.py -- --db PATH` passes --db through to the script."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--db="):
            return arg.split("=", 1)[1]
    return None


# the monitor's file; the application's database has database_file.change_token
change_token = file_token


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached_call(_func, _db, name, path_str, token, args, kwargs):
    # _func and _db are not hashed (Streamlit cannot hash functions): `name` stands for the
    # function in the key, and the database's path (a PostgreSQL URL redacted) for the database
    return _func(_db, *args, **dict(kwargs))


def cached(func, db, *args, **kwargs):
    """func(db, *args, **kwargs), cached for a short TTL and recomputed when the database
    changes (database_file.change_token)."""
    name = f"{func.__module__}.{func.__qualname__}"
    return _cached_call(func, db, name, db.key, database_file.change_token(db), args,
                        tuple(sorted(kwargs.items())))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached_history_call(_func, _db, name, path_str, token, monitor_str, monitor_token, args,
                         kwargs):
    return _func(_db, *args, **dict(kwargs))


def cached_history(func, db, *args, **kwargs):
    """Like `cached`, for functions that read the monitor database (history, the maintenance
    log, the watcher): the key also holds the monitor database's path and change token, so a
    new snapshot shows at once (a snapshot never changes the application's file)."""
    name = f"{func.__module__}.{func.__qualname__}"
    monitor = locations.monitor_db_path()
    return _cached_history_call(func, db, name, db.key, database_file.change_token(db),
                                str(monitor), change_token(monitor), args,
                                tuple(sorted(kwargs.items())))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached_summaries(_func, name, keys, monitor_token):
    return _func([location for location, _ in keys])


def cached_summaries(func, choices):
    """func(choices) cached like `cached_history`: the key holds every database's path and change
    token and the monitor database's (the summaries show each one's last snapshot)."""
    keys = tuple((c, database_file.change_token(open_database(c))) for c in choices)
    monitor = locations.monitor_db_path()
    return _cached_summaries(func, f"{func.__module__}.{func.__qualname__}", keys,
                             (str(monitor), change_token(monitor)))


def _inspect(db):
    """(schema version, demo data?, size in bytes) of the page's database, or its R2WError."""
    facts = database_file.describe(db)
    return facts["schema_version"], facts["demo"], facts["size_bytes"]


def show_error(exc: errors.R2WError):
    """One clear message, and the command that fixes it when there is one."""
    st.error(prose(str(exc)), icon=":material/error:")   # it may quote ?db= or a location
    if isinstance(exc, errors.SchemaTooOld):
        st.markdown("Bring it to the current schema (keeps every row, one transaction):")
        st.code(f"python -m r2w_db --db {exc.path} migrate", language="bash")
    elif isinstance(exc, errors.EmptyDatabase):
        st.markdown("Point the dashboard at the application's database, or create the schema:")
        st.code("DATABASE_URL=/path/to/resume2website.db streamlit run app.py", language="bash")
    elif isinstance(exc, errors.HotJournal):
        st.markdown("Roll the crashed writer's journal back (changes nothing else):")
        st.code(f"python -m r2w_db --db {exc.path} recover", language="bash")
    elif isinstance(exc, errors.DatabaseDamaged):
        st.markdown("See what is damaged, then restore the newest verified backup:")
        st.code(f"python -m r2w_db --db {exc.path} check\npython -m r2w_db --db {exc.path} backups",
                language="bash")
    elif isinstance(exc, errors.DatabaseLocked):
        st.button("Try again", icon=":material/refresh:")


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
    ctx = PageContext(open_database(location), location, demo, version,
                      periods.Window.of(window_key), REFRESH[refresh],
                      None if embed else st.sidebar.empty(), choices, size)
    st.title(title)
    if len(choices) > 1:
        st.caption(f"Database: {code(location.display)}" if location.title == location.display
                   else f"Database: **{md(location.title)}** · {code(location.display)}")
    if version > schema.CURRENT_VERSION:
        st.warning(f"{code(location.display)} is at schema version {version}, newer than this r2w "
                   f"monitor knows ({schema.CURRENT_VERSION}): figures may be incomplete, and "
                   "maintenance refuses to touch it. Upgrade r2w monitor.",
                   icon=":material/warning:")
    if demo:
        st.info("This is **demo data**. Point `DATABASE_URL` or `-- --db PATH` at the real file to "
                "monitor production.", icon=":material/science:")
    return ctx


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
    stamp = datetime.now(timezone.utc).strftime("%H:%M:%S UTC")
    every = f", every {ctx.refresh_s} s" if ctx.refresh_s else ""
    text = f"Last refresh {stamp}{every} · {ctx.window.label.lower()}"
    if ctx.refreshed is not None:
        ctx.refreshed.caption(text)


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


# ------------------------------------------------------------------ showing figures

def human_count(n):
    return "–" if n is None else f"{n:,}"


def human_percent(x, digits=1):
    return "no data" if x is None else f"{x:.{digits}%}"


def human_score(x):
    return "no data" if x is None else f"{x:.3f}"


def rollup_note(ctx):
    """A caption sentence when the window's figures come from the watcher's roll-ups ("" when
    they are read live)."""
    from r2w_db.figures import windowed

    if not windowed.usable(ctx.db, ctx.window):
        return ""
    return (" Closed days and hours come from the watcher's roll-ups, as recorded when each "
            "closed; the open hour is read live.")


def per(window):
    """'per hour' for the 24-hour window, else 'per day' (UTC)."""
    return "per hour" if window.grain == "hour" else "per day"


def delta(current, previous, kind="count"):
    """st.metric's delta: the change against the previous window (None when not comparable)."""
    if previous is None or current is None:
        return None
    if kind == "percent":
        return f"{(current - previous) * 100:+.1f} pp"
    if kind == "score":
        return f"{current - previous:+.3f}"
    return f"{current - previous:+,}"


def metric(where, label, value, current=None, previous=None, kind="count", inverse=False,
           help=None, series=None, series_type="line"):
    """A bordered st.metric whose delta is the change against the previous window; an unchanged
    figure says "no change" without an arrow (not a green "-0.0"). `series` (numbers, oldest
    first, from history) draws a sparkline (st.metric's chart_data; `series_type` line, bar or
    area); fewer than two points draw none."""
    change = delta(current, previous, kind)
    unchanged = change is not None and change.lstrip("+-").strip("0.,% p") == ""
    spark = {"chart_data": list(series), "chart_type": series_type} if series and len(series) >= 2 else {}
    where.metric(label, value, "no change" if unchanged else change, border=True, help=help,
                 delta_color="off" if unchanged else "inverse" if inverse else "normal",
                 delta_arrow="off" if unchanged else "auto", **spark)


def chart(spec, data, name, *, empty=None, message="No data in this window."):
    """Draw an Altair chart with its data offered as CSV, or a sentence when there is nothing
    to draw. `empty` (bool) overrides the test "data has no rows"."""
    if (data is None or len(data) == 0) if empty is None else empty:
        st.info(message, icon=":material/info:")
        return False
    st.altair_chart(spec, width="stretch")
    csv_download(data, name)
    return True


def csv_download(data, name):
    st.download_button("Download CSV", data.to_csv(index=False).encode("utf-8"),
                       file_name=f"{name}.csv", mime="text/csv", key=f"csv_{name}",
                       icon=":material/download:", type="tertiary")


def table(data, name, column_config=None, message="Nothing to list.", height="auto"):
    """A data table with its CSV, or a sentence when it is empty."""
    if data is None or len(data) == 0:
        st.info(message, icon=":material/info:")
        return False
    st.dataframe(data, hide_index=True, column_config=column_config, width="stretch",
                 height=height)
    csv_download(data, name)
    return True


def health_overrides():
    """The optional [health] table of .streamlit/secrets.toml ({} when there is none)."""
    try:
        return dict(st.secrets.get("health", {}))
    except Exception:  # no secrets file, or one that does not parse: the defaults stand
        return {}


def page_exists(path):
    """Whether a page file (e.g. 'pages/6_Maintenance.py') exists beside app.py."""
    return (Path(__file__).resolve().parent.parent / path).is_file()


# ------------------------------------------------------------------ sign-in, roles, navigation

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
    where = st if embedded() else st.sidebar
    if user:
        if not embedded():
            with st.sidebar:
                st.caption(f"Signed in as **{md(user['name'])}** ({md(user['role'])})")
                st.button("Sign out", key="_r2w_sign_out", on_click=sign_out,
                          icon=":material/logout:")
    elif not accounts_configured():
        where.warning(OPEN_BANNER_READ_ONLY if read_only() else OPEN_BANNER,
                      icon=":material/lock_open:")
    if read_only() and not embedded():
        st.sidebar.info("Read-only: maintenance is switched off.", icon=":material/lock:")
