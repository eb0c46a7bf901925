"""The load test on PostgreSQL: the same workload and report as loadtest.py, on a scratch database.

loadtest.run_load_test, load_test_on_copy and scratch_method dispatch here for a PgDatabase.
The workload is loadtest.run_workload over the same operations (the application's r2w_db
functions, which dispatch to app.pg_operations); only the scratch database differs:

- It is a NEW database on the same server, `<name>_loadtest_<UTC stamp>_<pid>`, created from
  template0 with the source's encoding and locale (maintenance.pg_tools), never the
  application's database. Creating it needs CREATEDB (or a superuser).
- A copy: the four tables are created as the documented schema has them, every row is copied
  with COPY (binary, streamed from the source to the scratch database) inside ONE read-only
  REPEATABLE READ transaction of the source (one snapshot; the application goes on writing),
  then the source's own indexes are built (their definitions as pg_get_indexdef gives them, so
  an index the source lacks is lacking here too) and the tables analysed. Nothing is written
  to the source. `CREATE DATABASE ... TEMPLATE source` is not used: it refuses while anyone is
  connected to the source, and keeps new connections out while it copies.
- Generated: a small demo database built with the demo builder and moved in (COPY; the move is
  not recorded in the monitor's log).
- The scratch database is dropped (DROP DATABASE ... WITH (FORCE)) when the test ends, fails,
  or is interrupted (Ctrl-C); only a killed process can leave one behind, named as above.
"""
import random
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.bench import loadtest
from r2w_db.backends.postgresql.benchmark import sample_column
from r2w_db.engine import schema
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import as_pg
from r2w_db.backends.postgresql import stats as pg_stats
from r2w_db.backends.postgresql import tools as pg_tools

KIND = "loadtest"
CACHE_LOOKUP_SQL = "SELECT cv_data FROM cv_extraction_cache WHERE file_hash = %s"
SOURCE_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relname = ANY(%(tables)s)
  AND i.indisvalid AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY ic.relname"""


class ScratchRefused(errors.R2WError):
    """The role may not create the scratch database the load test needs."""


def scratch_method(db) -> str:
    return ("a scratch database on the same server (CREATE DATABASE, then COPY of every row in "
            "one snapshot of this one; dropped afterwards)")


# ----------------------------------------------------------------- scratch databases

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
        pg_stats.require_schema(src, db)
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


def generate_into(scratch, directory=None, seed=0):
    """A small generated demo database moved into the empty database `scratch` (not logged)."""
    from r2w_db.demo.builder import build_demo
    from r2w_db.maintenance import move

    with tempfile.TemporaryDirectory(prefix="r2w-loadtest-", dir=directory) as folder:
        demo = Path(folder) / "demo.db"
        build_demo(demo, scale="small", seed=seed)
        move.move(demo, scratch.url, record=False)


@contextmanager
def scratch_database(db, generated=False, directory=None, progress=None):
    """A new database on `db`'s server filled with a copy of `db` (or a generated demo); yields
    it, and drops it when the block ends, whatever happens."""
    db = as_pg(db)
    facts = pg_tools.database_facts(db)
    if not facts["may_create"]:
        raise ScratchRefused(
            f"the load test runs on a scratch database, and the role of {db.display} may not "
            "create databases: grant it CREATEDB, or run the load test as a role that has it")
    name = pg_tools.derived_name(facts["name"], KIND)
    scratch = pg_tools.create_database(db, name, facts)
    try:
        if generated:
            generate_into(scratch, directory)
        else:
            copy_into(db, scratch, progress)
        yield scratch
    finally:
        pg_tools.drop_database(db, name)


# ----------------------------------------------------------------- the test

def _cache_lookup(db, file_hash):
    with as_pg(db).read() as conn:
        return conn.execute(CACHE_LOOKUP_SQL, (file_hash,)).fetchone()


def _pools(db, rng):
    """Up to loadtest.POOL existing keys per kind, sampled without a full scan."""
    def pool(conn, table, column, where="true"):
        return sample_column(conn, rng, table, column, where, size=loadtest.POOL,
                             params={"anon": pg_stats.ANON})

    with as_pg(db).read() as conn:
        return {
            "users": pool(conn, "users", "user_id", "NOT starts_with(user_id, %(anon)s)"),
            "sessions": pool(conn, "sessions", "session_id"),
            "owners": pool(conn, "cv_uploads", "user_id"),
            "hashes": pool(conn, "cv_extraction_cache", "file_hash"),
        }


def run_load_test(path, *, scratch=False, threads=None, seconds=None, seed=0, progress=None):
    """loadtest.run_load_test on a PostgreSQL database: refuses (LoadTestRefused) unless
    `scratch=True`, because it writes."""
    db = as_pg(path)
    if not scratch:
        raise loadtest.LoadTestRefused(db.display)
    ops = loadtest._operations(db, _pools(db, random.Random(seed)), cache_lookup=_cache_lookup)
    return loadtest.run_workload(db, ops, threads=threads, seconds=seconds, seed=seed,
                                 progress=progress)


def load_test_on_copy(db, *, directory=None, generated=False, progress=None, **options):
    """The load test on a scratch database holding a copy of `db` (or, generated=True, a small
    demo), dropped afterwards; loadtest.load_test_on_copy's result."""
    db = as_pg(db)
    if progress:
        progress(0.0, "generating a small demo database" if generated
                 else "copying the database into a scratch database (COPY, one snapshot)")
    began = time.perf_counter()
    with scratch_database(db, generated, directory, progress) as scratch:
        prepared = time.perf_counter() - began
        result = run_load_test(scratch, scratch=True, progress=progress, **options)
    how = ("a small generated demo database (a scratch database on the same server)" if generated
           else "a scratch database on the same server: a copy (COPY, one snapshot) of the database")
    result.update(database=db.display, source=db.display, ran_on=how,
                  prepare_s=round(prepared, 3), generated=bool(generated))
    return result
