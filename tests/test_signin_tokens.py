"""Remembered sign-ins (issue 13): the cookie's opaque token, only its hash on the server,
the absolute lifetime and the idle timeout (injected time, no sleeps), revocation one by one
and all at once, a restart (a new store, a new process), a password or role change, the
settings and their nonsense, the bounds of the table; and the gate with a cookie present."""
import hashlib
import json
import re
import subprocess
import sys
from datetime import timedelta

import pytest

from dashboard import access, ui
from r2w_db import errors
from r2w_db.app.passwords import hash_password
from r2w_db.engine import timeutil
from r2w_db.monitor import signin, signin_tokens
from r2w_db.monitor.signin_tokens import Settings, TokenStore
from r2w_db.monitor.store import MonitorStore

from .signin_helpers import (  # noqa: F401
    NOW,
    OVERVIEW,
    PASSWORDS,
    ROOT,
    TEAM,
    app,
    demo_path,
    env,
    figures,
    sign_in,
    signed_in,
)

ACCOUNTS = signin.load_accounts(TEAM)[0]
PANEL = "tests/apps/revoke_all_panel_app.py"
H, M, S = (lambda n: timedelta(hours=n)), (lambda n: timedelta(minutes=n)), \
    (lambda n: timedelta(seconds=n))


@pytest.fixture
def store(tmp_path):
    return TokenStore(MonitorStore(tmp_path / "m.db"))


def row(store, token):
    with store.monitor.db.read() as conn:
        found = conn.execute("SELECT * FROM signin_tokens WHERE token_hash = ?",
                             (signin_tokens.token_hash(token),)).fetchone()
    return dict(found) if found else None


def changed(name, **entry):
    team = {n: dict(e) for n, e in TEAM.items()}
    team[name].update(entry)
    return signin.load_accounts(team)[0]


# ------------------------------------------------------------------ the token and its row

def test_the_server_keeps_only_the_hash_and_the_token_names_no_one(store):
    token, expires_at = store.issue(ACCOUNTS["vic"], NOW)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token) and expires_at == NOW + H(12)
    for secret in ("vic", "viewer", TEAM["vic"]["password_hash"], PASSWORDS["vic"]):
        assert secret not in token
    stored = row(store, token)
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert stored["username"] == "vic" and stored["created_at"] == stored["last_seen"]
    raw = store.monitor.path.read_bytes() + \
        (store.monitor.path.with_name("m.db-wal").read_bytes()
         if store.monitor.path.with_name("m.db-wal").exists() else b"")
    assert token.encode() not in raw, "the token itself is never stored"
    assert TEAM["vic"]["password_hash"].encode() not in raw, "nor the account's hash"
    assert store.issue(ACCOUNTS["vic"], NOW)[0] != token, "every sign-in gets its own token"


@pytest.mark.parametrize("junk", [None, "", "x", "a" * 42, "a" * 44, "a" * 42 + ";",
                                  "vic", "../../etc/passwd" + "a" * 27])
def test_junk_cookies_are_no_tokens(store, junk):
    assert signin_tokens.token_hash(junk) is None
    assert store.resume(signin_tokens.token_hash(junk), ACCOUNTS, NOW) is None


def test_a_fresh_token_opens_with_the_current_role(store):
    token, _ = store.issue(ACCOUNTS["ada"], NOW)
    account = store.resume(signin_tokens.token_hash(token), ACCOUNTS, NOW + M(5))
    assert account == ACCOUNTS["ada"] and account.role == "admin"


# ------------------------------------------------------------------ the limits

def test_the_absolute_lifetime_ends_a_token_in_use(store):
    token, _ = store.issue(ACCOUNTS["vic"], NOW)
    hashed = signin_tokens.token_hash(token)
    for hour in range(1, 12):              # used every hour: never idle
        assert store.resume(hashed, ACCOUNTS, NOW + H(hour)), hour
    assert store.resume(hashed, ACCOUNTS, NOW + H(12) - S(1))
    assert store.resume(hashed, ACCOUNTS, NOW + H(12)) is None
    assert row(store, token) is None, "an ended token is deleted"


def test_the_idle_timeout_ends_an_unused_token(store):
    token, _ = store.issue(ACCOUNTS["vic"], NOW)
    hashed = signin_tokens.token_hash(token)
    assert store.resume(hashed, ACCOUNTS, NOW + H(2) - S(1)), "used just before the timeout"
    assert store.resume(hashed, ACCOUNTS, NOW + H(4) - S(2)), "the use counted as activity"
    assert store.resume(hashed, ACCOUNTS, NOW + H(6)) is None, "2 h without use"
    assert row(store, token) is None
    assert store.resume(hashed, ACCOUNTS, NOW + H(6) - M(1)) is None, "gone for good"


def test_last_seen_is_written_at_most_once_a_minute(store):
    token, _ = store.issue(ACCOUNTS["vic"], NOW)
    hashed = signin_tokens.token_hash(token)
    for seconds in (10, 30, 59):           # a wall screen's reruns
        assert store.resume(hashed, ACCOUNTS, NOW + S(seconds))
        assert row(store, token)["last_seen"] == timeutil.iso(NOW)
    assert store.resume(hashed, ACCOUNTS, NOW + S(60))
    assert row(store, token)["last_seen"] == timeutil.iso(NOW + S(60))
    assert Settings(idle=M(5)).touch_every == S(30), "short idle timeouts touch more often"


def test_configured_limits_apply_to_existing_tokens(store, tmp_path):
    token, _ = store.issue(ACCOUNTS["vic"], NOW)
    hashed = signin_tokens.token_hash(token)
    short = TokenStore(store.monitor, signin_tokens.settings({"session_hours": 1,
                                                              "idle_minutes": 10}, environ={}))
    assert short.resume(hashed, ACCOUNTS, NOW + M(9))
    assert short.resume(hashed, ACCOUNTS, NOW + M(20)) is None, "10 minutes idle"
    token, expires_at = short.issue(ACCOUNTS["vic"], NOW)
    assert expires_at == NOW + H(1)
    hashed = signin_tokens.token_hash(token)
    for minutes in (8, 16, 24, 32, 40, 48, 56):
        assert short.resume(hashed, ACCOUNTS, NOW + M(minutes))
    assert short.resume(hashed, ACCOUNTS, NOW + M(60)) is None, "1 h lifetime"


# ------------------------------------------------------------------ revocation

def test_revoking_one_sign_in_leaves_the_others(store):
    one, _ = store.issue(ACCOUNTS["vic"], NOW)
    other, _ = store.issue(ACCOUNTS["vic"], NOW)
    assert store.revoke(signin_tokens.token_hash(one)) is True
    assert store.resume(signin_tokens.token_hash(one), ACCOUNTS, NOW) is None
    assert store.resume(signin_tokens.token_hash(other), ACCOUNTS, NOW) == ACCOUNTS["vic"]
    assert store.revoke(signin_tokens.token_hash(one)) is False, "already gone"


def test_revoke_all_ends_every_sign_in(store):
    tokens = [store.issue(ACCOUNTS[name], NOW)[0] for name in ("ada", "vic", "vic")]
    assert store.count(NOW) == 3
    assert store.revoke_all(by="ada") == 3
    assert store.count(NOW) == 0 and store.rows() == 0
    assert all(store.resume(signin_tokens.token_hash(t), ACCOUNTS, NOW) is None for t in tokens)
    assert TokenStore(MonitorStore(store.monitor.path.with_name("none.db"))).revoke_all() == 0


def test_a_restart_keeps_the_sign_in(store, tmp_path):
    token, _ = store.issue(ACCOUNTS["vic"], NOW)
    hashed = signin_tokens.token_hash(token)
    again = TokenStore(MonitorStore(store.monitor.path))      # a new store on the same file
    assert again.resume(hashed, ACCOUNTS, NOW + M(30)) == ACCOUNTS["vic"]
    script = (
        "import json, sys\n"
        "from datetime import datetime, timedelta\n"
        "from r2w_db.monitor import signin, signin_tokens\n"
        "from r2w_db.monitor.store import MonitorStore\n"
        "team, path, hashed, now = json.loads(sys.stdin.read())\n"
        "store = signin_tokens.TokenStore(MonitorStore(path))\n"
        "account = store.resume(hashed, signin.load_accounts(team)[0],\n"
        "                       datetime.fromisoformat(now))\n"
        "print(account.name if account else 'nobody')\n")
    def in_a_new_process(now):
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, text=True,
                              capture_output=True, timeout=60, check=True,
                              input=json.dumps([TEAM, str(store.monitor.path), hashed,
                                                timeutil.iso(now)]))
        return done.stdout.strip()
    assert in_a_new_process(NOW + H(1)) == "vic"
    assert in_a_new_process(NOW + H(13)) == "nobody", "its lifetime passed meanwhile"


@pytest.mark.parametrize("change", ["password", "role", "removed"])
def test_a_password_or_role_change_ends_the_sign_in(store, change):
    token, _ = store.issue(ACCOUNTS["vic"], NOW)
    hashed = signin_tokens.token_hash(token)
    accounts = {"password": lambda: changed("vic", password_hash=hash_password("new", rounds=4)),
                "role": lambda: changed("vic", role="admin"),
                "removed": lambda: {"ada": ACCOUNTS["ada"]}}[change]()
    assert store.resume(hashed, accounts, NOW + M(1)) is None
    assert row(store, token) is None
    assert store.resume(hashed, ACCOUNTS, NOW + M(2)) is None, "changing it back does not revive it"
    assert signin_tokens.fingerprint(ACCOUNTS["vic"]) != TEAM["vic"]["password_hash"]


# ------------------------------------------------------------------ bounds

def test_ended_tokens_are_pruned_and_the_table_is_bounded(store, monkeypatch):
    for minute in range(5):
        store.issue(ACCOUNTS["vic"], NOW + M(minute))
    store.issue(ACCOUNTS["ada"], NOW + H(3))          # the others are idle by now
    assert store.rows() == 1
    monkeypatch.setattr(signin_tokens, "MAX_PER_USER", 3)
    later = NOW + H(3)
    vic = [store.issue(ACCOUNTS["vic"], later + S(i))[0] for i in range(5)]
    assert [row(store, t) is not None for t in vic] == [False, False, True, True, True], \
        "the least recently used of one person go first"
    monkeypatch.setattr(signin_tokens, "MAX_ROWS", 4)
    store.issue(ACCOUNTS["ada"], later + S(10))
    assert store.rows() == 4


# ------------------------------------------------------------------ settings

def test_settings_defaults_the_secrets_and_the_variables():
    assert signin_tokens.settings(None, environ={}) == Settings(H(12), H(2), "strict")
    monitor = {"session_hours": 24, "idle_minutes": 30.5, "cookie_samesite": "None"}
    assert signin_tokens.settings(monitor, environ={}) == Settings(H(24), M(30.5), "none")
    environ = {"R2W_SESSION_HOURS": "8", "R2W_IDLE_MINUTES": " 45 ", "R2W_COOKIE_SAMESITE": "lax"}
    assert signin_tokens.settings(monitor, environ=environ) == Settings(H(8), M(45), "lax")
    assert signin_tokens.settings(monitor, environ={"R2W_SESSION_HOURS": ""}).session == H(24)


@pytest.mark.parametrize("key, value", [
    ("session_hours", 0), ("session_hours", -1), ("session_hours", "soon"),
    ("session_hours", True), ("session_hours", float("nan")), ("session_hours", float("inf")),
    ("session_hours", 721), ("session_hours", [12]), ("idle_minutes", 0),
    ("idle_minutes", 0.5), ("idle_minutes", 43_201), ("cookie_samesite", "sometimes"),
    ("cookie_samesite", 1)])
def test_nonsense_settings_are_refused_naming_the_entry(key, value):
    with pytest.raises(errors.InvalidValue, match=rf"\[monitor\] {key}"):
        signin_tokens.settings({key: value}, environ={})
    variable = signin_tokens.ENV[key]
    if not isinstance(value, (bool, list)):
        with pytest.raises(errors.InvalidValue, match=variable):
            signin_tokens.settings({}, environ={variable: str(value)})


# ------------------------------------------------------------------ the gate (AppTest)

def cookie_scripts(at):
    return [h.proto.body for h in at.get("html") if signin_tokens.COOKIE in h.proto.body]


def written_token(at):
    """The token the page's script writes into the browser (None if it writes none)."""
    for body in cookie_scripts(at):
        match = re.search(rf'"{signin_tokens.COOKIE}=([A-Za-z0-9_-]+)"', body)
        if match:
            return match.group(1)
    return None


def deletes_the_cookie(at):
    return any(f'"{signin_tokens.COOKIE}="' in body and "Max-Age=0" in body
               for body in cookie_scripts(at))


@pytest.fixture
def cookie(monkeypatch):
    """What the browser sends when a session starts: set `cookie.value`."""
    class Jar:
        value = None
        reads = 0
    jar = Jar()

    def browser_cookie():
        jar.reads += 1
        return jar.value
    monkeypatch.setattr(access, "browser_cookie", browser_cookie)
    return jar


def test_signing_in_writes_the_cookie_with_its_attributes(env, cookie):
    at = signed_in(OVERVIEW, "vic")
    token = written_token(at)
    assert token and "vic" not in token and "viewer" not in token
    body = cookie_scripts(at)[0]
    assert "; Path=/; Max-Age=43200; SameSite=Strict" in body and "unsafe" not in body
    assert '"https:"' in body and "; Secure" in body, "Secure on HTTPS"
    assert at.session_state[access.SESSION_TOKEN] == signin_tokens.token_hash(token)
    assert TokenStore().resume(signin_tokens.token_hash(token), ACCOUNTS, NOW) == ACCOUNTS["vic"]
    at.run()
    assert not cookie_scripts(at), "written once, not on every rerun"


def test_embedding_across_origins_uses_samesite_none(env, cookie):
    at = signed_in(OVERVIEW, "vic", monitor={"cookie_samesite": "none"})
    assert "SameSite=None; Secure; Partitioned" in cookie_scripts(at)[0]


def test_a_new_session_with_the_cookie_is_signed_in(env, cookie):
    token = written_token(signed_in(OVERVIEW, "vic"))
    cookie.value = token
    at = app(OVERVIEW, TEAM).run()             # a reload: a new session, the same browser
    assert not at.exception, at.exception
    assert not at.text_input and figures(at) >= 10
    assert at.session_state[ui.SESSION_USER] == {"name": "vic", "role": "viewer"}
    assert not cookie_scripts(at), "the browser's cookie stays as it is"
    reads = cookie.reads
    at.run()
    at.run()
    assert cookie.reads == reads, "the cookie is read once, at the start of a session"


def test_the_cookie_is_read_only_when_the_session_starts(env, cookie):
    token = written_token(signed_in(OVERVIEW, "vic"))
    cookie.reads = 0
    at = app(OVERVIEW, TEAM).run()             # a session that began without the cookie
    assert at.text_input and cookie.reads == 1
    cookie.value = token                       # what st.context.cookies shows changes only
    at.run()                                   # with a new connection: never mid-session
    assert at.text_input and figures(at) == 0 and cookie.reads == 1


def test_a_cookie_from_before_a_role_or_password_change_opens_nothing(env, cookie):
    cookie.value = written_token(signed_in(OVERVIEW, "vic"))
    team = {**TEAM, "vic": {**TEAM["vic"], "role": "admin"}}
    at = app(OVERVIEW, team).run()
    assert figures(at) == 0 and at.text_input and deletes_the_cookie(at)
    cookie.value = written_token(signed_in(OVERVIEW, "vic"))
    team = {**TEAM, "vic": {**TEAM["vic"], "password_hash": hash_password("new", rounds=4)}}
    at = app(OVERVIEW, team).run()
    assert figures(at) == 0 and at.text_input and deletes_the_cookie(at)


def test_sign_out_revokes_the_token_and_deletes_the_cookie(env, cookie):
    at = signed_in(OVERVIEW, "vic")
    token = written_token(at)
    at.button(key="_r2w_sign_out").click().run()
    assert figures(at) == 0 and at.text_input and deletes_the_cookie(at)
    assert TokenStore().resume(signin_tokens.token_hash(token), ACCOUNTS, NOW) is None
    cookie.value = token                       # the old cookie, sent again
    at = app(OVERVIEW, TEAM).run()
    assert figures(at) == 0 and [t.label for t in at.text_input] == ["Username", "Password"]


def test_junk_or_expired_cookies_show_the_form_and_are_deleted(env, cookie, monkeypatch):
    cookie.value = "not-a-token"
    at = app(OVERVIEW, TEAM).run()
    assert figures(at) == 0 and at.text_input and deletes_the_cookie(at)
    cookie.value = written_token(signed_in(OVERVIEW, "vic"))
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + H(2) + S(1))
    at = app(OVERVIEW, TEAM).run()
    assert figures(at) == 0 and at.text_input and deletes_the_cookie(at)


def test_an_open_tab_is_signed_out_when_a_limit_passes_or_all_are_revoked(env, cookie,
                                                                         monkeypatch):
    at = signed_in(OVERVIEW, "vic")
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + H(1))
    at.run()
    assert figures(at) >= 10, "an hour later, still signed in"
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW + H(3) + S(1))
    at.run()
    assert figures(at) == 0 and at.text_input, "2 h without a run: idle"
    monkeypatch.setattr(timeutil, "utcnow", lambda: NOW)
    at = signed_in(OVERVIEW, "ada")
    TokenStore().revoke_all(by="test")
    at.run()
    assert figures(at) == 0 and at.text_input and deletes_the_cookie(at)


def test_nonsense_limits_close_the_dashboard(env, cookie, monkeypatch):
    at = app(OVERVIEW, TEAM, monitor={"session_hours": "soon"}).run()
    assert figures(at) == 0 and not at.text_input
    assert "[monitor] session_hours" in at.error[0].value
    monkeypatch.setenv("R2W_IDLE_MINUTES", "0")
    at = app(OVERVIEW, TEAM).run()
    assert figures(at) == 0 and not at.text_input and "R2W_IDLE_MINUTES" in at.error[0].value


def test_closed_secrets_end_the_remembered_sign_in(env, cookie):
    token = written_token(signed_in(OVERVIEW, "vic"))
    cookie.value = token
    at = app(OVERVIEW, TEAM, monitor={"idle_minutes": -5}).run()
    assert figures(at) == 0 and "closed until the secrets are fixed" in at.error[0].value
    assert deletes_the_cookie(at)
    assert TokenStore().resume(signin_tokens.token_hash(token), ACCOUNTS, NOW) is None


def test_a_locked_client_stays_locked_with_a_cookie_of_someone_else(env, cookie):
    cookie.value = "junk"
    at = app(OVERVIEW, TEAM).run()
    for attempt in range(5):
        at = sign_in(at, "ada", f"wrong-{attempt}")
    at = sign_in(at, "ada", PASSWORDS["ada"])
    assert figures(at) == 0 and "locked" in at.error[0].value
    assert not written_token(at) and TokenStore().rows() == 0


def test_a_monitor_database_that_cannot_be_read_signs_nobody_in(env, cookie, tmp_path,
                                                                monkeypatch):
    cookie.value = written_token(signed_in(OVERVIEW, "vic"))
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not sqlite" * 100)
    monkeypatch.setenv("R2W_MONITOR_DB", str(broken))
    at = app(OVERVIEW, TEAM).run()
    assert not at.exception and figures(at) == 0 and at.text_input


# ------------------------------------------------------------------ revoke_all_panel

def test_revoke_all_panel_is_for_admins_only(env, cookie):
    at = signed_in(PANEL, "vic")
    button = at.button(key="_r2w_revoke_all")
    assert button.disabled and "admin role" in button.proto.help
    assert any("1 remembered sign-in(s)" in c.value for c in at.caption)


def test_revoke_all_panel_asks_first_then_ends_every_sign_in(env, cookie):
    vic = written_token(signed_in(OVERVIEW, "vic"))
    at = signed_in(PANEL, "ada")
    ada = written_token(at)
    assert any("2 remembered sign-in(s)" in c.value for c in at.caption)
    at.button(key="_r2w_revoke_all").click().run()
    assert "yours included" in at.warning[0].value
    at.button(key="_r2w_revoke_all_no").click().run()          # cancel: nothing ends
    assert not at.warning and TokenStore().count(NOW) == 2
    at.button(key="_r2w_revoke_all").click().run()
    at.button(key="_r2w_revoke_all_yes").click().run()
    assert not at.exception, at.exception
    assert TokenStore().count(NOW) == 0
    assert at.text_input and "Every sign-in was ended (2 remembered)" in at.info[0].value
    assert deletes_the_cookie(at)
    for token in (vic, ada):
        cookie.value = token
        again = app(OVERVIEW, TEAM).run()
        assert figures(again) == 0 and again.text_input


def test_revoke_all_panel_on_the_open_dashboard(env):
    at = app(PANEL).run()
    assert not at.exception and not at.button
    assert "nothing to revoke" in at.caption[0].value
