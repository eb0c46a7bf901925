"""PostgreSQL's side of the batched writes (the loop: engine/batching.py): short transactions,
each committed, so a kill never leaves half a batch.

PostgreSQL locks rows, not the database: a delete holds up only an application write to one
of the very rows it is deleting (an expired session, an unused cache entry, a stale upload),
and only until its transaction commits. Here:
- each transaction is one DELETE of at most `size` rows (`delete_some`), scaled so that it
  takes about TARGET_MS, then commits; a kill (of this process or its connection) rolls back
  only the open one;
- the condition is repeated on the DELETE itself: a row the application changed meanwhile
  (a cache hit raising access_count) is re-checked after its lock and kept (as SQLite's
  batches re-check inside their transaction); the role needs only SELECT and DELETE.
"""
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import identifier

TARGET_MS = 50      # one transaction's work: row locks held this long at most, about
PAUSE_MS = 10       # between transactions (autovacuum and replicas keep up)
START_ROWS = 500


def maintenance_writer(db):
    """An autocommit writer: each of its `transaction` blocks commits on its own."""
    return db.write(autocommit=True)


def prepare(conn):
    """Nothing to set: the writer's timeouts are the connection's."""


def transaction(conn):
    """One transaction on the autocommit writer, committed when the block ends."""
    return conn.transaction()


def committed(conn, size, rows):
    """After a commit: the next batch's size, as scaled."""
    return size


def _delete_statement(table, where):
    """DELETE of at most %s rows of `table` matching `where` (an sql.Composable whose values
    are %s parameters, given twice: the LIMIT between them), by primary key, re-checked."""
    from psycopg import sql

    key = pg_schema.PRIMARY_KEYS[table]
    return sql.SQL(
        "DELETE FROM {t} WHERE {k} IN (SELECT {k} FROM {t} WHERE {w} LIMIT %s) AND ({w})"
    ).format(t=identifier(table), k=identifier(key), w=where)


def delete_some(conn, table, where, params, limit):
    """Delete at most `limit` rows of `table` matching `where`; how many went."""
    return conn.execute(_delete_statement(table, where), (*params, limit, *params)).rowcount
