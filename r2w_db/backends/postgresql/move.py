"""The move's target side on PostgreSQL (maintenance/move.py): its state, the conversion of
SQLite's values, COPY into the tables in one transaction, the indexes, the rows read back.

The rows go in with COPY (binary), all four tables in ONE transaction (tables created in it when
missing, locked against other writers): a refused or failed move leaves the target as it was.
Then the indexes are built (pg_schema.migrate: CREATE INDEX CONCURRENTLY).
"""
from contextlib import contextmanager

from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.move_convert import Converter
from r2w_db.engine import schema

TABLES = tuple(schema.COLUMNS)
FETCH_ROWS = 2000
BINARY_TYPES = {"double precision": "float8", "integer": "int4"}  # COPY's binary format


def _sql(template, table):
    from psycopg import sql

    return sql.SQL(template).format(identifier(table))


def _count(conn, table):
    return conn.execute(_sql("SELECT count(*) FROM {}", table)).fetchone()[0]


def target_state(db):
    """{"tables": {table: rows or None (missing)}, "wrong_types": [...]}."""
    with db.read() as conn:
        have = pg_schema.existing_tables(conn)
        rows = {t: (_count(conn, t) if t in have else None) for t in TABLES}
        return {"tables": rows, "wrong_types": pg_schema.wrong_types(pg_schema.table_columns(conn))}


def converter(table, mode):
    """A Converter of `table`'s SQLite rows into this engine's values (its `names`, in order)."""
    return Converter(table, mode)


def table_rows(conn, table):
    """Every row of `table` (the schema's columns, in order), read through a server cursor."""
    from psycopg import sql

    columns = sql.SQL(", ").join(identifier(c) for c in pg_schema.COLUMN_TYPES[table])
    with conn.cursor(name=f"r2w_move_{table}") as cur:
        cur.itersize = FETCH_ROWS
        cur.execute(sql.SQL("SELECT {} FROM {}").format(columns, identifier(table)))
        yield from cur


@contextmanager
def load_transaction(db):
    """One transaction: the missing tables created, the four tables locked against writers;
    yields (the tables that already hold rows, copy(table, rows)). Committed when the block
    ends, rolled back (nothing written, not even the tables) when it raises."""
    with db.write() as pg:
        pg.execute("SET statement_timeout = 0")  # COPY of a large table; the locks stay bounded
        for step in pg_schema.plan(pg):
            if not step.concurrent:
                pg.execute(step.statement)
        pg.execute(_lock_sql())
        filled = [table for table in TABLES if _count(pg, table)]
        with pg.cursor() as cur:
            yield filled, lambda table, rows: _copy(cur, table, rows)


def build_indexes(db):
    """The indexes (CREATE INDEX CONCURRENTLY, after the load); how many were built."""
    steps = pg_schema.migrate(db)
    return len([s for s in steps if s.kind == "index"])


def _copy(cur, table, rows):
    from psycopg import sql

    types = pg_schema.COLUMN_TYPES[table]
    columns = sql.SQL(", ").join(identifier(c) for c in types)
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            identifier(table), columns)) as copy:
        copy.set_types([BINARY_TYPES.get(t, t) for t in types.values()])
        for row in rows:
            copy.write_row(row)


def _lock_sql():
    from psycopg import sql

    return sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
        sql.SQL(", ").join(identifier(t) for t in TABLES))
