"""Any state of the documented history reaches the current schema, keeping every row."""
import sqlite3
from pathlib import Path

import pytest

from r2w_db.backends.sqlite import schema as sqlite_schema
from r2w_db.engine import schema
from r2w_db.backends import migrations
from r2w_db.errors import R2WError, SchemaTooNew

from .prodlike import build_prodlike


def dump(path):
    conn = sqlite3.connect(path)
    tables = ["users", "sessions", "cv_uploads", "cv_extraction_cache"]
    present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    data = {t: conn.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in tables if t in present}
    conn.close()
    return data


@pytest.mark.parametrize("migrated_by_app", [False, True])
def test_migrate_keeps_every_row_and_is_idempotent(tmp_path, migrated_by_app):
    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=migrated_by_app)
    before = dump(path)
    steps = migrations.migrate(path)
    assert steps and steps[-1].description.endswith(f"-> {schema.CURRENT_VERSION}")
    after = dump(path)
    for table, rows in before.items():
        width = len(rows[0]) if rows else 0
        assert [tuple(r)[:width] for r in after[table]] == [tuple(r) for r in rows]
        assert all(v is None for r in after[table] for v in tuple(r)[width:])
    conn = sqlite3.connect(path)
    assert sqlite_schema.missing_documented(conn) == []
    assert sqlite_schema.drift(conn).ok
    assert sqlite_schema.user_version(conn) == schema.CURRENT_VERSION
    conn.close()
    assert migrations.migrate(path) == []
    assert dump(path) == after


def test_dry_run_lists_steps_and_changes_nothing(tmp_path):
    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    data = path.read_bytes()
    steps = migrations.migrate(path, dry_run=True)
    descriptions = [s.description for s in steps]
    assert "add column users.name" in descriptions
    assert "add column cv_uploads.file_hash" in descriptions
    assert "create table cv_extraction_cache" in descriptions
    assert path.read_bytes() == data


def test_failed_step_rolls_back_everything(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    before = dump(path)
    real_plan = sqlite_schema.plan

    def broken_plan(conn, *args):
        return real_plan(conn, *args) + [sqlite_schema.Step(99, "boom", "CREATE TABLE users (x)")]

    monkeypatch.setattr(sqlite_schema, "plan", broken_plan)
    with pytest.raises(R2WError, match="users already exists"):
        migrations.migrate(path)
    conn = sqlite3.connect(path)
    assert "name" not in sqlite_schema.table_columns(conn)["users"]
    assert sqlite_schema.user_version(conn) == 0
    conn.close()
    assert dump(path) == before


def test_newer_schema_is_refused(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {schema.CURRENT_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="upgrade r2w monitor"):
        migrations.migrate(db_path)


def test_documented_schema_only_gets_the_project_indexes(tmp_path):
    path = tmp_path / "documented.db"
    conn = sqlite3.connect(path)
    for sql in schema.TABLES.values():
        conn.execute(sql)
    for name in schema.DOCUMENTED_INDEXES:
        conn.execute(schema.INDEXES[name].sql())
    conn.commit()
    conn.close()
    steps = migrations.pending(path)
    created = {s.description.split()[2] for s in steps if s.description.startswith("create index")}
    assert created == set(schema.INDEXES) - set(schema.DOCUMENTED_INDEXES)
    assert not any(s.description.startswith(("add column", "create table")) for s in steps)


def test_each_index_is_its_own_transaction(tmp_path, monkeypatch):
    """A failure while building one index keeps the columns and the indexes built before it, and
    user_version says exactly how far the file got."""
    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    steps = migrations.pending(path)
    index_steps = [s for s in steps if s.kind == "index"]
    boom_at = index_steps[2]
    real_plan = sqlite_schema.plan

    def plan_with_a_bad_index(conn, *args):
        planned = real_plan(conn, *args)
        return [sqlite_schema.Step(s.version, s.description, "CREATE INDEX broken ON nowhere(x)",
                                "index") if s.description == boom_at.description else s
                for s in planned]

    monkeypatch.setattr(sqlite_schema, "plan", plan_with_a_bad_index)
    with pytest.raises(R2WError, match="nowhere"):
        migrations.migrate(path)
    conn = sqlite3.connect(path)
    assert sqlite_schema.missing_documented(conn) == []             # the columns were committed
    built = sqlite_schema.existing_indexes(conn)
    assert all(s.description.split()[2] in built for s in index_steps[:2])
    assert boom_at.description.split()[2] not in built
    assert sqlite_schema.user_version(conn) == sqlite_schema.reached_version(conn) < schema.CURRENT_VERSION
    conn.close()
    monkeypatch.setattr(sqlite_schema, "plan", real_plan)
    migrations.migrate(path)                                  # the next run finishes the job
    conn = sqlite3.connect(path)
    assert sqlite_schema.drift(conn).ok and sqlite_schema.user_version(conn) == schema.CURRENT_VERSION
    conn.close()


def test_additions_can_be_deferred_to_a_quiet_hour(tmp_path):
    path = tmp_path / "old.db"
    build_prodlike(path, migrated_by_app=False)
    steps = migrations.migrate(path, additions=False)
    assert steps and not any(s.is_addition for s in steps)
    conn = sqlite3.connect(path)
    assert sqlite_schema.missing_documented(conn) == []
    assert all(name in sqlite_schema.existing_indexes(conn) for name in schema.DOCUMENTED_INDEXES)
    assert not set(sqlite_schema.existing_indexes(conn)) & (set(schema.INDEXES) - set(schema.DOCUMENTED_INDEXES))
    assert sqlite_schema.user_version(conn) == 6
    conn.close()
    assert migrations.migrate(path, additions=False) == []   # idempotent when deferring
    later = migrations.migrate(path)
    assert later and all(s.is_addition for s in later if s.kind == "index")
    assert migrations.migrate(path) == []


def test_index_steps_say_how_long_they_block_writers(prod_db):
    path, _, _ = prod_db
    steps = [s for s in migrations.pending(path) if s.kind == "index"]
    conn = sqlite3.connect(path)
    for step in steps:
        rows = conn.execute(f"SELECT count(*) FROM {step.table}").fetchone()[0]
        assert step.rows == rows > 0
        assert step.estimate_s == pytest.approx(rows * sqlite_schema.SECONDS_PER_ROW[step.table])
    conn.close()
    assert [s.is_addition for s in steps] == sorted(s.is_addition for s in steps)  # documented first


def test_migrate_never_changes_the_journal_mode(prod_db):
    path, _, _ = prod_db
    migrations.migrate(path)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
    assert not Path(str(path) + "-wal").exists()
