"""What every page shares: page set-up, the database it reads, the sidebar, caching, formatting.

Pages stay thin:

    ctx = ui.page("Title", "icon")          # config, database (or a clear message), sidebar
    def body(ctx):                          # figures via ui.cached(r2w_db function, ctx.db, ...)
        ...
    ui.run(ctx, body)                       # auto-refresh, and clear messages for database errors

No SQL here.
"""
import sys
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import streamlit as st

from r2w_db import config, errors, metrics, schema
from r2w_db.connection import Database
from r2w_db.default_db import ensure_default

CACHE_TTL_S = 30
REFRESH = {"off": None, "30s": 30, "60s": 60}
REFRESH_LABELS = {"off": "off", "30s": "30 s", "60s": "60 s"}
WINDOW_LABELS = {"24h": "24 h", "7d": "7 d", "30d": "30 d", "90d": "90 d", "all": "All"}

human_bytes = metrics.human_bytes
human_age = metrics.human_age


@dataclass
class PageContext:
    db: Database
    location: config.DbLocation
    is_demo: bool
    schema_version: int
    window: metrics.Window = None
    refresh_s: int | None = None
    refreshed: object = None  # the sidebar placeholder for "last refresh"


def cli_db_argument(argv=None):
    """`streamlit run app.py -- --db PATH` passes --db through to the script."""
    argv = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(argv):
        if arg == "--db" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--db="):
            return arg.split("=", 1)[1]
    return None


def change_token(path: Path):
    """Changes whenever the database (or its WAL) is written: part of every cache key."""
    parts = []
    for candidate in (path, Path(str(path) + "-wal")):
        try:
            stat = candidate.stat()
            parts.append((stat.st_mtime_ns, stat.st_size))
        except OSError:
            parts.append(None)
    return tuple(parts)


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached_call(_func, name, path_str, token, args, kwargs):
    # _func is not hashed (Streamlit cannot hash functions): `name` stands for it in the key
    return _func(Database(path_str), *args, **dict(kwargs))


def cached(func, db: Database, *args, **kwargs):
    """func(db, *args, **kwargs), cached for a short TTL and recomputed when the file changes."""
    name = f"{func.__module__}.{func.__qualname__}"
    return _cached_call(func, name, str(db.path), change_token(db.path), args,
                        tuple(sorted(kwargs.items())))


def _inspect(path_str, token):
    from r2w_db.demo import is_demo

    db = Database(path_str)
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        version = schema.user_version(conn)
    return version, is_demo(db)


def show_error(exc: errors.R2WError):
    """One clear message, and the command that fixes it when there is one."""
    st.error(str(exc), icon=":material/error:")
    if isinstance(exc, errors.SchemaTooOld):
        st.markdown("Bring it to the current schema (keeps every row, one transaction):")
        st.code(f"python -m r2w_db --db {exc.args[0].split(' has ')[0]} migrate", language="bash")
    elif isinstance(exc, errors.EmptyDatabase):
        st.markdown("Point the dashboard at the application's database, or create the schema:")
        st.code("DATABASE_URL=/path/to/resume2website.db streamlit run app.py", language="bash")
    elif isinstance(exc, errors.DatabaseLocked):
        st.button("Try again", icon=":material/refresh:")


def page(title, icon="📊", window=True) -> PageContext:
    """Set up a page: config, the database (or a clear message and stop), the sidebar.

    `window=False` leaves the time window and auto-refresh out of the sidebar (a page whose
    figures do not depend on them); ctx.window is then the default window.
    """
    st.set_page_config(page_title=f"{title} · r2w monitor", page_icon=icon, layout="wide")
    location = config.resolve_db(cli_db_argument())
    try:
        if location.is_default and not location.path.exists():
            with st.spinner("Creating the embedded demo database ..."):
                ensure_default(location)
        version, demo = _inspect(str(location.path), change_token(location.path))
    except errors.R2WError as exc:
        st.title(title)
        sidebar_database(location, None, None)
        show_error(exc)
        st.stop()
    sidebar_database(location, version, demo)
    window_key, refresh = metrics.DEFAULT_WINDOW, "off"
    if window:
        window_key = _choice("Time window", list(metrics.WINDOWS), "window",
                             metrics.DEFAULT_WINDOW, WINDOW_LABELS, query_param="window")
        refresh = _choice("Auto-refresh", list(REFRESH), "refresh", "off", REFRESH_LABELS,
                          query_param="refresh")
    ctx = PageContext(Database(location.path), location, demo, version,
                      metrics.Window.of(window_key), REFRESH[refresh], st.sidebar.empty())
    st.title(title)
    if demo:
        st.info("This is **demo data**. Point `DATABASE_URL` or `-- --db PATH` at the real file to "
                "monitor production.", icon=":material/science:")
    return ctx


def _choice(label, options, name, default, labels=None, query_param=None):
    """A sidebar radio whose value survives page changes (session state) and, with
    `query_param`, can be deep-linked (`?window=30d&refresh=60s`)."""
    state = st.session_state
    widget, remembered = f"_r2w_{name}_widget", f"_r2w_{name}"
    wanted = st.query_params.get(query_param) if query_param else None
    if state.get(widget) in options:
        value = state[widget]            # the widget, as the user just left it
    elif wanted in options:
        value = wanted                   # a deep link
    elif state.get(remembered) in options:
        value = state[remembered]        # chosen on another page
    else:
        value = default
    state[widget] = value
    st.sidebar.radio(label, options, key=widget, horizontal=True,
                     format_func=(labels or {}).get if labels else str)
    state[remembered] = value
    if query_param and st.query_params.get(query_param) != value:
        st.query_params[query_param] = value
    return value


def run(ctx: PageContext, body):
    """Run the page body: inside an auto-refreshing fragment when auto-refresh is on (with a
    fresh window each time), and with a clear message instead of any database error."""

    def once():
        fresh = replace(ctx, window=metrics.Window.of(ctx.window.key))
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


def sidebar_database(location, version, demo):
    with st.sidebar:
        st.caption("Database")
        st.markdown(f"`{location.path}`")
        details = [f"from {location.source}"]
        try:
            details.append(human_bytes(location.path.stat().st_size))
        except OSError:
            pass
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
           help=None):
    """A bordered st.metric whose delta is the change against the previous window; an unchanged
    figure says "no change" without an arrow (not a green "-0.0")."""
    change = delta(current, previous, kind)
    unchanged = change is not None and change.lstrip("+-").strip("0.,% p") == ""
    where.metric(label, value, "no change" if unchanged else change, border=True, help=help,
                 delta_color="off" if unchanged else "inverse" if inverse else "normal",
                 delta_arrow="off" if unchanged else "auto")


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


def current_user():
    """(name, role) of whoever is looking. Until team sign-in exists the dashboard runs open:
    everyone is the local admin."""
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers
        name = "local"
    return name, "admin"
