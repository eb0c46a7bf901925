"""The SQLite backend: one database file, read through `mode=ro` connections, written in short
BEGIN IMMEDIATE transactions with a busy timeout. `BACKEND` is what `db.backend` gives."""
from r2w_db.backends.base import Backend, Features
from r2w_db.backends.sqlite import ops

AREAS = ("health", "rollups", "snapshot", "space", "accounts", "batching", "extractions",
         "retention", "tasks", "backups", "restore", "move", "check", "schema", "stats",
         "database_file", "journal", "benchmark", "loadtest", "overview", "cache_hits",
         "confidence", "uploads", "anonymous", "stuck")

BACKEND = Backend(
    name="sqlite", label="SQLite", ops=ops,
    features=Features(file=True, wal=True, journal_mode=True, hot_journal=True, dbstat=True,
                      amcheck=False, server_stats=False, vacuum_blocks_writers=True,
                      unsupported={
                          "server_checks": "SQLite is a file, not a server: no connections, "
                                           "sessions or autovacuum to watch (the file's own "
                                           "checks, WAL and free pages, stand in)",
                          "snapshot.storage": "an SQLite file's sizes are its pages' (sizes)",
                          "snapshot.index_sizes": "an SQLite file's sizes are its pages' (sizes)",
                          "snapshot.disk_figures": "an SQLite file is on this machine: its disk "
                                                   "is the one it is on (sizes)",
                          "batching.delete_some": "the rows are found first by a plain read "
                                                  "(find_rows), so the write lock never waits "
                                                  "on a scan",
                          "backups.dump": "an SQLite backup is a copy of the file (backups.copy)",
                          **dict.fromkeys(("move.target_state", "move.converter",
                                           "move.table_checksums", "move.load_transaction",
                                           "move.build_indexes", "move.vacuum_analyze"),
                                          "the move goes from an SQLite file into PostgreSQL"),
                          "schema.column_type": "SQLite's columns take any type",
                          "schema.wrong_types": "SQLite's columns take any type",
                          "statements": "SQLite keeps no statement statistics; see the "
                                        "query benchmark",
                          **dict.fromkeys(("schema.add_keys_sql", "schema.table_without_keys_sql",
                                           "schema.index_in_transaction_sql"),
                                          "the move's bulk load into PostgreSQL adds the keys "
                                          "and indexes after the rows"),
                          "schema.drop_index_sql": "an SQLite index is built in one transaction, "
                                                    "never left half built",
                      }),
    queries={area: f"{__name__}.{area}" for area in AREAS},
)
