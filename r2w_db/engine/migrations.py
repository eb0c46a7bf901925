"""Bring a database from any state of the documented history to the current schema.

The plan is read off the actual schema (old production files carry no
user_version), so every step is needed and a second run finds none. All steps
and the user_version bump commit or roll back together in one transaction.
"""
from dataclasses import dataclass

from r2w_db import errors
from r2w_db.engine import schema
from r2w_db.engine.connection import as_database, transaction


@dataclass(frozen=True)
class Step:
    version: int
    description: str
    sql: str


def plan(conn):
    """The steps migrate would run, in order ([] when up to date)."""
    found = schema.user_version(conn)
    if found > schema.CURRENT_VERSION:
        raise errors.SchemaTooNew("database", found, schema.CURRENT_VERSION)
    tables = schema.existing_tables(conn)
    steps = [Step(0, f"create table {t}", sql) for t, sql in schema.TABLES.items() if t not in tables]
    created = {t for t in schema.TABLES if t not in tables}
    indexes = schema.existing_indexes(conn)
    for migration in schema.MIGRATIONS:
        for step in migration.steps:
            if isinstance(step, schema.AddColumn):
                if step.table in created or step.column in schema.table_columns(conn, step.table):
                    continue
            elif step.name in indexes:
                continue
            steps.append(Step(migration.version, step.describe(), step.sql()))
    if found != schema.CURRENT_VERSION:
        steps.append(Step(schema.CURRENT_VERSION,
                          f"set user_version {found} -> {schema.CURRENT_VERSION}",
                          f"PRAGMA user_version = {int(schema.CURRENT_VERSION)}"))
    return steps


def pending(db):
    """Read-only: the steps a migrate would run on this database."""
    with as_database(db).read() as conn:
        return plan(conn)


def migrate(db, dry_run=False, create=False):
    """Run (or with dry_run only list) the pending steps in one IMMEDIATE transaction."""
    db = as_database(db)
    if dry_run:
        return pending(db)
    with db.write(create=create) as conn:
        try:
            with transaction(conn):
                steps = plan(conn)
                for step in steps:
                    conn.execute(step.sql)
        except errors.SchemaTooNew:
            raise errors.SchemaTooNew(db.path, schema.user_version(conn), schema.CURRENT_VERSION)
    return steps


def init(db):
    """Create the database file if needed and bring it to the current schema."""
    return migrate(db, create=True)
