"""The sign-in throttle (issue 11, items 8 and 16): per client and username, per client,
bounded and pruned, logged; refused attempts cost no bcrypt check; every check costs the
same bcrypt work whatever the name. Time is injected everywhere."""
import logging
import sqlite3
import time
from datetime import timedelta

import pytest

from r2w_db.app import passwords
from r2w_db.app.passwords import hash_password
from r2w_db.monitor import signin
from r2w_db.monitor.store import MonitorStore

from .signin_helpers import NOW, PASSWORDS, TEAM

ATTACKER, USER, OTHER = "198.51.100.7", "203.0.113.20", "2001:db8::5"
ACCOUNTS, _ = signin.load_accounts(TEAM)


@pytest.fixture
def store(tmp_path):
    return signin.SigninStore(MonitorStore(tmp_path / "monitor.db"))


def attempt(store, name, password, client, now=NOW, accounts=ACCOUNTS):
    return signin.authenticate(accounts, name, password, client=client, now=now, store=store)


@pytest.fixture
def checks(monkeypatch):
    """The bcrypt checks made (bcrypt.checkpw itself), as the cost of each hash checked."""
    made = []
    real = passwords.bcrypt.checkpw
    monkeypatch.setattr(passwords.bcrypt, "checkpw",
                        lambda pw, h: made.append(int(h.split(b"$")[2])) or real(pw, h))
    return made


# ------------------------------------------------------------------ per client and username

@pytest.mark.parametrize("attacker", [ATTACKER, OTHER, None])
def test_an_attacker_never_locks_out_another_clients_correct_password(store, attacker):
    for round_ in range(4):                      # again and again, every lock renewed
        now = NOW + timedelta(minutes=16 * round_)
        for i in range(signin.MAX_FAILURES):
            attempt(store, "ada", f"guess-{i}", attacker, now)
        assert attempt(store, "ada", "guess", attacker, now).message.startswith("Too many")
        assert store.locked_until("ada", now, client=attacker) == now + timedelta(minutes=15)
        ok = attempt(store, "ada", PASSWORDS["ada"], USER, now)
        assert ok.ok and ok.account.name == "ada", "the real user, from elsewhere, signs in"
        assert attempt(store, "ada", "typo", USER, now).message == signin.WRONG


def test_a_locked_client_is_refused_even_the_right_password_without_a_check(store, checks):
    for i in range(signin.MAX_FAILURES):
        attempt(store, "ada", f"guess-{i}", ATTACKER)
    assert len(checks) == signin.MAX_FAILURES
    refused = attempt(store, "ada", PASSWORDS["ada"], ATTACKER, NOW + timedelta(minutes=14))
    assert not refused.ok and "locked for 1 more minute" in refused.message
    assert len(checks) == signin.MAX_FAILURES, "a refused attempt costs no bcrypt check"
    assert attempt(store, "ada", PASSWORDS["ada"], ATTACKER, NOW + timedelta(minutes=15)).ok


def test_unknown_addresses_share_one_bucket(store):
    for i in range(signin.MAX_FAILURES):
        attempt(store, "vic", f"guess-{i}", None)
    assert not attempt(store, "vic", PASSWORDS["vic"], "", NOW).ok, "'' is unknown too"
    assert not attempt(store, "vic", PASSWORDS["vic"], None, NOW).ok
    assert attempt(store, "vic", PASSWORDS["vic"], USER, NOW).ok
    assert store.failures("vic") == signin.MAX_FAILURES
    assert store.failures("vic", client=signin.UNKNOWN_CLIENT) == signin.MAX_FAILURES


def test_a_success_clears_the_name_and_takes_its_attempt_back(store):
    for i in range(signin.MAX_FAILURES - 1):
        attempt(store, "ada", f"typo-{i}", USER)
    assert attempt(store, "ada", PASSWORDS["ada"], USER).ok
    assert store.failures("ada", client=USER) == 0
    assert store.client_failures(USER) == signin.MAX_FAILURES - 1
    for i in range(signin.MAX_FAILURES - 1):      # a fresh count: no lock yet
        assert attempt(store, "ada", f"typo-{i}", USER).message == signin.WRONG


def test_a_count_is_forgotten_after_the_window(store):
    for i in range(signin.MAX_FAILURES - 1):
        attempt(store, "ada", f"guess-{i}", ATTACKER)
    later = NOW + timedelta(minutes=signin.WINDOW_MINUTES)
    assert attempt(store, "ada", "guess", ATTACKER, later).message == signin.WRONG
    assert store.failures("ada", client=ATTACKER) == 1
    assert store.client_failures(ATTACKER) == 1


def test_attempts_being_checked_count_before_their_check(store):
    """Parallel attempts (many sessions of one client) cannot overrun the limit."""
    for _ in range(signin.MAX_FAILURES):
        assert store.begin(ATTACKER, "ada", NOW) is None       # all in flight at once
    refused = store.begin(ATTACKER, "ada", NOW)
    assert refused is not None and not refused.ok and refused.locked_until > NOW


# ------------------------------------------------------------------ per client, all usernames

def test_junk_usernames_lock_the_client_not_everyone(store, checks):
    for i in range(signin.CLIENT_MAX_FAILURES - 1):
        assert attempt(store, f"junk-{i}", "x", ATTACKER).message == signin.WRONG
    assert "from this address" in attempt(store, "junk", "x", ATTACKER).message, "the last one"
    spent = len(checks)
    refused = attempt(store, "vic", PASSWORDS["vic"], ATTACKER)
    assert not refused.ok and "from this address" in refused.message
    assert attempt(store, "new-junk", "x", ATTACKER).message == refused.message
    assert len(checks) == spent, "no bcrypt check for a throttled client"
    assert attempt(store, "vic", PASSWORDS["vic"], USER).ok, "other clients are not throttled"
    assert store.client_locked_until(NOW, client=ATTACKER) == NOW + timedelta(minutes=15)
    assert attempt(store, "vic", PASSWORDS["vic"], ATTACKER, NOW + timedelta(minutes=15)).ok


def test_an_empty_username_counts_against_the_client(store):
    for _ in range(signin.CLIENT_MAX_FAILURES - 1):
        assert attempt(store, "  ", "x", ATTACKER).message == signin.WRONG
    assert "from this address" in attempt(store, "", "x", ATTACKER).message
    assert "from this address" in attempt(store, "vic", PASSWORDS["vic"], ATTACKER).message


# ------------------------------------------------------------------ bounded, pruned, logged

def test_the_table_is_bounded(store, monkeypatch):
    monkeypatch.setattr(signin, "MAX_ROWS", 40)
    for i in range(150):                          # every attempt from a new client and name
        attempt(store, f"junk-{i}", "x", f"10.0.{i // 250}.{i % 250}")
        assert store.rows() <= 40
    assert store.rows() >= 38


def test_a_full_table_drops_unlocked_rows_first(store, monkeypatch):
    monkeypatch.setattr(signin, "MAX_ROWS", 12)
    for i in range(signin.MAX_FAILURES):
        attempt(store, "ada", f"guess-{i}", ATTACKER)
    for i in range(60):
        attempt(store, f"junk-{i}", "x", f"10.1.0.{i}", NOW + timedelta(seconds=i + 1))
    assert store.locked_until("ada", NOW + timedelta(minutes=1), client=ATTACKER)


def test_old_rows_are_pruned(store):
    for i in range(30):
        attempt(store, f"junk-{i}", "x", f"10.2.0.{i}")
    for i in range(signin.MAX_FAILURES):
        attempt(store, "ada", f"guess-{i}", ATTACKER)
    assert store.rows() == 2 * 30 + 2
    attempt(store, "vic", "typo", USER, NOW + timedelta(minutes=signin.WINDOW_MINUTES))
    assert store.rows() == 2, "only the new attempt's rows are left"


def test_refusals_and_failures_are_logged(store, caplog):
    caplog.set_level(logging.INFO, logger=signin.log.name)
    for i in range(signin.MAX_FAILURES + 1):
        attempt(store, "ada\nFAKE LOG LINE", f"guess-{i}", ATTACKER)
    lines = [r.getMessage() for r in caplog.records]
    assert sum("failed sign-in" in line for line in lines) == signin.MAX_FAILURES
    refused = [line for line in lines if "refused" in line]
    assert len(refused) == 1 and ATTACKER in refused[0] and "locked until" in refused[0]
    assert all("\n" not in line for line in lines), "a name cannot forge a log line"


def test_an_older_per_name_table_is_replaced(tmp_path):
    path = tmp_path / "monitor.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE signin_failures (username TEXT PRIMARY KEY, failures INTEGER"
                     " NOT NULL, last_failure_at TEXT NOT NULL, locked_until TEXT)")
        conn.execute("INSERT INTO signin_failures VALUES ('ada', 5, '2026-11-24T12:00:00', "
                     "'2099-01-01T00:00:00')")
    conn.close()
    store = signin.SigninStore(MonitorStore(path))
    assert store.failures("ada") == 0
    assert attempt(store, "ada", PASSWORDS["ada"], None).ok
    assert attempt(store, "ada", "typo", None).message == signin.WRONG
    assert store.failures("ada") == 1


# ------------------------------------------------------------------ the same work for every name

@pytest.fixture(scope="module")
def mixed():
    """Accounts of cost 4 and 8 (a weak one gives its name away by timing when not topped up)."""
    team = {"weak": {"password_hash": hash_password("weak-pw", rounds=4), "role": "viewer"},
            "mid": {"password_hash": hash_password("mid-pw", rounds=6), "role": "viewer"},
            "strong": {"password_hash": hash_password("strong-pw", rounds=8), "role": "admin"}}
    accounts, problems = signin.load_accounts(team)
    assert not problems
    return accounts


@pytest.mark.parametrize("name, password", [
    ("nobody", "x"), ("weak", "x"), ("mid", "x"), ("strong", "x"), ("weak", "weak-pw"),
    ("mid", "mid-pw"), ("strong", "strong-pw"), ("weak", "ü" * 60), ("nobody", "ü" * 60)])
def test_every_check_costs_one_check_at_the_highest_cost(name, password, mixed, store, checks):
    attempt(store, name, password, USER, accounts=mixed)
    tries = 2 if len(password.encode()) > passwords.BCRYPT_MAX_BYTES else 1   # a wrong long one
    assert sum(2 ** cost for cost in checks) == tries * 2 ** 8, checks


def test_dummy_hashes_are_made_once(mixed, store, monkeypatch):
    attempt(store, "nobody", "x", USER, accounts=mixed)
    made = []
    monkeypatch.setattr(signin, "hash_password", lambda *a, **k: made.append(a) or "")
    for name in ("nobody", "weak", "mid", "strong", "someone"):
        attempt(store, name, "x", OTHER, accounts=mixed)
    assert made == []


def test_a_weak_account_takes_as_long_as_an_unknown_name(tmp_path):
    """Measured: without the top-up, cost 4 against cost 10 differs 64 times."""
    team = {"weak": {"password_hash": hash_password("weak-pw", rounds=4), "role": "viewer"},
            "strong": {"password_hash": hash_password("strong-pw", rounds=10), "role": "admin"}}
    accounts, _ = signin.load_accounts(team)
    store = signin.SigninStore(MonitorStore(tmp_path / "m.db"))

    def fastest(name):
        times = []
        for i in range(3):
            started = time.perf_counter()
            signin.authenticate(accounts, name, "wrong", client=f"10.9.{len(name)}.{i}",
                                now=NOW, store=store)
            times.append(time.perf_counter() - started)
        return min(times)

    fastest("nobody")                                        # dummies made, caches warm
    ratio = fastest("weak") / fastest("nobody")
    assert 0.4 < ratio < 2.5, ratio


def test_weak_accounts_are_named():
    team = {**TEAM, "sam": {"password_hash": hash_password("sam-pw", rounds=12), "role": "admin"}}
    accounts, _ = signin.load_accounts(team)
    assert sorted(signin.weak_accounts(accounts)) == [("ada", 4), ("vic", 4)]
