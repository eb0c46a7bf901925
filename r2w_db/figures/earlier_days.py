"""The days the live database no longer holds, from the daily roll-ups.

The anonymous cleanup deletes old anonymous uploads (and with them their first-seen days and
hashed uploads); the live figures of those days drop to nothing. For every day of a window
before the first day on which the live database still holds a row, the page's per-day figures
come from that day's roll-up (recorded when the day closed, or back-filled later) and the row's
`source` says so ("daily roll-up"); from that day on they stay the live, exact ones ("live").
Only for day windows: roll-ups are daily, so hourly windows are all live. Where the roll-ups
cover the window (figures.windowed), the figures already hold those days and the days before
the oldest live upload are only marked (`in_totals`).
"""
from datetime import timedelta

import pandas as pd

from r2w_db.backends import open_database
from r2w_db.figures import anonymous, cache_hits, windowed
from r2w_db.figures.periods import Window, chart_span, read

LIVE, ROLLUP = "live", "daily roll-up"


def _rollup_days(db, window, first_live, store=None):
    """{Timestamp day: figures} of the roll-ups inside the window (and the chart's span) before
    `first_live` (a Timestamp, or None: the live database holds no row in the window)."""
    from r2w_db.monitor.history_store import HistoryStore

    if window.grain != "day":
        return {}
    store = store if isinstance(store, HistoryStore) else HistoryStore(store)
    low, _ = chart_span(window)
    first = low
    last = (window.end or window.now) - timedelta(days=1)
    if first_live is not None:
        last = min(last, first_live - timedelta(days=1))
    if last < first:
        return {}
    found = store.rollups(db, first.date().isoformat(), last.date().isoformat())
    return {pd.Timestamp(day): row["figures"] for day, row in found.items()}


def _first_live(frame, column):
    live = frame.loc[frame[column] > 0, "period"]
    return None if live.empty else live.min()


def _merged(frame, rollups, values):
    """frame with `source`; the roll-up days' `values(figures)` ({column: n}) put in (days
    missing from the frame, before its first period, are added)."""
    frame = frame.copy()
    frame["source"] = LIVE
    if not rollups:
        return frame
    added = []
    for day, figures in rollups.items():
        got = values(figures)
        at = frame.index[frame["period"] == day]
        if len(at):
            for column, value in got.items():
                frame.loc[at[0], column] = value
            frame.loc[at[0], "source"] = ROLLUP
        else:
            added.append({"period": day, **got, "source": ROLLUP})
    if added:
        frame = pd.concat([pd.DataFrame(added), frame], ignore_index=True)
    frame = frame.sort_values("period").reset_index(drop=True)
    return frame


def _marked(frame, window, first_live):
    """A frame that already holds the roll-up days (figures.windowed): the days before the
    first day the live database holds a row on are marked as roll-ups."""
    frame = frame.copy()
    frame["source"] = LIVE
    if window.grain == "day" and first_live is not None:
        frame.loc[frame["period"] < first_live, "source"] = ROLLUP
    elif window.grain == "day":
        frame["source"] = ROLLUP
    return frame


def _oldest_day(db, anonymous_only):
    """The UTC day of the oldest upload the live database holds (Timestamp), or None."""
    db = open_database(db)
    with read(db) as conn:
        first = db.backend.uploads.oldest_day(conn, anonymous_only)
    return None if first is None else pd.Timestamp(first)


def anonymous_ids(db, window: Window, store=None, owners=None):
    """{"by_period": anonymous.ids_by_period + source, "rollup_days", "rollup_new_ids",
    "first_live": Timestamp or None, "in_totals"}. A roll-up day's new_ids is the roll-up's;
    its owning_ids stays the running total of ids that still own uploads today (`owners`: as
    anonymous.with_owning_ids'). in_totals: the roll-up days are part of the window's figures
    (figures.windowed answered from the roll-ups); otherwise they are added here, beside the
    live figures."""
    in_totals = windowed.usable(db, window, store)
    if in_totals:
        first_live = _oldest_day(db, anonymous_only=True)
        merged = _marked(windowed.anonymous_ids(db, window, store, owners), window, first_live)
    else:
        frame = anonymous.ids_by_period(db, window, owners)
        first_live = _first_live(frame, "new_ids")
        rollups = _rollup_days(db, window, first_live, store)
        merged = _merged(frame, rollups, lambda f: {"new_ids": int(f["anonymous"]["new_ids"])})
        if rollups and "owning_ids" in merged:
            merged["owning_ids"] = merged["owning_ids"].fillna(0)
    merged = merged.astype({"new_ids": "int64", "owning_ids": "int64"})
    rolled = merged[merged["source"] == ROLLUP]
    return {"by_period": merged, "rollup_days": len(rolled),
            "rollup_new_ids": int(rolled["new_ids"].sum()), "first_live": first_live,
            "in_totals": in_totals}


def hit_rate(db, window: Window, store=None):
    """cache_hits.hit_rate, its by_period with `source` and the roll-up days before the first day
    with a live upload; plus "rollup_days", "rollup_hits", "rollup_hashed", "first_live",
    "in_totals" (as anonymous_ids': otherwise the window's totals stay the live ones)."""
    in_totals = windowed.usable(db, window, store)
    if in_totals:
        hits = windowed.hit_rate(db, window, store)
        first_live = _oldest_day(db, anonymous_only=False)
        merged = _marked(hits["by_period"], window, first_live)
    else:
        hits = cache_hits.hit_rate(db, window)
        first_live = _first_live(hits["by_period"], "uploads")
        rollups = _rollup_days(db, window, first_live, store)

        def values(f):
            c = f["cache"]
            return {"uploads": int(c["uploads"]), "hashed": int(c["hashed"]),
                    "hits": int(c["hits"]), "extracted": int(c["hashed"] - c["hits"]),
                    "unhashed": int(c["uploads"] - c["hashed"]),
                    "hit_rate": c["hits"] / c["hashed"] if c["hashed"] else float("nan")}

        merged = _merged(hits["by_period"], rollups, values)
    merged = merged.astype({c: "int64" for c in ("uploads", "hashed", "hits", "extracted",
                                                 "unhashed")} | {"hit_rate": "float64"})
    rolled = merged[merged["source"] == ROLLUP]
    return {**hits, "by_period": merged, "rollup_days": len(rolled),
            "rollup_hits": int(rolled["hits"].sum()), "rollup_hashed": int(rolled["hashed"].sum()),
            "first_live": first_live, "in_totals": in_totals}


def served_long(frame):
    """cache_hits.served_long with each row's source kept."""
    long = cache_hits.served_long(frame)
    if "source" in frame:
        long["source_of_day"] = list(frame["source"]) * 3
    return long
