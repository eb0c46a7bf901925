"""The PostgreSQL backend: a libpq URL, READ ONLY REPEATABLE READ readers, writers bounded by
statement and lock timeouts. `BACKEND` is what `db.backend` gives."""
from r2w_db.backends.base import Backend, Features
from r2w_db.backends.postgresql import ops
from r2w_db.backends.postgresql import check, schema, stats

JOURNAL = "it is SQLite's; PostgreSQL always writes ahead (its WAL)"

BACKEND = Backend(
    name="postgresql", label="PostgreSQL", ops=ops,
    features=Features(file=False, wal=False, journal_mode=False, hot_journal=False, dbstat=False,
                      amcheck=True, server_stats=True,
                      unsupported={"journal_mode": JOURNAL,
                                   "schema.user_version": "there is no user_version: the version "
                                                          "is read off the structure",
                                   "stats.file_sizes": "a PostgreSQL database is not a file"}),
    queries={"check": check, "schema": schema, "stats": stats},
)
