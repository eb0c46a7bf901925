import json
import re
import sqlite3
from datetime import timedelta

import pytest

from r2w_db import errors
from r2w_db.app.uploads import (
    create_cv_upload,
    get_multiple_users_cvs,
    get_user_cv_uploads,
    get_user_with_cvs,
    transfer_cv_ownership,
    update_cv_upload_status,
)
from r2w_db.app.users import create_user
from r2w_db.engine import timeutil

from .dbhelpers import UUID4, query


def put(db, job_id, user_id, upload_date, cv_data=None, status="completed"):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                     " upload_date, cv_data, status) VALUES (?, ?, ?, 'cv.pdf', '.pdf', ?, ?, ?)",
                     (f"up-{job_id}", user_id, job_id, upload_date, cv_data, status))
    conn.close()


def owners(db):
    return dict(query(db, "SELECT job_id, user_id FROM cv_uploads ORDER BY job_id"))


def test_create_upload(db):
    before = timeutil.utcnow()
    upload_id = create_cv_upload(db, "anonymous_1", "job-1", "cv.pdf", ".pdf", file_hash="abc")
    assert UUID4.match(upload_id)
    [row] = get_user_cv_uploads(db, "anonymous_1")
    assert row["upload_id"] == upload_id
    assert (row["user_id"], row["job_id"], row["filename"], row["file_type"]) == \
        ("anonymous_1", "job-1", "cv.pdf", ".pdf")
    assert (row["status"], row["file_hash"], row["cv_data"]) == ("processing", "abc", None)
    assert before <= timeutil.parse(row["upload_date"]) <= timeutil.utcnow()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", row["upload_date"])


def test_duplicate_job_id_is_invalid_and_writes_nothing(db):
    create_cv_upload(db, "anonymous_1", "job-1", "a.pdf", ".pdf")
    with pytest.raises(errors.InvalidValue, match="job-1"):
        create_cv_upload(db, "anonymous_2", "job-1", "b.pdf", ".pdf")
    assert query(db, "SELECT user_id, filename FROM cv_uploads") == [("anonymous_1", "a.pdf")]


@pytest.mark.parametrize("field", ["user_id", "job_id", "filename", "file_type"])
def test_empty_required_field_is_invalid(db, field):
    args = {"user_id": "u", "job_id": "j", "filename": "f", "file_type": ".pdf", field: ""}
    with pytest.raises(errors.InvalidValue):
        create_cv_upload(db, **args)
    assert query(db, "SELECT count(*) FROM cv_uploads") == [(0,)]


def test_list_is_newest_first_by_instant(db):
    now = timeutil.utcnow()
    put(db, "a-oldest", "u1", timeutil.iso(now - timedelta(days=3)))
    # space separator: as a string it sorts before every 'T' timestamp of the same day
    put(db, "b-newest", "u1", (now - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"))
    put(db, "c-middle", "u1", timeutil.iso(now - timedelta(hours=2)))
    # +05:00: reads as the newest string, is the second oldest instant
    put(db, "d-second-oldest", "u1",
        (now - timedelta(days=2) + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S+05:00"))
    put(db, "e-unparseable", "u1", "garbage")
    put(db, "other", "u2", timeutil.iso(now))
    got = [row["job_id"] for row in get_user_cv_uploads(db, "u1")]
    assert got == ["b-newest", "c-middle", "d-second-oldest", "a-oldest", "e-unparseable"]
    assert get_user_cv_uploads(db, "nobody") == []


def test_cv_data_is_parsed_when_json(db):
    now = timeutil.iso(timeutil.utcnow())
    put(db, "j1", "u", now, json.dumps({"name": "Ann", "skills": ["sql"]}))
    put(db, "j2", "u", now, "{not json")
    put(db, "j3", "u", now, None)
    got = {row["job_id"]: row["cv_data"] for row in get_user_cv_uploads(db, "u")}
    assert got == {"j1": {"name": "Ann", "skills": ["sql"]}, "j2": "{not json", "j3": None}


def test_update_status_and_cv_data(db):
    create_cv_upload(db, "u", "job", "cv.pdf", ".pdf")
    assert update_cv_upload_status(db, "job", "completed", {"name": "Ann"}) is True
    assert query(db, "SELECT status, cv_data FROM cv_uploads") == \
        [("completed", json.dumps({"name": "Ann"}))]
    assert update_cv_upload_status(db, "job", "failed") is True  # cv_data left unchanged
    assert query(db, "SELECT status, cv_data FROM cv_uploads") == \
        [("failed", json.dumps({"name": "Ann"}))]
    assert update_cv_upload_status(db, "job", "completed", '{"raw": 1}') is True
    assert query(db, "SELECT cv_data FROM cv_uploads") == [('{"raw": 1}',)]
    assert update_cv_upload_status(db, "job", "completed", [1, 2]) is True
    assert get_user_cv_uploads(db, "u")[0]["cv_data"] == [1, 2]


@pytest.mark.parametrize("status", ["uploaded", "processing", "completed", "failed"])
def test_every_status_the_application_writes_is_accepted(db, status):
    create_cv_upload(db, "anonymous_0123456789ab", "job", "cv.pdf", ".pdf", file_hash="abc")
    assert update_cv_upload_status(db, "job", status) is True   # the application's own call
    assert query(db, "SELECT status, cv_data FROM cv_uploads") == [(status, None)]


def test_update_unknown_job_is_false(db):
    assert update_cv_upload_status(db, "ghost", "completed") is False


@pytest.mark.parametrize("status", ["done", "Completed", "Uploaded", "uploaded ", "", None, "other"])
def test_update_bad_status_is_invalid(db, status):
    create_cv_upload(db, "u", "job", "cv.pdf", ".pdf")
    with pytest.raises(errors.InvalidValue):
        update_cv_upload_status(db, "job", status)
    assert query(db, "SELECT status FROM cv_uploads") == [("processing",)]


def test_update_bad_cv_data_is_invalid(db):
    create_cv_upload(db, "u", "job", "cv.pdf", ".pdf")
    with pytest.raises(errors.InvalidValue):
        update_cv_upload_status(db, "job", "completed", 42)
    with pytest.raises(errors.InvalidValue):
        update_cv_upload_status(db, "job", "completed", {"when": object()})
    assert query(db, "SELECT status, cv_data FROM cv_uploads") == [("processing", None)]


def test_transfer_from_anonymous(db):
    user = create_user(db, "t@example.com", "h")
    create_cv_upload(db, "anonymous_abc", "job", "cv.pdf", ".pdf")
    create_cv_upload(db, "anonymous_abc", "other-job", "cv2.pdf", ".pdf")
    result = transfer_cv_ownership(db, "job", user)
    assert result["success"] is True
    assert (result["job_id"], result["old_user_id"], result["new_user_id"]) == \
        ("job", "anonymous_abc", user)
    assert result["message"]
    assert owners(db) == {"job": user, "other-job": "anonymous_abc"}
    again = transfer_cv_ownership(db, "job", user)
    assert (again["success"], again["old_user_id"]) == (True, user)
    assert owners(db) == {"job": user, "other-job": "anonymous_abc"}


def test_transfer_from_registered_user_is_refused(db):
    owner = create_user(db, "owner@example.com", "h")
    thief = create_user(db, "thief@example.com", "h")
    create_cv_upload(db, owner, "job", "cv.pdf", ".pdf")
    before = query(db, "SELECT * FROM cv_uploads")
    result = transfer_cv_ownership(db, "job", thief)
    assert result["success"] is False
    assert (result["old_user_id"], result["new_user_id"]) == (owner, thief)
    assert "registered" in result["message"]
    assert query(db, "SELECT * FROM cv_uploads") == before


def test_transfer_needs_the_literal_anonymous_prefix(db):
    user = create_user(db, "t@example.com", "h")
    for job, owner in (("j1", "Anonymous_x"), ("j2", "anonymousXx"), ("j3", "ANONYMOUS_x")):
        create_cv_upload(db, owner, job, "cv.pdf", ".pdf")
        assert transfer_cv_ownership(db, job, user)["success"] is False
    assert owners(db) == {"j1": "Anonymous_x", "j2": "anonymousXx", "j3": "ANONYMOUS_x"}


def test_transfer_refusals_write_nothing(db):
    create_cv_upload(db, "anonymous_a", "job", "cv.pdf", ".pdf")
    missing_job = transfer_cv_ownership(db, "ghost-job", "anything")
    assert (missing_job["success"], missing_job["old_user_id"]) == (False, None)
    missing_user = transfer_cv_ownership(db, "job", "no-such-user")
    assert (missing_user["success"], missing_user["old_user_id"]) == (False, "anonymous_a")
    anon_target = transfer_cv_ownership(db, "job", "anonymous_b")
    assert anon_target["success"] is False
    assert owners(db) == {"job": "anonymous_a"}


def test_get_user_with_cvs(db):
    user = create_user(db, "w@example.com", "h", name="Wen")
    now = timeutil.utcnow()
    put(db, "old", user, timeutil.iso(now - timedelta(days=2)), json.dumps({"v": 1}))
    put(db, "new", user, (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"), "plain")
    put(db, "theirs", "someone-else", timeutil.iso(now))
    got = get_user_with_cvs(db, user)
    assert got["user_id"] == user and got["email"] == "w@example.com" and got["name"] == "Wen"
    assert [cv["job_id"] for cv in got["cvs"]] == ["new", "old"]
    assert got["cvs"][1]["cv_data"] == {"v": 1}
    assert got["cvs"][0]["cv_data"] == "plain"
    assert got["cvs"] == get_user_cv_uploads(db, user)


def test_get_user_with_no_cvs_and_missing_user(db):
    user = create_user(db, "w@example.com", "h")
    got = get_user_with_cvs(db, user)
    assert got["cvs"] == []
    assert got["user_id"] == user
    assert get_user_with_cvs(db, "ghost") is None


def traced_reads(monkeypatch):
    """Record every statement run on reader connections."""
    from r2w_db.backends.sqlite import connection   # where Database.read finds open_reader
    statements = []
    real_open = connection.open_reader

    def traced(path):
        conn = real_open(path)
        conn.set_trace_callback(statements.append)
        return conn
    monkeypatch.setattr(connection, "open_reader", traced)
    return statements


def test_get_user_with_cvs_is_one_query(db, monkeypatch):
    user = create_user(db, "w@example.com", "h")
    put(db, "a", user, timeutil.now_iso())
    put(db, "b", user, timeutil.now_iso())
    statements = traced_reads(monkeypatch)
    assert len(get_user_with_cvs(db, user)["cvs"]) == 2
    data = [s for s in statements if "users" in s or "cv_uploads" in s]
    assert len(data) == 1 and "LEFT JOIN" in data[0]


def test_get_multiple_users_cvs(db):
    now = timeutil.utcnow()
    put(db, "a1", "a", timeutil.iso(now - timedelta(days=1)))
    put(db, "a2", "a", timeutil.iso(now))
    put(db, "b1", "b", timeutil.iso(now))
    put(db, "c1", "c", timeutil.iso(now))
    got = get_multiple_users_cvs(db, ["a", "b", "missing", "a"])
    assert list(got) == ["a", "b", "missing"]
    assert [cv["job_id"] for cv in got["a"]] == ["a2", "a1"]
    assert [cv["job_id"] for cv in got["b"]] == ["b1"]
    assert got["missing"] == []
    assert get_multiple_users_cvs(db, []) == {}


def test_get_multiple_users_cvs_chunks_of_500(db, monkeypatch):
    now = timeutil.iso(timeutil.utcnow())
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("INSERT INTO cv_uploads (upload_id, user_id, job_id, filename, file_type,"
                         " upload_date) VALUES (?, ?, ?, 'f', '.pdf', ?)",
                         [(f"up{i}", f"user{i}", f"job{i}", now) for i in range(1201)])
    conn.close()
    statements = traced_reads(monkeypatch)
    asked = [f"user{i}" for i in range(1201)] + ["nobody"]
    got = get_multiple_users_cvs(db, asked)
    assert list(got) == asked
    assert all([cv["job_id"] for cv in got[f"user{i}"]] == [f"job{i}"] for i in range(1201))
    assert got["nobody"] == []
    in_queries = [s for s in statements if " IN (" in s]
    assert len(in_queries) == 3  # 500 + 500 + 202
    assert max(s.count("'user") + s.count("'nobody") for s in in_queries) <= 500


def test_get_multiple_users_cvs_rejects_a_single_string(db):
    with pytest.raises(errors.InvalidValue):
        get_multiple_users_cvs(db, "abc")
