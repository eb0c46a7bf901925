"""Who may see and do what: the secrets check, the sign-in gate, roles, the read-only switch.

Fails closed. Secrets that cannot be read or parsed, a [monitor] that is not a table, an
empty [team] or a team account that cannot sign in (no valid bcrypt hash, an unknown role)
close every page with one message naming the file or entry and the problem: no figures,
no maintenance, nobody signed in. Only with readable secrets and no [team] at all does
the dashboard run open (localhost only, with a banner).

A sign-in survives a reload and a server restart: the browser keeps a random token in a
cookie (set and deleted by a small script: dashboard/signin_cookie.py), the monitor
database keeps its hash (r2w_db.monitor.signin_tokens).
The cookie is read once, when a session starts (st.context.cookies is what the browser sent
when it connected); every run checks the token again (revoked, either limit passed, the
account removed or changed: signed out).

The policy itself (roles, the databases an account may open, read-only, the client's
address) is plain functions in dashboard/access_policy.py; this module reads the session,
the secrets and the request for it, and draws the sign-in forms.

Pages use these through dashboard.ui (ui.gate, ui.current_user, ui.read_only, ...). No SQL here.
"""
from pathlib import Path

import streamlit as st

from dashboard import access_policy as policy
from dashboard import signin_cookie
from dashboard.access_policy import OPEN_USER  # noqa: F401  (dashboard.ui re-exports it)
from dashboard.safe_text import md, prose
from r2w_db import config, errors
from r2w_db.engine import timeutil
from r2w_db.monitor import signin, signin_tokens

SESSION_USER = "_r2w_user"      # session state: {"name": ..., "role": ...} once signed in
SESSION_TOKEN = "_r2w_token"    # the hash of this session's sign-in token (never the token)
COOKIE_READ = "_r2w_cookie_read"    # the browser's cookie was looked at (once per session)
COOKIE_SET = "_r2w_cookie_set"      # (token, expires_at) to write into the browser next run
COOKIE_CLEAR = "_r2w_cookie_clear"  # delete the browser's cookie next run
REVOKE_CONFIRM = "_r2w_revoke_confirm"
REVOKED = "_r2w_revoked"            # how many sign-ins revoke_all ended (shown on the form)
OPEN_BANNER = ("No team accounts configured: anyone who can reach this server can run "
               "maintenance. See docs/security.md.")
OPEN_BANNER_READ_ONLY = ("No team accounts configured: anyone who can reach this server sees "
                         "the dashboard (maintenance is off: read-only). See docs/security.md.")
CLOSED = ("The dashboard is closed until the secrets are fixed — {problem}. Nothing is shown "
          "and no maintenance runs; fix the file and reload.")


def _one_line(exc):
    return " ".join(str(exc).split())


# ------------------------------------------------------------------ the secrets

def _secrets_paths():
    """The secrets files to check: r2w_db's list and the .toml files Streamlit reads."""
    paths = list(config.secrets_files())
    try:
        extra = st.get_option("secrets.files") or []
    except Exception:  # an option this Streamlit does not know
        extra = []
    for item in extra:
        path = Path(item)
        if path.suffix == ".toml" and path not in paths:
            paths.append(path)
    return paths


def _loaded():
    """(st.secrets, None); (None, None) when there is no secrets file at all; (None, problem)
    when Streamlit cannot load them (it raises, on access, the same FileNotFoundError
    subclass for a file that does not parse as for no file)."""
    try:
        st.secrets.get("team")
    except FileNotFoundError as exc:
        text = _one_line(exc)
        return (None, None) if text.startswith("No secrets found") else (None, text)
    except Exception as exc:
        return None, f"cannot read the secrets: {_one_line(exc)}"
    return st.secrets, None


def _secret(section):
    """A section of the secrets, or None (no such section, no secrets, unreadable secrets)."""
    secrets, _ = _loaded()
    return None if secrets is None else secrets.get(section)


def secrets_problem():
    """Why the dashboard stays closed (one line naming the file or entry), or None."""
    problem = config.secrets_problem(_secrets_paths())
    if problem:
        return problem
    secrets, problem = _loaded()
    if problem or secrets is None:
        return problem
    monitor = secrets.get("monitor")
    if monitor is not None and not hasattr(monitor, "get"):
        return "secrets.toml: [monitor] must be a table"
    try:
        signin_tokens.settings(monitor)
    except errors.InvalidValue as exc:
        return str(exc)
    _, problems = signin.load_accounts(secrets.get("team"))
    return "secrets.toml: " + "; ".join(problems) if problems else None


def team_accounts():
    """{name: signin.Account} from the [team] table of the secrets ({} when none)."""
    return signin.load_accounts(_secret("team"))[0]


def accounts_configured():
    """Whether sign-in is required: a [team] table, or secrets that cannot be trusted."""
    return _secret("team") is not None or secrets_problem() is not None


def read_only():
    """The read-only switch (access_policy.read_only) of this dashboard's secrets."""
    return policy.read_only(*_loaded())


def client_address():
    """This request's client address for the sign-in throttle (access_policy.client)."""
    try:
        address = st.context.ip_address
    except Exception:  # outside a script run
        address = None
    try:
        forwarded = st.context.headers.get("X-Forwarded-For")
    except Exception:
        forwarded = None
    return policy.client(address, _secret("monitor"), forwarded)


# ------------------------------------------------------------------ the gate

def gate():
    """Closed secrets: the problem and st.stop(). With team accounts: the signed-in user
    (its token re-checked against the monitor database and the secrets on every run; at
    the start of a session, the browser's remembered sign-in), or the sign-in form and
    st.stop(). Without [team]: nothing to do (open)."""
    state = st.session_state
    problem = secrets_problem()
    if problem:   # signed out: the token revoked, the cookie deleted (once per session)
        cookie = None if state.get(COOKIE_READ) else browser_cookie()
        had = _revoke(state.get(SESSION_TOKEN), signin_tokens.token_hash(cookie)) or cookie
        state.clear()   # signed out, and no request (a confirmed task) survives to run later
        state[COOKIE_READ] = True
        signin.log.error("dashboard closed: %s", problem)
        if had:
            signin_cookie.write(None)
        st.title("r2w monitor")
        st.error(CLOSED.format(problem=prose(problem)), icon=":material/lock:")
        st.stop()
    if _secret("team") is None:
        state.pop(SESSION_USER, None)
        state.pop(SESSION_TOKEN, None)
        return
    accounts = team_accounts()
    store = _tokens()
    account = None
    if not state.get(SESSION_USER) and not state.get(COOKIE_READ):
        account = _resume_from_cookie(store, accounts)   # the start of a session
    elif state.get(SESSION_USER):
        account = _check(store, state.get(SESSION_TOKEN), accounts)
        if account is None:
            _signed_out()   # revoked, a limit passed, the account removed or changed
    if account is not None:
        state[SESSION_USER] = {"name": account.name, "role": account.role}
        pending = state.pop(COOKIE_SET, None)
        if pending:
            token, expires_at = pending
            signin_cookie.write(token, expires_at, store.limits)
        return
    _signin_form(accounts, store)
    st.stop()


def browser_cookie():
    """The remembered sign-in the browser sent when this session connected, or None
    (st.context.cookies is read from the connection's request: a cookie written during the
    session shows only in the next one). Tests replace this function."""
    try:
        value = st.context.cookies.get(signin_tokens.COOKIE)
    except Exception:  # outside a script run
        value = None
    return value if isinstance(value, str) and value else None


def _tokens():
    """The remembered sign-ins, with the limits of the secrets (checked by secrets_problem)."""
    return signin_tokens.TokenStore(limits=signin_tokens.settings(_secret("monitor")))


def _resume_from_cookie(store, accounts):
    """At the start of a session: the Account of the browser's remembered sign-in, or None
    (no cookie; a junk, ended or revoked one is deleted from the browser)."""
    state = st.session_state
    state[COOKIE_READ] = True
    cookie = browser_cookie()
    if cookie is None:
        return None
    hashed = signin_tokens.token_hash(cookie)
    account = _check(store, hashed, accounts)
    if account is None:
        state[COOKIE_CLEAR] = True
        return None
    state[SESSION_TOKEN] = hashed
    signin.log.info("signed in again from a remembered sign-in: %r from %s", account.name,
                    signin.client_key(client_address()))
    return account


def _check(store, hashed, accounts):
    """The Account this session's token stands for now, or None (fails closed: a monitor
    database that cannot be read signs nobody in)."""
    if hashed is None:
        return None
    try:
        return store.resume(hashed, accounts, timeutil.utcnow())
    except errors.R2WError as exc:
        signin.log.error("remembered sign-in unavailable: %s", exc)
        return None


def _revoke(*hashes):
    """End these sign-ins on the server (best effort); whether there was one to end."""
    hashes = {h for h in hashes if h}
    for hashed in hashes:
        try:
            signin_tokens.TokenStore().revoke(hashed)
        except errors.R2WError as exc:   # the cookie still goes; the token ends with its limits
            signin.log.error("could not revoke a sign-in: %s", exc)
    return bool(hashes)


def _signed_out():
    """Nothing of the session kept; the browser's cookie goes on the next run."""
    state = st.session_state
    revoked = state.get(REVOKED)
    state.clear()
    state[COOKIE_READ] = True     # the cookie this session began with is not read again
    state[COOKIE_CLEAR] = True
    if revoked is not None:
        state[REVOKED] = revoked


def _signin_form(accounts, store):
    state = st.session_state
    if state.pop(COOKIE_CLEAR, None):
        signin_cookie.write(None)
    st.title("r2w monitor")
    st.caption("Sign in with your team account to see the dashboard.")
    revoked = state.pop(REVOKED, None)
    if revoked is not None:
        st.info(f"Every sign-in was ended ({revoked} remembered). Sign in again.",
                icon=":material/logout:")
    left, _ = st.columns([1, 2])
    with left.form("r2w_signin", clear_on_submit=True):
        username = st.text_input("Username", autocomplete="username")
        password = st.text_input("Password", type="password", autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    try:
        outcome = signin.authenticate(accounts, username, password, client=client_address())
        if outcome.ok:    # remembered, or no sign-in at all (nothing session-only to revoke)
            token, expires_at = store.issue(outcome.account, timeutil.utcnow())
    except errors.R2WError as exc:  # the monitor database cannot keep the counts: stay closed
        signin.log.error("sign-in unavailable: %s", exc)
        left.error(f"Sign-in is unavailable: {prose(exc)}", icon=":material/error:")
        return
    if outcome.ok:
        state[SESSION_USER] = {"name": outcome.account.name, "role": outcome.account.role}
        state[SESSION_TOKEN] = signin_tokens.token_hash(token)
        state[COOKIE_SET] = (token, expires_at)
        st.rerun()
    left.error(prose(outcome.message), icon=":material/lock:")


def sign_out():
    """Signed out: the token revoked on the server at once (the old cookie opens nothing),
    the cookie deleted from the browser, nothing of the session kept (no pending request
    runs for the next)."""
    _revoke(st.session_state.get(SESSION_TOKEN))
    _signed_out()


def revoke_all_panel():
    """For the Maintenance page: how many remembered sign-ins are live and, for an admin
    after a confirmation, one button that ends all of them (the admin's own included).
    Writes only the monitor database, so it works in read-only mode too."""
    state = st.session_state
    st.subheader("Sign-ins")
    if not accounts_configured():
        st.caption("No team accounts: nobody signs in, there is nothing to revoke.")
        return
    name, role = current_user()
    try:
        store = _tokens()
        live = store.count(timeutil.utcnow())
    except errors.R2WError as exc:
        st.error(f"The remembered sign-ins cannot be read: {prose(exc)}", icon=":material/error:")
        return
    st.caption(f"{live} remembered sign-in(s) can open the dashboard now (each ends "
               f"{_hours(store.limits.session)} after signing in, or after "
               f"{_hours(store.limits.idle)} without use).")
    if role != "admin":
        st.button("Sign everyone out", key="_r2w_revoke_all", disabled=True,
                  icon=":material/logout:",
                  help=f"Needs the admin role (you are {md(role or 'not signed in')}).")
        return
    if not state.get(REVOKE_CONFIRM):
        if st.button("Sign everyone out", key="_r2w_revoke_all", icon=":material/logout:"):
            state[REVOKE_CONFIRM] = True
            st.rerun()
        return
    st.warning("This ends **every** sign-in on every browser, **yours included**: everyone, "
               "wall screens too, signs in again with their password.", icon=":material/warning:")
    yes, no, _ = st.columns([1, 1, 3])
    if yes.button("Yes, sign everyone out", key="_r2w_revoke_all_yes", type="primary"):
        try:
            removed = store.revoke_all(by=name)
        except errors.R2WError as exc:
            state.pop(REVOKE_CONFIRM, None)
            st.error(f"Nothing was revoked: {prose(exc)}", icon=":material/error:")
            return
        state[REVOKED] = removed
        sign_out()
        st.rerun()
    if no.button("Cancel", key="_r2w_revoke_all_no"):
        state.pop(REVOKE_CONFIRM, None)
        st.rerun()


def _hours(delta):
    minutes = delta.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"


# ------------------------------------------------------------------ roles

def current_user():
    """(name, role) of whoever is looking (access_policy.who)."""
    return policy.who(st.session_state.get(SESSION_USER), accounts_configured())


def who_line():
    """Who is looking, in one line (access_policy.who_line)."""
    return policy.who_line(*current_user(), accounts_configured())


def allowed_databases(choices):
    """The databases of `choices` the signed-in person may open (access_policy.databases_for)."""
    name, _ = current_user()
    return policy.databases_for(team_accounts().get(name) if name else None, choices)


def maintenance_refusal(role):
    """Why this person may start no maintenance task now, or None (access_policy)."""
    return policy.maintenance_refusal(role, read_only())


def weak_hashes_warning():
    """For admins (the Overview calls it): team accounts whose bcrypt cost is under 12."""
    if current_user()[1] != "admin":
        return
    weak = signin.weak_accounts(team_accounts())
    if weak:
        names = ", ".join(f"**{md(name)}** (cost {cost})" for name, cost in weak)
        st.warning(f"Weak password hashes: {names}. A bcrypt cost under {signin.WEAK_COST} makes "
                   "guessing a password cheap. Make a new hash with `python -m r2w_db "
                   "hash-password` and replace that account's password_hash in secrets.toml.",
                   icon=":material/key:")
