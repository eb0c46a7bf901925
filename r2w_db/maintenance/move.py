"""`move`: copy every row of an SQLite database into PostgreSQL, verified, once.

    move(source, "postgresql://...", unconvertible="refuse", dry_run=False)

1. One snapshot of the source, while the application keeps running. In WAL mode: a single
   read transaction (`BEGIN` + reads) on a read-only connection; it does not block the
   application's writers (it holds back checkpoints while it lasts). In a rollback-journal
   mode such a transaction would hold a SHARED lock that stops every writer for the whole
   move, so the snapshot is an online backup (SQLite's backup API in one step, the lock held
   well under a second on 100 MB) into a temporary file, read the same way.
2. Every value is converted (move_convert); every value that does not convert is reported with
   its table, key, column and value. With any left, the move refuses to finish (nothing is
   written) unless `unconvertible` says how to handle them: "null" (a nullable column becomes
   NULL; a NOT NULL column still blocks) or "skip-row" (the row stays behind, reported).
3. The rows go in with COPY, all four tables in ONE PostgreSQL transaction (tables created in
   it when missing): a refused or failed move leaves the target as it was. Then the indexes
   are built (pg_schema.migrate: CREATE INDEX CONCURRENTLY).
4. Verification: every table's row count and content checksum, read back from PostgreSQL in a
   new transaction, must equal the source's (of the converted rows).
5. Re-running is safe: a target whose tables already hold rows is compared (count and checksum
   per table), never written; equal is "already moved", different is refused.
6. A real run is recorded in the monitor's maintenance log (task "move"); the result carries
   the URL to give the application, its password redacted.
"""
import os
import sqlite3
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.sqlite import journal
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.sqlite.connection import open_reader, translated
from r2w_db.backends.sqlite.database import as_database
from r2w_db.backends.postgresql.connection import identifier
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.maintenance.move_convert import Checksum, Converter
from r2w_db.monitor.store import MonitorStore

MODES = ("refuse", "null", "skip-row")
TABLES = tuple(schema.COLUMNS)
FETCH_ROWS = 2000
BINARY_TYPES = {"double precision": "float8", "integer": "int4"}  # COPY's binary format


class MoveRefused(errors.R2WError):
    """The move would lose or overwrite data; `report` says exactly what (nothing was written)."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


@contextmanager
def source_snapshot(db):
    """(connection in an open read transaction, how the snapshot was taken)."""
    db = as_database(db)
    mode = journal.mode(db)
    with tempfile.TemporaryDirectory(prefix="r2w-move-") as folder:
        path, how = db.path, "one read transaction (WAL)"
        if mode != "wal":
            path, how = Path(folder) / "snapshot.db", f"online backup ({mode} journal)"
            source = open_reader(db.path)
            try:
                target = sqlite3.connect(path)
                with translated(db.path):
                    source.backup(target, pages=-1)
                target.close()
            finally:
                source.close()
        conn = open_reader(path)
        try:
            with translated(db.path):
                conn.execute("BEGIN")
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the snapshot starts
                yield conn, how
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.close()


def _source_rows(conn, table):
    columns = ", ".join(f'"{c}"' for c in pg_schema.COLUMN_TYPES[table])  # schema names only
    cur = conn.execute(f'SELECT {columns} FROM "{table}"')
    while batch := cur.fetchmany(FETCH_ROWS):
        yield from batch


def _check_source(conn, db):
    schema.require_schema(conn, db.path)
    drift = schema.drift(conn)
    if drift.extra_columns:
        raise errors.R2WError(f"{db.path} has columns the schema does not know "
                              f"({', '.join(drift.extra_columns)}): the move would drop them")
    return drift.extra_tables


def _target_state(target):
    """{"tables": {table: rows or None (missing)}, "wrong_types": [...]}."""
    with target.read() as conn:
        have = pg_schema.existing_tables(conn)
        rows = {t: (conn.execute(_sql("SELECT count(*) FROM {}", t)).fetchone()[0]
                    if t in have else None) for t in TABLES}
        return {"tables": rows, "wrong_types": pg_schema.wrong_types(pg_schema.table_columns(conn))}


def _sql(template, table):
    from psycopg import sql

    return sql.SQL(template).format(identifier(table))


def target_checksums(target, tables=TABLES):
    """{table: (rows, checksum hex)} read from PostgreSQL in one snapshot, computed exactly as
    the source side's."""
    from psycopg import sql

    found = {}
    with target.read() as conn:
        for table in tables:
            columns = sql.SQL(", ").join(identifier(c) for c in pg_schema.COLUMN_TYPES[table])
            total = Checksum()
            with conn.cursor(name=f"r2w_move_{table}") as cur:
                cur.itersize = FETCH_ROWS
                cur.execute(sql.SQL("SELECT {} FROM {}").format(columns, identifier(table)))
                for row in cur:
                    total.add(row)
            found[table] = (total.rows, total.hex)
    return found


def _copy(cur, table, rows):
    from psycopg import sql

    types = pg_schema.COLUMN_TYPES[table]
    columns = sql.SQL(", ").join(identifier(c) for c in types)
    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            identifier(table), columns)) as copy:
        copy.set_types([BINARY_TYPES.get(t, t) for t in types.values()])
        for row in rows:
            copy.write_row(row)


def _convert_table(conn, table, mode, sink=None):
    """Read one table of the snapshot, convert, checksum; rows go to `sink(rows)` if given."""
    converter, checksum, read = Converter(table, mode), Checksum(), [0]

    def rows():
        for row in _source_rows(conn, table):
            read[0] += 1
            converted = converter.convert(row)
            if converted is not None:
                checksum.add(converted)
                yield converted

    if sink is None:
        for _ in rows():
            pass
    else:
        sink(rows())
    return {"rows_read": read[0], "rows_moved": checksum.rows,
            "rows_skipped": read[0] - checksum.rows, "checksum": checksum.hex}, converter.problems


def move(source, to, unconvertible="refuse", dry_run=False, progress=None, user=None,
         record=True):
    """Move `source` (SQLite) into the PostgreSQL database `to`; returns the report (a dict).
    Raises MoveRefused (with .report) when it would lose or overwrite data. `record=False`
    leaves the monitor's log alone (a scratch database filled for the load test)."""
    if unconvertible not in MODES:
        raise errors.InvalidValue(f"--unconvertible {unconvertible!r}: choose {', '.join(MODES)}")
    source, target = as_database(source), PgDatabase(to)
    report = {"source": str(source.path), "target": target.display, "dry_run": dry_run,
              "unconvertible_mode": unconvertible, "tables": {}, "unconvertible": []}
    started = time.perf_counter()
    state = _target_state(target)
    report["target_rows_before"] = state["tables"]
    if state["wrong_types"]:
        raise MoveRefused(f"{target.display} has columns of other types: "
                          + "; ".join(state["wrong_types"]), report)
    occupied = any(state["tables"].values())
    log = None if dry_run or not record else _log_start(source, target, unconvertible, user)
    try:
        with source_snapshot(source) as (conn, how):
            report["snapshot"] = how
            report["tables_not_moved"] = _check_source(conn, source)
            if dry_run or occupied:
                for table in TABLES:
                    _note(report, table, *_convert_table(conn, table, unconvertible), progress)
            else:
                _load(conn, target, report, unconvertible, progress)
        _finish(report, target, occupied, dry_run, progress)
    except BaseException as exc:
        if log is not None:
            _log_finish(log, report, started, exc)
        raise
    report["seconds"] = round(time.perf_counter() - started, 3)
    moved = sum(t["rows_moved"] for t in report["tables"].values())
    report["rows_per_second"] = round(moved / report["seconds"]) if report["seconds"] else None
    if log is not None:
        _log_finish(log, report, started, None)
    return report


def _note(report, table, figures, problems, progress):
    report["tables"][table] = figures
    report["unconvertible"] += [p.as_dict() for p in problems]
    if progress:
        progress(f"{table}: {figures['rows_read']:,} rows read")


def _blocking(report):
    return [p for p in report["unconvertible"] if p["handled"] == "blocking"]


def _refuse_if_blocking(report):
    blocking = _blocking(report)
    if blocking:
        raise MoveRefused(
            f"{len(blocking)} value(s) do not convert (listed in the report): nothing was "
            f"written; fix them in the source, or re-run with --unconvertible null|skip-row",
            report)


def _load(conn, target, report, mode, progress):
    """Create what is missing and COPY the four tables in one transaction; refuse (rolled back)
    while a blocking value remains, or when another writer filled the target meanwhile."""
    with target.write() as pg:
        pg.execute("SET statement_timeout = 0")  # COPY of a large table; the locks stay bounded
        for step in pg_schema.plan(pg):
            if not step.concurrent:
                pg.execute(step.statement)
        pg.execute(_lock_sql())
        for table in TABLES:
            if pg.execute(_sql("SELECT count(*) FROM {}", table)).fetchone()[0]:
                raise MoveRefused(f"{target.display} table {table} filled up during the move: "
                                  f"nothing was written", report)
        with pg.cursor() as cur:
            for table in TABLES:
                _note(report, table, *_convert_table(
                    conn, table, mode, sink=lambda rows, t=table: _copy(cur, t, rows)), progress)
        _refuse_if_blocking(report)  # raises inside the transaction: rolled back


def _lock_sql():
    from psycopg import sql

    return sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(
        sql.SQL(", ").join(identifier(t) for t in TABLES))


def _finish(report, target, occupied, dry_run, progress):
    if dry_run:
        report["outcome"] = "dry run: nothing written"
        report["would_refuse"] = bool(_blocking(report)) or (
            occupied and "the target already holds rows: a real run compares them")
        return
    if occupied:
        _refuse_if_blocking(report)
    else:
        steps = pg_schema.migrate(target)  # the indexes, concurrently
        report["indexes_built"] = len([s for s in steps if s.kind == "index"])
    found = target_checksums(target)
    differences = []
    for table, figures in report["tables"].items():
        rows, checksum = found[table]
        figures["target_rows"], figures["target_checksum"] = rows, checksum
        figures["verified"] = rows == figures["rows_moved"] and checksum == figures["checksum"]
        if not figures["verified"]:
            differences.append(f"{table} ({rows:,} rows there, {figures['rows_moved']:,} here)")
    if progress:
        progress("verified" if not differences else "verification FAILED")
    if differences:
        message = ("the target differs from the source: " if occupied
                   else "verification FAILED after the copy: ") + ", ".join(differences)
        raise MoveRefused(message + ("; nothing was written" if occupied else ""), report)
    report["outcome"] = "already moved: the target equals the source" if occupied else "moved"
    report["application_url"] = target.display


def _log_start(source, target, mode, user):
    try:
        return MonitorStore().log_start(
            user=user or os.environ.get("USER") or "cli", task="move", database=source,
            parameters={"to": target.display, "unconvertible": mode})
    except (errors.R2WError, OSError):
        return None  # the move does not depend on the log


def _log_finish(log_id, report, started, exc):
    moved = sum(t.get("rows_moved", 0) for t in report["tables"].values())
    if exc is None:
        outcome, error = "ok", None
    else:
        outcome = "refused" if isinstance(exc, MoveRefused) else "failed"
        error = errors.one_line(str(exc) or type(exc).__name__)
    try:
        MonitorStore().log_finish(log_id, outcome=outcome, rows=moved, error=error,
                                  seconds=round(time.perf_counter() - started, 3))
    except (errors.R2WError, OSError):
        pass
