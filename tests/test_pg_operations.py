"""The application's everyday operations on PostgreSQL (app.pg_operations, through the SQLite
entry points): the same results and errors as on SQLite, on the same moved data."""
import sqlite3
from datetime import timedelta

import pytest

from r2w_db import errors
from r2w_db.app import cache, portfolio, sessions, uploads, users
from r2w_db.engine import timeutil
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql.database import PgDatabase

ANONYMOUS = "anonymous_a1b2c3d4e5f6"
ENTRY = ("SELECT access_count, created_at, confidence_score, cv_data FROM cv_extraction_cache"
         " WHERE file_hash = {}")


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


# ------------------------------------------------- the same calls on two empty databases

@pytest.fixture
def empty(tmp_path, pg_url):
    path = tmp_path / "empty.db"
    migrations.init(path)
    pg_schema.init(PgDatabase(pg_url))
    return path, pg_url


class Transcript:
    """What a sequence of calls returned or raised, with fresh ids and timestamps replaced by
    markers once checked (a canonical stored timestamp of the last minute)."""

    def __init__(self):
        self.lines, self.ids = [], {}

    def call(self, func, *args, **kwargs):
        try:
            value = func(*args, **kwargs)
        except errors.R2WError as exc:
            value = ("raised", type(exc).__name__, str(exc))
        self.lines.append((func.__name__, self.plain(value)))
        return value

    def plain(self, value, key=None):
        if isinstance(value, dict):
            return {self.plain(k): self.plain(v, k) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.plain(v) for v in value]
        if key in ("created_at", "expires_at", "upload_date", "portfolio_created_at",
                   "portfolio_expires_at"):
            return self.moment(value)
        if isinstance(value, str):
            for raw, marker in self.ids.items():
                value = value.replace(raw, marker)
        return value

    def name(self, value, marker):
        """Call `value` (a new id) `marker` from now on, in the line that returned it too."""
        self.ids[value] = marker
        if self.lines and self.lines[-1][1] == value:
            self.lines[-1] = (self.lines[-1][0], marker)
        return value

    @staticmethod
    def moment(value):
        if value is None:
            return None
        moment = timeutil.parse(value)
        assert moment is not None and timeutil.iso(moment) == value  # the stored form
        ahead = moment - timeutil.utcnow()
        assert -timedelta(minutes=1) < ahead <= timedelta(days=30)
        return "<now+30d>" if ahead > timedelta(days=29) else "<now>"


def accounts_story(db):
    t = Transcript()
    jane = t.name(t.call(users.create_user, db, "jane@example.com", "h1", name="Jane"), "<jane>")
    t.call(users.create_user, db, "jane@example.com", "h2")
    t.call(users.create_user, db, " ", "h2")
    t.call(users.get_user_by_email, db, "jane@example.com")
    t.call(users.get_user_by_email, db, "JANE@example.com")
    t.call(users.get_user_by_id, db, "nobody")
    for kwargs in ({"phone": "050", "location": "Haifa"}, {}, {"date_of_birth": "1990-01-02"}):
        t.call(users.update_user_profile, db, jane, **kwargs)
        t.call(users.update_user_profile, db, "nobody", **kwargs)
    t.call(users.get_user_by_id, db, jane)
    t.call(portfolio.get_user_portfolio, db, jane)
    t.call(portfolio.update_user_portfolio, db, jane, "p-1", "https://p.example/1")
    t.call(portfolio.update_user_portfolio, db, "nobody", "p-2", "https://p.example/2")
    t.call(portfolio.update_user_portfolio, db, jane, "", "https://p.example/3")
    t.call(portfolio.get_user_portfolio, db, jane)
    t.call(users.get_user_by_id, db, jane)
    t.call(portfolio.clear_user_portfolio, db, jane)
    t.call(portfolio.clear_user_portfolio, db, "nobody")
    t.call(portfolio.get_user_portfolio, db, jane)
    return t.lines


def uploads_story(db):
    t = Transcript()
    jane = t.name(users.create_user(db, "jane@example.com", "h"), "<jane>")
    omar = t.name(users.create_user(db, "omar@example.com", "h"), "<omar>")
    for job, owner in (("job-a", ANONYMOUS), ("job-b", ANONYMOUS), ("job-c", jane)):
        t.name(uploads.create_cv_upload(db, owner, job, f"{job}.pdf", ".pdf", "ab" * 32),
               f"<upload {job}>")
    t.call(uploads.transfer_cv_ownership, db, "job-a", jane)  # anonymous -> new user
    t.call(uploads.transfer_cv_ownership, db, "job-a", jane)  # already hers
    t.call(uploads.transfer_cv_ownership, db, "job-a", omar)  # a registered owner's: refused
    t.call(uploads.transfer_cv_ownership, db, "job-b", "nobody")
    t.call(uploads.transfer_cv_ownership, db, "job-b", "anonymous_000000000000")
    t.call(uploads.transfer_cv_ownership, db, "no-such-job", jane)
    uploads.update_cv_upload_status(db, "job-c", "completed", {"name": "Jane"})
    t.call(uploads.get_user_with_cvs, db, jane)
    t.call(uploads.get_user_with_cvs, db, omar)
    t.call(uploads.get_user_with_cvs, db, "nobody")
    t.call(uploads.get_multiple_users_cvs, db, [jane, ANONYMOUS, omar, "nobody", jane])
    t.call(uploads.get_multiple_users_cvs, db, [])
    t.call(uploads.get_multiple_users_cvs, db, jane)
    t.call(uploads.get_multiple_users_cvs, db, [jane, 7])
    return t.lines


def _entry(db, file_hash):
    if isinstance(db, str):
        with PgDatabase(db).read() as conn:
            row = conn.execute(ENTRY.format("%s"), (file_hash,)).fetchone()
    else:
        with sqlite3.connect(db) as conn:
            row = conn.execute(ENTRY.format("?"), (file_hash,)).fetchone()
    return row and (row[0], timeutil.parse(row[1]), row[2], row[3])


def cache_story(db):
    t, hit, low = Transcript(), "a" * 64, "b" * 64
    t.call(cache.cache_extraction_result, db, hit, {"name": "Jane"}, "gpt-4o", 0.0, 0.75)
    t.call(cache.cache_extraction_result, db, low, {"name": "Low"}, "gpt-4o", 0.0, 0.7499)
    t.call(cache.cache_extraction_result, db, low, {"name": "Low"}, "gpt-4o", 0.0, None)
    for bad in ({"confidence": 1.5}, {"temperature": float("nan")}, {"cv_data": "{not json"},
                {"file_hash": ""}, {"model": ""}, {"confidence": True}):
        args = {"file_hash": low, "cv_data": {}, "model": "m", "temperature": 0.2,
                "confidence": 0.9, **bad}
        t.call(cache.cache_extraction_result, db, **args)
    t.call(cache.get_cached_extraction, db, low)
    t.call(cache.get_cached_extraction, db, hit)
    first = _entry(db, hit)
    t.call(cache.cache_extraction_result, db, hit, '{"name": "Jane B"}', "gpt-4o", 0.1, 0.9)
    again = _entry(db, hit)
    t.lines.append(("re-cache keeps created_at", again[1] == first[1], again[0], again[2:]))
    t.call(cache.cache_extraction_result, db, low, [1, 2], "m", 0.0, 0.6, threshold=0.5)
    t.call(cache.get_cached_extraction, db, low)
    return t.lines


def test_the_stories_record_what_the_application_expects(empty):
    path, _ = empty
    lines = dict(enumerate(uploads_story(path)))
    assert lines[0][1]["success"] and lines[0][1]["message"] == (
        f"transferred from {ANONYMOUS} to <jane>")
    lines = cache_story(path)
    assert lines[0][1] is True and lines[1][1] is False and lines[2][1] is False
    assert lines[9] == ("get_cached_extraction", None)  # the refused entry was never written
    assert lines[-1] == ("get_cached_extraction", [1, 2])
    for db in empty:
        jane = users.create_user(db, "p@example.com", "h")
        portfolio.update_user_portfolio(db, jane, "p-9", "https://p.example/9")
        shown = portfolio.get_user_portfolio(db, jane)
        assert (timeutil.parse(shown["expires_at"]) - timeutil.parse(shown["created_at"])
                == timedelta(days=30)) and not shown["expired"]


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
