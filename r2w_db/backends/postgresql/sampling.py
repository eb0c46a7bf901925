"""Existing keys of a PostgreSQL table, sampled without a full scan: the benchmark's parameters
and the load test's pools."""
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.query_plans import table_rows

SAMPLE_ROWS = 64        # rows drawn per sampled parameter (TABLESAMPLE SYSTEM), one picked


def sample_column(conn, rng, table, column, where="true", size=SAMPLE_ROWS, params=None):
    """Up to `size` values of table.column from pages picked by TABLESAMPLE SYSTEM (REPEATABLE
    with a seed drawn from `rng`: the same rng on unchanged data, the same rows), no full scan."""
    from psycopg import sql

    rows = table_rows(conn, (table,))[table]
    share = min(100.0, 100.0 * size * 4 / rows) if rows else 100.0
    query = sql.SQL("SELECT {c} FROM {t} TABLESAMPLE SYSTEM (%(share)s) REPEATABLE (%(seed)s)"
                    " WHERE {c} IS NOT NULL AND {w} LIMIT %(size)s").format(
        c=identifier(column), t=identifier(table), w=sql.SQL(where))
    found = [r[0] for r in conn.execute(query, {**(params or {}), "share": share, "size": size,
                                                "seed": rng.randrange(2**31)})]
    if not found:  # a sample of empty pages: the first rows instead
        found = [r[0] for r in conn.execute(
            sql.SQL("SELECT {c} FROM {t} WHERE {c} IS NOT NULL AND {w} LIMIT %(size)s").format(
                c=identifier(column), t=identifier(table), w=sql.SQL(where)),
            {**(params or {}), "size": size})]
    return found
