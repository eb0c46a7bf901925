"""The load test on PostgreSQL: its scratch database and its statements (bench.loadtest runs
the same workload and report as on SQLite).

- The scratch is a NEW database on the same server, `<name>_loadtest_<UTC stamp>_<pid>`, created
  from template0 with the source's encoding and locale (tools.py), never the application's
  database. Creating it needs CREATEDB (or a superuser).
- A copy: the four tables are created as the documented schema has them, every row is copied
  with COPY (binary, streamed from the source to the scratch database) inside ONE read-only
  REPEATABLE READ transaction of the source (one snapshot; the application goes on writing),
  then the source's own indexes are built (their definitions as pg_get_indexdef gives them, so
  an index the source lacks is lacking here too) and the tables analysed. Nothing is written
  to the source. `CREATE DATABASE ... TEMPLATE source` is not used: it refuses while anyone is
  connected to the source, and keeps new connections out while it copies.
- Generated: an empty scratch database, which bench.loadtest fills with a small demo.
- The scratch database is dropped (DROP DATABASE ... WITH (FORCE)) when the test ends, fails,
  or is interrupted (Ctrl-C); only a killed process can leave one behind, named as above.
"""
from contextlib import contextmanager

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.backends.postgresql import tools as pg_tools
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.sampling import sample_column

KIND = "loadtest"
SCRATCH_METHOD = ("a scratch database on the same server (CREATE DATABASE, then COPY of every row "
                  "in one snapshot of this one; dropped afterwards)")
RAN_ON = {"copy": "a scratch database on the same server: a copy (COPY, one snapshot) of the "
                  "database",
          "generated": "a small generated demo database (a scratch database on the same server)"}
CACHE_LOOKUP_SQL = "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = %s"
SOURCE_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relname = ANY(%(tables)s)
  AND i.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY ic.relname"""


class ScratchRefused(errors.R2WError):
    """The role may not create the scratch database the load test needs."""


def _copy_table(src, dst, table):
    from psycopg import sql

    columns = sql.SQL(", ").join(identifier(c) for c in pg_schema.COLUMN_TYPES[table])
    out_sql = sql.SQL("COPY {} ({}) TO STDOUT (FORMAT BINARY)").format(identifier(table), columns)
    in_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(identifier(table), columns)
    with src.cursor() as reader, dst.cursor() as writer:
        with reader.copy(out_sql) as out, writer.copy(in_sql) as into:
            for block in out:
                into.write(block)


def copy_into(db, scratch, progress=None):
    """Every row of `db`'s four tables into the empty database `scratch`, in one snapshot of
    `db` (read-only), with the documented tables and `db`'s own indexes; then ANALYZE."""
    from psycopg import sql

    with db.read() as src, scratch.write() as dst:
        src.execute("SET LOCAL statement_timeout = 0")  # a large table copies for minutes
        dst.execute("SET LOCAL statement_timeout = 0")
        pg_schema.require_schema(src, db)
        for table in schema.COLUMNS:
            dst.execute(pg_schema.create_table_sql(table))
        for i, table in enumerate(schema.COLUMNS):
            if progress:
                progress(0.0, f"copying {table} ({i + 1} of {len(schema.COLUMNS)})")
            _copy_table(src, dst, table)
        if progress:
            progress(0.0, "building the source's indexes")
        for (definition,) in src.execute(SOURCE_INDEXES, {"tables": list(schema.COLUMNS)}).fetchall():
            dst.execute(sql.SQL(definition))  # PostgreSQL's own CREATE INDEX of the source's index
    with scratch.write(autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        conn.execute("ANALYZE")


@contextmanager
def scratch_database(db, directory=None, empty=False, progress=None):
    """A new database on `db`'s server filled with a copy of `db` (`empty`: left empty, for a
    generated database; `directory` is for file engines); yields it, and drops it when the block
    ends, whatever happens."""
    if progress and not empty:
        progress(0.0, "copying the database into a scratch database (COPY, one snapshot)")
    facts = pg_tools.database_facts(db)
    if not facts["may_create"]:
        raise ScratchRefused(
            f"the load test runs on a scratch database, and the role of {db.display} may not "
            "create databases: grant it CREATEDB, or run the load test as a role that has it")
    name = pg_tools.derived_name(facts["name"], KIND)
    scratch = pg_tools.create_database(db, name, facts)
    try:
        if not empty:
            copy_into(db, scratch, progress)
        yield scratch
    finally:
        pg_tools.drop_database(db, name)


def pool(conn, rng, table, column, registered, size):
    """Up to `size` existing values of table.column (`registered`: of registered users only),
    sampled without a full scan."""
    where = "NOT starts_with(user_id, %(anon)s)" if registered else "true"
    return sample_column(conn, rng, table, column, where, size=size, params={"anon": pg_stats.ANON})


def cache_lookup(conn, file_hash):
    """The cache entry's cv_data row, or None."""
    return conn.execute(CACHE_LOOKUP_SQL, (file_hash,)).fetchone()
