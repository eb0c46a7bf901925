import re
import sqlite3
import time
from datetime import timedelta

import pytest

from r2w_db import errors
from r2w_db.app.sessions import (
    cleanup_old_sessions,
    count_old_sessions,
    create_session,
    delete_session,
    get_user_id_from_session,
)
from r2w_db.app.users import create_user
from r2w_db.engine import timeutil

from .dbhelpers import UUID4


@pytest.fixture
def user(db):
    return create_user(db, "s@example.com", "h")


def put(db, session_id, user_id, created_at):
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO sessions VALUES (?, ?, ?)", (session_id, user_id, created_at))
    conn.close()


def ids(db):
    conn = sqlite3.connect(db)
    try:
        return sorted(r[0] for r in conn.execute("SELECT session_id FROM sessions"))
    finally:
        conn.close()


def fmt(moment, sep="T", suffix=""):
    return moment.strftime(f"%Y-%m-%d{sep}%H:%M:%S") + suffix


def test_create_resolve_delete(db, user):
    session_id = create_session(db, user)
    assert UUID4.match(session_id)
    assert get_user_id_from_session(db, session_id) == user
    assert delete_session(db, session_id) is True
    assert get_user_id_from_session(db, session_id) is None
    assert delete_session(db, session_id) is False
    assert ids(db) == []


def test_created_at_is_now(db, user):
    before = timeutil.utcnow()
    session_id = create_session(db, user)
    conn = sqlite3.connect(db)
    stored = conn.execute("SELECT created_at FROM sessions WHERE session_id = ?",
                          (session_id,)).fetchone()[0]
    conn.close()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}", stored)
    assert before <= timeutil.parse(stored) <= timeutil.utcnow()


def test_session_for_unknown_user_is_refused(db):
    with pytest.raises(errors.InvalidValue):
        create_session(db, "ghost")
    with pytest.raises(errors.InvalidValue):
        create_session(db, "")
    assert ids(db) == []


def test_unknown_session_is_none(db):
    assert get_user_id_from_session(db, "nope") is None


def test_expiry_is_judged_by_instant(db, user):
    now = timeutil.utcnow()
    cases = {
        "iso-young": (timeutil.iso(now - timedelta(days=6, hours=23)), user),
        "iso-old": (timeutil.iso(now - timedelta(days=7, minutes=1)), None),
        # space separator: string comparison with the 'T' cutoff would call this old
        "space-young": (fmt(now - timedelta(days=7) + timedelta(hours=1), sep=" "), user),
        "space-old": (fmt(now - timedelta(days=7, hours=1), sep=" "), None),
        "z-young": (fmt(now - timedelta(days=6), suffix="Z"), user),
        "z-old": (fmt(now - timedelta(days=8), suffix="Z"), None),
        # +05:00 spelling: reads 4 hours younger than the cutoff, is 1 hour older
        "offset-old": (fmt(now - timedelta(days=7, hours=1) + timedelta(hours=5),
                           suffix="+05:00"), None),
        "offset-young": (fmt(now - timedelta(days=7) + timedelta(hours=1) - timedelta(hours=5),
                             suffix="-05:00"), user),
        "garbage": ("not a time", None),
        "empty": ("", None),
    }
    for session_id, (created_at, _) in cases.items():
        put(db, session_id, user, created_at)
    got = {session_id: get_user_id_from_session(db, session_id) for session_id in cases}
    assert got == {session_id: expected for session_id, (_, expected) in cases.items()}


def test_z_suffix_without_fraction_in_the_cutoff_second(db, user):
    # "...:SSZ" sorts after "...:SS.ffffff" as a string; as an instant it is older.
    while True:
        moment = timeutil.utcnow() - timedelta(days=7)
        if 50_000 <= moment.microsecond <= 700_000:
            break
        time.sleep(0.05)
    put(db, "z-edge", user, fmt(moment, suffix="Z"))
    assert get_user_id_from_session(db, "z-edge") is None


def test_cleanup_deletes_exactly_the_old_ones(db, user):
    now = timeutil.utcnow()
    old = {
        "old-iso": timeutil.iso(now - timedelta(days=8)),
        "old-space": fmt(now - timedelta(days=7, hours=2), sep=" "),
        "old-z": fmt(now - timedelta(days=30), suffix="Z"),
        "old-offset": fmt(now - timedelta(days=7, hours=1) + timedelta(hours=5), suffix="+05:00"),
    }
    kept = {
        "young-iso": timeutil.iso(now - timedelta(days=1)),
        "young-space": fmt(now - timedelta(days=7) + timedelta(hours=1), sep=" "),
        "young-z": fmt(now - timedelta(days=6, hours=23), suffix="Z"),
        "bad-text": "yesterday",
        "bad-empty": "",
        "bad-date": "2026-13-45T99:00:00",
    }
    for session_id, created_at in {**old, **kept}.items():
        put(db, session_id, user, created_at)
    assert count_old_sessions(db) == 4
    assert ids(db) == sorted({**old, **kept})  # the preview wrote nothing
    seen = []
    assert cleanup_old_sessions(db, progress=seen.append) == 4
    assert seen[-1] == 4
    assert ids(db) == sorted(kept)
    assert count_old_sessions(db) == 0
    assert cleanup_old_sessions(db) == 0


def test_cleanup_days_parameter(db, user):
    now = timeutil.utcnow()
    for days in (1, 3, 5):
        put(db, f"s{days}", user, timeutil.iso(now - timedelta(days=days, minutes=5)))
    assert count_old_sessions(db, days=2) == 2
    assert cleanup_old_sessions(db, days=2) == 2
    assert ids(db) == ["s1"]
    assert cleanup_old_sessions(db, days=0) == 1
    assert ids(db) == []


def test_cleanup_many_rows_in_batches(db, user):
    old = timeutil.iso(timeutil.utcnow() - timedelta(days=10))
    young = timeutil.now_iso()
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany("INSERT INTO sessions VALUES (?, ?, ?)",
                         [(f"o{i}", user, old) for i in range(1200)]
                         + [(f"y{i}", user, young) for i in range(30)])
    conn.close()
    seen = []
    assert cleanup_old_sessions(db, progress=seen.append) == 1200
    assert len(seen) >= 2 and seen[-1] == 1200
    assert len(ids(db)) == 30


@pytest.mark.parametrize("days", [-1, "7", None, float("nan")])
def test_bad_days_is_invalid(db, days):
    with pytest.raises(errors.InvalidValue):
        count_old_sessions(db, days=days)
    with pytest.raises(errors.InvalidValue):
        cleanup_old_sessions(db, days=days)
