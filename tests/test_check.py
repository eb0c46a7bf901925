"""`check`: drift, integrity and orphans, without writing."""
import sqlite3

from r2w_db.backends import migrations
from r2w_db.backends import open_database
from r2w_db.backends.sqlite import journal
from r2w_db.figures import check


def journal_mode(path):
    return journal.mode(open_database(path))


def test_prodlike_passes_before_and_after_migrate(prod_db):
    """The file exactly as the application writes it is healthy: this project's own indexes
    missing is a warning, never a failure; the journal mode stays the application's."""
    path, _, _ = prod_db
    before = check.run_check(path)
    assert before["ok"] and before["warnings"] and before["pending_migrations"]
    assert "idx_sessions_created_at" in before["schema"]["missing_additions"]
    assert before["schema"]["missing_documented_indexes"] == []
    migrations.migrate(path)
    assert journal_mode(path) == "delete"
    report = check.run_check(path)
    assert report["ok"] and not report["warnings"], report
    assert report["orphans"] == {"sessions": 0, "cv_uploads": 0}
    assert report["integrity"]["messages"] == ["ok"]


def test_orphans_leave_anonymous_owners_out(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO users (user_id, email, password_hash, created_at) VALUES ('u', 'e', 'h', 'now')")
    conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type, upload_date)"
                     " VALUES (?, ?, ?, 'f', 't', '2026-01-01')",
                     [("1", "u", "j1"), ("2", "anonymous_x", "j2"), ("3", "ghost", "j3"),
                      ("4", "ANONYMOUS_y", "j4")])
    conn.execute("INSERT INTO sessions VALUES ('s', 'gone', '2026-01-01')")
    conn.commit()
    conn.close()
    report = check.run_check(db_path)
    assert report["orphans"] == {"sessions": 1, "cv_uploads": 2}
    assert report["ok"] and report["warnings"]


def test_drift_reports_extra_and_missing(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("ALTER TABLE users ADD COLUMN nickname TEXT")
    conn.execute("DROP INDEX idx_sessions_created_at")
    conn.execute("CREATE INDEX idx_mine ON users(name)")
    conn.commit()
    conn.close()
    report = check.run_check(db_path, quick=True)
    assert report["schema"]["extra_columns"] == ["users.nickname"]
    assert report["schema"]["missing_indexes"] == ["idx_sessions_created_at"]
    assert report["schema"]["missing_additions"] == ["idx_sessions_created_at"]
    assert report["schema"]["extra_indexes"] == ["idx_mine"]
    assert report["integrity"]["mode"] == "quick"
    assert report["ok"] and report["warnings"]  # additions and extras are warnings


def test_a_missing_documented_index_fails(db_path):
    conn = sqlite3.connect(db_path)
    conn.execute("DROP INDEX idx_cv_uploads_user_id")
    conn.commit()
    conn.close()
    report = check.run_check(db_path)
    assert report["schema"]["missing_documented_indexes"] == ["idx_cv_uploads_user_id"]
    assert not report["ok"]


def test_damaged_index_fails_integrity(db_path):
    conn = sqlite3.connect(db_path)
    conn.executemany("INSERT INTO sessions VALUES (?, ?, '2026-01-01')", [(f"s{i}", f"u{i % 7}") for i in range(50)])
    conn.commit()
    # make the index's definition disagree with its content, as a damaged file would
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute("UPDATE sqlite_master SET sql = 'CREATE INDEX idx_sessions_created_at ON sessions(user_id)'"
                 " WHERE name = 'idx_sessions_created_at'")
    conn.commit()
    conn.close()
    report = check.run_check(db_path)
    assert not report["integrity"]["ok"] and not report["ok"]
    assert any("idx_sessions_created_at" in m for m in report["integrity"]["messages"])
