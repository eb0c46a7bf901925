"""Migration 10 (issue 21): the partial index of valid confidence scores. `migrate` builds it on
both engines and a database without it reports the migration pending; the lowest scores walk it
in score order (no sort of the window's scores) and still list only valid scores; the windowed
aggregates keep reading their created_at range, never this index."""
import math
import sqlite3
from datetime import datetime, timedelta

import pytest

from r2w_db.backends import migrations, open_database
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.sqlite import schema as sqlite_schema
from r2w_db.backends.sqlite.window_sql import (VALID_CONFIDENCE, VALID_IN_WINDOW, in_window,
                                               period_of)
from r2w_db.engine import schema, timeutil
from r2w_db.figures import confidence, health
from r2w_db.figures.periods import Window

from .test_health import FRESH

INDEX = "idx_extraction_cache_score"
NOW = datetime(2026, 11, 24, 8, 15, 2)
# (score, age in hours): the invalid ones never listed; the valid ones by score, ties by time
SCORES = [(-0.1, 1), (None, 2), ("abc", 3), (1.5, 4), (float("nan"), 5), (0.3, 6), (0.0, 7),
          (1.0, 8), (0.3, 9), (0.9, 30 * 24)]


def _insert(db, rows):
    """Cache entries with these (score, age in hours), through the engine's own connection."""
    db = open_database(db)
    marker = "%s" if db.backend.name == "postgresql" else "?"
    with db.write() as conn:
        for i, (score, hours) in enumerate(rows):
            when = NOW - timedelta(hours=hours)
            stamp = when if db.backend.name == "postgresql" else timeutil.iso(when)
            if db.backend.name == "postgresql" and isinstance(score, str):
                continue   # a double precision column holds no text
            conn.execute("INSERT INTO cv_extraction_cache (file_hash, cv_data, extraction_model,"
                         " temperature, created_at, confidence_score, access_count,"
                         f" last_accessed) VALUES ({', '.join([marker] * 8)})",
                         (f"hash{i:04d}" + "0" * 56, "{}", "m", 0.0, stamp, score, 1, stamp))


def _at_version_9(db):
    """A database at the current schema, then without migration 10 (as one migrated before)."""
    migrations.init(db)
    db = open_database(db)
    if db.backend.name == "postgresql":
        with db.write(autocommit=True) as conn:
            conn.execute(f"DROP INDEX {INDEX}")
    else:
        with db.write() as conn:
            conn.execute(f"DROP INDEX {INDEX}")
            conn.execute("PRAGMA user_version = 9")
    return db


def _schema_check(db):
    return next(c for c in health.run_checks(db, last_runs=FRESH) if c.key == "schema")


def assert_pending_then_built(db, built):
    assert INDEX in schema.INDEXES and schema.CURRENT_VERSION == 10
    assert migrations.schema_version(db) == 9
    assert [s.description for s in migrations.pending(db) if s.kind == "index"] == [
        schema.INDEXES[INDEX].describe() + (" concurrently" if db.backend.name == "postgresql"
                                            else "")]
    got = _schema_check(db)
    assert "pending step" in got.value and "migration 10" in got.detail and INDEX in got.detail
    migrations.migrate(db)
    assert migrations.schema_version(db) == 10 and not migrations.pending(db)
    assert built(db)
    got = _schema_check(db)
    assert got.value == "up to date"


def test_sqlite_at_version_9_reports_migration_10_pending_and_migrate_builds_it(tmp_path):
    db = _at_version_9(tmp_path / "r2w.db")

    def built(db):
        with sqlite3.connect(db.path) as conn:
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (INDEX,)).fetchone()
            return sql[0].endswith(f"WHERE {schema.VALID_SCORE}") and \
                sqlite_schema.user_version(conn) == 10

    assert_pending_then_built(db, built)


def test_postgresql_at_version_9_reports_migration_10_pending_and_migrate_builds_it(pg_url):
    db = _at_version_9(pg_url)

    def built(db):
        with db.read() as conn:
            (definition,) = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s",
                                         (INDEX,)).fetchone()
            return (pg_schema.existing_indexes(conn)[INDEX][1]
                    and "(confidence_score, created_at) WHERE" in definition
                    and "confidence_score >= " in definition)

    assert_pending_then_built(db, built)


def _lowest_sqlite_plan(path, window):
    """The detail lines of the lowest scores' row-picking subquery, on SQLite."""
    db = open_database(path)
    where, params = in_window("created_at", window, "cv_extraction_cache")
    with db.read() as conn:
        return [row[3] for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT rowid FROM cv_extraction_cache"
            f" WHERE {VALID_CONFIDENCE} AND {where} ORDER BY confidence_score, created_at LIMIT 10",
            params)]


@pytest.mark.parametrize("key", ["24h", "7d", "30d", "all"])
def test_sqlite_lowest_walks_the_index_in_order(tmp_path, key):
    path = tmp_path / "r2w.db"
    migrations.init(path)
    _insert(path, SCORES)
    plan = _lowest_sqlite_plan(path, Window.of(key, now=NOW))
    assert any(f"INDEX {INDEX} (confidence_score>? AND confidence_score<?)" in line
               for line in plan), plan
    assert not any("TEMP B-TREE" in line for line in plan), plan


@pytest.mark.parametrize("key", ["7d", "all"])
def test_sqlite_aggregates_never_read_the_score_index(tmp_path, key):
    """The windowed aggregates read their created_at range (or the whole covering index), in
    created_at order, as before migration 10."""
    path = tmp_path / "r2w.db"
    migrations.init(path)
    _insert(path, SCORES)
    window = Window.of(key, now=NOW)
    where, params = in_window("created_at", window, "cv_extraction_cache")
    with open_database(path).read() as conn:
        for valid in (VALID_IN_WINDOW, "1"):
            plan = " ".join(r[3] for r in conn.execute(
                f"EXPLAIN QUERY PLAN SELECT {period_of('created_at')}, avg(confidence_score)"
                f" FROM cv_extraction_cache WHERE {valid} AND {where} GROUP BY 1", params))
            assert INDEX not in plan and "idx_extraction_cache_cover" in plan, plan


def _listed(db, key="all"):
    return [(s, c) for s, c in confidence.lowest(db, Window.of(key, now=NOW), limit=10)[
        ["confidence", "created_at"]].itertuples(index=False)]


def test_sqlite_lowest_lists_only_valid_scores_ties_by_time(tmp_path):
    path = tmp_path / "r2w.db"
    migrations.init(path)
    _insert(path, SCORES)
    got = _listed(path)
    assert [s for s, _ in got] == [0.0, 0.3, 0.3, 0.9, 1.0]
    assert got[1][1] < got[2][1]   # the 0.3 of 9 hours ago before the one of 6 hours ago
    assert [s for s, _ in _listed(path, "7d")] == [0.0, 0.3, 0.3, 1.0]
    assert list(confidence.lowest(path, Window.of("all", now=NOW), limit=2)["confidence"]) == [
        0.0, 0.3]


def test_postgresql_lowest_lists_only_valid_scores_on_the_index(pg_url):
    migrations.init(pg_url)
    _insert(pg_url, SCORES)
    got = _listed(pg_url)
    assert [s for s, _ in got] == [0.0, 0.3, 0.3, 0.9, 1.0]
    assert not any(math.isnan(s) for s, _ in got) and got[1][1] < got[2][1]
    assert [s for s, _ in _listed(pg_url, "7d")] == [0.0, 0.3, 0.3, 1.0]
    from r2w_db.backends.postgresql.confidence import LOWEST, _params

    db = open_database(pg_url)
    with db.read() as conn:
        conn.execute("SET enable_seqscan = off")   # a few rows: show the index can serve it
        plan = "\n".join(r[0] for r in conn.execute(
            "EXPLAIN " + LOWEST, _params(Window.of("7d", now=NOW), limit=10, iso="x")))
    assert f"Index Scan using {INDEX}" in plan and "Sort" not in plan, plan


def test_the_move_to_postgresql_builds_it(tmp_path, pg_templates):
    _, url = pg_templates.moved_demo(tmp_path, seed=0, now=NOW, prefix="scoreindex")
    with open_database(url).read() as conn:
        assert pg_schema.existing_indexes(conn)[INDEX][1]
    assert migrations.schema_version(url) == schema.CURRENT_VERSION
