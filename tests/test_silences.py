"""Silences (issue 20): a check acknowledged on one database with a reason and an expiry. Set,
replaced, lifted, expired (logged once, even by two readers at once), refused when it cannot
be right; with injected time throughout."""
import threading
from datetime import datetime, timedelta

import pytest

from r2w_db.backends import open_database
from r2w_db.engine import checks, durations
from r2w_db.figures import health
from r2w_db.monitor.silences import MAX_SILENCE, BadSilence, SilenceStore, parse_for

T0 = datetime(2026, 12, 7, 9, 0)


@pytest.fixture
def store(tmp_path):
    return SilenceStore(tmp_path / "monitor.db")


def events(store, database=None):
    return [(e["check"], e["event"]) for e in reversed(store.log(database))]


def test_set_replace_lift(store, db_path):
    got = store.silence(db_path, "stuck", until=T0 + timedelta(days=1), reason="worker fix",
                        user="ana", now=T0)
    assert (got.check, got.user, got.reason, got.until) == ("stuck", "ana", "worker fix",
                                                            T0 + timedelta(days=1))
    assert got.database == open_database(db_path).key
    assert got.as_dict()["until"] == "2026-12-08T09:00:00.000000"
    assert list(store.active(db_path, now=T0)) == ["stuck"]
    # replaced: one silence, the new reason and expiry
    store.silence(db_path, "stuck", until=T0 + timedelta(hours=2), reason="still on it",
                  user="bo", now=T0 + timedelta(hours=1))
    [now] = store.active(db_path, now=T0 + timedelta(hours=1)).values()
    assert (now.user, now.reason, now.until) == ("bo", "still on it", T0 + timedelta(hours=2))
    assert store.lift(db_path, "stuck", user="cy", now=T0 + timedelta(hours=1)) is True
    assert store.lift(db_path, "stuck", user="cy", now=T0 + timedelta(hours=1)) is False
    assert store.active(db_path, now=T0 + timedelta(hours=1)) == {}
    assert events(store) == [("stuck", "set"), ("stuck", "set"), ("stuck", "lifted")]
    lifted = store.log()[0]
    assert (lifted["user"], lifted["reason"]) == ("cy", "still on it")


def test_silences_are_per_database(store, tmp_path, db_path):
    other = tmp_path / "other.db"
    store.silence(db_path, "backup", until=T0 + timedelta(hours=1), reason="r", user="u", now=T0)
    assert store.active(other, now=T0) == {}
    assert store.log(other) == []
    assert [s.check for s in store.active_everywhere(now=T0)] == ["backup"]


def test_expiry_is_lazy_and_logged_once_by_two_readers(store, db_path):
    store.silence(db_path, "stuck", until=T0 + timedelta(hours=1), reason="r", user="u", now=T0)
    assert "stuck" in store.active(db_path, now=T0 + timedelta(minutes=59))
    later = T0 + timedelta(hours=1)
    barrier, seen = threading.Barrier(2), []

    def read():
        barrier.wait()
        seen.append(SilenceStore(store.monitor.path).active(db_path, now=later))

    threads = [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == [{}, {}]
    assert events(store) == [("stuck", "set"), ("stuck", "expired")]
    assert store.active(db_path, now=later) == {}
    assert events(store) == [("stuck", "set"), ("stuck", "expired")]


@pytest.mark.parametrize("kwargs, words", [
    ({"check": "nosuch"}, "unknown check 'nosuch': one of stuck, sessions"),
    ({"reason": "  "}, "needs a reason"),
    ({"user": ""}, "needs the user"),
    ({"until": T0}, "not in the future"),
    ({"until": T0 - timedelta(days=1)}, "not in the future"),
    ({"until": T0 + MAX_SILENCE + timedelta(minutes=1)}, "at most 90 days"),
    ({"until": "tomorrow"}, "must be a date and time"),
    ({"reason": "x" * 501}, "too long"),
])
def test_refusals_are_one_line(store, db_path, kwargs, words):
    asked = {"check": "stuck", "until": T0 + timedelta(days=1), "reason": "r", "user": "u"} | kwargs
    with pytest.raises(BadSilence) as caught:
        store.silence(db_path, asked.pop("check"), now=T0, **asked)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert store.active(db_path, now=T0) == {}


def test_an_aware_now_and_until_are_taken_as_utc(store, db_path):
    from datetime import timezone

    aware = T0.replace(tzinfo=timezone.utc)
    got = store.silence(db_path, "stuck", until=aware + timedelta(hours=3), reason="r",
                        user="u", now=aware)
    assert got.until == T0 + timedelta(hours=3) and got.until.tzinfo is None


def test_parse_for():
    assert parse_for("1h", T0) == T0 + timedelta(hours=1)
    assert parse_for("1d", T0) == T0 + timedelta(days=1)
    assert parse_for("1w", T0) == T0 + timedelta(weeks=1)
    assert parse_for("2026-12-24", T0) == datetime(2026, 12, 24)
    assert parse_for("2026-12-24T18:30", T0) == datetime(2026, 12, 24, 18, 30)
    assert parse_for("2026-12-24T18:30+02:00", T0) == datetime(2026, 12, 24, 16, 30)
    for bad, words in (("soon", "neither a duration"), ("0h", "not a duration"),
                       ("91d", "too long"), ("2026-12-01", "not in the future"),
                       ("2027-12-01", "too far ahead")):
        with pytest.raises(BadSilence) as caught:
            parse_for(bad, T0)
        assert words in str(caught.value)
    assert durations.parse_until("1d", T0) == T0 + timedelta(days=1)


def test_the_valid_keys_are_the_checks_keys(db_path):
    db = open_database(db_path)
    assert checks.keys_for(db.backend) == tuple(c.key for c in health.run_checks(db))


@pytest.mark.pg
def test_the_valid_keys_are_the_checks_keys_on_postgresql(pg_url):
    from r2w_db.backends import migrations

    migrations.init(pg_url)
    db = open_database(pg_url)
    assert checks.keys_for(db.backend) == tuple(c.key for c in health.run_checks(db))
