"""The Overview's first line: the worst status in the command line's words (OK, WARNING,
CRITICAL, UNKNOWN, each with its colour), how many checks are in each, when the watcher was
last seen, and whether alerts and the heartbeat are configured and working. No SQL here;
no destination's secret (the notification log holds labels: notify.destination_label)."""
import streamlit as st

from dashboard.safe_text import md, prose
from r2w_db.figures import health, health_report
from r2w_db.formatting import human_age, plural

COLOUR = {"OK": "green", "WARNING": "orange", "CRITICAL": "red", "UNKNOWN": "grey"}
ICON = {"OK": ":material/check_circle:", "WARNING": ":material/warning:",
        "CRITICAL": ":material/error:", "UNKNOWN": ":material/help:"}
WATCH_COMMAND = "python -m r2w_db watch"


def word_badge(word):
    """The status word in its colour, bold: ':red[**CRITICAL**]'."""
    return f":{COLOUR[word]}[{ICON[word]} **{word}**]"


def worst_word(checks, problem=None):
    """The worst status word of the checks; UNKNOWN when they could not run (`problem`)."""
    if problem or not checks:
        return "UNKNOWN"
    return health_report.status_word(health.worst(checks))


def counts_text(checks):
    """'2 CRITICAL, 3 WARNING, 8 OK' (worst first; statuses no check has are left out)."""
    counts = health_report.status_counts(checks)
    return ", ".join(f"{counts[w]} {w}" for w in reversed(health_report.WORDS) if counts[w])


def _ago(seconds):
    return "just now" if seconds < 60 else f"{human_age(seconds)} ago"


def watcher_text(watcher):
    """'watcher seen 2 min ago', or what is wrong with it, or how to start one."""
    if not watcher["seen"]:
        return f":grey[no watcher runs: start `{WATCH_COMMAND}`]"
    seen = f"watcher seen {_ago(watcher['age_seconds'])}"
    if watcher["stale"]:
        return f":orange[{seen}: it may have stopped (`{WATCH_COMMAND}`)]"
    if not watcher["ok"]:
        return f":orange[{seen}, its last cycle failed: {prose(watcher['error'] or 'unknown error')}]"
    return seen


def alerts_text(alerts):
    """'alerts: 2 destinations, last sent 5 min ago', 'alerts failing: ...', or that none is
    configured."""
    if alerts["problem"]:
        return f":red[alerts off: {prose(alerts['problem'])}]"
    if not alerts["destinations"]:
        return ":orange[alerts: no destination configured]"
    where = plural(alerts["destinations"], "destination")
    failed, sent = alerts["last_failed"], alerts["last_sent"]
    if alerts["failing"] and failed:
        return (f":red[alerts to {where} failing: last failure {_ago(failed['age_seconds'])} "
                f"({md(failed['destination'])}: {prose(failed['error'] or 'no answer')})]")
    if sent:
        return f"alerts to {where}, last sent {_ago(sent['age_seconds'])}"
    return f"alerts to {where}, none sent yet"


def heartbeat_text(alerts, watcher):
    """'heartbeat ok 2 min ago', 'heartbeat failing: ...', or that none is configured."""
    if not alerts["heartbeat"]:
        return ":grey[no heartbeat configured]"
    at = watcher.get("heartbeat_at")
    if watcher.get("heartbeat_ok") is False:
        return f":red[heartbeat failing: {prose(watcher.get('heartbeat_error') or 'no answer')}]"
    if at and watcher.get("heartbeat_ok"):
        return "heartbeat ok"
    return "heartbeat configured, not sent yet"


def line(checks, watcher, alerts, problem=None):
    """The whole status line, as one Markdown line."""
    word = worst_word(checks, problem)
    parts = [word_badge(word)]
    parts.append(counts_text(checks) if checks and not problem
                 else prose(problem or "the checks could not run"))
    parts += [watcher_text(watcher), alerts_text(alerts), heartbeat_text(alerts, watcher)]
    return " · ".join(parts)


def show(checks, watcher, alerts, problem=None):
    st.markdown(line(checks, watcher, alerts, problem))
