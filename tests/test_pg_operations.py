"""The application's everyday operations on PostgreSQL, on data moved there: the same results
as on SQLite. The same calls on two empty databases are tests/test_conformance.py's stories."""
import sqlite3

import pytest

from r2w_db import errors
from r2w_db.app import cache, portfolio, sessions, uploads, users
from r2w_db.backends.postgresql.database import PgDatabase



@pytest.fixture
def both(tmp_path, pg_templates):
    path, pg_url = pg_templates.moved_demo(tmp_path, seed=9)   # a clone of the session's template
    with PgDatabase(pg_url).read() as conn:
        user = conn.execute("SELECT user_id FROM users WHERE NOT starts_with(user_id, 'anonymous_')"
                            " ORDER BY user_id LIMIT 1").fetchone()[0]
        owner = conn.execute("SELECT user_id FROM cv_uploads GROUP BY user_id"
                             " ORDER BY count(*) DESC, user_id LIMIT 1").fetchone()[0]
        entry = conn.execute("SELECT file_hash, access_count FROM cv_extraction_cache"
                             " WHERE access_count BETWEEN 0 AND 100 ORDER BY file_hash"
                             " LIMIT 1").fetchone()
    return path, pg_url, user, owner, entry


def test_sessions_open_resolve_and_close_alike(both):
    path, url, user, _, _ = both
    for db in (path, url):
        session = sessions.create_session(db, user)
        assert sessions.get_user_id_from_session(db, session) == user
        assert sessions.delete_session(db, session) and not sessions.delete_session(db, session)
        assert sessions.get_user_id_from_session(db, session) is None
        with pytest.raises(errors.InvalidValue, match="no user"):
            sessions.create_session(db, "nobody")


def test_uploads_list_in_the_same_shape_and_order(both):
    path, url, _, owner, _ = both
    lite, pg = uploads.get_user_cv_uploads(path, owner), uploads.get_user_cv_uploads(url, owner)
    assert len(lite) >= 2 and pg == lite  # same keys, values, stored timestamp form, order
    for db in (path, url):
        job = f"job-{db is url}"
        uploads.create_cv_upload(db, owner, job, "cv.pdf", ".pdf", "ab" * 32)
        assert uploads.update_cv_upload_status(db, job, "completed", {"name": "Jane"})
        newest = uploads.get_user_cv_uploads(db, owner)[0]
        assert (newest["job_id"], newest["status"], newest["cv_data"]) == (
            job, "completed", {"name": "Jane"})
        assert not uploads.update_cv_upload_status(db, "no-such-job", "failed")
        with pytest.raises(errors.InvalidValue, match="already has an upload"):
            uploads.create_cv_upload(db, owner, job, "cv.pdf", ".pdf")
        with pytest.raises(errors.InvalidValue, match="status must be one of"):
            uploads.update_cv_upload_status(db, job, "done")


def test_a_cache_hit_counts_its_access(both):
    path, url, _, _, (file_hash, count) = both
    for db in (path, url):
        assert isinstance(cache.get_cached_extraction(db, file_hash), (dict, list))
        assert cache.get_cached_extraction(db, "0" * 64) is None
    with PgDatabase(url).read() as conn:
        assert conn.execute("SELECT access_count FROM cv_extraction_cache WHERE file_hash = %s",
                            (file_hash,)).fetchone()[0] == count + 1


def test_a_write_held_up_past_the_lock_timeout_is_database_locked(both):
    _, url, _, owner, _ = both
    job = uploads.get_user_cv_uploads(url, owner)[0]["job_id"]
    with PgDatabase(url).write() as holder:
        holder.execute("SELECT 1 FROM cv_uploads WHERE job_id = %s FOR UPDATE", (job,))
        with pytest.raises(errors.DatabaseLocked):
            uploads.update_cv_upload_status(url, job, "failed")


def test_moved_accounts_portfolios_and_uploads_read_alike(both):
    path, url, _, _, _ = both
    with sqlite3.connect(path) as conn:
        ids = [row[0] for row in conn.execute("SELECT user_id FROM users ORDER BY user_id")]
        owners = [row[0] for row in conn.execute("SELECT DISTINCT user_id FROM cv_uploads")]
    assert ids and owners
    for user_id in ids[:40]:
        lite = users.get_user_by_id(path, user_id)
        assert users.get_user_by_id(url, user_id) == lite
        assert users.get_user_by_email(url, lite["email"]) == lite
        assert portfolio.get_user_portfolio(url, user_id) == portfolio.get_user_portfolio(
            path, user_id)
        assert uploads.get_user_with_cvs(url, user_id) == uploads.get_user_with_cvs(path, user_id)
    assert (uploads.get_multiple_users_cvs(url, owners)
            == uploads.get_multiple_users_cvs(path, owners))
