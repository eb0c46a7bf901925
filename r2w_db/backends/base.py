"""What every backend provides: a name, what the engine has (`features`), the SQL fragments that
differ between engines (`ops`), and its named queries, one module per concern with the same
module names in every engine package (docs/architecture.md lists them).

Neutral code never names an engine: it asks `db.backend` for a fragment, a feature or a named
query, the way Django code asks `connection.ops` and `connection.features`.
"""
import importlib
from dataclasses import dataclass, field
from functools import cached_property

from r2w_db import errors


@dataclass(frozen=True)
class Features:
    """What an engine has or lacks; a task or figure that needs a missing one says so in one line."""

    file: bool              # the database is one file on this machine (a path, a size on disk)
    wal: bool               # a write-ahead log file beside it, and a checkpoint to fold it in
    journal_mode: bool      # its journal mode can be switched (--wal)
    hot_journal: bool       # an interrupted write leaves a journal that only a writer may roll back
    dbstat: bool            # per-table sizes read from the engine (SQLite: only where compiled in)
    amcheck: bool           # index integrity checked by amcheck
    server_stats: bool      # pg_stat_* views: connections, long queries, autovacuum, wraparound
    vacuum_blocks_writers: bool  # its VACUUM holds the write lock until it ends
    # named operations this engine does not have, with why (shown in the one-line refusal)
    unsupported: dict = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Backend:
    """One engine: `name` keys the engine in the monitor and its output, `label` is how people
    read it; `features` and `ops` as above; `queries` holds the named-query modules by area: a
    module, or its dotted name, imported on first use (a command imports only the areas it
    asks for: `stats` on PostgreSQL starts 40 ms sooner)."""

    name: str
    label: str
    features: Features
    ops: object
    queries: dict = field(default_factory=dict, repr=False)

    def __getattr__(self, area):
        """`db.backend.cache_hits` is this engine's named-query module for the cache_hits figures."""
        queries = self.__dict__.get("queries", {})
        if area not in queries:
            raise AttributeError(f"the {self.__dict__.get('label', '?')} backend has no {area!r}")
        if isinstance(queries[area], str):
            queries[area] = importlib.import_module(queries[area])
        return queries[area]

    def query_modules(self):
        """{area: module} of every named-query area, all imported."""
        return {area: getattr(self, area) for area in self.queries}

    def require(self, operation, what=None):
        """Raise errors.NotSupported (one line) when this engine lists `operation` as unsupported."""
        reason = self.features.unsupported.get(operation)
        if reason is not None:
            raise errors.NotSupported(what or operation, self.label, reason or None)

    def supports(self, operation):
        return operation not in self.features.unsupported


class DatabaseObject:
    """What every engine's database object shares. An engine's constructor sets `place` (two
    objects are equal when they are of one engine and name the same place) and `display` (how
    it is shown and logged: no secret in it), and defines `_identity()`, its `key`."""

    place = display = None

    @cached_property
    def key(self):
        """Its identity in the monitor database (history, logs, cache entries), computed once."""
        return self._identity()

    def _identity(self):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({self.display!r})"

    def __eq__(self, other):
        return type(other) is type(self) and other.place == self.place

    def __hash__(self):
        return hash((type(self).__name__, self.place))
