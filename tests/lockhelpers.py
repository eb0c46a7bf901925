"""Locks held by ANOTHER process, for the tests that every command gives up within the busy
timeout on a locked database instead of waiting without limit. The timeout is the setting
R2W_BUSY_TIMEOUT_MS: 5 s by default, 0.3 s in the tests (tests/conftest.py)."""
import subprocess
import sys
import textwrap
from contextlib import contextmanager

from r2w_db.backends.sqlite.connection import BUSY_TIMEOUT_MS

BUSY_S = BUSY_TIMEOUT_MS / 1000   # this session's busy timeout, in seconds
SLACK_S = 4.0   # what giving up may take beyond it: a command to start on a loaded machine
                # (less than the default timeout, so a wait of 5 s would not pass)


def within_busy_timeout(elapsed, slack=SLACK_S):
    """Whether `elapsed` seconds is giving up within the busy timeout (plus the slack)."""
    return elapsed < BUSY_S + slack

# how each kind of holder takes its lock, then says "held" and waits to be killed
HOLDS = {
    # a rollback-journal file: BEGIN EXCLUSIVE keeps every reader out
    "exclusive": ("PRAGMA journal_mode = DELETE", "BEGIN EXCLUSIVE",
                  "INSERT INTO sessions VALUES ('held', 'h', '2026-01-01')"),
    # a WAL file opened in EXCLUSIVE locking mode: readers are kept out as well
    "wal-exclusive": ("PRAGMA journal_mode = WAL", "PRAGMA locking_mode = EXCLUSIVE",
                      "BEGIN IMMEDIATE", "INSERT INTO sessions VALUES ('held', 'h', '2026-01-01')",
                      "COMMIT", "BEGIN", "SELECT count(*) FROM sessions"),
    # a WAL writer in the middle of a transaction: readers (and backups) carry on
    "wal-writer": ("PRAGMA journal_mode = WAL", "BEGIN IMMEDIATE",
                   "INSERT INTO sessions VALUES ('uncommitted', 'h', '2026-01-01')"),
    # an idle WAL connection: it keeps its SHARED lock while open
    "wal-open": ("PRAGMA journal_mode = WAL", "SELECT count(*) FROM sqlite_master"),
}


@contextmanager
def held(path, kind):
    """Run a process that holds `kind` of lock on `path` until the block ends."""
    script = textwrap.dedent(f"""
        import sqlite3, sys, time
        conn = sqlite3.connect({str(path)!r}, isolation_level=None)
        for statement in {HOLDS[kind]!r}:
            conn.execute(statement).fetchall()
        print("held", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()
