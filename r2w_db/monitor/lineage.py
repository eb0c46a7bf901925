"""Where a database's history comes from: the databases it was moved from, and until when.

`move` records itself in the maintenance log (task "move", the source's key as `database`, the
target's redacted URL as parameters' "to"). A successful move links the two: the source's
snapshots and roll-ups are the target's history up to the cut-over, the moment that move
finished (the newest successful one when the same source was moved there again: a re-run that
found the target equal confirms the source was still the application's database). Sources of a
source are followed too, each cut at the earlier of the two moments.

Nothing is copied: the history stays recorded under the source's key (its own history is
unchanged) and HistoryStore reads the lineage when it reads a database's history.
"""
import json

from r2w_db.engine import locations
from r2w_db.monitor.store import MonitorStore, _has_table

MOVES = ("SELECT database, parameters, finished_at FROM maintenance_log"
         " WHERE task = 'move' AND outcome = 'ok' AND finished_at IS NOT NULL")


def moves(monitor):
    """{target key: {source key: cut-over (naive UTC ISO)}} of every successful move."""
    monitor = monitor if isinstance(monitor, MonitorStore) else MonitorStore(monitor)
    if not monitor.path.exists():
        return {}
    with monitor.db.read() as conn:
        if not _has_table(conn, "maintenance_log"):
            return {}
        rows = conn.execute(MOVES).fetchall()
    found = {}
    for source, parameters, finished_at in rows:
        try:
            target = json.loads(parameters or "{}").get("to")
        except (ValueError, AttributeError):
            continue   # a log row this code did not write
        target = locations.identity(target) if target else target   # as db.key names it
        if target and target != source:
            sources = found.setdefault(target, {})
            sources[source] = max(sources.get(source, finished_at), finished_at)
    return found


def lineage(key, monitor=None):
    """[(key, cut-over or None)]: the database itself (None: no cut), then every database its
    history runs on from, each with the moment its part of the history ends."""
    linked = moves(monitor)
    found, todo = {key: None}, [(key, None)]
    while todo:
        target, cut = todo.pop()
        for source, moved_at in linked.get(target, {}).items():
            until = moved_at if cut is None else min(cut, moved_at)
            if source not in found:
                found[source] = until
                todo.append((source, until))
    return list(found.items())
