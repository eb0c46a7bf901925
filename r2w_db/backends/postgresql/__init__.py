"""The PostgreSQL backend: a libpq URL, READ ONLY REPEATABLE READ readers, writers bounded by
statement and lock timeouts. `BACKEND` is what `db.backend` gives."""
from r2w_db.backends.base import Backend, Features
from r2w_db.backends.postgresql import ops, tasks

AREAS = ("health", "rollups", "server_checks", "snapshot", "space", "statements", "accounts",
         "batching", "extractions", "retention", "tasks", "backups", "restore", "move", "check",
         "schema", "stats", "database_file", "benchmark", "loadtest", "overview", "cache_hits",
         "confidence", "uploads", "anonymous", "stuck")

JOURNAL = "it is SQLite's; PostgreSQL always writes ahead to its WAL"
DEMO_MARK = "the demo is built into an SQLite file (move it to PostgreSQL with move)"
BY_DELETE = "PostgreSQL locks rows: each batch is one DELETE that finds its rows (delete_some)"

BACKEND = Backend(
    name="postgresql", label="PostgreSQL", ops=ops,
    features=Features(file=False, wal=False, journal_mode=False, hot_journal=False, dbstat=False,
                      amcheck=True, server_stats=True, vacuum_blocks_writers=False,
                      unsupported={"journal": JOURNAL, "demo": "", "recover": "",
                                   "database_file.set_application_id": DEMO_MARK,
                                   "database_file.prepare_bulk_write": DEMO_MARK,
                                   "batching.find_rows": BY_DELETE,
                                   "batching.delete_rows": BY_DELETE,
                                   "tasks.checkpoint": tasks.NO_CHECKPOINT,
                                   "tasks.checkpoint_preview": tasks.NO_CHECKPOINT,
                                   **dict.fromkeys(("move.source_snapshot", "move.source_batches",
                                                    "move.check_source"),
                                                   "the move reads an SQLite file"),
                                   "schema.user_version": "there is no user_version: the version "
                                                          "is read off the structure",
                                   "stats.file_sizes": "a PostgreSQL database is not a file"}),
    queries={area: f"{__name__}.{area}" for area in AREAS},
)
