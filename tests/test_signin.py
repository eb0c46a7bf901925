"""Team sign-in: the gate on every page, same answer for a wrong password and an unknown
name, lockouts in the monitor database, roles, sign-out, and the open dashboard."""
import shutil
from datetime import timedelta

import pytest
import streamlit as st

from dashboard import ui
from r2w_db.app import passwords
from r2w_db.engine import timeutil
from r2w_db.monitor import signin
from r2w_db.monitor.store import MonitorStore

from .signin_helpers import (  # noqa: F401
    MAINTENANCE,
    NOW,
    OVERVIEW,
    PAGES,
    PASSWORDS,
    TEAM,
    app,
    demo_path,
    env,
    figures,
    sign_in,
    signed_in,
    texts,
)

# ------------------------------------------------------------------ the gate

@pytest.mark.parametrize("page", PAGES)
def test_signed_out_every_page_shows_only_the_form(page, env):
    at = app(page, TEAM).run()
    assert not at.exception, at.exception
    assert figures(at) == 0 and not at.get("page_link")
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    assert at.text_input[1].proto.type == at.text_input[1].proto.PASSWORD
    assert [b.label for b in at.button] == ["Sign in"]
    assert at.get("form") and at.main.text_input, "the form is in the main area"
    assert not at.sidebar.children or not list(at.sidebar)


def test_right_password_signs_in_and_shows_the_figures(env):
    at = signed_in(OVERVIEW, "vic")
    assert figures(at) >= 10
    assert not at.text_input
    assert st.session_state is not None
    assert at.session_state[ui.SESSION_USER] == {"name": "vic", "role": "viewer"}
    assert "Signed in as **vic** (viewer)" in "\n".join(c.value for c in at.sidebar.caption)


def test_wrong_password_and_unknown_user_get_the_same_message(env, monkeypatch):
    calls = []
    real = signin.verify_password
    monkeypatch.setattr(signin, "verify_password",
                        lambda pw, h: calls.append(h) or real(pw, h))
    wrong = sign_in(app(OVERVIEW, TEAM).run(), "vic", "not-the-password")
    unknown = sign_in(app(OVERVIEW, TEAM).run(), "nobody", "not-the-password")
    assert [e.value for e in wrong.error] == [e.value for e in unknown.error] == [signin.WRONG]
    assert figures(wrong) == figures(unknown) == 0
    # the same work for both: one bcrypt check, of a hash with the same cost
    assert len(calls) == 2 and calls[0] == TEAM["vic"]["password_hash"]
    assert calls[1].split("$")[2] == calls[0].split("$")[2]


def test_five_failures_lock_the_name_for_fifteen_minutes(env, monkeypatch):
    at = app(OVERVIEW, TEAM).run()
    for attempt in range(1, 6):
        at = sign_in(at, "ada", f"wrong-{attempt}")
        assert not at.exception
    assert "locked" in at.error[0].value
    at = sign_in(at, "ada", PASSWORDS["ada"])          # the 6th, right, is refused
    assert figures(at) == 0 and "locked" in at.error[0].value
    assert signin.SigninStore().failures("ada") == 5
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + timedelta(minutes=14))
    at = sign_in(app(OVERVIEW, TEAM).run(), "ada", PASSWORDS["ada"])
    assert figures(at) == 0, "still locked after 14 minutes"
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + timedelta(minutes=16))
    at = sign_in(app(OVERVIEW, TEAM).run(), "ada", PASSWORDS["ada"])
    assert not at.error and figures(at) >= 10
    assert signin.SigninStore().failures("ada") == 0, "a success clears the count"


def test_lockout_logic_with_injected_time(tmp_path):
    store = signin.SigninStore(MonitorStore(tmp_path / "m.db"))
    accounts, _ = signin.load_accounts(TEAM)
    for _ in range(4):
        assert signin.authenticate(accounts, "ghost", "x", now=NOW, store=store).message == signin.WRONG
    fifth = signin.authenticate(accounts, "ghost", "x", now=NOW, store=store)
    assert fifth.locked_until == NOW + timedelta(minutes=15), "unknown names lock too"
    assert store.locked_until("ghost", NOW + timedelta(minutes=14, seconds=59))
    assert store.locked_until("ghost", NOW + timedelta(minutes=15)) is None
    later = NOW + timedelta(minutes=15)
    assert signin.authenticate(accounts, "ghost", "x", now=later, store=store).message == signin.WRONG
    assert store.failures("ghost") == 1, "an expired lock starts a fresh count"
    ok = signin.authenticate(accounts, "vic", PASSWORDS["vic"], now=NOW, store=store)
    assert ok.ok and ok.account.role == "viewer"


def test_long_passwords_sign_in(env):
    long = "ü" * 60     # 120 UTF-8 bytes, over bcrypt's 72
    team = {"lee": {"password_hash": passwords.hash_password(long, rounds=4), "role": "viewer"}}
    at = sign_in(app(OVERVIEW, team).run(), "lee", long)
    assert figures(at) >= 10
    at = sign_in(app(OVERVIEW, team).run(), "lee", long[:36])  # the first 72 bytes only
    assert figures(at) == 0


def test_accounts_with_a_bad_role_or_hash_are_left_out():
    accounts, problems = signin.load_accounts({
        "ok": {"password_hash": TEAM["ada"]["password_hash"], "role": "Admin"},
        "norole": {"password_hash": TEAM["ada"]["password_hash"], "role": "root"},
        "nohash": {"role": "admin"}, "flat": "x"})
    assert list(accounts) == ["ok"] and accounts["ok"].role == "admin"
    assert len(problems) == 3


def test_sign_out(env):
    at = signed_in(OVERVIEW, "vic")
    at.button(key="_r2w_sign_out").click().run()
    assert figures(at) == 0 and [t.label for t in at.text_input] == ["Username", "Password"]


def test_a_removed_account_is_signed_out(env):
    at = signed_in(OVERVIEW, "vic")
    at.secrets["team"] = {"ada": TEAM["ada"]}
    at.run()
    assert figures(at) == 0 and at.text_input


def test_signed_in_survives_page_switches(env):
    at = signed_in(OVERVIEW, "ada")
    labels = [link.proto.label for link in at.sidebar.get("page_link")]
    assert labels == ["Overview", "Cache hits", "Confidence", "Uploads", "Anonymous users",
                          "History", "Space", "Query benchmarks", "Queries", "Maintenance"]
    at.switch_page(MAINTENANCE).run()
    assert not at.exception, at.exception
    # integrity always has something to do (issue 20: a card whose preview finds nothing to
    # do, as sessions once another test cleaned the shared demo, has its Run disabled)
    assert not at.button(key="maint_run_integrity").disabled


# ------------------------------------------------------------------ roles

def test_viewer_sees_the_figures_but_starts_no_task(env):
    at = signed_in(MAINTENANCE, "vic")
    runs = [b for b in at.button if (b.key or "").startswith("maint_run_")]
    assert len(runs) == 9 and all(b.disabled for b in runs)   # the ninth: stuck (issue 20)
    assert all("admin role" in b.help for b in runs)
    assert "needs the admin role" in texts(at).lower()
    at = signed_in(OVERVIEW, "vic")
    assert figures(at) >= 10


def test_admin_runs_a_task_and_the_log_names_them(env, demo_path, monkeypatch):
    own = env / "demo.db"   # the cleanup changes it: a copy, never the session's demo
    shutil.copyfile(demo_path, own)
    monkeypatch.setenv("DATABASE_URL", str(own))
    at = signed_in(MAINTENANCE, "ada")
    runs = [b for b in at.button if (b.key or "").startswith("maint_run_")]
    # an admin may run every task; a card whose preview finds nothing to do is disabled
    disabled = {b.key for b in runs if b.disabled}
    assert runs and all("nothing to do" in (b.help or "").lower() for b in runs if b.disabled), \
        disabled
    at.button(key="maint_run_sessions").click().run()
    at.checkbox(key="maint_backup_first").uncheck()
    at.button(key="maint_dialog_confirm").click().run()
    assert not at.exception, at.exception
    entry = MonitorStore().recent_log()[0]
    assert entry["task"] == "sessions" and entry["outcome"] == "ok" and entry["user"] == "ada"


# ------------------------------------------------------------------ no accounts

def test_no_accounts_runs_open_with_a_banner(env):
    at = app(OVERVIEW).run()
    # no sign-in form (issue 20: the rows' silence forms have the only text inputs)
    assert figures(at) >= 10 and not [t for t in at.text_input if t.label in ("Username", "Password")]
    assert any("No team accounts configured" in w.value for w in at.sidebar.warning)
    at = app(MAINTENANCE).run()
    assert not at.button(key="maint_run_integrity").disabled   # see the test above


def test_a_missing_secrets_file_is_no_accounts(monkeypatch):
    class Missing:
        def get(self, *a, **k):
            raise FileNotFoundError("No secrets found")
    monkeypatch.setattr(st, "secrets", Missing())
    assert ui.team_accounts() == {} and not ui.accounts_configured()
    name, role = ui.current_user()
    assert role == "admin" and name


# ------------------------------------------------------------------ clients, weak hashes

def test_the_page_counts_failures_per_client(env, monkeypatch):
    from dashboard import access

    where = {"address": "198.51.100.7"}
    monkeypatch.setattr(access, "client_address", lambda: where["address"])
    at = app(OVERVIEW, TEAM).run()
    for attempt in range(signin.MAX_FAILURES):
        at = sign_in(at, "ada", f"wrong-{attempt}")
    at = sign_in(at, "ada", PASSWORDS["ada"])
    assert figures(at) == 0 and "locked" in at.error[0].value
    assert signin.SigninStore().failures("ada", client="198.51.100.7") == signin.MAX_FAILURES
    assert signin.SigninStore().failures("ada") == 0, "nothing in the unknown bucket"
    where["address"] = "203.0.113.20"                  # the real user, elsewhere
    at = sign_in(app(OVERVIEW, TEAM).run(), "ada", PASSWORDS["ada"])
    assert not at.error and figures(at) >= 10


def test_client_address(monkeypatch):
    from dashboard import access

    class Context:
        ip_address = "10.0.0.9"
        headers = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}
    monkeypatch.setattr(st, "context", Context())
    monkeypatch.setattr(st, "secrets", {"team": TEAM})
    assert access.client_address() == "10.0.0.9", "headers are not trusted by default"
    monkeypatch.setattr(st, "secrets", {"team": TEAM, "monitor": {"behind_proxy": True}})
    assert access.client_address() == "198.51.100.7", "the address the proxy saw, not a spoof"
    Context.headers = {}
    assert access.client_address() == "10.0.0.9"
    Context.ip_address = object()                    # what AppTest's mocked runtime gives
    assert access.client_address() is None


def test_weak_hashes_are_flagged_on_the_overview_for_admins(env):
    at = signed_in(OVERVIEW, "ada")
    warning = [w.value for w in at.warning if "Weak password hashes" in w.value]
    assert len(warning) == 1 and "**ada** (cost 4)" in warning[0] and "**vic** (cost 4)" in warning[0]
    assert "hash-password" in warning[0]
    at = signed_in(OVERVIEW, "vic")
    assert not [w for w in at.warning if "Weak password hashes" in w.value], "admins only"


def test_no_weak_hash_warning_at_cost_12(env):
    strong = passwords.hash_password(PASSWORDS["ada"], rounds=12)
    team = {"ada": {"password_hash": strong, "role": "admin"}}
    at = sign_in(app(OVERVIEW, team).run(), "ada", PASSWORDS["ada"])
    assert figures(at) >= 10
    assert not [w for w in at.warning if "Weak password hashes" in w.value]


def test_sign_in_stays_closed_when_the_counts_cannot_be_kept(env, monkeypatch):
    bad = env / "not-a-database"
    bad.write_text("this is not SQLite\n" * 100)
    monkeypatch.setenv("R2W_MONITOR_DB", str(bad))
    at = sign_in(app(OVERVIEW, TEAM).run(), "ada", PASSWORDS["ada"])
    assert not at.exception, at.exception
    assert figures(at) == 0 and "Sign-in is unavailable" in at.error[0].value
