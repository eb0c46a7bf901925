"""PostgreSQL's change token (issue 22): a committed write moves it at once, whoever wrote it and
however long the writer's connection stays open; a read never moves it, so the dashboard's caches
still hit. It is the cluster's current snapshot (backends/postgresql/database_file.py)."""
import time
from datetime import datetime

import pytest

from r2w_db.app import uploads as app_uploads, users
from r2w_db.backends import open_database
from r2w_db.backends.postgresql import database_file as pg_database_file
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.figures import database_file, rollup_window, stats, uploads
from r2w_db.figures.periods import Window

NOW = datetime(2026, 11, 24, 8, 15)


@pytest.fixture
def db(pg_url):
    pg_schema.init(pg_url)
    return open_database(pg_url)


def test_a_write_through_the_application_shows_in_the_next_token(db):
    """With the token kept for TOKEN_REUSE_S as pages keep it: a write of this process reads it
    anew, and the write's commit has moved it (no sleep)."""
    assert pg_database_file.TOKEN_REUSE_S > 0
    before = database_file.change_token(db)
    assert database_file.change_token(db) == before          # kept, as a page's figures keep it
    user = users.create_user(db, "a@example.com", "hash")
    after_signup = database_file.change_token(db)
    assert after_signup != before
    app_uploads.create_cv_upload(db, user, "job-1", "cv.pdf", ".pdf")
    assert database_file.change_token(db) != after_signup


def test_writes_on_a_connection_kept_open_show_at_once(db, monkeypatch):
    """The application's pooled connection: commit after commit on one connection, the token
    moves with each (the tables' tuple counters it replaced were published about 10 s late)."""
    monkeypatch.setattr(pg_database_file, "TOKEN_REUSE_S", 0.0)   # another process's page run
    conn = db.connect(read_only=False)
    try:
        seen = [database_file.change_token(db)]
        for i in range(3):
            started = time.monotonic()
            conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date, status) VALUES (%s, 'u', %s, 'f.pdf', '.pdf', now(),"
                         " 'completed')", (f"x{i}", f"j{i}"))
            conn.commit()
            seen.append(database_file.change_token(db))
            assert time.monotonic() - started < 1.0
        assert len(set(seen)) == len(seen), seen
    finally:
        conn.close()


def test_a_write_not_committed_yet_does_not_move_it_and_its_commit_does(db, monkeypatch):
    monkeypatch.setattr(pg_database_file, "TOKEN_REUSE_S", 0.0)
    conn = db.connect(read_only=False)
    try:
        conn.execute("INSERT INTO users (user_id, email, password_hash, created_at)"
                     " VALUES ('r1', 'b@example.com', 'h', now())")
        during = database_file.change_token(db)
        conn.commit()
        assert database_file.change_token(db) != during
    finally:
        conn.close()


def test_reads_never_move_it(db, monkeypatch, tmp_path):
    """The figures, stats and roll-ups read the database: the token (and the caches keyed on
    it) stays the same."""
    monkeypatch.setattr(pg_database_file, "TOKEN_REUSE_S", 0.0)
    users.create_user(db, "c@example.com", "hash")
    window = Window.of("7d", now=NOW)
    unchanged = []
    # the token is the cluster's snapshot: autovacuum analysing another test's database moves
    # it too (a cache miss, never a stale figure), so the reads get five tries; reads that moved
    # it would move it every time
    for _ in range(5):
        before = database_file.change_token(db)
        stats.collect_stats(db, now=NOW)
        uploads.status_counts(db, window)
        rollup_window.totals(db, window, tmp_path / "monitor.db")
        database_file.storage(db)
        unchanged.append(database_file.change_token(db) == before)
        if unchanged[-1]:
            break
    assert unchanged[-1], "every round of reads moved the token"
    assert isinstance(before, str) and before.count(":") == 2
