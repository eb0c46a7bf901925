"""Issue 19, hardening round 3: the move, backups and restore under hostile input.

10  a move killed at any stage (tables loading, indexes building, verification, the final check)
    and run again finishes or repairs it; "already moved" only when `check` passes (a killed
    load, with its indexes and verification, leaves nothing: tests/test_pg_move_one_transaction.py);
11  text that is not valid UTF-8 is listed (table, key, column, its bytes) and handled as asked;
12  a far-off timestamp (past year 9999 or before year 1 once in UTC) is a listed value;
13  every command printed for a person to paste quotes its identifiers, paths and URLs;
17  `backup` of a file with a hot rollback journal names the interrupted write and `recover`.
"""
import json
import os
import re
import shlex
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

from r2w_db import errors
from r2w_db.backends import migrations
from r2w_db.backends.postgresql import schema as pg_schema
from r2w_db.backends.postgresql import restore as pg_restore
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.backends.postgresql.move_convert import Converter
from r2w_db.demo.builder import build_demo
from r2w_db.maintenance import move
from r2w_db.monitor.store import MonitorStore

from .test_move import pg_counts, sqlite_counts
from tests import cli_process

REPO = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)


def run_cli(*args, timeout=180):
    return cli_process.run_cli([*map(str, args)], cwd=REPO, timeout=timeout)


def one_error_line(done):
    """The run failed with exactly one line on stderr that starts with 'error:', no traceback."""
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    errors_ = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors_) == 1, done.stderr
    return errors_[0]


def valid_indexes(url):
    with PgDatabase(url).read() as conn:
        return {n for n, (_, valid) in pg_schema.existing_indexes(conn).items() if valid}


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo.db"
    build_demo(path, scale="small", seed=5, now=NOW)
    return path


# ------------------------------------------------------- 10: a move killed at each stage

KILL = textwrap.dedent("""
    import os, signal, sys
    from r2w_db.maintenance import move
    from r2w_db.backends.postgresql import move as pg_move, schema as pg_schema

    stage, source, url = sys.argv[1:4]

    def die(*_, **__):
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if stage == "load":            # in the middle of COPY, third table
        copy = pg_move._copy
        def killing_copy(cur, table, rows):
            if table != "cv_uploads":
                return copy(cur, table, rows)
            def some():   # the rows come in batches: killed after the first went in
                for piece in rows:
                    yield piece
                    die()
            return copy(cur, table, some())
        pg_move._copy = killing_copy
    elif stage == "indexes-in-load":    # after 2 indexes were built inside the load
        create, built = pg_schema.index_in_transaction_sql, []
        def create_then_die(name):
            if len(built) == 2:
                die()
            built.append(name)
            return create(name)
        pg_schema.index_in_transaction_sql = create_then_die
    elif stage.startswith("indexes"):   # after 2 of the indexes were built (after the commit)
        migrate, built = pg_schema.migrate, []
        def progress(step, seconds):
            if step.kind == "index":
                built.append(step)
                if len(built) == 2:
                    die()
        pg_schema.migrate = lambda db, **kw: migrate(db, progress=progress)
    elif stage == "verify":        # the server computing the checksums
        pg_move._checksums = die
    elif stage == "check":         # the final check
        move.run_check = die
    move.move(source, url)
    print("not killed")
""")


def killed_move(source, url, stage):
    done = subprocess.run([sys.executable, "-c", KILL, stage, str(source), url], cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == -9, (done.returncode, done.stdout, done.stderr)


def tables_without_indexes(url):
    """The target as someone may have left it: the tables there, empty, without their indexes
    (the move then builds them CONCURRENTLY after its commit)."""
    migrations.init(url)
    with PgDatabase(url).write() as conn:
        for name in pg_schema.INDEXES:
            conn.execute(f'DROP INDEX "{name}"')


def assert_moved_and_checked(demo, url):
    assert pg_counts(url) == sqlite_counts(demo)
    assert valid_indexes(url) >= set(pg_schema.INDEXES)
    check = run_cli("--db", url, "check", "--quick", "--json")
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads(check.stdout)
    assert report["ok"] and not report["schema"]["missing_additions"]


@pytest.mark.parametrize("stage", ["load", "indexes", "indexes-invalid", "verify", "check"])
def test_a_move_killed_at_any_stage_is_finished_by_the_next_run(demo, pg_cluster, stage):
    url = pg_cluster.create_database()
    if stage.startswith("indexes"):   # the tables existed before the move: built after it
        tables_without_indexes(url)
    killed_move(demo, url, stage)
    if stage in ("load", "verify"):
        assert pg_counts(url) == dict.fromkeys(move.TABLES)  # one transaction: nothing there
    elif stage.startswith("indexes"):
        assert pg_counts(url) == sqlite_counts(demo)         # the rows were committed
        missing = set(pg_schema.INDEXES) - valid_indexes(url)
        assert len(missing) == len(pg_schema.INDEXES) - 2
        if stage == "indexes-invalid":   # as a build killed half-way leaves it: INVALID
            name = sorted(set(pg_schema.INDEXES) - missing)[0]
            pg_cluster.execute("UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
                               "to_regclass(%s)", (name,), dbname=url.split("/")[3].split("?")[0])
            assert name not in valid_indexes(url)
        broken = run_cli("--db", url, "check", "--quick")
        assert broken.returncode == 1   # check fails until the move is finished
    again = run_cli("--db", demo, "move", "--to", url)
    assert again.returncode == 0, again.stdout + again.stderr
    last = again.stdout.strip().splitlines()
    outcome = next(line for line in last if line.startswith(("moved", "already moved")))
    if stage in ("load", "verify"):
        assert outcome.startswith("moved")
    elif stage.startswith("indexes"):
        assert "interrupted move was finished" in outcome
    assert_moved_and_checked(demo, url)
    # and a third run has nothing left to do
    third = run_cli("--db", demo, "move", "--to", url, "--json")
    assert third.returncode == 0
    assert json.loads(third.stdout)["outcome"] == "already moved: the target equals the source"


def test_never_already_moved_while_check_fails(demo, pg_url, monkeypatch):
    from r2w_db.backends.postgresql import move as pg_move

    tables_without_indexes(pg_url)   # so that the indexes are built after the load's commit
    monkeypatch.setattr(pg_move, "build_indexes", lambda db: 0)   # the indexes never get built
    with pytest.raises(move.MoveIncomplete, match="not complete: check fails.*index") as first:
        move.move(demo, pg_url)
    assert first.value.report["check_ok"] is False and "outcome" not in first.value.report
    with pytest.raises(move.MoveIncomplete, match="run the move again to finish it"):
        move.move(demo, pg_url)   # the rows are there and equal: still not "already moved"
    assert MonitorStore().recent_log()[0]["outcome"] == "refused"
    monkeypatch.undo()
    done = move.move(demo, pg_url)
    assert done["check_ok"] and done["indexes_built"] == len(pg_schema.INDEXES)
    assert "interrupted move was finished" in done["outcome"]


# ------------------------------------------------------- 11: text that is not valid UTF-8

BAD_BYTES = {
    "latin-1": b"caf\xe9",
    "lone continuation": b"\x80abc",
    "truncated sequence": b"ab\xc3",
    "overlong slash": b"\xc0\xaf",
    "encoded surrogate": b"\xed\xa0\x80",
    "past U+10FFFF": b"\xf4\x90\x80\x80",
    "0xff": b"x\xffy",
}


@pytest.fixture
def not_utf8(tmp_path):
    """Users whose name (nullable), email (NOT NULL), created_at (a timestamp) or key hold bytes
    that are not UTF-8, each stored as SQLite TEXT; and good rows around them."""
    path = tmp_path / "not_utf8.db"
    migrations.init(path)
    with sqlite3.connect(path) as conn:
        insert = ("INSERT INTO users (user_id, email, password_hash, name, created_at) "
                  "VALUES (?, ?, 'h', ?, ?)")
        conn.execute(insert, ("good", "g@x", "Zoë", "2026-11-24T08:15:02"))
        for i, data in enumerate(BAD_BYTES.values()):
            conn.execute("INSERT INTO users (user_id, email, password_hash, name, created_at) "
                         "VALUES (?, ?, 'h', CAST(? AS TEXT), ?)",
                         (f"n{i}", f"n{i}@x", data, "2026-11-24T08:15:02"))
        conn.execute("INSERT INTO users (user_id, email, password_hash, created_at) "
                     "VALUES ('e1', CAST(? AS TEXT), 'h', '2026-11-24T08:15:02')", (b"b\xe9@x",))
        conn.execute("INSERT INTO users (user_id, email, password_hash, created_at) "
                     "VALUES ('t1', 't1@x', 'h', CAST(? AS TEXT))", (b"2026-11-24T08:15:02\xff",))
        conn.execute("INSERT INTO sessions VALUES (CAST(? AS TEXT), 'good', '2026-11-24T08:15:02')",
                     (b"sess\xfe",))
        conn.execute("INSERT INTO sessions VALUES ('s-ok', 'good', '2026-11-24T08:15:02')")
        # really stored as text that is not UTF-8
        assert conn.execute("SELECT count(*) FROM users WHERE typeof(name) = 'text'"
                            " AND user_id LIKE 'n%'").fetchone()[0] == len(BAD_BYTES)
    return path


def listed(report):
    return {(p["table"], p["key"], p["column"]): p for p in report["unconvertible"]}


def expected_not_utf8():
    found = {("users", f"n{i}", "name"): repr(data) for i, data in enumerate(BAD_BYTES.values())}
    found[("users", "e1", "email")] = repr(b"b\xe9@x")
    found[("users", "t1", "created_at")] = repr(b"2026-11-24T08:15:02\xff")
    found[("sessions", repr(b"sess\xfe"), "session_id")] = repr(b"sess\xfe")
    return found


def test_text_that_is_not_utf8_is_listed_with_its_bytes_and_blocks_by_default(not_utf8, pg_url):
    with pytest.raises(move.MoveRefused, match="10 value") as refused:
        move.move(not_utf8, pg_url)
    found = listed(refused.value.report)
    assert {k: p["value"] for k, p in found.items()} == expected_not_utf8()
    assert {p["reason"] for p in found.values()} == {"text that is not valid UTF-8"}
    for p in found.values():   # shown safely: printable ASCII, the bytes escaped
        assert p["value"].isascii() and p["value"].isprintable() and p["value"].startswith("b")
        assert p["key"].isascii()
    assert pg_counts(pg_url) == dict.fromkeys(move.TABLES)


def test_text_that_is_not_utf8_follows_null_and_skip_row(not_utf8, tmp_path, pg_cluster):
    # null: the nullable names become NULL; the email, the timestamp and the key still block
    with pytest.raises(move.MoveRefused, match="3 value") as refused:
        move.move(not_utf8, pg_cluster.create_database(), unconvertible="null")
    handled = {k: p["handled"] for k, p in listed(refused.value.report).items()}
    assert {k for k, h in handled.items() if h == "blocking"} == {
        ("users", "e1", "email"), ("users", "t1", "created_at"),
        ("sessions", repr(b"sess\xfe"), "session_id")}
    assert {h for k, h in handled.items() if k[2] == "name"} == {"set to NULL"}
    # with only nullable columns affected, null moves every row
    only_names = tmp_path / "names.db"
    only_names.write_bytes(not_utf8.read_bytes())
    with sqlite3.connect(only_names) as conn:
        conn.execute("DELETE FROM users WHERE user_id IN ('e1', 't1')")
        conn.execute("DELETE FROM sessions WHERE session_id <> 's-ok'")
    url = pg_cluster.create_database()
    report = move.move(only_names, url, unconvertible="null")
    assert report["outcome"] == "moved" and report["tables"]["users"]["rows_moved"] == 8
    with PgDatabase(url).read() as conn:
        names = dict(conn.execute("SELECT user_id, name FROM users").fetchall())
    assert names["good"] == "Zoë" and all(names[f"n{i}"] is None for i in range(len(BAD_BYTES)))
    # skip-row: the rows stay behind, listed; the rest moves, verified
    url = pg_cluster.create_database()
    report = move.move(not_utf8, url, unconvertible="skip-row")
    assert {k: p["value"] for k, p in listed(report).items()} == expected_not_utf8()
    assert report["tables"]["users"]["rows_skipped"] == len(BAD_BYTES) + 2
    assert report["tables"]["sessions"]["rows_skipped"] == 1
    assert pg_counts(url)["users"] == 1 and pg_counts(url)["sessions"] == 1
    assert all(t["verified"] for t in report["tables"].values())


def test_the_command_line_lists_bytes_that_are_not_utf8(not_utf8, pg_cluster):
    refused = run_cli("--db", not_utf8, "move", "--to", pg_cluster.create_database())
    assert "10 value(s)" in one_error_line(refused)
    assert "users 'n0' name = b'caf\\xe9': text that is not valid UTF-8 [blocking]" in refused.stdout
    done = run_cli("--db", not_utf8, "move", "--to", pg_cluster.create_database(),
                   "--unconvertible", "skip-row", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["outcome"] == "moved" and len(report["unconvertible"]) == 10
    dry = run_cli("--db", not_utf8, "move", "--to", pg_cluster.create_database(), "--dry-run")
    assert dry.returncode == 0 and "b'\\xc0\\xaf'" in dry.stdout


# ------------------------------------------------------- 12: far-off timestamps

FAR_OFF = ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999999-00:01",
           "9999-12-31 20:00:00-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01T00:30:00+01:00",
           "0001-01-01 00:00:00.5+00:01"]
EDGES = {  # as far as a timestamp goes and still converts
    "9999-12-31T23:59:59.999999Z": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc),
    "9999-12-31T23:00:00": datetime(9999, 12, 31, 23, 0, tzinfo=timezone.utc),
    "0001-01-01T00:00:00Z": datetime(1, 1, 1, tzinfo=timezone.utc),
    "0001-01-01T05:00:00+04:00": datetime(1, 1, 1, 1, 0, tzinfo=timezone.utc),
    "0100-03-01T00:00:00-12:00": datetime(100, 3, 1, 12, 0, tzinfo=timezone.utc),
}


@pytest.fixture
def far_off(tmp_path):
    path = tmp_path / "far_off.db"
    migrations.init(path)
    with sqlite3.connect(path) as conn:
        insert = ("INSERT INTO users (user_id, email, password_hash, created_at, "
                  "portfolio_expires_at) VALUES (?, ?, 'h', ?, ?)")
        for i, text in enumerate(FAR_OFF):
            conn.execute(insert, (f"far{i}", f"far{i}@x", text, None))   # NOT NULL column
        conn.execute(insert, ("exp", "exp@x", "2026-11-24T08:15:02", FAR_OFF[0]))  # nullable
        for i, text in enumerate(EDGES):
            conn.execute(insert, (f"edge{i}", f"edge{i}@x", text, text))
        conn.execute("INSERT INTO sessions VALUES ('s1', 'edge0', ?)", (FAR_OFF[3],))
    return path


def test_a_far_off_timestamp_is_a_listed_value(far_off, pg_cluster):
    converter = Converter("users", "refuse")
    for text in FAR_OFF:   # never an exception, whatever the offset
        assert converter.convert(("u", "e", "h", None, None, None, None, text, None, None,
                                  None, None)) is None
    assert {p.reason for p in converter.problems} == {
        "a timestamp outside the years 1 to 9999 once in UTC"}
    with pytest.raises(move.MoveRefused, match="8 value") as refused:
        move.move(far_off, pg_cluster.create_database())
    found = listed(refused.value.report)
    assert found[("users", "far0", "created_at")]["value"] == repr(FAR_OFF[0])
    assert found[("users", "exp", "portfolio_expires_at")]["handled"] == "blocking"
    assert found[("sessions", "s1", "created_at")]["reason"].startswith("a timestamp outside")
    url = pg_cluster.create_database()
    report = move.move(far_off, url, unconvertible="skip-row")
    assert report["tables"]["users"]["rows_moved"] == len(EDGES)
    with PgDatabase(url).read() as conn:
        moved = dict(conn.execute("SELECT email, created_at FROM users").fetchall())
    assert {e: moved[f"edge{i}@x"] for i, e in enumerate(EDGES)} == EDGES
    done = run_cli("--db", far_off, "move", "--to", pg_cluster.create_database())
    assert "8 value(s)" in one_error_line(done)
    assert f"users 'far0' created_at = '{FAR_OFF[0]}': a timestamp outside" in done.stdout


# ------------------------------------------------------- 13: commands to paste, quoted

def test_restore_names_the_database_to_drop_quoted(pg_cluster):
    for name in ("Resume2Website_before_restore_20261124", 'odd "name" db', "lower_case"):
        pg_cluster.execute(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"')
        info = {"rows": {"users": 1}, "swapped": True, "previous_database": name,
                "restored_database": "x", "warnings": []}
        line = pg_restore.message(PgDatabase(pg_cluster.url("postgres")), "b.dump", info)
        statement = re.search(r"\((DROP DATABASE [^;]*);\)", line).group(1)
        pg_cluster.execute(statement)   # pasted as printed, it drops that very database
        assert not pg_cluster.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))


def pasted_paths(text):
    """The --db word of every `python -m r2w_db --db ...` in `text`, read as a shell reads it."""
    found = []
    for match in re.finditer(r"python -m r2w_db --db ", text):
        lexer = shlex.shlex(text[match.end():], posix=True)
        lexer.whitespace_split = True
        found.append(next(lexer))
    return found


HOSTILE_PATHS = ["my data/r2w.db", "it's.db", "$HOME.db", "a&b;c.db", "back`tick`.db", "x*y?.db"]


@pytest.mark.parametrize("name", HOSTILE_PATHS)
def test_printed_commands_paste_back_to_the_same_path(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    for exc in (errors.DatabaseMissing(path), errors.EmptyDatabase(path),
                errors.SchemaTooOld(path, ["users"]), errors.DatabaseDamaged(path),
                errors.HotJournal(path)):
        assert pasted_paths(str(exc)), str(exc)
        assert set(pasted_paths(str(exc))) == {str(path)}, str(exc)
    # on the command line too: a missing database names the command to create it
    done = run_cli("--db", path, "stats")
    assert pasted_paths(one_error_line(done)) == [str(path)]


def test_the_move_prints_a_url_that_pastes_as_one_word(demo, pg_cluster):
    url = pg_cluster.create_database().replace("postgres@", "postgres:pw-not-shown@")
    done = run_cli("--db", demo, "move", "--to", url)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("give the application: "))
    assignment = line.split(": ", 1)[1].removesuffix(" (with its real password)")
    words = shlex.split(assignment.replace("***", "pw-not-shown"))
    assert words == ["DATABASE_URL=" + url]   # the & of ?host=...&port=... quoted
    assert "pw-not-shown" not in done.stdout + done.stderr


# ------------------------------------------------------- 17: backup of a hot journal

def test_backup_of_a_hot_journal_names_the_crash_and_recover(tmp_path, monkeypatch):
    from .test_hostile_engine import hot_journal_db

    folder = tmp_path / "with space"
    folder.mkdir()
    hot = hot_journal_db(folder)
    journal = Path(str(hot) + "-journal")
    before = journal.read_bytes()
    monkeypatch.setenv("R2W_BACKUP_DIR", str(tmp_path / "backups"))
    for method in ("backup", "vacuum-into"):
        done = run_cli("--db", hot, "backup", "--method", method)
        line = one_error_line(done)
        assert "permission denied" not in line
        assert "hot rollback journal" in line and "crashed" in line
        assert f"python -m r2w_db --db {shlex.quote(str(hot))} recover" in line
    assert journal.read_bytes() == before   # left alone: never deleted, never rolled back
    assert not [p for p in (tmp_path / "backups").rglob("*") if p.is_file()]
    log = MonitorStore().recent_log()
    assert log[0]["outcome"] == "failed" and "hot rollback journal" in log[0]["error"]
    # after recover, a backup is taken
    assert run_cli("--db", hot, "recover").returncode == 0
    assert run_cli("--db", hot, "backup").returncode == 0
    assert len([p for p in (tmp_path / "backups").rglob("*.db")]) == 1


def test_restore_from_a_backup_with_a_hot_journal_names_recover(tmp_path):
    from .test_hostile_engine import hot_journal_db

    target = tmp_path / "app.db"
    migrations.init(target)
    source = hot_journal_db(tmp_path)
    done = run_cli("--db", target, "restore", source, "--yes", "--force")
    line = one_error_line(done)
    assert "hot journal" in line and f"--db {shlex.quote(str(source))} recover" in line
    assert os.path.exists(str(source) + "-journal")


def test_verifying_a_copy_with_a_hot_journal_names_it(tmp_path):
    from r2w_db.maintenance import backups

    from .test_hostile_engine import hot_journal_db

    hot = hot_journal_db(tmp_path)
    ok, message = backups.verify_backup(hot)
    assert not ok and "hot rollback journal" in message and "readonly" not in message
    assert pasted_paths(message) == [str(hot)]
