"""The schema on SQLite: reading the structure, planning and running the migrations.

The plan is read off the actual schema (old production files carry no user_version), so every
step is needed and a second run finds none. The steps run in short transactions, so the
application (Python's default 5 s busy timeout) is never locked out for long:
1. the documented tables and columns (fast ALTERs) in one transaction;
2. each index in a transaction of its own, documented ones first, then this project's
   additions (which can be deferred to a quiet hour: `additions=False`).
`user_version` moves in the same transaction as the step that completes a version, so it
always says how far the file really is. Each index step carries an estimate of how long it
will hold the write lock, from the table's row count.
"""
import time
from dataclasses import dataclass

from r2w_db import errors
from r2w_db.engine import schema

# Seconds of write lock per table row while an index is built, measured on the production-sized
# demo (bench/migrate.py, bench/MIGRATE.md). cv_uploads rows carry a ~3 KB document before the
# indexed columns, so each row costs more there.
SECONDS_PER_ROW = {"users": 2.0e-6, "sessions": 1.5e-6, "cv_uploads": 6.0e-6,
                   "cv_extraction_cache": 6.0e-6}
DEFAULT_SECONDS_PER_ROW = 6.0e-6
# A pause after a step as long as the step held the lock, at most this: the application's
# writes queued behind it get in (SQLite's busy handler sleeps in growing steps, up to 100 ms,
# and misses a shorter gap); a step over an empty table costs no pause.
PAUSE_BETWEEN_STEPS_S = 0.25


@dataclass(frozen=True)
class Step:
    version: int
    description: str
    sql: str
    kind: str = "column"      # "table", "column", "index" or "version"
    documented: bool = True   # False: one of this project's additions
    table: str = ""
    rows: int | None = None   # rows of the table an index is built over
    estimate_s: float = 0.0   # how long the step holds the write lock, estimated

    @property
    def is_addition(self):
        return not self.documented

    @property
    def concurrent(self):
        """False: every SQLite step holds the write lock."""
        return False


# ---------------------------------------------------------------- DDL

def create_table_sql(table):
    return schema.TABLES[table]


def add_column_sql(table, column):
    return next(s for m in schema.MIGRATIONS for s in m.steps
                if isinstance(s, schema.AddColumn) and (s.table, s.column) == (table, column)).sql()


def create_index_sql(name):
    return schema.INDEXES[name].sql()


# ---------------------------------------------------------------- introspection

def _columns(conn, table):
    """Column names of `table` in order ([] when the table does not exist)."""
    return [row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


def table_columns(conn):
    """{table: [column]} of every table, columns in order."""
    return {table: _columns(conn, table) for table in sorted(existing_tables(conn))}


def existing_tables(conn):
    return {row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'")}


def existing_indexes(conn):
    """Named indexes (SQLite's automatic ones left out) as {name: table}."""
    return {row[0]: row[1] for row in conn.execute(
        "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}


def user_version(conn):
    return conn.execute("PRAGMA user_version").fetchone()[0]


def missing_documented(conn):
    """Tables and columns of the documented schema that the database lacks."""
    tables = existing_tables(conn)
    return schema.missing_from({t: _columns(conn, t) for t in schema.COLUMNS if t in tables})


def require_schema(conn, db):
    """EmptyDatabase or SchemaTooOld unless every documented table and column is present."""
    schema.refuse_incomplete(missing_documented(conn), getattr(db, "path", db))


def drift(conn):
    """How the database differs from the current schema, as schema.Drift."""
    tables = existing_tables(conn)
    indexes = existing_indexes(conn)
    return schema.drift_of(tables, {t: _columns(conn, t) for t in schema.COLUMNS if t in tables},
                           indexes, indexes, user_version(conn))


def reached_version(conn):
    """The highest version whose every step is present (0 before the first)."""
    tables, indexes = existing_tables(conn), existing_indexes(conn)
    return schema.reached_version(
        lambda table, column: table in tables and column in _columns(conn, table),
        lambda name: name in indexes)


# ---------------------------------------------------------------- migrate

def _rows(conn, table):
    """Rows of a table, cheaply: the largest rowid (an upper bound; exact without deletes)."""
    return conn.execute(f"SELECT coalesce(max(rowid), 0) FROM {table}").fetchone()[0]


def _index_step(conn, migration, step, created):
    rows = 0 if step.table in created else _rows(conn, step.table)
    rate = SECONDS_PER_ROW.get(step.table, DEFAULT_SECONDS_PER_ROW)
    return Step(migration.version, step.describe(), create_index_sql(step.name), "index",
                migration.documented, step.table, rows, rows * rate)


def plan(conn, additions=True, where="database"):
    """The steps migrate would run, in the order it runs them ([] when up to date); a file at a
    newer version than this code knows is SchemaTooNew (`where` names it)."""
    found = user_version(conn)
    if found > schema.CURRENT_VERSION:
        raise errors.SchemaTooNew(where, found, schema.CURRENT_VERSION)
    tables = existing_tables(conn)
    created = {t for t in schema.TABLES if t not in tables}
    structure = [Step(0, f"create table {t}", create_table_sql(t), "table", table=t)
                 for t in schema.TABLES if t in created]
    indexes, existing = [], existing_indexes(conn)
    for migration in schema.MIGRATIONS:
        for step in migration.steps:
            if isinstance(step, schema.AddColumn):
                if step.table not in created and step.column not in _columns(conn, step.table):
                    structure.append(Step(migration.version, step.describe(),
                                          add_column_sql(step.table, step.column), "column",
                                          table=step.table))
            elif step.name not in existing and (additions or migration.documented):
                indexes.append(_index_step(conn, migration, step, created))
    indexes.sort(key=lambda s: s.is_addition)  # the documented indexes first
    steps = structure + indexes
    target = schema.CURRENT_VERSION if additions else max(
        m.version for m in schema.MIGRATIONS if m.documented)
    if found < target or (found != schema.CURRENT_VERSION and additions):
        steps.append(Step(target, f"set user_version {found} -> {target}",
                          f"PRAGMA user_version = {int(target)}", "version"))
    return steps


def schema_version(db):
    """Read-only: the schema version the file says it is at (PRAGMA user_version)."""
    with db.read() as conn:
        return user_version(conn)


def pending(db, additions=True):
    """Read-only: the steps a migrate would run on this database."""
    with db.read() as conn:
        return plan(conn, additions, db.path)


def migrate(db, dry_run=False, create=False, additions=True, progress=None):
    """Run (or with dry_run only list) the pending steps in short transactions; returns them.
    `progress(step, seconds)` is called after each step with how long it held the lock."""
    if dry_run:
        return pending(db, additions)
    started = time.perf_counter()
    with db.transaction(create=create) as conn:
        steps = plan(conn, additions, db.path)
        # the tables and columns, and the indexes over empty tables (instant: a new file is
        # built in one transaction), then each other index in its own, with a pause before it
        first = [s for s in steps if s.kind in ("table", "column") or s.rows == 0]
        for step in first:
            conn.execute(step.sql)
        _set_version(conn)
    held = time.perf_counter() - started
    if progress:
        for step in first:
            progress(step, held)
    for step in (s for s in steps if s.kind == "index" and s.rows != 0):
        time.sleep(min(held, PAUSE_BETWEEN_STEPS_S))
        started = time.perf_counter()
        with db.transaction() as conn:
            conn.execute(step.sql)
            _set_version(conn)
        held = time.perf_counter() - started
        if progress:
            progress(step, held)
    return steps


def _set_version(conn):
    """user_version = how far the schema really is, in the transaction that got it there."""
    version = reached_version(conn)
    if user_version(conn) != version:
        conn.execute(f"PRAGMA user_version = {int(version)}")


def init(db):
    """Create the database file if needed and bring it to the current schema."""
    return migrate(db, create=True)
