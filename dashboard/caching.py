"""One cached call for every page: `cached(func, *args, sources=..., **kwargs)`.

A result is kept for a short TTL and recomputed at once when one of the sources the call
reads changes: the key holds each source's change token (the application's database:
database_file.change_token; the monitor database: its file's token). No SQL here.
"""
import streamlit as st

from r2w_db.backends import open_database
from r2w_db.engine import locations
from r2w_db.engine.files import file_token
from r2w_db.figures import database_file

CACHE_TTL_S = 30
MONITOR = "monitor"   # in `sources`: the monitor database (history, logs, the watcher, silences)


def _is_database(value):
    return all(hasattr(value, name) for name in ("key", "read", "backend"))


def source_token(source):
    """(identity, change token) of one source: a database object, a location, or MONITOR."""
    if isinstance(source, str) and source == MONITOR:
        path = locations.monitor_db_path()
        return str(path), file_token(path)
    db = open_database(source)
    return db.key, database_file.change_token(db)


def _hashable(value):
    """What stands for an argument in the key: a database object by its key (Streamlit
    cannot hash it), anything else as it is."""
    return ("database", value.key) if _is_database(value) else value


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _call(_func, _args, _kwargs, name, args_key, kwargs_key, tokens):
    # _func, _args and _kwargs are not hashed: `name`, `args_key` and `kwargs_key` stand for them
    return _func(*_args, **_kwargs)


def cached(func, *args, sources=None, **kwargs):
    """func(*args, **kwargs), cached for CACHE_TTL_S seconds and recomputed as soon as one of
    `sources` changes. `sources`: what the call reads, database objects (or locations) and
    MONITOR; by default the call's first argument, the application's database."""
    sources = (args[0],) if sources is None else tuple(sources)
    tokens = tuple(source_token(s) for s in sources)
    name = f"{func.__module__}.{func.__qualname__}"
    return _call(func, args, kwargs, name, tuple(_hashable(a) for a in args),
                 tuple(sorted((k, _hashable(v)) for k, v in kwargs.items())), tokens)
