"""`move`: copy every row of an SQLite database into PostgreSQL, verified, once.

    move(source, "postgresql://...", unconvertible="refuse", dry_run=False)

Written once here; the source is read through its engine (`source.backend.move`: one snapshot,
its rows) and the target written through its own (`target.backend.move`: the conversion, COPY,
the indexes, the checksums):
1. One snapshot of the source, while the application keeps running (backends/sqlite/move.py).
2. Every value is converted (the target's converter); every value that does not convert is reported with
   its table, key, column and value. With any left, the move refuses to finish (nothing is
   written) unless `unconvertible` says how to handle them: "null" (a nullable column becomes
   NULL; a NOT NULL column still blocks) or "skip-row" (the row stays behind, reported).
3. The rows go in with COPY, all four tables in ONE transaction (tables created in it when
   missing, their keys and indexes built in it too): a refused, failed or killed move leaves
   the target as it was (backends/postgresql/move.py). A thread converts a table ahead
   (maintenance/move_ahead.py): while the server checksums and indexes the table just
   copied, the next one is being converted.
4. Verification, inside that transaction before its commit: every table's row count and
   content checksum, computed by PostgreSQL from the stored rows as the transaction will
   commit them (no row is read back), must equal the source's (of the converted rows,
   maintenance/move_convert.py); a difference rolls the load back. Tables that existed before
   the move get their missing indexes after the commit (concurrently) and VACUUM (ANALYZE).
5. Re-running is safe: a target whose tables already hold rows is compared (count and checksum
   per table, in one snapshot), never overwritten; different is refused. Equal finishes a move
   that was killed after its rows were committed (while the indexes of tables that existed
   before were built, or in the final check): the missing or INVALID indexes are built, then
   it is "already moved".
   A move is done only when `check` would pass on the target (figures/check.py, quick: the
   documented schema, this project's indexes, integrity); otherwise it ends in MoveIncomplete
   (exit 1), saying what is missing and that running it again finishes it.
6. A real run is recorded in the monitor's maintenance log (task "move"); the result carries
   the URL to give the application, its password redacted.
"""
import os
import time
from contextlib import closing

from r2w_db import errors
from r2w_db.backends import open_database
from r2w_db.engine import schema
from r2w_db.figures.check import run_check
from r2w_db.maintenance import move_ahead
from r2w_db.maintenance.move_convert import Checksum, checksum_hex
from r2w_db.monitor.store import MonitorStore

MODES = ("refuse", "null", "skip-row")
TABLES = tuple(schema.COLUMNS)


class MoveRefused(errors.R2WError):
    """The move would lose or overwrite data; `report` says exactly what (nothing was written)."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


class MoveIncomplete(MoveRefused):
    """The rows are there and verified, but `check` would not pass on the target (an index
    could not be built ...): the move is not done; running it again finishes it."""


def source_snapshot(db):
    """(connection in an open read transaction, how the snapshot was taken), of the source."""
    db = open_database(db)
    return db.backend.move.source_snapshot(db)


def target_checksums(target, tables=TABLES):
    """{table: (rows, checksum hex)} of the target in one snapshot, computed by its server
    exactly as the source side's."""
    target = open_database(target)
    return _as_hex(target.backend.move.table_checksums(target, tables))


def _as_hex(found):
    return {table: (rows, checksum_hex(high, low)) for table, (rows, high, low) in found.items()}


def _table_stream(source, target, conn, table, mode):
    """(pieces, done): `pieces` reads one table of the snapshot, converts and checksums it,
    yielding pieces of COPY's stream (a batch of converted rows each); `done()`, once they are
    all read, gives (figures, problems)."""
    converter, checksum, read = target.backend.move.converter(table, mode), Checksum(), [0]

    def pieces():
        for batch in source.backend.move.source_batches(conn, table, converter.names):
            read[0] += len(batch)
            converted = converter.convert_many(batch)
            checksum.add_many(converted)
            yield b"".join(converted)

    def done():
        return {"rows_read": read[0], "rows_moved": checksum.rows,
                "rows_skipped": read[0] - checksum.rows, "checksum": checksum.hex}, converter.problems
    return pieces(), done


def _convert_table(source, target, conn, table, mode):
    """Read one table of the snapshot, convert, checksum: (figures, problems)."""
    pieces, done = _table_stream(source, target, conn, table, mode)
    for _ in pieces:
        pass
    return done()


def move(source, to, unconvertible="refuse", dry_run=False, progress=None, user=None,
         record=True):
    """Move `source` (SQLite) into the PostgreSQL database `to`; returns the report (a dict).
    Raises MoveRefused (with .report) when it would lose or overwrite data. `record=False`
    leaves the monitor's log alone (a scratch database filled for the load test)."""
    if unconvertible not in MODES:
        raise errors.InvalidValue(f"--unconvertible {unconvertible!r}: choose {', '.join(MODES)}")
    source, target = open_database(source), open_database(to)
    source.backend.require("move.source_snapshot", "moving out of this database")
    target.backend.require("move.load_transaction", "moving into this database")
    report = {"source": source.display, "target": target.display, "dry_run": dry_run,
              "unconvertible_mode": unconvertible, "tables": {}, "unconvertible": []}
    started = time.perf_counter()
    state = target.backend.move.target_state(target)
    report["target_rows_before"] = state["tables"]
    if state["wrong_types"]:
        raise MoveRefused(f"{target.display} has columns of other types: "
                          + "; ".join(state["wrong_types"]), report)
    occupied = any(state["tables"].values())
    log = None if dry_run or not record else _log_start(source, target, unconvertible, user)
    try:
        with source.backend.move.source_snapshot(source) as (conn, how):
            report["snapshot"] = how
            report["tables_not_moved"] = source.backend.move.check_source(conn, source)
            frozen = ()
            if dry_run or occupied:
                for table in TABLES:
                    _note(report, table, *_convert_table(source, target, conn, table,
                                                         unconvertible), progress)
            else:
                frozen = _load(source, conn, target, report, unconvertible, progress)
        _finish(report, target, occupied, dry_run, progress, frozen)
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


def _load(source, conn, target, report, mode, progress):
    """Create what is missing, COPY the four tables and verify them in one transaction; refuse
    (rolled back) while a blocking value remains, when another writer filled the target
    meanwhile, or when the rows differ. Returns the tables it created (loaded frozen and
    analysed, their indexes built)."""
    with target.backend.move.load_transaction(target) as load:
        if load.filled:
            raise MoveRefused(f"{target.display} table {load.filled[0]} filled up during the "
                              f"move: nothing was written", report)
        with closing(move_ahead.tables_ahead(
                TABLES, lambda table: _table_stream(source, target, conn, table, mode))) as streams:
            for table, pieces, done in streams:
                load.copy(table, pieces)
                _note(report, table, *done(), progress)
                if not _blocking(report):   # its checksum and indexes, while the next converts
                    load.finish(table)
        _refuse_if_blocking(report)  # raises inside the transaction: rolled back
        # before the commit: a difference raises, and the load is rolled back
        _verify(report, _as_hex(load.checksums(TABLES)), occupied=False, progress=progress)
    report["indexes_built"] = load.indexes_built
    return load.created


def _finish(report, target, occupied, dry_run, progress, frozen):
    if dry_run:
        report["outcome"] = "dry run: nothing written"
        report["would_refuse"] = bool(_blocking(report)) or (
            occupied and "the target already holds rows: a real run compares them")
        return
    if occupied:
        _refuse_if_blocking(report)
        _verify(report, target_checksums(target), occupied, progress)
        # equal: finish a move killed after its commit (indexes missing or INVALID)
        report["indexes_built"] = target.backend.move.build_indexes(target)
        if report["indexes_built"]:
            target.backend.move.vacuum_analyze(target)
    else:   # the tables that existed before the move: indexes concurrently, then VACUUM
        report["indexes_built"] += target.backend.move.build_indexes(target)
        unfrozen = [table for table in TABLES if table not in frozen]
        if unfrozen:
            target.backend.move.vacuum_analyze(target, unfrozen)
    _require_check(report, target)
    if occupied and report["indexes_built"]:
        report["outcome"] = (f"already moved: the target equals the source; the interrupted "
                             f"move was finished ({report['indexes_built']} index(es) built)")
    else:
        report["outcome"] = "already moved: the target equals the source" if occupied else "moved"
    report["application_url"] = target.display


def _verify(report, found, occupied, progress):
    """Every table's rows and checksum on the target ({table: (rows, hex)}, computed by its
    server) must equal the source's."""
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
        raise MoveRefused(message + ("; nothing was written" if occupied else
                                     "; the load was rolled back: nothing was written"), report)


def _require_check(report, target):
    """MoveIncomplete unless `check` (quick) passes on the target with every index built."""
    try:
        found = run_check(target, quick=True)
    except errors.R2WError as exc:
        raise MoveIncomplete(f"the move is not complete: check cannot run on {target.display} "
                             f"({exc}); run the move again to finish it", report) from None
    schema_report = found["schema"]
    missing = [*schema_report.get("missing_tables", ()), *schema_report.get("missing_columns", ()),
               *(f"index {n}" for n in schema_report.get("missing_documented_indexes", ())),
               *(f"index {n}" for n in schema_report.get("missing_additions", ())),
               *schema_report.get("wrong_types", ())]
    if found["integrity"]["ok"] is False:
        missing += found["integrity"]["messages"][:3]
    report["check_ok"] = found["ok"] and not missing
    if not report["check_ok"]:
        raise MoveIncomplete(
            f"the move is not complete: check fails on {target.display} ("
            + ", ".join(missing[:8] or ["its report is not ok"])
            + (" ..." if len(missing) > 8 else "") + "); the rows are verified: run the move "
            "again to finish it", report)


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
