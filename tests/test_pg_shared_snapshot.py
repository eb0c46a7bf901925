"""Two readers of one snapshot (backends/postgresql/shared_snapshot.py): the second reader, which
connects while the first works, sees exactly the first one's data; stats' halves run without
parallel workers; a failing half leaves no connection behind."""
import psycopg
import pytest

from r2w_db.backends.postgresql import shared_snapshot, stats
from r2w_db.backends.postgresql.database import PgDatabase


def count(conn):
    return conn.execute("SELECT count(*) FROM t").fetchone()[0]


@pytest.fixture
def table(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
    return pg_url


def insert_and_commit(url):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO t VALUES (2)")


def test_the_second_reader_sees_the_first_readers_snapshot(table):
    db = PgDatabase(table)
    with shared_snapshot.readers(db) as (conn, split):
        assert count(conn) == 1                 # the snapshot is taken here
        insert_and_commit(table)                # committed after it
        assert split(count, count) == (1, 1)    # neither reader sees the new row
    with db.read() as conn:
        assert count(conn) == 2                 # a reader of its own does


def test_statss_halves_run_without_parallel_workers(table):
    setting = "SELECT current_setting('max_parallel_workers_per_gather')"
    with shared_snapshot.readers(PgDatabase(table)) as (conn, split):
        here, there = split(stats._serial(lambda c: c.execute(setting).fetchone()[0]),
                            stats._serial(lambda c: c.execute(setting).fetchone()[0]))
    assert (here, there) == ("0", "0")
    with PgDatabase(table).read() as conn:     # the transaction's setting only
        assert conn.execute(setting).fetchone()[0] != "0"


def our_connections(url):
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                            " AND pid <> pg_backend_pid()").fetchone()[0]


@pytest.mark.parametrize("failing", ["here", "there"])
def test_a_failing_half_raises_and_closes_both_readers(table, failing):
    def fail(conn):
        raise ValueError(failing)

    halves = (fail, count) if failing == "here" else (count, fail)
    with pytest.raises(ValueError, match=failing):
        with shared_snapshot.readers(PgDatabase(table)) as (conn, split):
            split(*halves)
    assert our_connections(table) == 0
