"""The Confidence page's "by model" without grouping every cache entry per page view.

confidence.by_model over the all-time window groups every entry of cv_extraction_cache (the
all-time window selects every row): exactly what the watcher's snapshot counted per model
(watched_cache's cache.model.* metrics: the same comparisons, in the engine's cache_hits.contents).
The page reads them back with the snapshot's time, under watched_checks.recent_snapshot's rules
(at most an hour old, taken after the newest maintenance run). A bounded window, or a snapshot
taken before the per-model low and invalid_confidence were kept, is read from the daily and
hourly roll-ups where they cover it (windowed.confidence_by_model: days, not rows), else live.
"""
from r2w_db.figures import confidence, windowed
from r2w_db.figures.periods import Window
from r2w_db.figures.watched_cache import BYTES, contents_rows
from r2w_db.figures.watched_checks import recent_snapshot


def by_model_of(rows):
    """confidence.by_model's frame from the snapshot's contents rows (watched_cache.contents_rows),
    or None when the snapshot did not keep the per-model low and invalid_confidence."""
    if any(low is None or invalid is None for *_, low, invalid in rows):
        return None
    return confidence.by_model_frame([(model, entries, mean, low, below, invalid)
                                      for model, entries, _, mean, below, _, low, invalid in rows])


def by_model(db, window: Window, history=None, log=None):
    """{"by_model": confidence.by_model's frame, "as_of": the watcher's snapshot's time, or None
    when read from the roll-ups and the live edges, or counted now}."""
    if window.start is None and window.end is None:
        kept = recent_snapshot(db, None, history, log)
        if kept is not None and BYTES in kept[1]:
            frame = by_model_of(contents_rows(kept[1]))
            if frame is not None:
                return {"by_model": frame, "as_of": kept[0]}
    return {"by_model": windowed.confidence_by_model(db, window, history), "as_of": None}
