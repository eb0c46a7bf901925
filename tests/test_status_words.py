"""One set of status words (issue 20): OK, WARNING, CRITICAL, UNKNOWN for a check, a report,
`databases`, the Prometheus labels and the webhook payload."""
import json
import os
from pathlib import Path

from r2w_db.figures import health_report
from r2w_db.figures.health import ERROR, OK, WARN
from r2w_db.watch import prometheus
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


def test_status_word_and_counts():
    assert [health_report.status_word(x) for x in (OK, WARN, ERROR, None, "nonsense")] == \
        ["OK", "WARNING", "CRITICAL", "UNKNOWN", "UNKNOWN"]
    assert [health_report.status_word(code) for code in (0, 1, 2, 3, 9)] == \
        ["OK", "WARNING", "CRITICAL", "UNKNOWN", "UNKNOWN"]
    assert health_report.status_word("CRITICAL") == "CRITICAL"
    rows = [{"status": s} for s in (OK, WARN, ERROR, ERROR)]
    assert health_report.status_counts(rows) == {"OK": 1, "WARNING": 1, "CRITICAL": 2,
                                                 "UNKNOWN": 0}


def test_a_report_and_its_prometheus_labels_use_the_words(db_path):
    report = health_report.evaluate(db_path)
    assert report["status"] == "CRITICAL"      # a new database: never backed up
    assert report["status_counts"]["CRITICAL"] == report["counts"]["red"]
    assert {r["status_word"] for r in report["checks"]} <= set(health_report.WORDS)
    text = prometheus_text(report)
    assert 'r2w_health_status_info{database="' in text and 'status="CRITICAL"} 1.0' in text
    assert 'r2w_health_check_info{check="backup",' in text
    assert 'r2w_health_check_silenced{check="backup",' in text


def prometheus_text(report):
    from prometheus_client import generate_latest

    return generate_latest(prometheus.registry_for(report)).decode()


def test_databases_says_the_status_word(db_path, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    got = run_cli(["--db", str(db_path), "databases"], cwd=ROOT, env=env, timeout=60)
    assert got.returncode == 0, got.stderr
    assert "health CRITICAL" in got.stdout and "health error" not in got.stdout
    listed = run_cli(["--db", str(db_path), "databases",
                             "--json"], cwd=ROOT, env=env, timeout=60)
    [row] = json.loads(listed.stdout)
    assert (row["status"], row["worst_health"]) == ("CRITICAL", ERROR)
