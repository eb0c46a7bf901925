"""Alerts: what changed since the last notification, sent to every destination, and the heartbeat.

A message goes out when a check got worse (green -> amber -> red), recovered to green, or has
stayed red for `repeat_hours` since its last message (a reminder). A red check turning amber is
remembered without a message (its next worsening is news). The first run, with no state,
reports every check that is not green. When the database cannot be read at all, the pseudo-check
`database` turns red (and recovers when it can be read again).

http(s) destinations get a JSON POST: a Slack-compatible `text`, and `status`, `database`,
`checks`. A destination that is down, slow or refusing never breaks the check: each send has a
timeout, runs in its own thread, and is logged as failed and retried at the next cycle.
"""
import hashlib
import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta
from urllib.parse import urlsplit

from r2w_db.engine import timeutil
from r2w_db.figures import health, health_report
from r2w_db.monitor.alert_store import AlertStore

ORDER = {health.OK: 0, health.WARN: 1, health.ERROR: 2}
WORDS = {"first": "not green", "worse": "worse", "recovered": "recovered", "reminder": "still red"}
DATABASE_CHECK = "database"
USER_AGENT = "r2w-monitor"


def destination_id(url):
    """A stable id for a URL that does not reveal it (the log never holds a webhook's token)."""
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def destination_label(url):
    """scheme://host[:port]/... : enough to recognise a destination, never its path or password."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(unparseable URL)"
    return f"{parts.scheme}://{host}{port}" + ("/…" if parts.path.strip("/") or parts.query else "")


def _rows(report):
    """The checks of a report, plus the `database` pseudo-check (red when it cannot be read)."""
    rows = list(report["checks"])
    readable = bool(rows) or report["exit_code"] != health_report.UNKNOWN_CODE
    rows.append({"key": DATABASE_CHECK, "title": "Database readable",
                 "status": health.OK if readable else health.ERROR,
                 "number": 1 if readable else 0,
                 "value": "readable" if readable else "cannot be read",
                 "detail": report.get("error") or "", "command": "",
                 "remedy": "" if readable else "Check the location, the file and its permissions."})
    return rows


def decider(report, repeat_hours, now):
    """decide(state, first) for AlertStore.claim: (new_state, message or None, kind)."""
    def decide(state, first):
        new_state, changes = {}, []
        for row in _rows(report):
            key, status = row["key"], row["status"]
            old = state.get(key) or {}
            before = old.get("status", health.OK)
            change = None
            if first:
                change = "first" if status != health.OK else None
            elif ORDER[status] > ORDER.get(before, 0):
                change = "worse"
            elif status == health.OK and before != health.OK:
                change = "recovered"
            elif status == health.ERROR and before == health.ERROR:
                last = timeutil.parse(old.get("notified_at") or old.get("changed_at"))
                if last is None or now - last >= timedelta(hours=repeat_hours):
                    change = "reminder"
            new_state[key] = {"status": status, "number": _float(row.get("number")),
                              "notified": change is not None}
            if change:
                changes.append({**row, "change": change, "previous": None if first else before})
        if not changes:
            return new_state, None, None
        kind = ("first" if first else
                "reminder" if all(c["change"] == "reminder" for c in changes) else "change")
        return new_state, message(report, changes, now), kind
    return decide


def _float(value):
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def message(report, changes, now):
    """The JSON sent: text (Slack-compatible), status, database, checks, as_of."""
    colour = health_report.COLOUR
    lines = [f"R2W {report['status']} on {report['database']}"]
    for c in changes:
        was = f"{colour[c['previous']]} → " if c.get("previous") else ""
        line = f"• {c['title']}: {was}{colour[c['status']]} ({c['value']}), {WORDS[c['change']]}"
        if c.get("remedy"):
            line += f". {c['remedy']}"
        lines.append(line)
    checks = [{"key": c["key"], "title": c["title"], "status": c["status"],
               "colour": colour[c["status"]], "previous": c.get("previous"),
               "change": c["change"], "number": c.get("number"), "value": c["value"],
               "detail": c.get("detail", ""), "remedy": c.get("remedy", ""),
               "command": c.get("command", "")} for c in changes]
    return {"text": "\n".join(lines), "status": report["status"], "database": report["database"],
            "checks": checks, "as_of": timeutil.iso(now)}


def post_json(url, payload, timeout):
    """(ok, error): POST the payload as JSON; ok on any 2xx answer within the timeout."""
    if urlsplit(url).scheme not in ("http", "https"):
        return False, f"unsupported destination {destination_label(url)}: only http(s) URLs"
    request = urllib.request.Request(
        url, data=json.dumps(payload, default=str).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT})
    return _open(request, timeout)


def _open(request, timeout):
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read(1024)
            return 200 <= answer.status < 300, None if answer.status < 300 else f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code} {exc.reason}"
    except urllib.error.URLError as exc:
        return False, f"cannot reach it: {exc.reason}"
    except (TimeoutError, OSError, ValueError) as exc:
        return False, f"no answer within {timeout:g} s" if isinstance(exc, TimeoutError) else str(exc)


def fetch(url, timeout):
    """(ok, error): GET a URL (the heartbeat)."""
    if urlsplit(url).scheme not in ("http", "https"):
        return False, f"unsupported heartbeat {destination_label(url)}: only http(s) URLs"
    return _open(urllib.request.Request(url, headers={"User-Agent": USER_AGENT}), timeout)


def heartbeat(url, ok, timeout):
    """Ping the heartbeat after a cycle: the URL when it went well, URL + '/fail' when not."""
    return _bounded(lambda: fetch(url if ok else url.rstrip("/") + "/fail", timeout), timeout)


def _bounded(func, timeout):
    """Run func in a daemon thread; give up waiting a second after its own timeout."""
    box = []
    thread = threading.Thread(target=lambda: box.append(func()), daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return box[0] if box else (False, f"no answer within {timeout:g} s")


def deliver(claimed, urls, timeout):
    """[(claimed row, ok, error)]: every claimed delivery sent at once, each in its own thread."""
    results = [None] * len(claimed)

    def send(i, row):
        url = urls.get(row["destination_id"])
        results[i] = (False, "destination no longer configured") if url is None else \
            post_json(url, row["payload"], timeout)

    threads = [threading.Thread(target=send, args=(i, row), daemon=True)
               for i, row in enumerate(claimed)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 1.0)
    return [(row, *(results[i] or (False, f"no answer within {timeout:g} s")))
            for i, row in enumerate(claimed)]


def notify(db, report, alerts, store=None, now=None):
    """Send what changed (and retry what failed before). Returns {"sent", "failed", "changes"
    (the checks in the new message), "problem"}; problem: why nothing could be addressed."""
    store = store if isinstance(store, AlertStore) else AlertStore(store)
    now = now or timeutil.utcnow()
    if alerts.problem:
        store.log_problem(db, alerts.problem, now)
        return {"sent": 0, "failed": 1, "changes": [], "problem": alerts.problem}
    if not alerts.urls:
        return {"sent": 0, "failed": 0, "changes": [], "problem":
                "no alert destinations: set R2W_ALERT_URLS or urls under [alerts] in the secrets"}
    urls = {destination_id(u): u for u in alerts.urls}
    claimed = store.claim(db, decider(report, alerts.repeat_hours, now),
                          [(i, destination_label(u)) for i, u in urls.items()], now)
    sent = failed = 0
    for row, ok, error in deliver(claimed, urls, alerts.timeout):
        store.finish(row["id"], ok, error)
        sent, failed = sent + bool(ok), failed + (not ok)
    fresh = [c for c in claimed if not c.get("retry")]
    return {"sent": sent, "failed": failed, "problem": None,
            "changes": fresh[0]["payload"]["checks"] if fresh else []}
