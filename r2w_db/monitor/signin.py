"""Team sign-in: accounts from the secrets' [team] table, bcrypt checks, throttling.

No Streamlit here: the dashboard passes the [team] mapping and the client's address in
and keeps the result in its session. Failed sign-ins are counted in the monitor
database (`signin_failures`), so a lock survives a page reload, a new browser session
and a restart of the server. Counts are kept per client (its address; one shared
bucket when it is unknown):

- per client and username: MAX_FAILURES failures lock that username *for that client*
  for LOCK_MINUTES. Another client's correct password still works, so nobody can lock a
  real user out from elsewhere;
- per client, all usernames together: CLIENT_MAX_FAILURES failures lock the client
  (junk usernames included) for LOCK_MINUTES;
- a refused attempt costs no bcrypt check and is logged; every attempt is counted as a
  failure before its check (so parallel attempts cannot overrun a limit) and a success
  takes it back and clears that username's count;
- counts older than WINDOW_MINUTES and ended locks are pruned; the table never holds
  more than MAX_ROWS rows (the oldest unlocked ones go first).

A wrong password and an unknown username get the same message and the same bcrypt work:
every check costs as much as one check at the highest cost among the accounts (an
unknown name is checked against a dummy hash of that cost; a cheaper account is topped
up with dummy checks), so a weak hash does not give its name away.
"""
import functools
import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from r2w_db.app.passwords import DEFAULT_ROUNDS, hash_password, verify_password
from r2w_db.engine import timeutil
from r2w_db.engine.locations import NAME as DATABASE_NAME
from r2w_db.monitor.store import MonitorStore, _has_table

ROLES = ("viewer", "admin")
MAX_FAILURES = 5              # per client and username
CLIENT_MAX_FAILURES = 20      # per client, all usernames together
LOCK_MINUTES = 15
WINDOW_MINUTES = 60           # a count is forgotten this long after its first failure
MAX_ROWS = 10_000
MAX_NAME = 200                # longer names are cut before they are stored
WEAK_COST = DEFAULT_ROUNDS    # bcrypt cost under this is flagged on the Overview
UNKNOWN_CLIENT = "unknown"    # the bucket of every client whose address is not known
ALL_NAMES = ""                # username of a client's own row (its total)
WRONG = "Wrong username or password."
LOCKED = ("Too many failed sign-ins for this username: it is locked for {minutes} more "
          "minute(s).")
CLIENT_LOCKED = ("Too many failed sign-ins from this address: try again in {minutes} "
                 "minute(s).")
DUMMY_PASSWORD = "r2w-monitor-no-such-account"
BCRYPT_HASH = re.compile(r"\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS signin_failures (
    client TEXT NOT NULL,             -- the client's address, or 'unknown'
    username TEXT NOT NULL,           -- '' for the client's total over all usernames
    failures INTEGER NOT NULL,        -- failed sign-ins since first_failure_at
    first_failure_at TEXT NOT NULL,   -- naive UTC ISO-8601
    last_failure_at TEXT NOT NULL,
    locked_until TEXT,                -- or NULL
    PRIMARY KEY (client, username)
)""",
    "CREATE INDEX IF NOT EXISTS idx_signin_failures_first ON signin_failures(first_failure_at)",
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str
    databases: tuple | None = None   # the database names this account may open; None: all

    def may_open(self, database_name):
        return self.databases is None or database_name in self.databases


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str = ""
    account: Account = None
    locked_until: object = None


# ------------------------------------------------------------------ accounts

def load_accounts(team):
    """({name: Account}, [problems]) from the [team] mapping of the secrets
    (`[team.NAME]` with `password_hash` and `role`). None: no [team] at all (no problem);
    an empty [team], an entry without a valid bcrypt hash, with an unknown role or a name
    nobody can type is a problem (and that entry is left out)."""
    accounts, problems = {}, []
    if team is None:
        return accounts, problems
    if not hasattr(team, "items"):
        return accounts, ["[team] must be a table of [team.NAME] accounts"]
    if not team:
        return accounts, [("[team] has no accounts: add [team.NAME] tables with password_hash "
                           "and role, or remove [team] to run the dashboard open")]
    for name, entry in team.items():
        if not hasattr(entry, "get"):
            problems.append(f"[team.{name}] is not a table")
            continue
        password_hash = entry.get("password_hash")
        role = str(entry.get("role", "viewer")).strip().lower()
        if not isinstance(name, str) or not name or name != name.strip() or len(name) > MAX_NAME:
            problems.append(f"[team.{name}]: a name must be 1-{MAX_NAME} characters without "
                            "surrounding spaces")
        elif not _valid_hash(password_hash):
            problems.append(f"[team.{name}] has no valid bcrypt password_hash "
                            "(make one with `python -m r2w_db hash-password`)")
        elif role not in ROLES:
            problems.append(f"[team.{name}] role must be viewer or admin, not {role!r}")
        elif not _valid_databases(entry.get("databases")):
            problems.append(f"[team.{name}] databases must be a list of database names, e.g. "
                            f'databases = ["staging"]')
        else:
            databases = entry.get("databases")
            accounts[name] = Account(name, role, password_hash,
                                     None if databases is None else tuple(databases))
    return accounts, problems


def _valid_databases(value):
    """None (every database) or a list of names (an empty list opens none)."""
    return value is None or (isinstance(value, (list, tuple)) and all(
        isinstance(v, str) and DATABASE_NAME.fullmatch(v) for v in value))


def _valid_hash(password_hash):
    match = isinstance(password_hash, str) and BCRYPT_HASH.fullmatch(password_hash)
    return bool(match) and 4 <= int(match.group(1)) <= 31


def _cost(password_hash):
    """The bcrypt cost of a hash ('$2b$12$...' -> 12), or WEAK_COST."""
    try:
        return max(4, min(31, int(password_hash.split("$")[2])))
    except (IndexError, ValueError, AttributeError):
        return WEAK_COST


def weak_accounts(accounts):
    """[(name, cost)] of the accounts whose bcrypt cost is under WEAK_COST."""
    return [(a.name, _cost(a.password_hash)) for a in accounts.values()
            if _cost(a.password_hash) < WEAK_COST]


@functools.lru_cache(maxsize=32)
def dummy_hash(cost=WEAK_COST):
    """A hash of this cost that no user's password matches (made once per process)."""
    return hash_password(DUMMY_PASSWORD + "-unused", rounds=cost)


def _check(accounts, account, password):
    """Whether `password` is `account`'s (None: unknown name), always with the bcrypt work
    of one check at the highest cost among `accounts`: 2^c + 2^c + ... + 2^(top-1) = 2^top."""
    costs = [_cost(a.password_hash) for a in accounts.values()] or [WEAK_COST]
    top = max(costs)
    for cost in range(min(costs), top + 1):   # made before any timed work, whatever the name
        dummy_hash(cost)
    if account is None:
        verify_password(password, dummy_hash(top))
        return False
    matches = verify_password(password, account.password_hash)
    for cost in range(_cost(account.password_hash), top):
        verify_password(password, dummy_hash(cost))
    return matches


# ------------------------------------------------------------------ the throttle

def _key(username):
    return str(username or "").strip()[:MAX_NAME]


def client_key(client):
    """How a client is counted: its address, or UNKNOWN_CLIENT (one bucket for all)."""
    text = str(client).strip()[:64] if client is not None else ""
    return text or UNKNOWN_CLIENT


def _minutes(until, now):
    return max(1, -int(-(until - now).total_seconds() // 60))


class SigninStore:
    """The signin_failures table of the monitor database. Time is always passed in."""

    def __init__(self, monitor=None):
        self.monitor = monitor or MonitorStore()

    # -------------------------------------------------------------- reading
    def _row(self, client, username):
        if not self.monitor.path.exists():
            return None
        with self.monitor.db.read() as conn:
            if not _has_table(conn, "signin_failures") or not _current(conn):
                return None
            return conn.execute("SELECT * FROM signin_failures WHERE client = ? AND username = ?",
                                (client_key(client), username)).fetchone()

    def failures(self, username, client=None):
        """Failures counted for this username from this client (None: the unknown bucket)."""
        row = self._row(client, _key(username))
        return row["failures"] if row else 0

    def client_failures(self, client=None):
        row = self._row(client, ALL_NAMES)
        return row["failures"] if row else 0

    def locked_until(self, username, now=None, client=None):
        """When this client's lock of this username ends, or None if it is not locked."""
        return _until(self._row(client, _key(username)), now or timeutil.utcnow())

    def client_locked_until(self, now=None, client=None):
        """When this client's own lock (all usernames) ends, or None."""
        return _until(self._row(client, ALL_NAMES), now or timeutil.utcnow())

    def rows(self):
        return self.monitor.count_rows("signin_failures")

    # -------------------------------------------------------------- writing
    def begin(self, client, username, now):
        """Before a check: prune, then refuse (an Outcome) if this client or this client's
        username is locked or at its limit; else count the attempt as a failure (None)."""
        client, username = client_key(client), _key(username)
        names = [ALL_NAMES] + ([username] if username else [])
        with self.monitor.transaction() as conn:
            _ensure(conn)
            _prune(conn, now, adding=len(names))
            for name in names:
                row = _fresh(conn, client, name, now)
                limit, text = (CLIENT_MAX_FAILURES, CLIENT_LOCKED) if name == ALL_NAMES \
                    else (MAX_FAILURES, LOCKED)
                if row is not None and (row["locked_until"] or row["failures"] >= limit):
                    # at the limit without a lock: attempts still being checked elsewhere
                    until = _until(row, now) or now + timedelta(minutes=LOCK_MINUTES)
                    return Outcome(False, text.format(minutes=_minutes(until, now)),
                                   locked_until=until)
            for name in names:
                conn.execute(
                    "INSERT INTO signin_failures (client, username, failures, first_failure_at,"
                    " last_failure_at) VALUES (?, ?, 1, ?, ?) ON CONFLICT (client, username)"
                    " DO UPDATE SET failures = failures + 1, last_failure_at = excluded.last_failure_at",
                    (client, name, timeutil.iso(now), timeutil.iso(now)))
        return None

    def failed(self, client, username, now):
        """The attempt counted by begin() failed: lock what reached its limit (this client's
        username, the client). Returns when the lock it set ends, or None."""
        client, username = client_key(client), _key(username)
        until = timeutil.iso(now + timedelta(minutes=LOCK_MINUTES))
        with self.monitor.transaction() as conn:
            _ensure(conn)
            locked = conn.execute(
                "UPDATE signin_failures SET locked_until = ? WHERE client = ? AND locked_until"
                " IS NULL AND ((username = ? AND username != '' AND failures >= ?)"
                " OR (username = '' AND failures >= ?))",
                (until, client, username, MAX_FAILURES, CLIENT_MAX_FAILURES)).rowcount
        return now + timedelta(minutes=LOCK_MINUTES) if locked else None

    def succeeded(self, client, username):
        """The attempt counted by begin() succeeded: take it back; clear the username's count."""
        client, username = client_key(client), _key(username)
        with self.monitor.transaction() as conn:
            _ensure(conn)
            conn.execute("UPDATE signin_failures SET failures = MAX(failures - 1, 0)"
                         " WHERE client = ? AND username = ''", (client,))
            if username:
                conn.execute("DELETE FROM signin_failures WHERE client = ? AND username = ?",
                             (client, username))


def _current(conn):
    """Whether signin_failures has this module's columns (not an older per-name table)."""
    return "client" in [row[1] for row in conn.execute("PRAGMA table_info(signin_failures)")]


def _ensure(conn):
    if _has_table(conn, "signin_failures") and not _current(conn):
        conn.execute("DROP TABLE signin_failures")   # the old per-name counts: transient state
    for statement in SCHEMA:
        conn.execute(statement)


def _prune(conn, now, adding):
    """Forget counts older than the window whose lock (if any) has ended; keep the table
    under MAX_ROWS (after `adding` more), dropping unlocked rows first, oldest first."""
    stamp = timeutil.iso(now)
    conn.execute("DELETE FROM signin_failures WHERE first_failure_at <= ?"
                 " AND (locked_until IS NULL OR locked_until <= ?)",
                 (timeutil.iso(now - timedelta(minutes=WINDOW_MINUTES)), stamp))
    excess = conn.execute("SELECT COUNT(*) FROM signin_failures").fetchone()[0] + adding - MAX_ROWS
    if excess > 0:
        conn.execute(
            "DELETE FROM signin_failures WHERE rowid IN (SELECT rowid FROM signin_failures"
            " ORDER BY COALESCE(locked_until > ?, 0), username = '', last_failure_at LIMIT ?)",
            (stamp, excess))


def _fresh(conn, client, username, now):
    """The row, or None; a count whose lock has ended or whose window has passed starts over."""
    row = conn.execute("SELECT * FROM signin_failures WHERE client = ? AND username = ?",
                       (client, username)).fetchone()
    if row is None:
        return None
    first = timeutil.parse(row["first_failure_at"]) or now
    lock = timeutil.parse(row["locked_until"]) if row["locked_until"] else None
    if (lock is not None and lock <= now) or \
            (lock is None and first <= now - timedelta(minutes=WINDOW_MINUTES)):
        conn.execute("DELETE FROM signin_failures WHERE client = ? AND username = ?",
                     (client, username))
        return None
    return row


def _until(row, now):
    until = timeutil.parse(row["locked_until"]) if row and row["locked_until"] else None
    return until if until is not None and until > now else None


# ------------------------------------------------------------------ signing in

def authenticate(accounts, username, password, *, client=None, now=None, store=None) -> Outcome:
    """Check a sign-in from `client` (its address; None: unknown) against `accounts`
    ({name: Account}): refuse a locked client or username without a bcrypt check, count
    failures, lock at the limits, log every refusal and failure."""
    now = now or timeutil.utcnow()
    store = store or SigninStore()
    key, who = _key(username), client_key(client)
    refused = store.begin(who, key, now)
    if refused is not None:
        log.warning("sign-in refused for %r from %s (locked until %s)", key, who,
                    timeutil.iso(refused.locked_until))
        return refused
    account = accounts.get(key)
    if _check(accounts, account, password):
        store.succeeded(who, key)
        log.info("signed in: %r from %s", key, who)
        return Outcome(True, account=account)
    until = store.failed(who, key, now)
    log.warning("failed sign-in for %r from %s%s", key, who, " (now locked)" if until else "")
    if until is not None:
        text = LOCKED if key and store.locked_until(key, now, who) else CLIENT_LOCKED
        return Outcome(False, text.format(minutes=LOCK_MINUTES), locked_until=until)
    return Outcome(False, WRONG)
