"""`health` for cron and monitoring systems: the monitoring-plugin exit codes and first line, and
the Prometheus textfile, parsed by the Prometheus client's own parser."""
import json
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from r2w_db.app import uploads
from r2w_db.figures import health, health_report
from r2w_db.watch import prometheus
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent
FIRST_LINE = re.compile(r"^R2W (OK|WARNING|CRITICAL|UNKNOWN) - \d+ CRITICAL, \d+ WARNING \| "
                        r"(\S+=(U|-?[\d.]+[a-zA-Z%]*);[\d.]*;[\d.]*( |$))+$")
EXIT = {"ok": 0, "warn": 1, "error": 2}


def health_cli(tmp_path, *args):
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("R2W_ALERT_URLS", None)
    return run_cli([*args], cwd=tmp_path, env=env, timeout=60)


def green_runs(now=None):
    """Logged maintenance that makes the integrity and backup checks green."""
    stamp = (now or datetime.utcnow()).isoformat()
    return {t: {"ok_at": stamp, "failed_at": None, "error": None} for t in health.LOGGED_TASKS}


def test_the_exit_code_is_the_worst_status_in_the_json(db_path, tmp_path):
    got = health_cli(tmp_path, "--db", str(db_path), "health", "--json")
    body = json.loads(got.stdout)
    worst = max(EXIT[c["status"]] for c in body["checks"])
    assert got.returncode == body["exit_code"] == worst
    assert worst > 0            # a new database: never backed up (red)
    assert body["status"] == health_report.LABEL[worst]
    text = health_cli(tmp_path, "--db", str(db_path), "health")
    first, *rest = text.stdout.splitlines()
    assert FIRST_LINE.match(first), first
    assert text.returncode == worst and len(rest) == len(body["checks"])
    counts = body["counts"]   # issue 20: the first line counts in the status words
    assert first.startswith(f"R2W {body['status']} - {counts['red']} CRITICAL, "
                            f"{counts['amber']} WARNING |")
    assert body["status_counts"]["CRITICAL"] == counts["red"]


@pytest.mark.parametrize("case", ["missing", "not sqlite", "empty location", "a folder"])
def test_a_database_that_cannot_be_read_gives_3(tmp_path, case):
    target = {"missing": tmp_path / "nope.db", "not sqlite": tmp_path / "text.db",
              "empty location": "", "a folder": tmp_path}[case]
    if case == "not sqlite":
        target.write_text("hello, not a database\n" * 100)
    got = health_cli(tmp_path, "--db", str(target), "health")
    assert got.returncode == 3, got
    assert got.stdout.startswith("R2W UNKNOWN - ") and len(got.stdout.splitlines()) == 1
    assert "Traceback" not in got.stderr
    assert not (tmp_path / "nope.db").exists()
    as_json = json.loads(health_cli(tmp_path, "--db", str(target), "health", "--json").stdout)
    assert as_json["exit_code"] == 3 and as_json["error"]


def test_stuck_jobs_move_the_status_and_the_perfdata(db_path):
    now = datetime.utcnow() + timedelta(hours=2)    # the uploads below are 2 h old by then
    assert health_report.evaluate(db_path, last_runs=green_runs(now), now=now)["exit_code"] == 0
    for i in range(3):
        uploads.create_cv_upload(db_path, "user-1", f"job-{i}", f"cv{i}.pdf", ".pdf")
    report = health_report.evaluate(db_path, last_runs=green_runs(now), now=now)
    stuck = next(r for r in report["checks"] if r["key"] == "stuck")
    assert stuck["status"] == health.WARN and stuck["number"] == 3
    assert report["exit_code"] == 1 and report["status"] == "WARNING"
    assert "stuck=3;1;10" in health_report.first_line(report)
    assert "backup=0s;93600;259200" in health_report.first_line(report)


def test_the_prometheus_file_parses_with_the_client_library(db_path, tmp_path):
    path = tmp_path / "textfile" / "r2w.prom"
    path.parent.mkdir()
    got = health_cli(tmp_path, "--db", str(db_path), "health", "--json", "--prometheus", str(path))
    body = json.loads(got.stdout)
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    status = {s.labels["check"]: s.value for s in families["r2w_health_check_status"].samples}
    assert status == {c["key"]: {"ok": 0, "warn": 1, "error": 2}[c["status"]] for c in body["checks"]}
    [overall] = families["r2w_health_status"].samples
    assert overall.value == got.returncode and overall.labels["database"] == str(db_path)
    assert {s.labels["database"] for f in families.values() for s in f.samples} == {str(db_path)}
    assert families["r2w_database_size_bytes"].samples[0].value == db_path.stat().st_size
    assert {s.labels["status"] for s in families["r2w_uploads"].samples} >= {"completed", "failed"}
    assert {s.labels["table"] for s in families["r2w_table_rows"].samples} >= {"users", "cv_uploads"}
    assert sorted(p.name for p in path.parent.iterdir()) == ["r2w.prom"]   # no temporary left


def test_an_unknown_report_is_still_a_valid_textfile(tmp_path):
    path = tmp_path / "r2w.prom"
    prometheus.write_textfile(path, health_report.unknown(tmp_path / "x.db", "database not found"))
    families = {f.name: f for f in text_string_to_metric_families(path.read_text())}
    assert families["r2w_health_status"].samples[0].value == 3
    assert families["r2w_database_up"].samples[0].value == 0
