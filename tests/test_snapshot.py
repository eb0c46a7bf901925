"""Snapshots: `snapshot` twice around a change and `history --json` shows both points, the
application's file byte-identical throughout; table sizes from dbstat or an estimate."""
import hashlib
import json
import os
from pathlib import Path

import pytest

from r2w_db.app import users
from r2w_db.demo.builder import build_demo
from r2w_db.figures import snapshot
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def digest(path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(path).parent.iterdir()) if p.name.startswith(Path(path).name)}


def cli(tmp_path, *args):
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    got = run_cli([*args], cwd=tmp_path, env=env, timeout=120)
    assert got.returncode == 0, got.stderr
    return got.stdout


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "app" / "demo.db"
    path.parent.mkdir()
    build_demo(path)
    return path


def test_two_snapshots_around_a_change_and_the_file_untouched(demo, tmp_path):
    before = digest(demo)
    first = json.loads(cli(tmp_path, "--db", str(demo), "snapshot", "--json"))
    assert digest(demo) == before                      # no byte written, no -wal/-shm created
    users.create_user(demo, "new@example.com", "Hash", "New Person")
    changed = digest(demo)
    second = json.loads(cli(tmp_path, "--db", str(demo), "snapshot", "--json"))
    assert digest(demo) == changed
    history = json.loads(cli(tmp_path, "--db", str(demo), "history", "--json",
                             "--metric", "stats.users.*", "--metric", "tables.users.rows"))
    assert digest(demo) == changed
    points = history["points"]
    assert [p["taken_at"] for p in points] == [first["taken_at"], second["taken_at"]]
    registered = [p["values"]["stats.users.registered"] for p in points]
    assert registered[1] == registered[0] + 1
    assert [p["values"]["tables.users.rows"] for p in points] == [r for r in (
        first["tables"]["users"]["rows"], second["tables"]["users"]["rows"])]
    assert history["database"] == str(demo)
    assert set(history["metrics"]) == {"stats.users.registered", "stats.users.anonymous",
                                       "tables.users.rows"}


def test_a_snapshot_holds_every_figure_asked_for(demo):
    snap = snapshot.take_snapshot(demo)
    metrics = snap["metrics"]
    for group, names in snap["stats"].items():
        if group in snapshot.STATS_GROUPS:
            assert all(f"stats.{group}.{n}" in metrics for n in names)
    for table in ("users", "sessions", "cv_uploads", "cv_extraction_cache"):
        assert metrics[f"tables.{table}.rows"] > 0 and metrics[f"tables.{table}.bytes"] > 0
    for key in ("file.size_bytes", "file.wal_bytes", "file.free_bytes", "file.freelist_count",
                "disk.free_bytes"):
        assert metrics[key] is not None
    assert {k.split(".")[1] for k in metrics if k.startswith("checks.")} == {
        c["key"] for c in snap["health"]["checks"]}
    assert snap["table_bytes"] == "dbstat" and metrics["table_bytes_exact"] == 1


def test_the_estimate_is_close_to_dbstat_and_adds_up_to_the_used_pages(demo):
    exact, method = snapshot.table_sizes(demo, exact=True)
    estimate, estimated = snapshot.table_sizes(demo, exact=False)
    assert (method, estimated) == ("dbstat", "estimate")
    assert {t: s["rows"] for t, s in exact.items()} == {t: s["rows"] for t, s in estimate.items()}
    big = max(exact, key=lambda t: exact[t]["bytes"])
    assert abs(estimate[big]["bytes"] - exact[big]["bytes"]) < 0.35 * exact[big]["bytes"]
    total = sum(s["bytes"] + s["index_bytes"] for s in estimate.values())
    exact_total = sum(s["bytes"] + s["index_bytes"] for s in exact.values())
    assert abs(total - exact_total) < 0.1 * exact_total   # the used pages, less SQLite's own


def test_a_snapshot_of_a_missing_database_records_nothing(tmp_path):
    got = run_cli(["--db", str(tmp_path / "nope.db"), "snapshot"], cwd=tmp_path, timeout=60,
                  env={**os.environ, "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)})
    assert got.returncode == 1 and got.stderr.startswith("error: database not found")
    assert not (tmp_path / "nope.db").exists()
