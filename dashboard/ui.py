"""What every page shares: page set-up, the database it reads, the sidebar, caching, formatting.

Pages stay thin: `ctx = ui.page("Title")`, then call r2w_db through `ui.cached(...)`
and lay out what it returns. No SQL here.
"""
import sys
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from r2w_db import config, errors, schema
from r2w_db.connection import Database
from r2w_db.default_db import ensure_default

CACHE_TTL_S = 30


@dataclass
class PageContext:
    db: Database
    location: config.DbLocation
    is_demo: bool
    schema_version: int


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
def _cached_call(func, path_str, token, args, kwargs):
    return func(Database(path_str), *args, **dict(kwargs))


def cached(func, db: Database, *args, **kwargs):
    """func(db, *args, **kwargs), cached for a short TTL and recomputed when the file changes."""
    return _cached_call(func, str(db.path), change_token(db.path), args, tuple(sorted(kwargs.items())))


def _inspect(path_str, token):
    from r2w_db.demo import is_demo

    db = Database(path_str)
    with db.read() as conn:
        schema.require_schema(conn, db.path)
        version = schema.user_version(conn)
    return version, is_demo(db)


def show_error(exc: errors.R2WError):
    """One clear message, and the command that fixes it when there is one."""
    st.error(str(exc), icon="🛑")
    if isinstance(exc, errors.SchemaTooOld):
        st.markdown("Bring it to the current schema (keeps every row, one transaction):")
        st.code(f"python -m r2w_db --db {exc.args[0].split(' has ')[0]} migrate", language="bash")


def page(title, icon="📊") -> PageContext:
    """Set up a page: config, the database (or a clear message and stop), the sidebar."""
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
    ctx = PageContext(Database(location.path), location, demo, version)
    sidebar_database(location, version, demo)
    st.title(title)
    if demo:
        st.info("This is **demo data** (the embedded default database). Point `DATABASE_URL` or "
                "`-- --db PATH` at the real file to monitor production.", icon="🧪")
    return ctx


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


def human_bytes(n):
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def human_count(n):
    return "–" if n is None else f"{n:,}"


def human_percent(x, digits=1):
    return "no data" if x is None else f"{x:.{digits}%}"


def current_user():
    """(name, role) of whoever is looking. Until team sign-in exists the dashboard runs open:
    everyone is the local admin."""
    import getpass

    try:
        name = getpass.getuser()
    except Exception:  # no login name in some containers
        name = "local"
    return name, "admin"
