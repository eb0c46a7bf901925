"""Two readers of one snapshot: work split over two connections that see the same data.

The first reader exports its snapshot (pg_export_snapshot, in its READ ONLY, REPEATABLE READ
transaction); the second imports it (SET TRANSACTION SNAPSHOT) before its first query. Each
connection is a server process: on a server with two cores or more the two halves run at once
(stats, the move's verification).
"""
from concurrent.futures import ThreadPoolExecutor


def _in_snapshot(db, snapshot, work):
    from psycopg import sql

    with db.read() as conn:
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        return work(conn)


def split(db, conn, here, there):
    """(here(conn), there(other)): `conn` is an open reader of `db`; `there` runs at the same
    time on a second reader of `db` that sees exactly `conn`'s snapshot."""
    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
    with ThreadPoolExecutor(max_workers=1) as pool:
        other = pool.submit(_in_snapshot, db, snapshot, there)
        mine = here(conn)
        return mine, other.result()
