"""The PostgreSQL backend: a libpq URL, READ ONLY REPEATABLE READ readers, writers bounded by
statement and lock timeouts. `BACKEND` is what `db.backend` gives."""
from r2w_db.backends.base import Backend, Features
from r2w_db.backends.postgresql import ops
from r2w_db.backends.postgresql import anonymous, cache_hits, confidence, overview, uploads
from r2w_db.backends.postgresql import accounts, batching, extractions, retention
from r2w_db.backends.postgresql import check, database_file, schema, stats
from r2w_db.backends.postgresql import backups, move, restore, tasks
from r2w_db.backends.postgresql import benchmark, loadtest
from r2w_db.backends.postgresql import stuck
from r2w_db.backends.postgresql import health, rollups, server_checks, snapshot, space
from r2w_db.backends.postgresql import statements

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
    queries={"health": health, "rollups": rollups, "server_checks": server_checks,
             "snapshot": snapshot, "space": space, "statements": statements,
             "accounts": accounts, "batching": batching, "extractions": extractions,
             "retention": retention, "tasks": tasks, "backups": backups, "restore": restore,
             "move": move,
             "check": check, "schema": schema, "stats": stats, "database_file": database_file,
             "benchmark": benchmark, "loadtest": loadtest,
             "overview": overview, "cache_hits": cache_hits, "confidence": confidence,
             "uploads": uploads, "anonymous": anonymous, "stuck": stuck},
)
