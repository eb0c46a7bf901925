"""The access policy, as plain functions of plain values (no Streamlit): who is looking, the
databases an account may open, why maintenance is refused, whether the monitor is read-only,
and the client's address for the sign-in throttle. dashboard/access.py reads the session,
the secrets and the request, and asks these. No SQL here."""
from r2w_db import config, errors

from dashboard.safe_text import md

OPEN_USER = "open: no team accounts"   # who acts on an open dashboard (the logs say so)
READ_ONLY_REFUSAL = ("The monitor is read-only (R2W_READ_ONLY or [monitor] read_only): no "
                     "maintenance runs from the dashboard, whatever the role.")


def who(session_user, accounts_configured):
    """(name, role): the signed-in member ({"name", "role"}); with no team accounts, everyone
    is an admin named OPEN_USER (never the OS user's name, which says nothing about who is
    looking); (None, None) when accounts exist and nobody signed in."""
    if session_user:
        return session_user["name"], session_user["role"]
    if accounts_configured:
        return None, None
    return OPEN_USER, "admin"


def who_line(name, role, accounts_configured):
    """'Signed in as **NAME** (role)', or the open dashboard's own line."""
    if name == OPEN_USER and not accounts_configured:
        return "Open: no team accounts (everyone who reaches this server is an admin)"
    return f"Signed in as **{md(name or 'nobody')}** ({md(role or 'no role')})"


def databases_for(account, choices):
    """The locations of `choices` an account (signin.Account, or None: no team accounts, or
    not one of them) may open: all, or those its `databases = [...]` lists."""
    if account is None:
        return list(choices)
    return [c for c in choices if account.may_open(c.name)]


def maintenance_refusal(role, read_only):
    """Why this person may start no maintenance task now, or None."""
    if read_only:
        return READ_ONLY_REFUSAL
    if role != "admin":
        return (f"Maintenance needs the admin role (you are {md(role or 'not signed in')}): "
                "viewers see every figure but start no task.")
    return None


def read_only(secrets, problem, environ=None):
    """The read-only switch: R2W_READ_ONLY, else [monitor] read_only of `secrets` (a mapping);
    on when the secrets cannot be read (`problem`) or parsed: fail closed."""
    if problem:
        return True
    try:
        return config.read_only(environ, secrets=secrets)
    except errors.R2WError:
        return True


def client(address, monitor, forwarded):
    """The client's address for the sign-in throttle, or None (unknown: localhost, tests).
    With `behind_proxy = true` in `monitor` ([monitor] of the secrets): the last entry of
    `forwarded` (X-Forwarded-For), the address the proxy saw (only safe when every request
    comes through that proxy)."""
    if hasattr(monitor, "get") and monitor.get("behind_proxy") is True:
        hops = [hop.strip() for hop in forwarded.split(",")] if isinstance(forwarded, str) else []
        if hops and hops[-1]:
            address = hops[-1]
    return address if isinstance(address, str) and address else None
