"""Team sign-in: accounts from the secrets' [team] table, bcrypt checks, lockouts.

No Streamlit here: the dashboard passes the [team] mapping in and keeps the result in
its session. Failed sign-ins are counted per username in the monitor database
(`signin_failures`), so a lockout survives a page reload, a new browser session and a
restart of the server:

- a wrong password and an unknown username give the same message and take the same
  time (an unknown name is checked against a dummy hash of the same cost);
- MAX_FAILURES failures in a row lock that username (known or not) for LOCK_MINUTES;
  while locked even the right password is refused; a success clears the count.
"""
import functools
import logging
from dataclasses import dataclass
from datetime import timedelta

from r2w_db.app.passwords import hash_password, verify_password
from r2w_db.engine import timeutil
from r2w_db.engine.connection import transaction
from r2w_db.monitor.store import MonitorStore, _has_table

ROLES = ("viewer", "admin")
MAX_FAILURES = 5
LOCK_MINUTES = 15
MAX_NAME = 200                # longer names are cut before they are stored
WRONG = "Wrong username or password."
LOCKED = ("Too many failed sign-ins for this username: it is locked for {minutes} more "
          "minute(s).")
DUMMY_PASSWORD = "r2w-monitor-no-such-account"

SCHEMA = """
CREATE TABLE IF NOT EXISTS signin_failures (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,        -- failed sign-ins in a row
    last_failure_at TEXT NOT NULL,
    locked_until TEXT                 -- naive UTC ISO-8601, or NULL
);
"""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""
    account: Account = None
    locked_until: object = None


def load_accounts(team):
    """({name: Account}, [problems]) from the [team] mapping of the secrets
    (`[team.NAME]` with `password_hash` and `role`). An entry without a hash or with an
    unknown role is left out (and named in problems, for the server log)."""
    accounts, problems = {}, []
    if not team or not hasattr(team, "items"):
        return accounts, problems
    for name, entry in team.items():
        if not hasattr(entry, "get"):
            problems.append(f"[team.{name}] is not a table")
            continue
        password_hash = entry.get("password_hash")
        role = str(entry.get("role", "viewer")).strip().lower()
        if not isinstance(password_hash, str) or not password_hash.startswith("$2"):
            problems.append(f"[team.{name}] has no bcrypt password_hash")
            continue
        if role not in ROLES:
            problems.append(f"[team.{name}] role must be viewer or admin, not {role!r}")
            continue
        accounts[str(name)] = Account(str(name), role, password_hash)
    return accounts, problems


def _cost(password_hash):
    """The bcrypt cost of a hash ('$2b$12$...' -> 12), or 12."""
    try:
        return max(4, min(31, int(password_hash.split("$")[2])))
    except (IndexError, ValueError, AttributeError):
        return 12


@functools.lru_cache(maxsize=8)
def dummy_hash(cost=12):
    """A hash no password of a user matches, with the same cost as the real ones."""
    return hash_password(DUMMY_PASSWORD + "-unused", rounds=cost)


def _key(username):
    return str(username or "").strip()[:MAX_NAME]


class SigninStore:
    """The signin_failures table of the monitor database."""

    def __init__(self, monitor=None):
        self.monitor = monitor or MonitorStore()

    def locked_until(self, username, now=None):
        """When the lock of this username ends (a datetime), or None if it is not locked."""
        now = now or timeutil.utcnow()
        if not self.monitor.path.exists():
            return None
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "signin_failures"):
                return None
            row = conn.execute("SELECT locked_until FROM signin_failures WHERE username = ?",
                               (_key(username),)).fetchone()
        until = timeutil.parse(row["locked_until"]) if row and row["locked_until"] else None
        return until if until is not None and until > now else None

    def failures(self, username):
        if not self.monitor.path.exists():
            return 0
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "signin_failures"):
                return 0
            row = conn.execute("SELECT failures FROM signin_failures WHERE username = ?",
                               (_key(username),)).fetchone()
        return row["failures"] if row else 0

    def record_failure(self, username, now=None):
        """Count a failure; the MAX_FAILURES-th locks the name. Returns locked_until or None."""
        now = now or timeutil.utcnow()
        key = _key(username)
        with self.monitor._writer() as conn:
            conn.executescript(SCHEMA)
            with transaction(conn):
                row = conn.execute("SELECT failures, locked_until FROM signin_failures"
                                   " WHERE username = ?", (key,)).fetchone()
                failures = row["failures"] if row else 0
                expired = row and row["locked_until"] and \
                    (timeutil.parse(row["locked_until"]) or now) <= now
                if expired:
                    failures = 0          # a lock that ran out starts a fresh count
                failures += 1
                until = now + timedelta(minutes=LOCK_MINUTES) if failures >= MAX_FAILURES else None
                conn.execute(
                    "INSERT INTO signin_failures (username, failures, last_failure_at, locked_until)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT (username) DO UPDATE SET"
                    " failures = excluded.failures, last_failure_at = excluded.last_failure_at,"
                    " locked_until = excluded.locked_until",
                    (key, failures, timeutil.iso(now), None if until is None else timeutil.iso(until)))
        return until

    def clear(self, username):
        if not self.monitor.path.exists():
            return
        with self.monitor._writer() as conn:
            conn.executescript(SCHEMA)
            with transaction(conn):
                conn.execute("DELETE FROM signin_failures WHERE username = ?", (_key(username),))


def authenticate(accounts, username, password, *, now=None, store=None) -> Outcome:
    """Check a sign-in against `accounts` ({name: Account}); count failures, honour locks.

    The password is always checked with bcrypt (a dummy hash for an unknown name), so a
    wrong password, an unknown name and a locked name take the same time."""
    now = now or timeutil.utcnow()
    store = store or SigninStore()
    key = _key(username)
    account = accounts.get(key)
    costs = [_cost(a.password_hash) for a in accounts.values()] or [12]
    target = account.password_hash if account else dummy_hash(max(costs))
    matches = verify_password(password or "", target) and account is not None
    until = store.locked_until(key, now)
    if until is not None:
        minutes = max(1, -int(-(until - now).total_seconds() // 60))
        return Outcome(False, LOCKED.format(minutes=minutes), locked_until=until)
    if not matches:
        until = store.record_failure(key, now)
        log.warning("failed sign-in for %r%s", key, " (now locked)" if until else "")
        if until is not None:
            return Outcome(False, LOCKED.format(minutes=LOCK_MINUTES), locked_until=until)
        return Outcome(False, WRONG)
    store.clear(key)
    return Outcome(True, account=account)
