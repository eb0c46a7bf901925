"""Times in the zone a person chose: UTC (the default) or their browser's (an IANA name).

Converted here, server-side, with zoneinfo and pandas, so that a chart's labels, its tooltips
and a table's cells agree, and tests can read them. `zone=None` is UTC everywhere and leaves
every UTC text as it was. No Streamlit here.

- Tables: `table_times` writes each time as 24-hour wall time to the second (or the minute)
  with the zone in the column's header, and keeps full ISO-8601 with its offset for the CSV;
  a value that does not parse is shown as stored, a missing one as empty.
- Charts: positions stay UTC instants (or UTC period keys), so a daylight-saving change never
  repeats or drops a band; `shift_expr` adds the zone's offset at each instant to the axis
  labels (Vega knows only UTC and the viewer's own zone).
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

SECOND, MINUTE = "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"


UTC_NAMES = {"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu",
             "GMT", "Etc/GMT", "Etc/GMT0", "Etc/GMT+0", "Etc/GMT-0", "GMT0", "Etc/Greenwich",
             "Greenwich"}


def valid_zone(name):
    """`name` if it is an IANA zone this machine knows and not UTC itself (nothing to choose),
    else None (no browser zone, UTC, or junk)."""
    if not isinstance(name, str) or not name or len(name) > 64 or name in UTC_NAMES:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def zone_name(zone):
    """'UTC', or the zone's IANA name."""
    return zone or "UTC"


def titled(title, zone):
    """A column header or an axis title naming its zone: 'Uploaded (Asia/Kolkata)'."""
    return f"{title} ({zone_name(zone)})"


def moment(value):
    """A stored time as an aware UTC Timestamp (naive: UTC); None when missing; ValueError when
    it does not parse."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    if not isinstance(value, (str, datetime)):   # pd.Timestamp is a datetime; a number is none
        raise ValueError(f"not a time: {value!r}")
    stamp = pd.Timestamp(value)   # ValueError on text that is no time
    if pd.isna(stamp):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def local(stamp, zone):
    """An aware Timestamp in `zone` (None: UTC)."""
    return stamp.tz_convert(zone or "UTC")


def ambiguous(stamp):
    """Whether the wall time of an aware Timestamp occurs twice in its zone (the hour a
    daylight-saving change repeats)."""
    wall = stamp.to_pydatetime()
    return wall.replace(fold=1 - wall.fold).utcoffset() != wall.utcoffset()


def cell_text(value, zone=None, fmt=SECOND):
    """One table cell: the wall time in `zone` ('2026-12-07 14:03:22'), with the zone's
    abbreviation where the wall time is ambiguous ('2026-10-25 02:30:00 CET'); '' when
    missing; the stored text when it does not parse."""
    try:
        stamp = moment(value)
    except (ValueError, TypeError, OverflowError):
        return str(value)
    if stamp is None:
        return ""
    wall = local(stamp, zone)
    text = wall.strftime(fmt)
    return f"{text} {wall.strftime('%Z')}" if zone and ambiguous(wall) else text


def iso_text(value):
    """A stored time as full ISO-8601 UTC with 'Z' for a CSV ('2026-12-07T14:03:22.123456Z');
    '' when missing; the stored text when it does not parse."""
    try:
        stamp = moment(value)
    except (ValueError, TypeError, OverflowError):
        return str(value)
    return "" if stamp is None else stamp.tz_localize(None).isoformat() + "Z"


def _column_texts(values, zone, fmt):
    """(cells, ISO texts) of a column, as cell_text and iso_text, parsed at once (a page's
    table costs about what slicing the stored text did); the values the one parse misses
    (odd text, other formats) go through cell_text and iso_text one by one."""
    text = values.map(lambda v: v if isinstance(v, (str, datetime)) else None)
    stamps = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    wall = stamps.dt.tz_convert(zone or "UTC")
    cells = wall.dt.strftime(fmt)
    if zone is not None:   # a wall time a daylight-saving change repeats: its abbreviation
        repeated = stamps.notna() & wall.dt.tz_localize(None).dt.tz_localize(
            zone, ambiguous="NaT", nonexistent="NaT").isna()
        cells = cells.where(~repeated, cells + " " + wall.dt.strftime("%Z"))
    micro = stamps.dt.microsecond.fillna(0).astype("int64")
    isos = (stamps.dt.strftime("%Y-%m-%dT%H:%M:%S")
            + ("." + micro.astype(str).str.zfill(6)).where(micro > 0, "") + "Z")
    cells, isos = cells.astype(object), isos.astype(object)
    for i in stamps.index[stamps.isna()]:
        cells[i], isos[i] = cell_text(values[i], zone, fmt), iso_text(values[i])
    return cells, isos


def table_times(frame, times, zone=None):
    """(shown, csv, headers) of a table with times: `times` maps a column to (title, format:
    SECOND or MINUTE). `shown` has the wall-time texts, `csv` ISO-8601 UTC, `headers` maps each
    column to its title naming the zone."""
    shown, csv = frame.copy(), frame.copy()
    headers = {}
    for column, (title, fmt) in times.items():
        if column not in frame:
            continue
        shown[column], csv[column] = _column_texts(frame[column], zone, fmt)
        headers[column] = titled(title, zone)
    return shown, csv, headers


# ------------------------------------------------------------------ charts

def _offset_ms(zone, at):
    return int(at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone)).utcoffset()
               .total_seconds() * 1000)


def offsets(zone, start, end):
    """[(instant in ms since the epoch, the zone's UTC offset in ms from then)] over naive UTC
    [start, end]: the offset at start, then each change (found to the minute)."""
    start, end = pd.Timestamp(start).to_pydatetime(), pd.Timestamp(end).to_pydatetime()
    epoch = datetime(1970, 1, 1)

    def ms(at):
        return int((at - epoch).total_seconds() * 1000)

    changes = [(ms(start), _offset_ms(zone, start))]
    day, at = timedelta(days=1), start
    while at < end:
        nxt = min(at + day, end)
        if _offset_ms(zone, nxt) != changes[-1][1]:
            low, high = at, nxt          # the change lies in (low, high]: halve to the minute
            while high - low > timedelta(minutes=1):
                mid = low + (high - low) / 2
                low, high = (mid, high) if _offset_ms(zone, mid) == changes[-1][1] else (low, mid)
            high = high.replace(second=0, microsecond=0)
            if _offset_ms(zone, high) == changes[-1][1]:
                high += timedelta(minutes=1)
            changes.append((ms(high), _offset_ms(zone, high)))
        at = nxt
    return changes


def shift_expr(zone, start, end, at):
    """A Vega expression of the instant `at` (an expression in ms) moved to the wall time of
    `zone`, for instants in [start, end]: format it with utcFormat to read the zone's clock."""
    changes = offsets(zone, start, end)
    at = f"time({at})"   # milliseconds: a Date plus a number would be text
    offset = str(changes[0][1])
    for when, value in changes[1:]:
        offset = f"({at} >= {when} ? {value} : {offset})"
    return f"({at} + {offset})"


def wall_label(stamp, zone, fmt):
    """A naive UTC moment written in `zone` with strftime `fmt` (%Z: the zone's abbreviation)."""
    return local(pd.Timestamp(stamp).tz_localize("UTC"), zone).strftime(fmt)
