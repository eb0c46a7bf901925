"""Tiny fixtures that build fresh databases."""
import pytest

from r2w_db.engine import migrations

from .prodlike import build_prodlike
from .pg_cluster import pg_cluster, pg_url  # noqa: F401  (a real PostgreSQL)


@pytest.fixture(autouse=True)
def own_monitor_db(tmp_path, monkeypatch):
    """Every test keeps the monitor's state in its own folder, never in data/ (commands run
    as subprocesses inherit it)."""
    monkeypatch.setenv("R2W_MONITOR_DB", str(tmp_path / "monitor.db"))


@pytest.fixture
def db_path(tmp_path):
    """An empty database at the current schema."""
    path = tmp_path / "r2w.db"
    migrations.init(path)
    return path


@pytest.fixture
def db(db_path):
    """The same empty database, under the name the data-operation tests use."""
    return db_path


@pytest.fixture
def prod_db(tmp_path):
    """(path, now, expected): a database written the way production writes it, not migrated."""
    path = tmp_path / "prod.db"
    now, expected = build_prodlike(path)
    return path, now, expected
