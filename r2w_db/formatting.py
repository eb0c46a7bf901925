"""Numbers as people read them, for pages, checks and the command line."""
from datetime import timezone
from zoneinfo import ZoneInfo


def plural(n, word, plural=None):
    """'1 day', '2 days', '3 entries' (with plural='entries')."""
    return f"{n:,} {word if n == 1 else (plural or word + 's')}"


def human_bytes(n):
    """1536 -> '1.5 KB'; None -> '–'."""
    if n is None:
        return "–"
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024


def signed_bytes(n):
    """A change in bytes: 1536 -> '+1.5 KB', -1536 -> '−1.5 KB', 0 -> '±0 B'; None -> '–'."""
    if n is None:
        return "–"
    return ("+" if n > 0 else "−" if n < 0 else "±") + human_bytes(abs(n))


def human_age(seconds):
    """A duration in the largest sensible unit: '45 s', '12 min', '5.0 h', '3.2 d'; None -> '–'."""
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def wall_time(moment, zone=None, fmt="%Y-%m-%d %H:%M"):
    """A naive UTC datetime as the wall time of `zone` (an IANA name; None: UTC), zone named:
    '2026-11-24 11:55 UTC', '2026-11-24 17:25 Asia/Kolkata'."""
    if zone is None:
        return f"{moment:{fmt}} UTC"
    local = moment.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    return f"{local:{fmt}} {zone}"


def snapshot_time(taken_at, now, zone=None):
    """When the watcher's snapshot was taken and how long ago: '2026-11-24 11:55:00 UTC (5 min
    ago)' (naive UTC datetimes; `zone` names the wall time shown, as wall_time)."""
    age = human_age(max(0.0, (now - taken_at).total_seconds()))
    return f"{wall_time(taken_at, zone, '%Y-%m-%d %H:%M:%S')} ({age} ago)"
