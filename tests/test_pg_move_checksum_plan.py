"""The move's server-side checksum (backends/postgresql/move.py, CHECKSUM_SQL): each row hashed
once, not once per sum, and the scan still open to parallel workers."""
import pytest
from psycopg import sql

from r2w_db.backends.postgresql import move as pg_move, schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.maintenance import move


@pytest.mark.parametrize("table", move.TABLES)
def test_each_row_is_hashed_once_in_a_parallel_plan(pg_url, table):
    with PgDatabase(pg_url).write() as conn:
        conn.execute(pg_schema.table_without_keys_sql(table))
        for setting in ("parallel_setup_cost", "parallel_tuple_cost",
                        "min_parallel_table_scan_size"):
            conn.execute(f"SET {setting} = 0")   # a parallel plan even for an empty table
        plan = "\n".join(r[0] for r in conn.execute(
            sql.SQL("EXPLAIN ") + pg_move._checksum_sql(table)))
        # the hash is the output of a node below the sums (pulled up into the aggregate, as
        # a plain subquery is, it was computed in each of the two sums)
        nodes = [line.strip().lstrip("-> ").split("  ")[0] for line in plan.splitlines()]
        assert nodes[:5] == ["Finalize Aggregate", "Gather", "Workers Planned: 2",
                             "Partial Aggregate", "ProjectSet"], plan
        assert pg_move._checksums(conn, [table]) == {table: (0, 0, 0)}
