"""The Space view (issue 21): every table and index with rows, bytes, share and growth, compared
with SQLite's dbstat and PostgreSQL's own size functions; the estimate when dbstat is missing;
growth from injected snapshots; the unused space; the page (AppTest)."""
import dataclasses
import sqlite3
import time
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from r2w_db.backends import sqlite as sqlite_backend
from r2w_db.figures import snapshot, space
from r2w_db.monitor.history_store import HistoryStore

from .test_history_page import NOW, ROOT, demo_db, monitor  # noqa: F401  (fixtures)

PAGE = "pages/9_Space.py"


@pytest.fixture
def holey(demo_db, tmp_path):
    """The demo with a third of its uploads deleted: free pages to reclaim."""
    path = tmp_path / "holey.db"
    with sqlite3.connect(demo_db) as source, sqlite3.connect(path) as target:
        source.backup(target)
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM cv_uploads WHERE rowid % 3 = 0")
    return path


@pytest.fixture
def no_dbstat():
    """SQLite as built without dbstat (the feature off; the backend is frozen, so set by hand)."""
    backend = sqlite_backend.BACKEND
    kept = backend.features
    object.__setattr__(backend, "features", dataclasses.replace(kept, dbstat=False))
    yield
    object.__setattr__(backend, "features", kept)


def by_name(got):
    return got["relations"].set_index("name")


def test_sqlite_sizes_are_dbstats(holey, monitor):
    got = space.space(holey, monitor=monitor)
    assert got["method"] == "dbstat" and got["why"] is None and got["rows"] == "count"
    rows = by_name(got)
    with sqlite3.connect(holey) as conn:
        dbstat = dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        page_size, page_count, free = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                       for p in ("page_size", "page_count", "freelist_count"))
        objects = conn.execute("SELECT name, type, tbl_name FROM sqlite_master WHERE type IN "
                               "('table', 'index') AND name NOT LIKE 'sqlite%'").fetchall()
        counts = {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]
                  for n, kind, _ in objects if kind == "table"}
    assert sorted(rows.index) == sorted(n for n, _, _ in objects)
    for name, kind, table in objects:
        assert rows.loc[name, "bytes"] == dbstat[name], name
        assert rows.loc[name, "kind"] == kind and rows.loc[name, "table"] == table
        assert rows.loc[name, "share"] == pytest.approx(dbstat[name] / (page_size * page_count))
    for table, n in counts.items():
        assert rows.loc[table, "rows"] == n
        indexes = [i for i, kind, t in objects if kind == "index" and t == table]
        assert rows.loc[table, "total_bytes"] == dbstat[table] + sum(dbstat[i] for i in indexes)
    assert list(got["relations"]["bytes"]) == sorted(got["relations"]["bytes"], reverse=True)
    assert got["database_bytes"] == page_size * page_count
    unused = got["unused"]
    assert free > 0 and unused["what"] == "free pages" and unused["bytes"] == free * page_size
    assert unused["share"] == pytest.approx(free / page_count) and unused["tables"].empty
    assert got["reclaimed_by"] == "vacuum"


def test_without_dbstat_the_sizes_are_an_estimate_that_adds_up(holey, monitor, no_dbstat):
    exact = by_name(space.space(holey, monitor=monitor, exact=True))
    got = space.space(holey, monitor=monitor)
    assert got["method"] == "estimate" and got["why"] == "this SQLite build has no dbstat"
    rows = by_name(got)
    assert sorted(rows.index) == sorted(exact.index)
    assert (rows["rows"].dropna() == exact["rows"].dropna()).all()
    with sqlite3.connect(holey) as conn:
        page_size, page_count, free = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                                       for p in ("page_size", "page_count", "freelist_count"))
    # the estimate spreads the used pages (all but the free ones) over the tables and indexes
    assert rows["bytes"].sum() == pytest.approx((page_count - free) * page_size, abs=len(rows))
    # the biggest table is still the biggest, within a factor of two of dbstat
    table = exact[exact["kind"] == "table"]["bytes"].idxmax()
    assert rows.loc[table, "bytes"] == pytest.approx(exact.loc[table, "bytes"], rel=0.5)


def test_growth_compares_with_snapshots_seven_and_thirty_days_old(demo_db, monitor):
    now_sizes = by_name(space.space(demo_db, monitor=monitor))
    table, index = "cv_uploads", "idx_cv_uploads_file_hash"
    store = HistoryStore(monitor)

    def record(moment, less_table, less_index, file_bytes):
        store.record_snapshot(demo_db, {
            f"tables.{table}.bytes": int(now_sizes.loc[table, "bytes"]) - less_table,
            f"indexes.{index}.bytes": int(now_sizes.loc[index, "bytes"]) - less_index,
            "file.size_bytes": file_bytes}, taken_at=moment)

    # too recent for the 7 days, and too old for either (more than a day beyond 30 days)
    record(NOW - timedelta(days=3), 1, 1, 1)
    record(NOW - timedelta(days=32), 1, 1, 1)
    got = space.space(demo_db, monitor=monitor)
    assert got["compared"] == {7: None, 30: None}
    assert got["relations"]["growth_7d"].isna().all() and got["relations"]["growth_30d"].isna().all()
    # the newest snapshot at least 7 (30) days old, within a day
    record(NOW - timedelta(days=7, hours=20), 70_000, 0, 1000)
    record(NOW - timedelta(days=7, hours=2), 8192, 4096, 5000)
    record(NOW - timedelta(days=30, hours=5), 65_536, 16_384, 2000)
    got = space.space(demo_db, monitor=monitor)
    rows = by_name(got)
    assert got["compared"][7].startswith((NOW - timedelta(days=7, hours=2)).isoformat()[:13])
    assert rows.loc[table, "growth_7d"] == 8192 and rows.loc[index, "growth_7d"] == 4096
    assert rows.loc[table, "growth_30d"] == 65_536 and rows.loc[index, "growth_30d"] == 16_384
    other = rows.drop(index=[table, index])
    assert other["growth_7d"].isna().all()    # not in the injected snapshots: no growth
    assert got["database_growth"] == {7: got["database_bytes"] - 5000,
                                      30: got["database_bytes"] - 2000}


def test_a_snapshot_records_every_indexs_bytes(demo_db, monitor):
    metrics = snapshot.take_snapshot(demo_db, now=NOW, last_runs={})["metrics"]
    rows = by_name(space.space(demo_db, monitor=monitor))
    indexes = rows[rows["kind"] == "index"]
    assert {k for k in metrics if k.startswith("indexes.")} == {f"indexes.{i}.bytes"
                                                                for i in indexes.index}
    for name, row in indexes.iterrows():
        assert metrics[f"indexes.{name}.bytes"] == row["bytes"]
    for table, row in rows[rows["kind"] == "table"].iterrows():
        assert metrics[f"tables.{table}.bytes"] + metrics[f"tables.{table}.index_bytes"] \
            == row["total_bytes"]


@pytest.fixture
def pg_dead(tmp_path, pg_templates):
    """The demo moved into PostgreSQL, a quarter of its uploads deleted: dead tuples."""
    import psycopg

    _, url = pg_templates.moved_demo(tmp_path, seed=3, now=NOW)
    with psycopg.connect(url, autocommit=True) as conn:
        # no autovacuum racing the counts; the deleted quarter stays as dead tuples
        conn.execute("ALTER TABLE cv_uploads SET (autovacuum_enabled = false)")
        conn.execute("DELETE FROM cv_uploads WHERE md5(upload_id) < '4'")
        conn.execute("ANALYZE")
    for _ in range(50):   # the statistics reach pg_stat_user_tables once the backend flushes
        with psycopg.connect(url, autocommit=True) as conn:
            if conn.execute("SELECT n_dead_tup FROM pg_stat_user_tables"
                            " WHERE relname = 'cv_uploads'").fetchone()[0]:
                break
        time.sleep(0.1)
    return url


def test_postgresql_sizes_are_its_own_size_functions(pg_dead, monitor):
    import psycopg

    url = pg_dead
    got = space.space(url, monitor=monitor)
    assert got["method"] == "catalog" and got["why"] is None
    rows = by_name(got)
    with psycopg.connect(url) as conn:
        tables = {r[0]: r[1:] for r in conn.execute(
            "SELECT c.relname, pg_table_size(c.oid), pg_total_relation_size(c.oid),"
            " pg_indexes_size(c.oid) FROM pg_class c WHERE c.relkind = 'r'"
            " AND c.relnamespace = current_schema()::regnamespace")}
        indexes = {r[0]: r[1:] for r in conn.execute(
            "SELECT ic.relname, tc.relname, pg_relation_size(i.indexrelid) FROM pg_index i"
            " JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid"
            " WHERE tc.relnamespace = current_schema()::regnamespace")}
        database = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        dead = dict(conn.execute("SELECT relname, n_dead_tup FROM pg_stat_user_tables"
                                 " WHERE schemaname = current_schema()"))
    assert sorted(rows.index) == sorted([*tables, *indexes])
    for table, (table_size, total, index_size) in tables.items():
        assert rows.loc[table, "bytes"] == table_size          # heap and TOAST
        assert rows.loc[table, "total_bytes"] == total == table_size + index_size
        assert rows.loc[table, "rows"] == counts[table]
    for index, (table, size) in indexes.items():
        assert rows.loc[index, "bytes"] == size and rows.loc[index, "table"] == table
    assert got["database_bytes"] == database
    unused = got["unused"]
    assert unused["what"] == "dead tuples"
    found = unused["tables"].set_index("table")
    assert dict(found["dead_rows"]) == dead and found.loc["cv_uploads", "dead_rows"] > 0
    assert 0 < found.loc["cv_uploads", "bytes"] < tables["cv_uploads"][0]
    assert unused["bytes"] == found["bytes"].sum()


def run(db, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", str(db))
    return AppTest.from_file(str(ROOT / PAGE), default_timeout=60).run()


def test_the_space_page(holey, monitor, monkeypatch):
    at = run(holey, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    shown = {m.label: m.value for m in at.metric}
    assert shown["Database"] == f"{holey.stat().st_size / 2 ** 20:,.1f} MB"
    assert set(shown) >= {"Tables", "Indexes", "Unused (free pages)"}
    frame = at.dataframe[0].value
    assert list(frame.columns) == space.COLUMNS and len(frame) >= 8
    assert {"cv_uploads", "idx_cv_uploads_file_hash"} <= set(frame["name"])
    captions = " ".join(c.value for c in at.caption)
    assert "dbstat" in captions and "(exact)" in captions
    assert "Growth needs a snapshot 7 (30) days old" in captions
    assert len(at.get("download_button")) == 1     # the table's CSV (no dead-tuple table)
    text = " ".join(m.value for m in at.markdown)
    assert "of free pages" in text and "VACUUM" in text


def test_the_space_page_says_when_the_sizes_are_estimated_and_shows_growth(
        holey, monitor, monkeypatch, no_dbstat):
    HistoryStore(monitor).record_snapshot(holey, {"tables.cv_uploads.bytes": 4096},
                                          taken_at=NOW - timedelta(days=7, hours=1))
    at = run(holey, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    captions = " ".join(c.value for c in at.caption)
    assert "Bytes **estimated** (this SQLite build has no dbstat)" in captions
    assert "Growth: bytes now minus the snapshot of 2026-11-17 11:00 UTC (7 days)" in captions
    frame = at.dataframe[0].value.set_index("name")
    assert frame.loc["cv_uploads", "growth_7d"] == frame.loc["cv_uploads", "bytes"] - 4096


def test_the_space_page_on_postgresql_lists_the_dead_tuples(pg_dead, monitor, monkeypatch):
    at = run(pg_dead, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    assert "Unused (dead tuples)" in {m.label for m in at.metric}
    assert "pg_table_size (heap and TOAST)" in " ".join(c.value for c in at.caption)
    dead = at.dataframe[1].value.set_index("table")
    assert dead.loc["cv_uploads", "dead_rows"] > 0
    assert len(at.get("download_button")) == 2
    assert "VACUUM" in " ".join(m.value for m in at.markdown)
