"""The pages' windowed figures, read from the roll-ups wherever they cover the window.

Each function returns exactly what its live twin returns (uploads.status_counts, ...,
overview.headline). When the monitor database holds roll-ups of this database inside the
window, closed days, hours and minutes come from them and only what came since the watcher's
last roll-up (and the part-hours at the edges of a window the pages do not offer, whose
minutes are not rolled up: rollups.edge_hours) is read live (rollup_window.days_of): a window
costs periods, not rows, and keeps what cleanups deleted. A closed period's figures are those
recorded when it closed (an upload that finishes later keeps the status it had then). It is one path on every engine:
the roll-ups of a PostgreSQL database are recorded and read as an SQLite file's are (the periods
and their figures come from the engine's named queries, backends/<engine>/rollups.py).
Otherwise the live function answers. An all-time window holding timestamps the engine cannot
read (SQLite's unparseable text, PostgreSQL's NULL or infinite) is answered live too: roll-ups
have no day for such a row, and the live totals count it.
"""
import pandas as pd

from r2w_db import config, errors
from r2w_db.backends import open_database
from r2w_db.figures import (anonymous, cache_hits, confidence, overview, rollup_window, rollups,
                           stats, uploads)
from r2w_db.figures.periods import Window, period_frame, ratio, read


def usable(db, window: Window, store=None) -> bool:
    """Whether this window is answered from the roll-ups (never when the monitor database
    cannot be read: the pages then read live, and the History page says what is wrong)."""
    db = open_database(db)
    try:
        if not rollup_window.covered(db, window, store):
            return False
    except (errors.R2WError, OSError):
        return False
    if window.start is not None:
        return True
    with read(db) as conn:
        return not any(db.backend.stats.data_quality(conn).values())


def _periods(db, window, store, *sections):
    """rollup_window.days_of, reading live only the sections (rollups.SECTIONS) a figure uses."""
    return rollup_window.days_of(db, window, store, sections)


def _rows(found, pick, keep=lambda f: True):
    """[(period, *values)] of the periods that hold a row (`keep`), for periods.period_frame."""
    return [(key, *pick(f)) for key, f, _, _ in found if keep(f)]


def _sum(found, pick):
    total = None
    for _, f, _, _ in found:
        values = pick(f)
        total = values if total is None else [a + b for a, b in zip(total, values)]
    return total


# ------------------------------------------------------------------ Uploads page

# the Uploads page's sections, read together (on SQLite one pass over the uploads gives both)
UPLOADS_PAGE = ("uploads", "file_types")

def upload_status_counts(db, window: Window, store=None):
    if not usable(db, window, store):
        return uploads.status_counts(db, window)
    found = _periods(db, window, store, *UPLOADS_PAGE)
    counts = _sum(found, lambda f: [f["uploads"][s] for s in uploads.STATUS_CLASSES]) or \
        [0] * len(uploads.STATUS_CLASSES)
    return pd.DataFrame({"status": list(uploads.STATUS_CLASSES), "uploads": counts})


def upload_by_period(db, window: Window, store=None):
    if not usable(db, window, store):
        return uploads.by_period(db, window)
    rows = _rows(_periods(db, window, store, *UPLOADS_PAGE),
                 lambda f: [*(f["uploads"][s] for s in config.STATUSES), f["uploads"]["total"]],
                 lambda f: f["uploads"]["total"])
    return uploads.by_period_frame(rows, window)


def upload_file_types(db, window: Window, store=None):
    if not usable(db, window, store):
        return uploads.file_types(db, window)
    return rollup_window.totals_of(_periods(db, window, store, *UPLOADS_PAGE),
                                   window)["file_types"]


# ------------------------------------------------------------------ Cache hits page

def hit_rate(db, window: Window, store=None):
    """As cache_hits.hit_rate."""
    if not usable(db, window, store):
        return cache_hits.hit_rate(db, window)
    found = _periods(db, window, store, "cache")
    return cache_hits.hit_rate_of(
        _rows(found, lambda f: [f["cache"]["uploads"], f["cache"]["hashed"]],
              lambda f: f["cache"]["uploads"]),
        _rows(found, lambda f: [f["cache"]["hits"]], lambda f: f["cache"]["hits"]), window)


# ------------------------------------------------------------------ Anonymous users page

def anonymous_share(db, window: Window, store=None):
    """As anonymous.share_by_period."""
    if not usable(db, window, store):
        return anonymous.share_by_period(db, window)
    found = _periods(db, window, store, "uploads", "anonymous")
    return anonymous.share_of(
        _rows(found, lambda f: [f["uploads"]["total"]], lambda f: f["uploads"]["total"]),
        _rows(found, lambda f: [f["anonymous"]["uploads"]], lambda f: f["anonymous"]["uploads"]),
        window)


def anonymous_ids(db, window: Window, store=None, owners=None):
    """As anonymous.ids_by_period: new ids from the roll-ups, the owners' running total live
    (it is about the ids that own uploads today) unless `owners` are given (as
    anonymous.with_owning_ids')."""
    if not usable(db, window, store):
        return anonymous.ids_by_period(db, window, owners)
    rows = _rows(_periods(db, window, store, "anonymous"), lambda f: [f["anonymous"]["new_ids"]],
                 lambda f: f["anonymous"]["new_ids"])
    return anonymous.with_owning_ids(db, window, period_frame(rows, window, counts=("new_ids",)),
                                     owners)


# ------------------------------------------------------------------ Confidence page

def confidence_summary(db, window: Window, store=None):
    if not usable(db, window, store):
        return confidence.summary(db, window)
    got = rollup_window.totals_of(_periods(db, window, store, "confidence"), window)["confidence"]
    return {k: got[k] for k in ("entries", "valid", "invalid", "null", "out_of_range", "low",
                                "below_threshold_not_low", "cacheable", "below_threshold", "mean")}


def confidence_histogram(db, window: Window, store=None):
    if not usable(db, window, store):
        return confidence.histogram(db, window)
    return rollup_window.totals_of(_periods(db, window, store, "confidence"), window)["histogram"]


def confidence_by_period(db, window: Window, store=None):
    """As confidence.mean_by_period."""
    if not usable(db, window, store):
        return confidence.mean_by_period(db, window)
    c = "confidence"
    rows = _rows(_periods(db, window, store, c),
                 lambda f: [f[c]["valid"], f[c]["score_sum"] / f[c]["valid"]],
                 lambda f: f[c]["valid"])
    return period_frame(rows, window, counts=("entries",), values=("mean",))


def confidence_by_model(db, window: Window, store=None):
    """As confidence.by_model (`frame.attrs["source"]`: "rollups" or "live"); live too when a
    period of the window was rolled up before the per-model figures were kept
    (rollups.fill_missing adds them at the next roll-up)."""
    if usable(db, window, store):
        rows = rollup_window.models_of(_periods(db, window, store, "confidence_models"))
        if rows is not None:
            frame = confidence.by_model_frame(sorted(
                ((model, entries, ratio(score_sum, valid), low, below, invalid)
                 for model, entries, valid, score_sum, low, below, invalid in rows),
                key=lambda r: (-r[1], rollups.sql_order(r[0]))))
            frame.attrs["source"] = "rollups"
            return frame
    frame = confidence.by_model(db, window)
    frame.attrs["source"] = "live"
    return frame


# ------------------------------------------------------------------ the Overview

HEADLINE_SECTIONS = ("uploads", "cache", "anonymous", "signups", "confidence")

def headline(db, window: Window, store=None, active_sessions=None):
    """As overview.headline: each side's figures from the roll-ups (stuck jobs and the figures
    as of now stay live: they are about now; `active_sessions`: see overview.now_figures)."""
    if not usable(db, window, store):
        return overview.headline(db, window, active_sessions)
    db = open_database(db)
    figures = {}
    for name, side in overview.sides(window):
        t = rollup_window.totals_of(_periods(db, side, store, *HEADLINE_SECTIONS), side)
        u = t["uploads"]
        figures[name] = {
            "registered_new": t["signups"], "anonymous_new": t["new_anonymous_ids"],
            "uploads": u["total"], **{s: u[s] for s in config.STATUSES}, "other": u["other"],
            "hashed": t["hashed"], "hits": t["hits"], "failure_rate": t["failure_rate"],
            "cache_hit_rate": stats.hit_rate_from(t["hashed"], t["hits"]),
            "average_confidence": t["confidence"]["mean"]}
    with read(db) as conn:
        for name, side in overview.sides(window):
            figures[name]["stuck"] = db.backend.overview.stuck_in(conn, side)
        point = overview.now_figures(conn, db, window.now, active_sessions)
    point.update(overview.file_sizes(db))
    return {"current": figures["current"], "previous": figures.get("previous"), "now": point}
