"""Hardening, round 3 (issue 19), the alerts and the settings: basic-auth webhook and heartbeat
URLs (class 2), redirects answered to a notification (4), the heartbeat's failure signal in the
path, before the query (5), side outputs that fail never change the database's own status (6),
and numeric settings or durations out of range (16). Real receivers on 127.0.0.1, real commands."""
import base64
import json
import math
import os
import subprocess
from contextlib import contextmanager
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import pytest

from r2w_db import errors
from r2w_db.figures import health
from r2w_db.monitor.alert_store import AlertStore
from r2w_db.monitor.history_store import Retention
from r2w_db.watch import cycle, notify, settings
from r2w_db.watch.settings import AlertSettings, WatchSettings

from .http_receiver import receiver
from tests.cli_process import run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rec():
    with receiver() as r:
        yield r


def cli(tmp_path, *args, env=None, limit_bytes=None):
    """python -m r2w_db ARGS in tmp_path; no alert settings but those given. limit_bytes: the
    largest file the process may write (a full disk)."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("R2W_ALERT", "R2W_HEARTBEAT", "R2W_HEALTH_", "R2W_HISTORY_"))}
    base.update({"HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}, **(env or {}))
    return run_cli(args, cwd=tmp_path, env=base, timeout=120, limit_bytes=limit_bytes)


def no_traceback(got, *secrets):
    text = got.stdout + got.stderr
    assert "Traceback" not in text, text
    for secret in secrets:
        assert secret not in text, text


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ class 2: user:password@

PASSWORDS = [  # (as written in the URL, as sent)
    ("S3cret", "S3cret"), ("Ha%23sh", "Ha#sh"), ("p%3Fss", "p?ss"), ("p%2Fss", "p/ss"),
    ("p%40ss", "p@ss"), ("c%3Alon", "c:lon"), ("%C3%BCml", "üml"), ("sp%20ace", "sp ace"),
]


@pytest.mark.parametrize("written, sent", PASSWORDS)
def test_basic_auth_webhooks_and_heartbeats_are_sent_with_an_authorization_header(rec, written, sent):
    port = rec.server.server_address[1]
    url = f"http://alice:{written}@127.0.0.1:{port}/hook?x=1"
    ok, error = notify.post_json(url, {"text": "hi"}, 2)
    assert ok and error is None
    [(method, path, body, headers)] = rec.got_with_headers("/hook")
    assert (method, path, body) == ("POST", "/hook?x=1", {"text": "hi"})
    assert headers["Authorization"] == basic("alice", sent)
    assert "alice" not in path and written not in path
    assert settings.alert_settings({"R2W_ALERT_URLS": url, "R2W_HEARTBEAT_URL": url}).problem is None
    ok, _ = notify.heartbeat(f"http://bob:{written}@127.0.0.1:{port}/ping", False, 2)
    [(method, path, _, headers)] = rec.got_with_headers("/ping")
    assert ok and (method, path) == ("GET", "/ping/fail")
    assert headers["Authorization"] == basic("bob", sent)


def test_the_authorization_header_never_follows_a_redirect_to_another_host(rec):
    port = rec.server.server_address[1]
    assert notify.post_json(f"http://alice:S3cret@127.0.0.1:{port}/r307/same", {}, 2)[0]
    assert notify.post_json(f"http://alice:S3cret@127.0.0.1:{port}/x307/other", {}, 2)[0]
    [same] = rec.got_with_headers("/same")
    [other] = rec.got_with_headers("/other")
    assert same[3]["Authorization"] == basic("alice", "S3cret")
    assert "Authorization" not in other[3] and other[3]["Host"].startswith("localhost")


BAD_URLS = [  # a password not percent-encoded, read the way RFC 3986 reads it: refused
    "http://alice:Ha#sh@127.0.0.1/hook", "http://alice:pa/ss@127.0.0.1/hook",
    "http://alice:pa?ss@127.0.0.1/hook", "http://alice:123#se@127.0.0.1/hook",
    "http://alice:S3cret@[::1/hook", "http://alice:S3cret@/hook",
]


@pytest.mark.parametrize("url", BAD_URLS)
def test_a_url_that_cannot_be_read_is_refused_when_read_in_one_line_without_its_password(url):
    password = url.split("alice:", 1)[1].split("@", 1)[0]
    for variable in ("R2W_ALERT_URLS", "R2W_HEARTBEAT_URL", "R2W_HEARTBEAT_FAIL_URL"):
        got = settings.alert_settings({variable: url}, files=[])
        assert got.problem and got.problem.startswith(variable), got.problem
        assert password not in got.problem and "\n" not in got.problem
        assert "alice:***@" in got.problem
    # and never a traceback or the password when it is sent anyway (an AlertSettings built in code)
    for result in (notify.post_json(url, {}, 1), notify.heartbeat(url, False, 1),
                   notify.heartbeat(url, True, 1)):
        assert result[0] is False and password not in result[1] and "\n" not in result[1]


def test_a_basic_auth_url_without_a_port_fails_in_one_line_on_the_command_line(rec, db_path, tmp_path):
    """The issue's example (no port: 80, refused here or not), then one that is delivered."""
    port = rec.server.server_address[1]
    closed = free_port()
    env = {"R2W_ALERT_URLS": f"http://alice:S3cret@127.0.0.1:{closed}/hook,"
                             f"http://alice:S3cret@127.0.0.1:{port}/hook",
           "R2W_HEARTBEAT_URL": f"http://bob:Pw0rd@127.0.0.1:{port}/hb?token=t",
           "R2W_ALERT_TIMEOUT": "2"}
    got = cli(tmp_path, "--db", str(db_path), "watch", "--once", env=env)
    no_traceback(got, "S3cret", "Pw0rd")
    assert got.returncode == 1 and "1 sent, 1 failed" in got.stdout, got.stdout
    [(_, _, body, headers)] = rec.got_with_headers("/hook")
    assert headers["Authorization"] == basic("alice", "S3cret") and body["status"]
    [(_, path, _, headers)] = rec.got_with_headers("/hb")
    assert path == "/hb/fail?token=t" and headers["Authorization"] == basic("bob", "Pw0rd")
    log = AlertStore(tmp_path / "monitor.db").notifications(db_path)
    assert "S3cret" not in json.dumps(log, default=str)
    no_port = cli(tmp_path, "--db", str(db_path), "health", "--notify", env={
        "R2W_ALERT_URLS": "http://alice:S3cret@127.0.0.1/hook", "R2W_ALERT_TIMEOUT": "1"})
    no_traceback(no_port, "S3cret")
    assert no_port.stdout.startswith("R2W ")
    refused = cli(tmp_path, "--db", str(db_path), "health", env={
        "R2W_ALERT_URLS": "http://alice:Ha#sh@127.0.0.1/hook"})
    no_traceback(refused, "Ha#sh")
    assert refused.returncode == 3 and refused.stderr.count("\n") == 1
    assert "R2W_ALERT_URLS" in refused.stderr and "alice:***@" in refused.stderr


# ------------------------------------------------------------------ class 4: redirects

@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_notification_is_delivered_only_when_its_post_got_a_2xx(rec, db_path, code):
    alerts = AlertSettings(urls=(rec.url(f"/r{code}/hook"),), timeout=2)
    report = {"database": str(db_path), "status": "CRITICAL", "exit_code": 2, "worst": None,
              "counts": {}, "as_of": "2026-11-02T08:00:00", "error": None,
              "checks": [{"key": "stuck", "title": "Stuck", "status": health.ERROR, "number": 2,
                          "value": "2", "detail": "", "remedy": "fix", "command": ""}]}
    got = notify.notify(db_path, report, alerts)
    [row] = AlertStore().notifications(db_path)
    arrived = rec.got("/hook")
    if code in (307, 308):
        assert got["sent"] == 1 and got["failed"] == 0
        assert [(m, b["status"]) for m, _, b in arrived] == [("POST", "CRITICAL")]
        assert row["outcome"] == "sent" and f"redirect {code}" in row["error"]
    else:
        assert got["sent"] == 0 and got["failed"] == 1
        assert arrived == []        # never turned into a GET without its body
        assert row["outcome"] == "failed"
        assert f"HTTP {code} redirect" in row["error"] and "not followed" in row["error"]


def test_redirects_that_loop_or_leave_http_fail_and_a_heartbeat_follows_as_a_get(rec):
    ok, error = notify.post_json(rec.url("/loop"), {}, 2)
    assert not ok and "more than" in error
    for code in (301, 302, 303, 307, 308):
        ok, note = notify.heartbeat(rec.url(f"/r{code}/hb{code}"), True, 2)
        assert ok and str(code) in note
        assert [m for m, _, _ in rec.got(f"/hb{code}")] == ["GET"]


def test_an_answer_that_is_not_2xx_is_a_failure(rec):
    assert notify.post_json(rec.url("/fail500"), {}, 2) == (False, "HTTP 500 Internal Server Error")
    assert notify.post_json(rec.url("/r307/fail500"), {}, 2)[0] is False


# ------------------------------------------------------------------ class 5: /fail in the path

@pytest.mark.parametrize("path, failed", [
    ("/ping?token=x", "/ping/fail?token=x"), ("/ping/?a=1&b=2", "/ping/fail?a=1&b=2"),
    ("/ping", "/ping/fail"), ("/ping/", "/ping/fail"), ("/p/uuid?rid=1#frag", "/p/uuid/fail?rid=1"),
])
def test_the_failure_signal_goes_into_the_path_before_the_query(rec, path, failed):
    assert notify.heartbeat(rec.url(path), False, 2)[0]
    assert notify.heartbeat(rec.url(path), True, 2)[0]
    assert [p for _, p, _ in rec.got()] == [failed, path.split("#")[0]]


def test_a_failed_cycle_pings_fail_in_the_path_or_its_own_failure_url(rec, tmp_path):
    missing = tmp_path / "missing.db"          # the cycle fails: the database cannot be read
    for fail_url, expected in ((None, "/hb/fail?token=x"), (rec.url("/down?status=down"),
                                                             "/down?status=down")):
        alerts = AlertSettings(heartbeat_url=rec.url("/hb?token=x"), heartbeat_fail_url=fail_url,
                               timeout=2)
        result = cycle.run_cycle(missing, WatchSettings(alerts=alerts), notify=False)
        assert not result["ok"] and result["heartbeat"][0]
        assert rec.got()[-1][1] == expected
    got = settings.alert_settings({"R2W_HEARTBEAT_FAIL_URL": "https://kuma/api/push/t?status=down"})
    assert got.heartbeat_fail_url == "https://kuma/api/push/t?status=down" and got.problem is None


# ------------------------------------------------------------------ class 6: side outputs

RED = {"R2W_HEALTH_STUCK_ERROR": "0"}     # the database's own status: CRITICAL, whatever else


def first_lines(got):
    return got.stdout.splitlines()[0] if got.stdout else "", got.returncode


@contextmanager
def immutable(path):
    """The file made read-only even for root (chattr +i); skip where that is not allowed."""
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
    if done.returncode:
        pytest.skip("chattr +i is not allowed here")
    try:
        yield path
    finally:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_a_missing_prometheus_folder_never_changes_the_status(db_path, tmp_path):
    for extra in ({}, RED):
        plain = cli(tmp_path, "--db", str(db_path), "health", env=extra)
        side = cli(tmp_path, "--db", str(db_path), "health", "--prometheus",
                   str(tmp_path / "missing" / "dir" / "x.prom"), env=extra)
        no_traceback(side)
        assert first_lines(side) == first_lines(plain) and plain.returncode in (1, 2)
        assert side.stdout == plain.stdout
        [line] = side.stderr.strip().splitlines()
        assert "--prometheus" in line and "missing/dir/x.prom" in line
        as_json = cli(tmp_path, "--db", str(db_path), "health", "--json", "--prometheus",
                      str(tmp_path / "missing" / "x.prom"), env=extra)
        body = json.loads(as_json.stdout)
        assert as_json.returncode == body["exit_code"] == plain.returncode
        assert len(body["side_errors"]) == 1
    every = cli(tmp_path, "--db", str(db_path), "health", "--all", "--prometheus",
                str(tmp_path / "missing" / "x.prom"), env=RED)
    no_traceback(every)
    assert every.returncode == 2 and every.stdout.startswith("R2W CRITICAL")


@pytest.mark.parametrize("damage", ["corrupt", "read-only", "full", "a folder"])
def test_a_broken_monitor_database_never_changes_the_status(rec, db_path, tmp_path, damage):
    monitor = tmp_path / "monitor.db"
    warm = cli(tmp_path, "--db", str(db_path), "snapshot")            # the monitor exists
    assert warm.returncode == 0, warm.stderr
    if damage == "corrupt":
        monitor.write_bytes(b"garbage, not a database\n" * 300)
        for extra in ("-wal", "-shm"):
            Path(f"{monitor}{extra}").unlink(missing_ok=True)
    elif damage == "a folder":
        for extra in ("", "-wal", "-shm"):
            Path(f"{monitor}{extra}").unlink(missing_ok=True)
        monitor.mkdir()
    env = {**RED, "R2W_ALERT_URLS": rec.url("/hook"), "R2W_ALERT_TIMEOUT": "2"}
    limit = 4096 if damage == "full" else None      # no file may grow past 4 KB

    def run(*args):
        if damage != "read-only":
            return cli(tmp_path, "--db", str(db_path), *args, env=env, limit_bytes=limit)
        with immutable(monitor):
            return cli(tmp_path, "--db", str(db_path), *args, env=env)

    plain = run("health")
    side = run("health", "--notify")
    no_traceback(side)
    assert plain.stdout.startswith("R2W CRITICAL") and plain.returncode == 2, plain
    assert first_lines(side) == first_lines(plain)
    assert side.stdout == plain.stdout
    lines = side.stderr.strip().splitlines()
    assert len(lines) == 1 and "notify" in lines[0] and "1 failed" in lines[0], side.stderr
    both = run("health", "--notify", "--json", "--prometheus", str(tmp_path / "no" / "x.prom"))
    body = json.loads(both.stdout)
    assert both.returncode == body["exit_code"] == 2 and body["notify"]["failed"] == 1
    assert body["side_errors"] and "Traceback" not in both.stderr
    watched = run("watch", "--once")
    no_traceback(watched)
    assert watched.returncode == 1 and " R2W CRITICAL - " in watched.stdout, watched.stdout


def test_a_cycle_with_a_broken_monitor_still_judges_the_database(db_path, tmp_path):
    monitor = tmp_path / "broken-monitor.db"
    monitor.write_bytes(b"not a database\n" * 500)
    result = cycle.run_cycle(db_path, WatchSettings(), monitor=monitor, notify=True)
    assert result["health"]["exit_code"] in (1, 2) and result["health"]["checks"]
    assert not result["ok"] and len(result["errors"]) == len(set(result["errors"]))
    assert any("broken-monitor.db" in e for e in result["errors"])


# ------------------------------------------------------------------ class 16: huge values

HUGE = ["inf", "-inf", "nan", "1e300", "1e999", "9" * 400, "Infinity"]


@pytest.mark.parametrize("raw", HUGE)
def test_alert_numbers_out_of_range_are_refused_naming_the_setting(raw):
    for variable in ("R2W_ALERT_TIMEOUT", "R2W_ALERT_REPEAT_HOURS"):
        got = settings.alert_settings({variable: raw}, files=[])
        assert got.problem and got.problem.startswith(f"{variable}:"), got.problem
        assert math.isfinite(got.timeout) and math.isfinite(got.repeat_hours)
    assert "R2W_ALERT_TIMEOUT" in settings.alert_settings({"R2W_ALERT_TIMEOUT": "601"}).problem


def test_alert_numbers_in_the_secrets_are_checked_too(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[alerts]\ntimeout_seconds = inf\nrepeat_hours = 1e300\n")
    got = settings.alert_settings({}, files=[secrets])
    assert got.problem.startswith("[alerts] ") and got.timeout == 5.0 and got.repeat_hours == 24
    secrets.write_text("[history]\nraw_days = inf\n")
    assert "[history] raw_days" in settings.load(environ={}, files=[secrets]).problem


@pytest.mark.parametrize("raw", HUGE + ["-1"])
def test_history_retention_out_of_range_is_refused_naming_the_setting(raw):
    for variable in ("R2W_HISTORY_RAW_DAYS", "R2W_HISTORY_HOURLY_DAYS", "R2W_HISTORY_DAILY_DAYS"):
        with pytest.raises(errors.InvalidValue, match=variable):
            Retention.load({}, {variable: raw})
    with pytest.raises(errors.InvalidValue, match=r"\[history\] raw_days"):
        Retention.load({"raw_days": float(raw) if raw != "9" * 400 else 10**400}, {})


def test_every_health_threshold_out_of_range_is_reported_naming_it():
    for field in fields(health.Thresholds):
        variable = f"R2W_HEALTH_{field.name.upper()}"
        for raw in ("inf", "nan", "1e300", "9" * 400):
            got, problems = health.load_thresholds({}, {variable: raw})
            assert got == health.Thresholds(), (variable, raw)
            assert len(problems) == 1 and problems[0].startswith(variable), problems
        got, problems = health.load_thresholds({field.name: float("inf")}, {})
        assert got == health.Thresholds() and problems[0].startswith(f"[health] {field.name}")


@pytest.mark.parametrize("text", ["3000000d", "99999999999d", "9" * 400 + "w", "36501d"])
def test_durations_out_of_range_are_refused_naming_the_option(text):
    with pytest.raises(errors.InvalidValue, match="--since"):
        settings.parse_duration(text, "--since")
    assert settings.parse_duration("36500d") == timedelta(days=36500)


def test_the_commands_say_it_in_one_line(db_path, tmp_path):
    cases = [
        (["watch", "--once", "--no-notify"], {"R2W_ALERT_TIMEOUT": "inf"}, "R2W_ALERT_TIMEOUT"),
        (["watch", "--once", "--no-notify"], {"R2W_ALERT_REPEAT_HOURS": "1e300"},
         "R2W_ALERT_REPEAT_HOURS"),
        (["snapshot"], {"R2W_HISTORY_RAW_DAYS": "1e300"}, "R2W_HISTORY_RAW_DAYS"),
        (["health"], {"R2W_HEALTH_SESSIONS_GRACE_DAYS": "1e300"}, "R2W_HEALTH_SESSIONS_GRACE_DAYS"),
        (["history", "--since", "3000000d"], {}, "--since"),
        (["watch", "--every", "99999999999d"], {}, "--every"),
        (["maintain", "sessions", "--days", "99999999999", "--dry-run"], {}, "days"),
        (["maintain", "cache", "--days", "3000000", "--dry-run"], {}, "days"),
        (["bench", "--iterations", "9" * 30, "--no-store"], {}, "iterations"),
    ]
    for args, env, name in cases:
        got = cli(tmp_path, "--db", str(db_path), *args, env=env)
        no_traceback(got)
        assert got.returncode in (1, 2, 3), (args, got)
        lines = [line for line in (got.stdout + got.stderr).splitlines() if name in line]
        assert len(lines) == 1 and len(lines[0]) < 1000, (args, got.stdout, got.stderr)
    plain = cli(tmp_path, "--db", str(db_path), "health")
    graced = cli(tmp_path, "--db", str(db_path), "health",
                 env={"R2W_HEALTH_SESSIONS_GRACE_DAYS": "1e300"})
    assert first_lines(graced) == first_lines(plain)        # the default is used


def test_the_postgresql_tool_timeout_is_checked_where_it_is_read(monkeypatch):
    from r2w_db.backends.postgresql import tools

    for raw in ("inf", "nan", "1e300", "0", "-5", "soon"):
        monkeypatch.setenv(tools.TIMEOUT_ENV, raw)
        with pytest.raises(errors.InvalidValue, match=tools.TIMEOUT_ENV):
            tools.timeout_s()
    monkeypatch.setenv(tools.TIMEOUT_ENV, "120")
    assert tools.timeout_s() == 120
    monkeypatch.delenv(tools.TIMEOUT_ENV)
    assert tools.timeout_s() == tools.TOOL_TIMEOUT_S


def test_a_run_with_the_largest_values_allowed_works(db_path, tmp_path):
    """The bounds themselves do not crash: 100 years of retention and grace, 600 s timeout."""
    env = {"R2W_HISTORY_RAW_DAYS": "36500", "R2W_HISTORY_HOURLY_DAYS": "36500",
           "R2W_HISTORY_DAILY_DAYS": "36500", "R2W_HEALTH_SESSIONS_GRACE_DAYS": "36500",
           "R2W_HEALTH_CACHE_GRACE_DAYS": "36500", "R2W_HEALTH_ANONYMOUS_GRACE_DAYS": "36500",
           "R2W_HEALTH_BACKUP_WARN_HOURS": "876000", "R2W_HEALTH_BACKUP_ERROR_HOURS": "876000",
           "R2W_ALERT_TIMEOUT": "600", "R2W_ALERT_REPEAT_HOURS": "876000"}
    got = cli(tmp_path, "--db", str(db_path), "watch", "--once", "--no-notify", env=env)
    no_traceback(got)
    assert got.returncode == 0, got
    assert cli(tmp_path, "--db", str(db_path), "history", "--since", "36500d").returncode == 0
