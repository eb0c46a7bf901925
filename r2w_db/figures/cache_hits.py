"""Cache hits page figures: hit rate over a window, and what the extraction cache holds now.

Cache hit (docs/figures.md): an upload with a file_hash for which the cache holds
an entry created strictly before the upload. Hit rate = hits / uploads with a file_hash; None
("no data") when there are none, never 0 %. The rows are the engine's (db.backend.cache_hits).
"""
import pandas as pd

from r2w_db.app import cache
from r2w_db.backends import open_database
from r2w_db.figures import stats
from r2w_db.figures.definitions import ACCESS_BUCKETS, INVALID_COUNT, SIZE_SAMPLE, document_bytes
from r2w_db.figures.periods import Window, period_frame, rate_column, read



def hit_rate(db, window: Window):
    """{"uploads", "hashed", "hits", "hit_rate", "by_period"} for the uploads of the window.

    by_period: period, uploads, hashed, hits, extracted (hashed, no earlier
    entry), unhashed (no file_hash: never looked up), hit_rate (NaN: no data).
    """
    db = open_database(db)
    with read(db) as conn:
        rows = db.backend.cache_hits.uploads_by_period(conn, window)
        hashed = sum(r[2] for r in rows)  # with unreadable dates
        hit_rows = db.backend.overview.hits_by_period(conn, window, hashed)
    return hit_rate_of(rows, hit_rows, window)


def hit_rate_of(rows, hit_rows, window: Window):
    """hit_rate's result from rows (period, uploads, hashed) and (period, hits), on either
    backend (totals include rows without a readable period)."""
    uploads, hashed = (sum(r[i] for r in rows) for i in (1, 2))
    hit_count = sum(n for _, n in hit_rows)
    frame = period_frame(rows, window, counts=("uploads", "hashed")).merge(
        period_frame(hit_rows, window, counts=("hits",)), on="period", how="left")
    frame["hits"] = frame["hits"].fillna(0).astype("int64")
    frame["extracted"] = frame["hashed"] - frame["hits"]
    frame["unhashed"] = frame["uploads"] - frame["hashed"]
    frame["hit_rate"] = rate_column(frame, "hits", "hashed")
    return {"uploads": uploads, "hashed": hashed, "hits": hit_count,
            "hit_rate": stats.hit_rate_from(hashed, hit_count), "by_period": frame}


def served_long(frame):
    """hit_rate's by_period as long rows (period, source, uploads) for a stacked chart."""
    long = frame[["period", "hits", "extracted", "unhashed"]].rename(
        columns={"hits": "from cache", "unhashed": "no file hash"})
    return long.melt(id_vars="period", var_name="source", value_name="uploads")


def access_counts(db):
    """DataFrame bucket, entries, accesses: every entry of the cache by its access_count.

    An access_count that is not a count (app.cache.valid_access_count) goes to the INVALID_COUNT
    bucket (listed only when present), with no accesses: it is never summed.
    """
    db = open_database(db)
    with read(db) as conn:
        got = db.backend.cache_hits.access_counts(conn, ACCESS_BUCKETS, INVALID_COUNT)
    return access_counts_of(got)


def access_counts_of(got):
    """access_counts' frame from {bucket label: (entries, accesses)}."""
    labels = [label for label, _ in ACCESS_BUCKETS]
    labels += [INVALID_COUNT] if INVALID_COUNT in got else []
    return pd.DataFrame({"bucket": labels,
                         "entries": [int(got.get(b, (0, 0))[0]) for b in labels],
                         "accesses": [int(got.get(b, (0, 0))[1]) for b in labels]})


def contents(db):
    """What the cache holds now: {"entries", "bytes", "bytes_estimated", "accesses",
    "invalid_access_counts", "eligible_for_cleanup", "by_model": DataFrame model, entries,
    accesses, average_confidence, below_threshold}. accesses: the sum of the access_counts that
    are counts (the others are counted in invalid_access_counts). bytes: the cached documents
    (cv_data), UTF-8; exact up to SIZE_SAMPLE
    entries, else the newest SIZE_SAMPLE entries' mean times the count (reading every document
    of a production cache takes seconds). Eligible for cleanup: older than 30 days and never
    reused (the cleanup's own rule)."""
    db = open_database(db)
    with read(db) as conn:
        rows, sampled, sample_bytes = db.backend.cache_hits.contents(conn, SIZE_SAMPLE)
    size = document_bytes(sum(int(r[1]) for r in rows), sampled, sample_bytes)
    return contents_of(rows, size, cache.count_old_cache_entries(db))


def contents_of(rows, size, eligible_for_cleanup):
    """contents' result from the engine's rows (db.backend.cache_hits.contents), the
    documents' (bytes, estimated) and the cleanup's count."""
    by_model = pd.DataFrame([r[:6] for r in rows], columns=[
        "model", "entries", "accesses", "average_confidence", "below_threshold", "invalid"])
    by_model["average_confidence"] = by_model["average_confidence"].astype("float64")
    invalid = int(by_model.pop("invalid").sum())
    entries = int(by_model["entries"].sum())
    return {"entries": entries, "bytes": size[0], "bytes_estimated": size[1],
            "accesses": int(by_model["accesses"].sum()), "invalid_access_counts": invalid,
            "eligible_for_cleanup": eligible_for_cleanup, "by_model": by_model}
