"""Issue 22's rough edges on PostgreSQL: restore's swap keeps the database's settings (ALTER
DATABASE ... SET, per role too), the History page names pg_database_size for what it is (its
sizes and its forecast), and the VACUUM dialog does not warn of a lock PostgreSQL never takes.
(The VACUUM title: tests/test_pg_maintenance.py; the change token: tests/test_pg_change_token.py.)"""
from datetime import datetime, timedelta

import psycopg
import pytest

from r2w_db.backends.postgresql import restore as pg_engine_restore
from r2w_db.backends.postgresql.database import PgDatabase
from r2w_db.backends.postgresql import tools as pg_tools
from r2w_db.engine import timeutil
from r2w_db.figures import history_page
from r2w_db.maintenance import restore as pg_restore, runner
from r2w_db.watch import cycle, settings as settings_mod

from .test_pg_backup import databases, isolated, name_of  # noqa: F401  (isolated: autouse)
from .test_pg_pages import fresh_pages, run_page  # noqa: F401  (fresh_pages: a fixture)

NOW = datetime(2026, 11, 24, 8, 15, 2, 123456)
PG_SIZE = "database size (pg_database_size, catalog included)"


@pytest.fixture
def moved(tmp_path, pg_templates):
    return pg_templates.moved_demo(tmp_path, seed=3, now=NOW)


def settings_of(cluster, name):
    """{role ('' for all roles): sorted 'name=value' settings} of a database."""
    rows = cluster.execute("SELECT coalesce(r.rolname, ''), s.setconfig FROM pg_db_role_setting s"
                           " JOIN pg_database d ON d.oid = s.setdatabase"
                           " LEFT JOIN pg_roles r ON r.oid = s.setrole WHERE d.datname = %s",
                           (name,))
    return {role: sorted(config) for role, config in rows}


def test_restore_keeps_the_databases_settings(moved, pg_cluster):
    _, url = moved
    name = name_of(url)
    watcher = f"watcher_{name}"   # test-only names
    pg_cluster.execute(f"CREATE ROLE {watcher} LOGIN")
    pg_cluster.execute(f"ALTER DATABASE {name} SET statement_timeout = '7s'")
    pg_cluster.execute(f"ALTER DATABASE {name} SET search_path = \"$user\", public, 'My, \"odd\" one'")
    pg_cluster.execute(f"ALTER ROLE {watcher} IN DATABASE {name} SET work_mem = '8MB'")
    pg_cluster.execute(f"ALTER ROLE {watcher} IN DATABASE {name} SET default_transaction_read_only = on")
    before = settings_of(pg_cluster, name)
    assert set(before) == {"", watcher} and "statement_timeout=7s" in before[""]
    taken = runner.run(url, "backup", user="t")
    # into a new database: its settings are the target's
    aside = pg_restore.restore_file(url, taken.backup, swap=False)
    assert settings_of(pg_cluster, aside["restored_database"]) == before
    pg_tools.drop_database(PgDatabase(url), aside["restored_database"])
    # swapped in: the database now under the name has them, and the previous one keeps its own
    done = pg_restore.restore_file(url, taken.backup, swap=True)
    assert done["swapped"] and settings_of(pg_cluster, name) == before
    assert settings_of(pg_cluster, done["previous_database"]) == before
    # and a new session of the database is given them
    assert pg_cluster.execute("SHOW statement_timeout", dbname=name) == [("7s",)]
    assert pg_cluster.execute("SHOW search_path", dbname=name) == [('"$user", public, "My, ""odd"" one"',)]
    with psycopg.connect(pg_cluster.url(name, user=watcher)) as conn:
        assert conn.execute("SHOW work_mem").fetchone()[0] == "8MB"
    assert [d for d in databases(pg_cluster) if d.startswith(name + "_")] == [
        done["previous_database"]]


def test_a_stored_list_setting_is_split_as_the_server_splits_it():
    split = pg_engine_restore._split_list
    assert split('"$user", public') == ["$user", "public"]
    assert split('a,"b, ""c""" , d') == ["a", 'b, "c"', "d"]
    assert split('""') == [""]


def test_the_history_names_pg_database_size_for_what_it_is(moved, monkeypatch, fresh_pages):
    from .test_pages import assert_clean, chart_data

    path, url = moved
    cycle.record_snapshot(path, settings_mod.load())
    for hours in (2, 1):   # two snapshots: one alone shows as numbers, not a chart
        cycle.record_snapshot(PgDatabase(url), settings_mod.load(),
                              now=timeutil.utcnow() - timedelta(hours=hours))
    assert history_page.DATABASE_SIZE_LABELS == ("database file", PG_SIZE)
    pg_series = set(history_page.sizes(url)["series"]["series"])
    assert PG_SIZE in pg_series and "database file" not in pg_series
    assert "database file" in set(history_page.sizes(path)["series"]["series"])
    assert PG_SIZE in set(history_page.sizes(url)["growth"]["series"])
    assert history_page.size_forecast(url)["label"] == PG_SIZE   # its bytes axis (no WAL)
    assert history_page.size_forecast(path)["label"] == "database file + WAL"
    at = run_page("pages/7_History.py", url, monkeypatch, window="all")
    assert_clean(at)
    sizes = next(frames[0] for spec, frames in chart_data(at) if "bytes" in spec and "series" in spec)
    assert PG_SIZE in set(sizes["series"]) and "database file" not in set(sizes["series"])


def test_the_vacuum_dialog_warns_of_no_lock_on_postgresql(moved, monkeypatch, fresh_pages):
    """SQLite's VACUUM holds the write lock until it ends (the dialog says so, test_page_maintenance);
    PostgreSQL's VACUUM (ANALYZE) lets the application read and write."""
    _, url = moved
    at = run_page("pages/6_Maintenance.py", url, monkeypatch)
    at.button(key="maint_run_vacuum").click().run()
    assert not at.exception, at.exception
    assert at.button(key="maint_dialog_confirm")          # the dialog is open
    warnings = " ".join(str(w.value) for w in at.warning)
    assert "locks the database" not in warnings
    assert "the application keeps reading and writing" in " ".join(
        str(m.value) for m in at.markdown)
