import re
import sqlite3

import pytest

from r2w_db import errors
from r2w_db.app.users import create_user, get_user_by_email, get_user_by_id, update_user_profile
from r2w_db.engine import timeutil

from .dbhelpers import UUID4, query as rows


def test_create_and_get(db):
    before = timeutil.utcnow()
    user_id = create_user(db, "ann@example.com", "$2b$hash", name="Ann", phone="123")
    after = timeutil.utcnow()
    assert UUID4.match(user_id)
    user = get_user_by_id(db, user_id)
    assert user["user_id"] == user_id
    assert user["email"] == "ann@example.com"
    assert user["password_hash"] == "$2b$hash"
    assert (user["name"], user["phone"]) == ("Ann", "123")
    assert (user["date_of_birth"], user["location"], user["active_portfolio_id"]) == \
        (None, None, None)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", user["created_at"])
    assert before <= timeutil.parse(user["created_at"]) <= after
    assert get_user_by_email(db, "ann@example.com") == user


def test_ids_are_distinct(db):
    ids = {create_user(db, f"u{i}@example.com", "h") for i in range(5)}
    assert len(ids) == 5
    assert rows(db, "SELECT count(*) FROM users") == [(5,)]


def test_missing_user_is_none(db):
    assert get_user_by_id(db, "nope") is None
    assert get_user_by_email(db, "nobody@example.com") is None


def test_duplicate_email_raises_and_writes_nothing(db):
    first = create_user(db, "dup@example.com", "h1")
    with pytest.raises(errors.DuplicateEmail) as info:
        create_user(db, "dup@example.com", "h2", name="Other")
    assert info.value.email == "dup@example.com"
    assert rows(db, "SELECT user_id, password_hash FROM users") == [(first, "h1")]


def test_email_lookup_is_exact(db):
    create_user(db, "Case@example.com", "h")
    assert get_user_by_email(db, "case@example.com") is None
    assert get_user_by_email(db, "Case@example.com")["email"] == "Case@example.com"


@pytest.mark.parametrize("email,password_hash", [("", "h"), ("  ", "h"), (None, "h"),
                                                 ("a@b.c", ""), ("a@b.c", None)])
def test_empty_email_or_hash_is_invalid(db, email, password_hash):
    with pytest.raises(errors.InvalidValue):
        create_user(db, email, password_hash)
    assert rows(db, "SELECT count(*) FROM users") == [(0,)]


def test_update_only_given_fields(db):
    user_id = create_user(db, "p@example.com", "h", name="Pat", phone="555")
    other = create_user(db, "q@example.com", "h", name="Quinn", phone="777")
    assert update_user_profile(db, user_id, location="Haifa", date_of_birth="1990-02-03") is True
    user = get_user_by_id(db, user_id)
    assert (user["name"], user["phone"], user["date_of_birth"], user["location"]) == \
        ("Pat", "555", "1990-02-03", "Haifa")
    assert update_user_profile(db, user_id, name="Patricia") is True
    user = get_user_by_id(db, user_id)
    assert (user["name"], user["phone"], user["location"]) == ("Patricia", "555", "Haifa")
    untouched = get_user_by_id(db, other)
    assert (untouched["name"], untouched["phone"], untouched["location"]) == ("Quinn", "777", None)


def test_update_with_empty_string_sets_it(db):
    user_id = create_user(db, "p@example.com", "h", name="Pat")
    assert update_user_profile(db, user_id, name="") is True
    assert get_user_by_id(db, user_id)["name"] == ""


def test_update_missing_user_is_false(db):
    assert update_user_profile(db, "ghost", name="x") is False
    assert update_user_profile(db, "ghost") is False


def test_update_nothing_given_is_true_when_user_exists(db):
    user_id = create_user(db, "p@example.com", "h", name="Pat")
    assert update_user_profile(db, user_id) is True
    assert get_user_by_id(db, user_id)["name"] == "Pat"


def test_read_on_database_without_users_table(tmp_path):
    path = tmp_path / "empty.db"
    sqlite3.connect(path).execute("CREATE TABLE other (x)").connection.close()
    with pytest.raises(errors.SchemaTooOld):
        get_user_by_id(path, "x")


def test_missing_database_file(tmp_path):
    with pytest.raises(errors.DatabaseMissing):
        get_user_by_email(tmp_path / "absent.db", "a@b.c")
    assert not (tmp_path / "absent.db").exists()
