"""The application's everyday operations on PostgreSQL (app.pg_operations, through the SQLite
entry points): the same results and errors as on SQLite, on the same moved data."""
import pytest

from r2w_db import errors
from r2w_db.app import cache, sessions, uploads
from r2w_db.demo.builder import build_demo
from r2w_db.engine.pg import PgDatabase
from r2w_db.maintenance import move


@pytest.fixture
def both(tmp_path, pg_url):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=9)
    move.move(path, pg_url, record=False)
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
