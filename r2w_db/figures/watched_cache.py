"""The Cache hits page's "cache now" without grouping every cache entry per page view.

What the cache holds (entries, accesses and confidence per extraction model, entries per
access count, the documents' size) groups every entry of cv_extraction_cache: a scan over
documents of a few KB each. The watcher's snapshot groups them once (`metrics`); the page reads
them back with the snapshot's time (`cache_now`), under watched_checks.recent_snapshot's rules
(at most an hour old, taken after the newest maintenance run), else counts live. The entries
eligible for cleanup are the snapshot's cleanups.cache.waiting (health.cleanup_figures counts
them with the maintenance preview's own function).

Metrics: cache.bytes, cache.bytes_estimated (0/1), cache.model.<JSON of the model
name>.rank|entries|accesses|average_confidence|below_threshold|invalid|low|invalid_confidence
(rank: the engine's order; invalid: access counts; low and invalid_confidence: the Confidence
page's by_model, figures.watched_confidence; a snapshot taken before they were kept lacks them) and cache.access_count.<bucket label>.entries|accesses.
"""
import json

from r2w_db.backends import open_database
from r2w_db.figures.definitions import ACCESS_BUCKETS, INVALID_COUNT, SIZE_SAMPLE, document_bytes
from r2w_db.figures.periods import read
from r2w_db.figures.watched_checks import recent_snapshot

MODEL, ACCESS = "cache.model.", "cache.access_count."
MODEL_FIELDS = ("entries", "accesses", "average_confidence", "below_threshold", "invalid", "low",
                "invalid_confidence")
BYTES, ESTIMATED = "cache.bytes", "cache.bytes_estimated"
ELIGIBLE = "cleanups.cache.waiting"


def metrics(db):
    """The snapshot's cache.* metrics, as of now (two passes over the cache entries)."""
    db = open_database(db)
    with read(db) as conn:
        rows, sampled, sample_bytes = db.backend.cache_hits.contents(conn, SIZE_SAMPLE)
        access = db.backend.cache_hits.access_counts(conn, ACCESS_BUCKETS, INVALID_COUNT)
    size, estimated = document_bytes(sum(int(r[1]) for r in rows), sampled, sample_bytes)
    out = {BYTES: size, ESTIMATED: int(estimated)}
    for rank, (model, *figures) in enumerate(rows):
        name = f"{MODEL}{json.dumps(model)}."
        out[f"{name}rank"] = rank
        for field, value in zip(MODEL_FIELDS, figures):
            out[f"{name}{field}"] = None if value is None else (
                float(value) if field == "average_confidence" else int(value))
    for label, (n, accesses) in access.items():
        out[f"{ACCESS}{label}.entries"], out[f"{ACCESS}{label}.accesses"] = int(n), int(accesses)
    return out


def contents_rows(metrics):
    """db.backend.cache_hits.contents' rows, in its order, as the snapshot kept them (None for a
    field it did not keep)."""
    models = {}
    for name, value in metrics.items():
        if name.startswith(MODEL):
            model, field = name[len(MODEL):].rsplit(".", 1)
            models.setdefault(model, {})[field] = value
    return [(json.loads(model), *(got.get(f) for f in MODEL_FIELDS))
            for model, got in sorted(models.items(), key=lambda m: m[1]["rank"])]


def cache_now(db, history=None, log=None):
    """{"contents": cache_hits.contents, "access_counts": cache_hits.access_counts, "as_of":
    the watcher's snapshot's time, or None when counted now}. The snapshot is judged by the
    clock, as watched_anonymous' are."""
    from r2w_db.figures import cache_hits

    kept = recent_snapshot(db, None, history, log)
    if kept is None or BYTES not in kept[1] or kept[1].get(ELIGIBLE) is None:
        return {"contents": cache_hits.contents(db), "access_counts": cache_hits.access_counts(db),
                "as_of": None}
    taken_at, got = kept
    labels = {name[len(ACCESS):].rsplit(".", 1)[0] for name in got if name.startswith(ACCESS)}
    return {"contents": cache_hits.contents_of(contents_rows(got),
                                               (int(got[BYTES]), bool(got[ESTIMATED])),
                                               int(got[ELIGIBLE])),
            "access_counts": cache_hits.access_counts_of(
                {label: (got[f"{ACCESS}{label}.entries"], got[f"{ACCESS}{label}.accesses"])
                 for label in labels}),
            "as_of": taken_at}
