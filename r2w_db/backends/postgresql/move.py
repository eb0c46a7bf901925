"""The move's target side on PostgreSQL (maintenance/move.py): its state, the conversion of
SQLite's values, COPY into the tables in one transaction, the indexes, the checksums.

The rows go in with COPY (binary: the converter writes COPY's tuples itself, the stream is sent
in blocks (a batch of rows each) by a thread of its own), all four tables in ONE transaction
(tables created in it when missing, locked against other writers): a refused, failed or killed
move leaves the target as it was.
- A table created in that transaction is loaded with COPY FREEZE: its rows are written frozen
  and its pages all-visible (the visibility map set by COPY itself), so index-only scans work
  from the first query and no later anti-wraparound VACUUM rewrites them. Its keys and indexes
  are built plainly in that transaction, after its rows (as pg_restore does), then ANALYZE.
- The verification's checksums are computed inside that transaction, before its commit
  (Load.checksums): it sees exactly the rows it commits, and a difference rolls it back.
- Large values (cv_data) are compressed with lz4 where the server has it
  (default_toast_compression for the load's session; PostgreSQL 14+ built with lz4): several
  times faster than pglz to write and to read. Each value records its method; pglz values and
  lz4 values read the same.
A table that existed before the move (others may read it) gets its missing indexes after the
commit (pg_schema.migrate: CREATE INDEX CONCURRENTLY), and VACUUM (ANALYZE) gives the planner
its statistics and its visibility map (it was not frozen).
The checksums are computed by the server (CHECKSUM_SQL): each row rebuilt in COPY's binary form
with the types' send functions, hashed (sha256), summed; no row is read back.
"""
from contextlib import contextmanager

from r2w_db.backends.postgresql import schema as pg_schema, shared_snapshot
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.move_convert import Converter
from r2w_db.engine import schema

TABLES = tuple(schema.COLUMNS)
COPY_BLOCK = 1 << 16   # bytes per block sent to COPY, at least (a batch of rows: one block)
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + bytes(8)   # the header: flags 0, no extension
COPY_TRAILER = b"\xff\xff"
SEND = {"integer": ("4", "int4send"), "double precision": ("8", "float8send"),
        "timestamptz": ("8", "timestamptz_send")}   # field length, send function
# sum of the first and of the second 8 bytes of each row's sha256, as signed 64-bit integers.
# The hash comes out of a set-returning function (unnest of a one-item array): the planner does
# not pull such a subquery up, so each row is hashed once (pulled up, `h` was computed once per
# sum: twice the server's time), and the scan still runs in parallel workers.
CHECKSUM_SQL = """
SELECT count(*), coalesce(sum(('x' || encode(substr(h, 1, 8), 'hex'))::bit(64)::bigint), 0),
       coalesce(sum(('x' || encode(substr(h, 9, 8), 'hex'))::bit(64)::bigint), 0)
FROM (SELECT unnest(ARRAY[sha256({row})]) AS h FROM {table}) AS hashed"""


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


def _field_sql(column, utf8):
    """SQL giving a column's field of COPY's binary tuple: length (int4, -1 for NULL), value.
    In a UTF8 database a text's octet_length is its UTF-8 length, read off the stored value's
    header (a compressed cv_data is decompressed once, for its bytes, not twice)."""
    from psycopg import sql

    name = identifier(column.name)
    if column.type == "text":
        data = sql.SQL("convert_to({}, 'UTF8')").format(name)
        field = sql.SQL("int4send(octet_length({})) || {}").format(name if utf8 else data, data)
    else:
        length, send = SEND[column.type]
        field = sql.SQL("'\\x0000000{}'::bytea || {}({})").format(
            sql.SQL(length), sql.SQL(send), name)
    return sql.SQL("coalesce({}, '\\xffffffff'::bytea)").format(field)


def _checksum_sql(table, utf8=True):
    """The statement giving (rows, sum of high halves, sum of low halves) of `table`."""
    from psycopg import sql

    columns = pg_schema.TABLES[table]
    row = sql.SQL(" || ").join([sql.SQL("int2send({}::int2)").format(sql.Literal(len(columns))),
                                *(_field_sql(c, utf8) for c in columns)])
    return sql.SQL(CHECKSUM_SQL).format(row=row, table=identifier(table))


def _checksums(conn, tables):
    utf8 = conn.execute("SELECT current_setting('server_encoding') = 'UTF8'").fetchone()[0]
    found = {}
    for table in tables:
        rows, high, low = conn.execute(_checksum_sql(table, utf8)).fetchone()
        found[table] = (rows, int(high), int(low))
    return found


def table_checksums(db, tables=TABLES):
    """{table: (rows, high sum, low sum)} computed by the server from the rows of one snapshot,
    exactly as the converter's bytes are checksummed (maintenance/move_convert.py); the largest
    table (cv_uploads) on a second reader of that snapshot while the first does the others."""
    tables = list(tables)
    largest = [t for t in tables if t == "cv_uploads"]
    rest = [t for t in tables if t not in largest]
    if not (largest and rest):
        with db.read() as conn:
            return _checksums(conn, tables)
    with shared_snapshot.readers(db) as (_conn, split):
        mine, other = split(lambda c: _checksums(c, rest), lambda c: _checksums(c, largest))
    return mine | other


class Load:
    """What load_transaction yields, inside the load's one transaction: `filled` (the tables
    that already hold rows), `copy(table, rows)`, `finish(table)` once a table's rows are all
    in (its checksum, keys, indexes and ANALYZE at once), and `checksums(tables)`: computed by the
    server from the rows as this transaction sees them, which are exactly the rows it commits
    (nobody else can see a table it created, or write to one it locked); `rows` are bytes of
    whole binary tuples, a batch or one row each (_copy). After the block:
    `created` (the tables it created: loaded with COPY FREEZE, their keys and indexes built and
    ANALYZEd inside it) and `indexes_built` (how many indexes, inside it)."""

    def __init__(self, pg, cur, filled, created):
        self._pg, self._cur = pg, cur
        self.filled, self.created, self.indexes_built = filled, created, 0
        self._sums = {}   # the checksums of the tables finished

    def copy(self, table, rows):
        _copy(self._cur, table, rows)

    def finish(self, table):
        """`table`'s rows are all in: its checksum now (kept for checksums()) and, when this
        transaction created it, its keys, its indexes and ANALYZE, so that the server does
        them while the caller converts the next table."""
        self._sums |= _checksums(self._pg, [table])
        if table in self.created:
            self.build([table])

    def build(self, tables):
        """The keys and indexes of `tables` (created by this transaction), built plainly inside
        it, then ANALYZE."""
        if not tables:
            return
        for table in tables:
            self._pg.execute(pg_schema.add_keys_sql(table))
        names = [name for name, index in pg_schema.INDEXES.items() if index.table in tables]
        for name in names:
            self._pg.execute(pg_schema.index_in_transaction_sql(name))
        self.indexes_built += len(names)
        self._pg.execute(_tables_sql("ANALYZE {}", tables))

    def checksums(self, tables=TABLES):
        """{table: (rows, high sum, low sum)}, as table_checksums gives them."""
        return self._sums | _checksums(self._pg, [t for t in tables if t not in self._sums])


@contextmanager
def load_transaction(db):
    """One transaction: the missing tables created, the four tables locked against writers;
    yields a Load. The tables it created get their keys (PRIMARY KEY, UNIQUE) after their rows
    (one sorted build each: a duplicate key fails there, as in COPY), then their indexes,
    plainly (as pg_restore builds them: nobody can see these tables before the commit, so
    nothing waits, and a killed move leaves nothing behind), then ANALYZE. Committed when the
    block ends, rolled back (nothing written, not even the tables) when it raises."""
    with db.write() as pg:
        pg.execute("SET statement_timeout = 0")  # COPY of a large table; the locks stay bounded
        if _has_lz4(pg):
            pg.execute("SET default_toast_compression = 'lz4'")
        created = []
        for step in pg_schema.plan(pg):
            if step.kind == "table":   # its keys are added once its rows are in (as pg_restore)
                pg.execute(pg_schema.table_without_keys_sql(step.table))
                created.append(step.table)
            elif not step.concurrent:
                pg.execute(step.statement)
        pg.execute(_lock_sql())
        filled = [table for table in TABLES if _count(pg, table)]
        # the keys' and indexes' sorts, this session only (parallel workers share it)
        pg.execute("SET maintenance_work_mem = '256MB'")
        with pg.cursor() as cur:
            load = Load(pg, cur, filled, created)
            yield load
        load.build([t for t in created if t not in load._sums])   # those never finished


def _tables_sql(template, tables):
    from psycopg import sql

    return sql.SQL(template).format(sql.SQL(", ").join(identifier(t) for t in tables))


def _has_lz4(conn):
    return bool(conn.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings"
                             " WHERE name = 'default_toast_compression'").fetchone()[0])


def build_indexes(db):
    """The indexes missing after the load (CREATE INDEX CONCURRENTLY: the tables that existed
    before the move, and a killed move's); how many were built."""
    steps = pg_schema.migrate(db)
    return len([s for s in steps if s.kind == "index"])


def vacuum_analyze(db, tables=TABLES):
    """VACUUM (ANALYZE) of `tables` (loaded without FREEZE): the planner's statistics and a
    fresh visibility map (index-only scans) from the start; autovacuum keeps both fresh
    afterwards. It blocks no reader or writer (SHARE UPDATE EXCLUSIVE)."""
    with db.write(autocommit=True) as conn:
        conn.execute("SET statement_timeout = 0")
        conn.execute(_tables_sql("VACUUM (ANALYZE) {}", tables))


def _created_here(cur, table):
    """Whether `table` was created by the current transaction (COPY FREEZE needs that)."""
    return cur.execute("SELECT xmin = pg_current_xact_id()::xid FROM pg_class"
                       " WHERE oid = to_regclass(%s)", (table,)).fetchone()[0]


def _copy(cur, table, rows):
    """COPY the converted rows into `table`, in blocks; FREEZE when the table was created by this
    transaction. `rows` are pieces of the stream: bytes of COPY's binary tuples, whole tuples
    each (one batch of rows per piece, as the move gives them, or one row)."""
    from psycopg import sql

    from psycopg.copy import QueuedLibpqWriter

    columns = sql.SQL(", ").join(identifier(c) for c in pg_schema.COLUMN_TYPES[table])
    options = sql.SQL("FORMAT BINARY, FREEZE" if _created_here(cur, table) else "FORMAT BINARY")
    # a thread sends the blocks while this one reads and converts the next (the server and the
    # conversion work at the same time)
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN ({})").format(
            identifier(table), columns, options), writer=QueuedLibpqWriter(cur)) as copy:
        block, size = [COPY_SIGNATURE], 0
        for row in rows:
            block.append(row)
            size += len(row)
            if size >= COPY_BLOCK:   # a view: the writer cuts a large block without copies
                copy.write(memoryview(b"".join(block)))
                block, size = [], 0
        block.append(COPY_TRAILER)
        copy.write(b"".join(block))


def _lock_sql():
    return _tables_sql("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE", TABLES)
