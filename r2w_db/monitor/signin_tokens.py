"""Remembered sign-ins: the opaque token a browser keeps in a cookie after signing in.

No Streamlit here: the dashboard passes the token (or its hash), the [team] accounts and
the time in. The cookie holds only a random token (`secrets.token_urlsafe(32)`, 256 bits);
the monitor database (`signin_tokens`) holds only its SHA-256, with the username, a
fingerprint of the account as it was at sign-in, when it was made and when it was last used.
Nothing in the cookie names anyone or says a role: the role is looked up in the current
[team] accounts on every use.

A token stops working (and its row is deleted) when
- its absolute lifetime has passed (`session_hours`, default 12 h, counted from sign-in),
- it has not been used for the idle timeout (`idle_minutes`, default 2 h),
- it is revoked: its own sign-out, or `revoke_all` (an admin, the Maintenance page),
- the account was removed from [team], or its password hash or role changed since the
  sign-in (the fingerprint no longer matches).

`last_seen` is written at most once per TOUCH (a minute; less for very short idle
timeouts), so a wall screen's auto-refresh does not write on every rerun. Ended tokens are
pruned on every sign-in; the table keeps at most MAX_ROWS rows and MAX_PER_USER per person
(the least recently used go first).
"""
import hashlib
import logging
import math
import os
import re
import secrets as _random
from dataclasses import dataclass
from datetime import timedelta

from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.monitor.store import MonitorStore, _has_table

COOKIE = "r2w_signin"
SESSION_HOURS = 12
IDLE_MINUTES = 120
MAX_SESSION_HOURS = 720           # 30 days
MAX_IDLE_MINUTES = 43_200         # 30 days
SAMESITE = ("strict", "lax", "none")
TOUCH = timedelta(minutes=1)      # last_seen is written at most this often (see touch_every)
MAX_ROWS = 10_000
MAX_PER_USER = 20
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")    # what secrets.token_urlsafe(32) makes
ENV = {"session_hours": "R2W_SESSION_HOURS", "idle_minutes": "R2W_IDLE_MINUTES",
       "cookie_samesite": "R2W_COOKIE_SAMESITE"}

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS signin_tokens (
    token_hash TEXT PRIMARY KEY,      -- SHA-256 (hex) of the cookie's token, never the token
    username TEXT NOT NULL,
    fingerprint TEXT NOT NULL,        -- SHA-256 of the account at sign-in (name, role, hash)
    created_at TEXT NOT NULL,         -- naive UTC ISO-8601
    last_seen TEXT NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS idx_signin_tokens_last_seen ON signin_tokens(last_seen)",
    "CREATE INDEX IF NOT EXISTS idx_signin_tokens_created ON signin_tokens(created_at)",
    "CREATE INDEX IF NOT EXISTS idx_signin_tokens_user ON signin_tokens(username, last_seen)",
)

log = logging.getLogger("r2w_db.monitor.signin")


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class Settings:
    session: timedelta = timedelta(hours=SESSION_HOURS)
    idle: timedelta = timedelta(minutes=IDLE_MINUTES)
    samesite: str = "strict"

    @property
    def touch_every(self):
        """How often last_seen is written: a minute, or a tenth of a shorter idle timeout."""
        return min(TOUCH, self.idle / 10)


def settings(monitor=None, environ=None) -> Settings:
    """The sign-in limits: R2W_SESSION_HOURS / R2W_IDLE_MINUTES / R2W_COOKIE_SAMESITE when
    set, else `session_hours` / `idle_minutes` / `cookie_samesite` under [monitor] (a
    mapping), else the defaults. Anything else than a number in range or one of strict,
    lax, none raises InvalidValue naming the entry (the dashboard then stays closed)."""
    environ = os.environ if environ is None else environ
    monitor = monitor if hasattr(monitor, "get") else {}
    values = {}
    for key, variable in ENV.items():
        raw = environ.get(variable)
        if raw is not None and str(raw).strip():
            values[key] = (str(raw).strip(), variable)
        elif monitor.get(key) is not None:
            values[key] = (monitor.get(key), f"secrets.toml: [monitor] {key}")
    hours = _number(*values.get("session_hours", (SESSION_HOURS, "")), 0, MAX_SESSION_HOURS,
                    "a number of hours, over 0 and at most")
    minutes = _number(*values.get("idle_minutes", (IDLE_MINUTES, "")), 1, MAX_IDLE_MINUTES,
                      "a number of minutes, at least 1 and at most")
    samesite, where = values.get("cookie_samesite", ("strict", ""))
    samesite = str(samesite).strip().lower() if isinstance(samesite, str) else samesite
    if samesite not in SAMESITE:
        raise errors.InvalidValue(f"{where} must be strict, lax or none, not {samesite!r}")
    return Settings(timedelta(hours=hours), timedelta(minutes=minutes), samesite)


def _number(value, where, low, high, text):
    number = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    ok = number is not None and math.isfinite(number) and number <= high and \
        (number > low if low == 0 else number >= low)
    if not ok:
        raise errors.InvalidValue(f"{where} must be {text} {high}, not {value!r}")
    return number


# ------------------------------------------------------------------ tokens

def new_token():
    """A random, opaque token for the cookie (256 bits, URL-safe)."""
    return _random.token_urlsafe(32)


def token_hash(token):
    """The stored form of a token (SHA-256, hex): a 256-bit random token needs no slow hash.
    None for anything that is not a token this module made (a junk cookie)."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def fingerprint(account):
    """What a sign-in remembers of the account (never the hash itself): a change of the
    password hash or the role gives another fingerprint."""
    text = "\0".join((account.name, account.role, account.password_hash))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class TokenStore:
    """The signin_tokens table of the monitor database. Time is always passed in."""

    def __init__(self, monitor=None, limits=None):
        self.monitor = monitor or MonitorStore()
        self.limits = limits or Settings()

    # -------------------------------------------------------------- reading
    def _row(self, hashed):
        if hashed is None or not self.monitor.path.exists():
            return None
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "signin_tokens"):
                return None
            return conn.execute("SELECT * FROM signin_tokens WHERE token_hash = ?",
                                (hashed,)).fetchone()

    def count(self, now=None):
        """How many sign-ins would still open the dashboard now (whatever the accounts)."""
        if not self.monitor.path.exists():
            return 0
        now = now or timeutil.utcnow()
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "signin_tokens"):
                return 0
            return conn.execute(
                "SELECT COUNT(*) FROM signin_tokens WHERE created_at > ? AND last_seen > ?",
                self._cutoffs(now)).fetchone()[0]

    def rows(self):
        """Rows in the table, ended ones included (for tests of the bounds)."""
        return self.monitor.count_rows("signin_tokens")

    def _cutoffs(self, now):
        return timeutil.iso(now - self.limits.session), timeutil.iso(now - self.limits.idle)

    def expires_at(self, hashed):
        """When this token's absolute lifetime ends, or None (no such token)."""
        row = self._row(hashed)
        created = timeutil.parse(row["created_at"]) if row else None
        return created + self.limits.session if created else None

    # -------------------------------------------------------------- writing
    def issue(self, account, now):
        """A new token for `account` (signed in now): (token, expires_at). Only its hash is
        stored. Prunes ended tokens and keeps the bounds."""
        token = new_token()
        with self.monitor.transaction() as conn:
            _ensure(conn)
            self._prune(conn, now, account.name)
            conn.execute(
                "INSERT INTO signin_tokens (token_hash, username, fingerprint, created_at,"
                " last_seen) VALUES (?, ?, ?, ?, ?)",
                (token_hash(token), account.name, fingerprint(account), timeutil.iso(now),
                 timeutil.iso(now)))
        log.info("remembered sign-in issued for %r (ends %s at the latest)", account.name,
                 timeutil.iso(now + self.limits.session))
        return token, now + self.limits.session

    def resume(self, hashed, accounts, now):
        """The Account a token (by its hash) stands for now, or None: unknown, past either
        limit, account removed or changed (these are deleted at once). A use counts as
        activity (last_seen, written at most every touch_every)."""
        row = self._row(hashed)
        if row is None:
            return None
        created, seen = timeutil.parse(row["created_at"]), timeutil.parse(row["last_seen"])
        account = accounts.get(row["username"])
        if created is None or seen is None or created + self.limits.session <= now:
            reason = "its lifetime has passed"
        elif seen + self.limits.idle <= now:
            reason = "it was idle too long"
        elif account is None:
            reason = "the account is no longer in [team]"
        elif fingerprint(account) != row["fingerprint"]:
            reason = "the account's password or role changed since"
        else:
            if now - seen >= self.limits.touch_every:
                with self.monitor.transaction() as conn:
                    conn.execute("UPDATE signin_tokens SET last_seen = ? WHERE token_hash = ?"
                                 " AND last_seen < ?", (timeutil.iso(now), hashed,
                                                        timeutil.iso(now)))
            return account
        self.revoke(hashed)
        log.info("remembered sign-in of %r ended: %s", row["username"], reason)
        return None

    def revoke(self, hashed):
        """End one sign-in at once (its cookie no longer opens anything). Whether it existed."""
        if hashed is None or not self.monitor.path.exists():
            return False
        with self.monitor.transaction() as conn:
            _ensure(conn)
            return conn.execute("DELETE FROM signin_tokens WHERE token_hash = ?",
                                (hashed,)).rowcount > 0

    def revoke_all(self, by=None):
        """End every remembered sign-in (everyone signs in again). Returns how many."""
        if not self.monitor.path.exists():
            return 0
        with self.monitor.transaction() as conn:
            _ensure(conn)
            removed = conn.execute("DELETE FROM signin_tokens").rowcount
        log.warning("every sign-in revoked by %r: %d token(s)", by, removed)
        return removed

    def _prune(self, conn, now, username):
        """Delete ended tokens; keep this person under MAX_PER_USER and the table under
        MAX_ROWS once one more row is added (least recently used first)."""
        conn.execute("DELETE FROM signin_tokens WHERE created_at <= ? OR last_seen <= ?",
                     self._cutoffs(now))
        conn.execute(
            "DELETE FROM signin_tokens WHERE token_hash IN (SELECT token_hash FROM signin_tokens"
            " WHERE username = ? ORDER BY last_seen DESC LIMIT -1 OFFSET ?)",
            (username, MAX_PER_USER - 1))
        excess = conn.execute("SELECT COUNT(*) FROM signin_tokens").fetchone()[0] + 1 - MAX_ROWS
        if excess > 0:
            conn.execute("DELETE FROM signin_tokens WHERE token_hash IN (SELECT token_hash FROM"
                         " signin_tokens ORDER BY last_seen LIMIT ?)", (excess,))


def _ensure(conn):
    for statement in SCHEMA:
        conn.execute(statement)
