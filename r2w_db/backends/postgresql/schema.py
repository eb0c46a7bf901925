"""The schema on PostgreSQL: the same four tables, columns and indexes, in PostgreSQL types.

schema.py stays the source of truth. The tables are read off its SQLite DDL (column order,
NOT NULL, DEFAULT, PRIMARY KEY, UNIQUE), so a column added there is added here too; the types
become PostgreSQL's:
- timestamps (TIMESTAMP_COLUMNS) are `timestamptz` (the move converts the stored text);
- REAL is `double precision`, INTEGER is `integer`, TEXT is `text`.
Differences, on purpose:
- No FOREIGN KEY constraints. SQLite declares them but production never enforces them:
  anonymous owners have no users row, so an enforced key would reject the application's own
  uploads. `check` counts orphans instead (anonymous owners left out), as on SQLite.
- The partial "odd timestamp" indexes of migration 9 are skipped (SKIPPED). They index rows whose
  text is not a canonical timestamp; a timestamptz column holds only instants, so on PostgreSQL
  they would always be empty and the data-quality counts need no index. Migration 10's partial
  index of valid scores is built, with its WHERE.
- There is no PRAGMA user_version: the version is read off the structure (the highest migration
  whose every step is present), as `migrate` plans from the structure on SQLite too.

`migrate` creates what is missing: tables and columns in one short transaction (5 s lock
timeout), then each index with CREATE INDEX CONCURRENTLY outside any transaction, so the
application's reads and writes go on while it builds. An index left INVALID by an interrupted
build is dropped (DROP INDEX CONCURRENTLY) and built again. A second run finds nothing to do.
"""
import sqlite3
import time
from dataclasses import dataclass

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.backends.postgresql.database import as_pg

TIMESTAMP_COLUMNS = {
    "users": ("created_at", "portfolio_created_at", "portfolio_expires_at"),
    "sessions": ("created_at",),
    "cv_uploads": ("upload_date",),
    "cv_extraction_cache": ("created_at", "last_accessed"),
}
PG_TYPES = {"TEXT": "text", "REAL": "double precision", "INTEGER": "integer"}
SKIPPED = {name: "partial index of odd timestamps: a timestamptz column holds none"
           for name, index in schema.INDEXES.items()
           if index.where == schema.time_is_odd(index.columns[0])}
INDEXES = {name: index for name, index in schema.INDEXES.items() if name not in SKIPPED}
INDEX_LOCK_TIMEOUT_MS = 300_000  # CREATE INDEX CONCURRENTLY waits for older transactions


@dataclass(frozen=True)
class Column:
    name: str
    type: str           # the PostgreSQL type
    not_null: bool
    default: object     # None, or a Python value
    primary_key: bool
    unique: bool


def _read_sqlite_tables():
    """{table: [Column]} from schema.TABLES, read by SQLite itself (an in-memory database)."""
    conn = sqlite3.connect(":memory:")
    try:
        for ddl in schema.TABLES.values():
            conn.execute(ddl)
        tables = {}
        for table in schema.TABLES:
            unique = set()
            for index in conn.execute("SELECT name, \"unique\", origin FROM pragma_index_list(?)", (table,)):
                if index[1] and index[2] == "u":
                    cols = [r[2] for r in conn.execute("SELECT * FROM pragma_index_info(?)", (index[0],))]
                    unique.update(cols if len(cols) == 1 else ())
            tables[table] = [
                Column(name, column_type(table, name, decl), bool(notnull) or bool(pk),
                       _default(default), bool(pk), name in unique)
                for _, name, decl, notnull, default, pk in conn.execute(
                    "SELECT cid, name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?)", (table,))]
        return tables
    finally:
        conn.close()


def column_type(table, column, decl="TEXT"):
    """The PostgreSQL type of a column of the documented schema."""
    if column in TIMESTAMP_COLUMNS.get(table, ()):
        return "timestamptz"
    return PG_TYPES[str(decl).upper()]


def _default(text):
    if text is None:
        return None
    text = str(text)
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("''", "'")
    return int(text) if text.lstrip("-").isdigit() else float(text)


TABLES = _read_sqlite_tables()
COLUMN_TYPES = {t: {c.name: c.type for c in cols} for t, cols in TABLES.items()}
PRIMARY_KEYS = {t: next(c.name for c in cols if c.primary_key) for t, cols in TABLES.items()}


def _sql():
    from psycopg import sql

    return sql


def _column_sql(column):
    sql = _sql()
    parts = [sql.Identifier(column.name), sql.SQL(column.type)]
    if column.not_null and not column.primary_key:
        parts.append(sql.SQL("NOT NULL"))
    if column.default is not None:
        parts += [sql.SQL("DEFAULT"), sql.Literal(column.default)]
    return sql.SQL(" ").join(parts)


def _key_sql(table):
    """The table's PRIMARY KEY and UNIQUE constraints (PostgreSQL names them <table>_pkey and
    <table>_<column>_key, written inline or added later alike)."""
    sql = _sql()
    keys = [sql.SQL("PRIMARY KEY ({})").format(sql.Identifier(PRIMARY_KEYS[table]))]
    return keys + [sql.SQL("UNIQUE ({})").format(sql.Identifier(c.name))
                   for c in TABLES[table] if c.unique]


def _create_sql(table, keys):
    sql = _sql()
    items = [_column_sql(c) for c in TABLES[table]] + (_key_sql(table) if keys else [])
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        sql.Identifier(table), sql.SQL(", ").join(items))


def create_table_sql(table):
    return _create_sql(table, keys=True)


def table_without_keys_sql(table):
    """CREATE TABLE without its PRIMARY KEY and UNIQUE constraints, for a bulk load: add_keys_sql
    adds them once the rows are in (their indexes built once, sorted, not row by row)."""
    return _create_sql(table, keys=False)


def add_keys_sql(table):
    """ALTER TABLE adding the constraints table_without_keys_sql(table) left out."""
    sql = _sql()
    return sql.SQL("ALTER TABLE {} {}").format(sql.Identifier(table), sql.SQL(", ").join(
        sql.SQL("ADD {}").format(key) for key in _key_sql(table)))


def add_column_sql(table, column):
    sql = _sql()
    col = next(c for c in TABLES[table] if c.name == column)
    return sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}").format(
        sql.Identifier(table), _column_sql(col))


def create_index_sql(name):
    """CREATE INDEX CONCURRENTLY: on a table others can see (migrate)."""
    return _index_sql(name, "CONCURRENTLY IF NOT EXISTS")


def index_in_transaction_sql(name):
    """CREATE INDEX, plainly: inside the transaction that created the table (the move's load:
    nobody can see the table yet, so nothing waits)."""
    return _index_sql(name, "IF NOT EXISTS")


def _index_sql(name, how):
    sql = _sql()
    index = INDEXES[name]
    partial = sql.SQL(f" WHERE {index.where}" if index.where else "")   # schema.py's own SQL
    return sql.SQL("CREATE INDEX {} {} ON {} ({}){}").format(
        sql.SQL(how), sql.Identifier(name), sql.Identifier(index.table),
        sql.SQL(", ").join(sql.Identifier(c) for c in index.columns), partial)


def drop_index_sql(name):
    sql = _sql()
    return sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(name))


# ---------------------------------------------------------------- introspection

def existing_tables(conn):
    return {r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}


def table_columns(conn):
    """{table: {column: type}} of the current schema, types as format_type spells them."""
    found = {}
    for table, column, type_ in conn.execute("""
            SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
            WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
              AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY c.relname, a.attnum"""):
        found.setdefault(table, {})[column] = type_
    return found


def existing_indexes(conn):
    """{name: (table, valid)} of the indexes not backing a constraint (PRIMARY KEY, UNIQUE)."""
    return {name: (table, valid) for name, table, valid in conn.execute("""
        SELECT ic.relname, tc.relname, i.indisvalid
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class tc ON tc.oid = i.indrelid
        WHERE tc.relnamespace = current_schema()::regnamespace
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""")}


TYPE_SPELLING = {"timestamptz": "timestamp with time zone"}


def wrong_types(columns):
    """['table.column: text, expected timestamptz'] for the documented columns of another type."""
    found = []
    for table, expected in COLUMN_TYPES.items():
        for column, want in expected.items():
            have = columns.get(table, {}).get(column)
            if have is not None and have != TYPE_SPELLING.get(want, want):
                found.append(f"{table}.{column}: {have}, expected {want}")
    return found


def reached_version(conn):
    """The highest migration whose every step is present (skipped indexes count as present)."""
    columns, indexes = table_columns(conn), existing_indexes(conn)
    return schema.reached_version(
        lambda table, column: column in columns.get(table, {}),
        lambda name: name in SKIPPED or indexes.get(name, (None, False))[1])


def drift(conn):
    """How the database differs from the current schema, as schema.Drift (invalid indexes
    count as missing)."""
    columns, indexes = table_columns(conn), existing_indexes(conn)
    tables = existing_tables(conn)
    return schema.drift_of(tables, {t: columns.get(t, {}) for t in schema.COLUMNS if t in tables},
                           indexes, {n for n, (_, valid) in indexes.items() if valid},
                           reached_version(conn), INDEXES)


def missing_documented(conn):
    """Tables and columns of the documented schema that the database lacks."""
    drift_now = drift(conn)
    return drift_now.missing_tables + drift_now.missing_columns


def require_schema(conn, db):
    """EmptyDatabase or SchemaTooOld unless every documented table and column is present."""
    drift_now = drift(conn)
    if len(drift_now.missing_tables) == len(schema.TABLES):
        raise errors.EmptyDatabase(db.display)
    schema.refuse_incomplete(drift_now.missing_tables + drift_now.missing_columns, db.display)
    return drift_now


# ---------------------------------------------------------------- migrate

@dataclass(frozen=True)
class PgStep:
    version: int
    description: str
    statement: object     # a psycopg sql.Composed
    kind: str             # "table", "column", "drop-invalid" or "index"
    documented: bool = True
    table: str = ""

    @property
    def concurrent(self):
        return self.kind in ("index", "drop-invalid")


def plan(conn, additions=True, where="database"):
    """The steps `migrate` would run, in order ([] when up to date); `additions=False` leaves
    this project's own indexes out (only the documented schema). `where`: unused (there is no
    user_version that could be newer than this code)."""
    tables, columns = existing_tables(conn), table_columns(conn)
    indexes = existing_indexes(conn)
    steps = [PgStep(0, f"create table {t}", create_table_sql(t), "table", table=t)
             for t in TABLES if t not in tables]
    index_steps = []
    for migration in schema.MIGRATIONS:
        for step in migration.steps:
            if isinstance(step, schema.AddColumn):
                if step.table in tables and step.column not in columns.get(step.table, {}):
                    steps.append(PgStep(migration.version, step.describe(),
                                        add_column_sql(step.table, step.column), "column",
                                        table=step.table))
            elif step.name in INDEXES and (additions or migration.documented):
                table, valid = indexes.get(step.name, (None, False))
                if table is not None and not valid:
                    index_steps.append(PgStep(migration.version, f"drop invalid index {step.name}",
                                              drop_index_sql(step.name), "drop-invalid",
                                              migration.documented, step.table))
                if not valid:
                    index_steps.append(PgStep(migration.version, step.describe() + " concurrently",
                                              create_index_sql(step.name), "index",
                                              migration.documented, step.table))
    # the documented indexes first, then this project's additions (sort is stable)
    return steps + sorted(index_steps, key=lambda s: not s.documented)


def schema_version(db):
    """Read-only: the version read off the structure (there is no user_version)."""
    with as_pg(db).read() as conn:
        return reached_version(conn)


def pending(db, additions=True):
    """Read-only: the steps a migrate would run on this database."""
    with as_pg(db).read() as conn:
        return plan(conn, additions)


def migrate(db, dry_run=False, create=False, additions=True, progress=None):
    """Run (or with dry_run only list) the pending steps; returns them. `progress(step, s)`
    after each step with its duration. `create`: unused (the owner creates the database)."""
    db = as_pg(db)
    steps = pending(db, additions)
    if dry_run or not steps:
        return steps
    structure = [s for s in steps if not s.concurrent]
    if structure:
        started = time.perf_counter()
        with db.write() as conn:
            for step in structure:
                conn.execute(step.statement)
        if progress:
            progress(structure[-1], time.perf_counter() - started)
    concurrent = [s for s in steps if s.concurrent]
    if concurrent:
        with db.write(autocommit=True) as conn:
            # the build blocks no reader or writer, so it may take as long as it takes; it
            # waits a bounded time for transactions older than itself
            conn.execute("SET statement_timeout = 0")
            conn.execute(f"SET lock_timeout = {int(INDEX_LOCK_TIMEOUT_MS)}")
            for step in concurrent:
                started = time.perf_counter()
                conn.execute(step.statement)
                if progress:
                    progress(step, time.perf_counter() - started)
    return steps


def init(db):
    """Bring an existing (empty) PostgreSQL database to the current schema. The database itself
    is created by its owner (CREATE DATABASE), never by r2w_db."""
    return migrate(db)
