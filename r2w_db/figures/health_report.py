"""The health checks as the monitoring-plugin convention reads them: a status and an exit code
(0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), a number per check, and perfdata
(`label=value;warn;crit`, `U` for a value that is not known).

UNKNOWN: the checks could not run (the database is missing, locked, not SQLite, at a bad
location, or its schema cannot be read), or the settings cannot be trusted.
"""
import re

from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.backends import open_database
from r2w_db.engine.locations import redact
from r2w_db.figures import health
from r2w_db.figures.database_file import storage
from r2w_db.monitor.silences import SilenceStore

CODE = {health.OK: 0, health.WARN: 1, health.ERROR: 2}
UNKNOWN_CODE = 3
LABEL = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}
WORDS = tuple(LABEL.values())   # the one set of status words, worst last
COLOUR = {health.OK: "green", health.WARN: "amber", health.ERROR: "red"}
COUNT_CHECKS = ("stuck", "sessions", "cache_cleanup", "below_threshold", "anonymous",
                "unparseable", "foreign_values")
MB = 2 ** 20


def status_word(level):
    """The status word (OK, WARNING, CRITICAL, UNKNOWN) of a check's level ("ok", "warn",
    "error"), of an exit code (0-3), or of a word already; UNKNOWN for anything else (None)."""
    if level in WORDS:
        return level
    if isinstance(level, int) and not isinstance(level, bool):
        return LABEL.get(level, LABEL[UNKNOWN_CODE])
    return LABEL[CODE[level]] if level in CODE else LABEL[UNKNOWN_CODE]


def status_counts(checks):
    """{word: how many checks} for every status word, in WORDS' order (checks: report rows or
    Check objects)."""
    counts = dict.fromkeys(WORDS, 0)
    for row in checks:
        counts[status_word(row["status"] if isinstance(row, dict) else row.status)] += 1
    return counts


def evaluate(db, thresholds=None, last_runs=None, now=None, problem=None):
    """Run every check: the report (see `report`), or an UNKNOWN one naming why it could not.
    `problem`: a settings problem (one line) that makes the result UNKNOWN whatever the checks."""
    now = now or timeutil.utcnow()
    thresholds = thresholds or health.Thresholds()
    try:
        db = open_database(db)
        last_runs = health.last_maintenance(db) if last_runs is None else last_runs
        checks = health.run_checks(db, thresholds, last_runs, now)
        store = storage_figures(db)
    except (errors.R2WError, OSError) as exc:
        return unknown(db, errors.one_line(exc), now)
    return report(db, checks, thresholds, last_runs, store, now, problem)


def storage_figures(db):
    """The file figures the file's own checks' numbers read (WAL, free pages, statistics); {}
    where the engine keeps no database file (none of its checks reads them)."""
    db = open_database(db)
    return storage(db) if db.backend.features.file else {}


def report(db, checks, thresholds, last_runs, store, now, problem=None):
    """{"database", "status" (OK/WARNING/CRITICAL/UNKNOWN), "exit_code", "worst", "counts"
    {"red", "amber", "green"}, "status_counts" {word: n}, "checks" [{key, title, status,
    status_word, colour, number, unit, warn, crit, value, detail, remedy, command, page, task,
    task_params, silenced}], "as_of", "error"}. `silenced` is None until with_silences marks
    the report."""
    rows = [_row(c, *number_of(c, thresholds, last_runs, store, now)) for c in checks]
    worst = health.worst(checks)
    code = UNKNOWN_CODE if problem else CODE[worst]
    counts = {colour: sum(1 for c in checks if COLOUR[c.status] == colour)
              for colour in ("red", "amber", "green")}
    return {"database": open_database(db).display, "status": LABEL[code], "exit_code": code,
            "worst": worst, "counts": counts, "status_counts": status_counts(rows),
            "checks": rows, "as_of": timeutil.iso(now), "error": problem}


def unknown(db, message, now=None):
    """The report when the checks cannot run."""
    path = getattr(db, "path", db)
    return {"database": redact(path), "status": LABEL[UNKNOWN_CODE], "exit_code": UNKNOWN_CODE,
            "worst": None, "counts": {"red": 0, "amber": 0, "green": 0},
            "status_counts": status_counts([]), "checks": [],
            "as_of": timeutil.iso(now or timeutil.utcnow()), "error": message}


def _row(check, number, unit, warn, crit):
    return {"key": check.key, "title": check.title, "status": check.status,
            "status_word": status_word(check.status), "colour": COLOUR[check.status],
            "number": number, "unit": unit, "warn": warn, "crit": crit, "value": check.value,
            "detail": check.detail, "remedy": check.remedy, "command": check.command,
            "page": check.page, "task": check.task or None,
            "task_params": dict(check.task_params) if check.task else None, "silenced": None}


def number_of(check, t, last_runs, store, now):
    """(number, unit, warn, crit) of a check: the figure its status is judged on (None when
    there is none, e.g. a backup never taken); warn/crit None where the status is decided on
    another figure (the cleanups are judged on overdue rows, not on the waiting count)."""
    key = check.key
    if getattr(check, "measured", None) is not None:  # a check that carries its own numbers
        return check.measured
    if key in COUNT_CHECKS:
        warn = {"stuck": t.stuck_warn, "below_threshold": t.below_threshold_warn,
                "unparseable": t.unparseable_warn, "foreign_values": 1}.get(key)
        return _leading_number(check.value), "", warn, t.stuck_error if key == "stuck" else None
    if key == "schema":
        return _leading_number(check.value) or 0, "", 1, None
    if key in ("integrity", "backup"):
        run = {} if not isinstance(last_runs, dict) or "_error" in last_runs else last_runs.get(key) or {}
        ok_at = timeutil.parse(run.get("ok_at"))
        age = None if ok_at is None else max((now - ok_at).total_seconds(), 0.0)
        if key == "integrity":
            return age, "s", t.integrity_warn_days * 86400, t.integrity_error_days * 86400
        return age, "s", t.backup_warn_hours * 3600, t.backup_error_hours * 3600
    if key == "wal":
        return store["wal_bytes"], "B", t.wal_warn_mb * MB, t.wal_error_mb * MB
    if key == "free_pages":
        return store["free_ratio"] or 0.0, "", t.free_warn_ratio, t.free_error_ratio
    if key == "analyze":
        return store.get("stat_tables") or 0, "", None, None
    return _leading_number(check.value), "", None, None


def _leading_number(text):
    match = re.match(r"\s*(-?[\d,]+(?:\.\d+)?)", str(text))
    if not match:
        return None
    value = float(match.group(1).replace(",", ""))
    return int(value) if value.is_integer() else value


def _perf_value(value):
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return str(int(value))


def perfdata(report):
    """`label=value[unit];warn;crit` for every check ('U' for an unknown value)."""
    parts = []
    for row in report["checks"]:
        value = "U" if row["number"] is None else _perf_value(row["number"]) + row["unit"]
        parts.append(f"{row['key']}={value};{_perf_value(row['warn'])};{_perf_value(row['crit'])}")
    return " ".join(parts)


def first_line(report):
    """`R2W CRITICAL - 2 CRITICAL, 3 WARNING | stuck=7;1;10 ...` (UNKNOWN: the reason instead);
    silenced checks are counted with their true status, and said ("1 silenced")."""
    status = report["status"]
    if not report["checks"]:
        return f"R2W {status} - {report['error']}"
    counts = status_counts(report["checks"])
    summary = f"{counts['CRITICAL']} CRITICAL, {counts['WARNING']} WARNING"
    quiet = sum(1 for row in report["checks"] if row.get("silenced"))
    if quiet:
        summary += f", {quiet} silenced"
    if report.get("error"):
        summary += f"; {report['error']}"
    return f"R2W {status} - {summary} | {perfdata(report)}"


def lines(report):
    """The first line, then one line per check (worst first, in the checks' order)."""
    order = sorted(report["checks"], key=lambda r: health.SEVERITY[r["status"]])
    out = [first_line(report)]
    for row in order:
        line = f"{status_word(row['status']):<8} {row['key']}: {row['title']}: {row['value']}"
        if row.get("silenced"):
            line += " " + silenced_note(row["silenced"])
        if row["remedy"]:
            line += f" - {row['remedy']}"
        out.append(errors.one_line(line, limit=400))
    return out


def silenced_note(marking):
    """(silenced by X until 2026-12-08 18:00 UTC: reason)"""
    return (f"(silenced by {marking['by']} until {str(marking['until'])[:16].replace('T', ' ')}"
            f" UTC: {marking['reason']})")


def with_silences(report, active):
    """The report with each check marked: "silenced" {by, reason, until} for a check in
    `active` ({check: silences.Silence}), None for the others. Status and exit code stay."""
    return {**report, "checks": [
        {**row, "silenced": active[row["key"]].marking() if row["key"] in active else None}
        for row in report["checks"]]}


def silenced(db, report, monitor=None, now=None):
    """with_silences() from the monitor's silences of this database. A monitor that cannot be
    read marks nothing: the report, being the truth, stands without its marks."""
    try:
        active = SilenceStore(monitor).active(db, now)
    except (errors.R2WError, OSError):
        active = {}
    return with_silences(report, active)


def with_problem(report, problem):
    """The report made UNKNOWN by a settings problem (the checks stay listed), or as it is."""
    if not problem:
        return report
    return {**report, "status": LABEL[UNKNOWN_CODE], "exit_code": UNKNOWN_CODE,
            "error": problem if not report.get("error") else f"{report['error']}; {problem}"}
