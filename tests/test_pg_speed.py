"""Issue 22, a fast stats and move on PostgreSQL: the server-side checksum, the bulk load's
keys, frozen and all-visible pages, the statistics, and the figures the faster statements give."""
import sqlite3

import pytest

from r2w_db.backends import migrations
from r2w_db.backends.postgresql import move as pg_move
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.engine import schema
from r2w_db.figures import stats
from r2w_db.maintenance import move

from .test_move import NOW, demo  # noqa: F401  (the fixture: a small demo, seed 5)


def changing_before_the_checksums(monkeypatch, table, statement):
    """Runs `statement` in the load's transaction once `table`'s rows are in, before the server
    computes its checksum, which the verification compares (it runs there, before the commit;
    each table's as soon as its COPY ends)."""
    checksums = pg_move._checksums

    def change_then_checksum(conn, tables):
        if table in tables:
            assert conn.execute(statement).rowcount == 1
        return checksums(conn, tables)

    monkeypatch.setattr(pg_move, "_checksums", change_then_checksum)


@pytest.mark.parametrize("table,statement", [
    ("cv_uploads", "UPDATE cv_uploads SET cv_data = cv_data || ' ' WHERE upload_id = "
                   "(SELECT min(upload_id) FROM cv_uploads WHERE cv_data IS NOT NULL)"),
    ("sessions", "UPDATE sessions SET created_at = created_at + interval '1 microsecond' "
                 "WHERE session_id = (SELECT min(session_id) FROM sessions)"),
    ("cv_extraction_cache", "UPDATE cv_extraction_cache SET confidence_score = NULL WHERE "
                            "file_hash = (SELECT min(file_hash) FROM cv_extraction_cache "
                            "WHERE confidence_score IS NOT NULL)"),
])
def test_the_verification_catches_one_changed_value(demo, pg_url, monkeypatch, table, statement):
    changing_before_the_checksums(monkeypatch, table, statement)
    with pytest.raises(move.MoveRefused, match=f"verification FAILED after the copy: {table} "
                                               f".*rolled back: nothing was written") as no:
        move.move(demo, pg_url, record=False)
    verified = {t: f["verified"] for t, f in no.value.report["tables"].items()}
    assert verified == {t: t != table for t in move.TABLES}
    changed = no.value.report["tables"][table]
    assert changed["target_rows"] == changed["rows_moved"]   # found by content, not by count
    with PgDatabase(pg_url).read() as conn:   # the load was rolled back: not even the tables
        assert conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None


def test_the_verification_catches_a_row_changed_on_its_way_to_copy(demo, pg_url, monkeypatch):
    copy = pg_move._copy

    def one_changed(cur, table, rows):   # after the checksum was taken of the right bytes
        def changed():
            for i, row in enumerate(rows):
                yield row.replace(b"@", b"#", 1) if table == "users" and i == 0 else row
        return copy(cur, table, changed())

    monkeypatch.setattr(pg_move, "_copy", one_changed)
    with pytest.raises(move.MoveRefused, match="verification FAILED after the copy: users "):
        move.move(demo, pg_url, record=False)


@pytest.fixture
def edges(tmp_path):
    """Values at the edges of each type's binary form."""
    path = tmp_path / "edges.db"
    migrations.init(path)
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO users (user_id, email, password_hash, created_at, name, "
            "portfolio_created_at) VALUES (?, ?, 'h', ?, ?, ?)", [
                ("u1", "a@x", "0001-01-01T00:00:00", "", None),
                ("u2", "b@x", "1970-01-01T00:00:00.000001", "Zoë 🎉 日本", "1999-12-31T23:59:59.999999"),
                ("u3", "c@x", "2000-01-01T00:00:00", "tab\tnew\nline\\", "2000-01-01 00:00:00Z"),
                ("u4", "d@x", "9999-12-31T23:59:59.999999", "x" * 5000, "2026-11-24T10:15:02+02:00")])
        conn.execute("INSERT INTO sessions VALUES ('s1', 'u1', '2026-11-24T08:15:02.5')")
        conn.executemany(
            "INSERT INTO cv_extraction_cache VALUES (?, ?, 'm', ?, '2026-11-01T00:00:00', ?, ?,"
            " '1999-01-01T00:00:00')", [("h1", "{}", -0.0, 1e300, 0), ("h2", "", 0.1, -1.5, 2**31 - 1),
                       ("h3", "é" * 3000, 5, None, None)])
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, cv_data, file_hash) VALUES ('up1', 'u1', 'j1', 'a.pdf', '.pdf',"
                     " '2026-11-24T08:00:00', NULL, '')")
    return path


def test_the_server_checksums_what_the_converter_checksums(edges, pg_url):
    report = move.move(edges, pg_url, record=False)
    assert all(f["verified"] for f in report["tables"].values()), report["tables"]
    assert move.target_checksums(PgDatabase(pg_url)) == {
        t: (f["rows_moved"], f["checksum"]) for t, f in report["tables"].items()}


@pytest.mark.parametrize("target", ["empty", "initialised"])
def test_a_moved_database_has_its_keys_statistics_and_visibility_map(demo, pg_url, target):
    if target == "initialised":   # tables there, empty: no FREEZE (VACUUM, then autovacuum)
        migrations.init(pg_url)
    report = move.move(demo, pg_url, record=False)
    assert report["outcome"] == "moved" and all(f["verified"] for f in report["tables"].values())
    with PgDatabase(pg_url).read() as conn:
        keys = {name for (name,) in conn.execute(
            "SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u')"
            " AND conrelid::regclass::text = ANY(%s)", (list(move.TABLES),))}
        pages = conn.execute(
            "SELECT relname, relpages, relallvisible, reltuples FROM pg_class"
            " WHERE oid = ANY(%s::regclass[])", (list(move.TABLES),)).fetchall()
        analyzed = conn.execute("SELECT count(*) FROM pg_stat_user_tables WHERE relname = ANY(%s)"
                                " AND last_analyze IS NOT NULL", (list(move.TABLES),)).fetchone()[0]
    assert keys == {"users_pkey", "users_email_key", "sessions_pkey", "cv_uploads_pkey",
                    "cv_uploads_job_id_key", "cv_extraction_cache_pkey"}
    for name, relpages, all_visible, tuples in pages:
        assert relpages > 0 and tuples > 0, name
        if target == "empty":   # COPY FREEZE: index-only scans from the first query
            assert all_visible == relpages, name
    assert analyzed == len(move.TABLES)


def test_a_duplicate_key_in_the_source_leaves_the_target_as_it_was(tmp_path, pg_url):
    path = tmp_path / "dupes.db"
    with sqlite3.connect(path) as conn:   # an SQLite primary key without its index
        for statement in schema.TABLES.values():
            conn.execute(statement.replace("PRIMARY KEY", "").replace("UNIQUE", ""))
        conn.executemany("INSERT INTO sessions VALUES (?, 'u', '2026-11-24T08:00:00')",
                         [("same",), ("same",)])
    with pytest.raises(Exception, match="sessions_pkey|duplicate key"):
        move.move(path, pg_url, record=False)
    with PgDatabase(pg_url).read() as conn:
        assert conn.execute("SELECT to_regclass('sessions')").fetchone()[0] is None


def test_an_infinite_timestamp_is_counted_by_the_index_lookup(pg_url):
    migrations.init(pg_url)
    with PgDatabase(pg_url).write() as conn:
        conn.execute("INSERT INTO sessions VALUES ('s1', 'u', 'infinity'), ('s2', 'u', '-infinity'),"
                     " ('s3', 'u', '2026-11-24 08:00:00+00')")
        conn.execute("INSERT INTO users (user_id, email, password_hash, created_at) VALUES"
                     " ('u', 'u@x', 'h', '2026-11-24 08:00:00+00')")
    figures = stats.collect_stats(pg_url, now=NOW)
    assert figures["data_quality"] == {"users.created_at": 0, "sessions.created_at": 2,
                                       "cv_uploads.upload_date": 0,
                                       "cv_extraction_cache.created_at": 0}
    assert figures["sessions"] == {"active": 2, "expired": 1}   # +infinity is >= any cutoff
