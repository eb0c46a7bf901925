"""Two readers of one snapshot: work split over two connections that see the same data.

The first reader exports its snapshot (pg_export_snapshot, in its READ ONLY, REPEATABLE READ
transaction); the second imports it (SET TRANSACTION SNAPSHOT) before its first query. Each
connection is a server process: on a server with two cores or more the two halves run at once
(stats, the move's verification). The second reader connects while the first one works, so
its connection set-up is off the critical path.
"""
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


def _in_snapshot(connecting, snapshot, work):
    from psycopg import sql

    conn = connecting.result()
    conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
    return work(conn)


def _close(connecting):
    try:
        conn = connecting.result()
    except Exception:   # it never connected: the first reader reports the database's problem
        return
    try:
        conn.rollback()
    finally:
        conn.close()


@contextmanager
def readers(db):
    """(conn, split): `conn` is an open reader of `db`; `split(here, there)` returns
    (here(conn), there(other)), `there` running at the same time on a second reader of `db`
    that sees exactly `conn`'s snapshot (taken by conn's first statement)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        connecting = pool.submit(db.connect, read_only=True)
        try:
            with db.read() as conn:
                def split(here, there):
                    snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
                    other = pool.submit(_in_snapshot, connecting, snapshot, there)
                    mine = here(conn)
                    return mine, other.result()
                yield conn, split
        finally:
            pool.submit(_close, connecting).result()
