"""The SQLite backend: one database file, read through `mode=ro` connections, written in short
BEGIN IMMEDIATE transactions with a busy timeout. `BACKEND` is what `db.backend` gives."""
from r2w_db.backends.base import Backend, Features
from r2w_db.backends.sqlite import ops

BACKEND = Backend(
    name="sqlite", label="SQLite", ops=ops,
    features=Features(file=True, wal=True, journal_mode=True, hot_journal=True, dbstat=True,
                      amcheck=False, server_stats=False),
    queries={},
)
