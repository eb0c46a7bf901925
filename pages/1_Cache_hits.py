"""Cache hits: how often an upload is served from the extraction cache, and what the cache holds."""
import streamlit as st

from dashboard import charts, ui
from r2w_db import config
from r2w_db.app.cache import MAX_ACCESS_COUNT
from r2w_db.engine import timeutil
from r2w_db.figures import cache_hits, earlier_days, watched_cache
from r2w_db.formatting import plural, snapshot_time

ctx = ui.page("Cache hits", "🎯")


def rollup_note(hits):
    if not hits["rollup_days"]:
        return ""
    before = (f"before {hits['first_live']:%d %b %Y} " if hits["first_live"] is not None else "")
    return (f" Lighter points: the {plural(hits['rollup_days'], 'day')} {before}that the database no longer "
            f"holds, from the daily roll-ups ({hits['rollup_hits']:,} hits of "
            f"{hits['rollup_hashed']:,} hashed uploads, "
            + ("included in" if hits["in_totals"] else "not in") + " the figures above).")


def cache_note(taken_at, now, zone=None):
    """Whose counts "the cache now" shows: the watcher's snapshot (with its age) or now."""
    if taken_at is None:
        return "Every entry the cache holds at this moment, whatever the window."
    return ("Every entry the cache held at the watcher's snapshot of "
            f"{snapshot_time(taken_at, now, zone)}, whatever the window.")


def body(ctx):
    window = ctx.window
    hits = ui.cached(earlier_days.hit_rate, ctx.db, window, sources=(ctx.db, ui.MONITOR))
    frame = hits["by_period"]
    row = st.columns(4)
    row[0].metric("Hit rate", ui.human_percent(hits["hit_rate"]), border=True,
                  help="Uploads with a file_hash whose cache entry was created strictly before "
                       "them, over uploads with a file_hash. 'no data' when there are none.")
    row[1].metric("Served from cache", ui.human_count(hits["hits"]), border=True)
    row[2].metric("Uploads with a file_hash", ui.human_count(hits["hashed"]), border=True)
    row[3].metric("Uploads without a file_hash", ui.human_count(hits["uploads"] - hits["hashed"]),
                  border=True, help="Never looked up in the cache (written before hashing, or "
                                    "the hash was not computed); left out of the hit rate.")

    st.subheader(f"Hit rate {ui.per(window)}")
    ui.chart(charts.rate_line(frame, "hit_rate", window, "hit rate", charts.HIT_SAMPLE,
                              overall=hits["hit_rate"], zone=ctx.zone),
             frame[["period", "source", "hashed", "hits", "hit_rate"]], "cache_hit_rate",
             what=f"the hit rate {ui.per(window)}", empty=not hits["hashed"],
             message="No upload with a file_hash in this window, so there is no hit rate "
                     "(“no data”, not 0 %).",
             caption=charts.rate_caption("hashed uploads") + " Dashed line: the whole window. A "
                     "period without hashed uploads is a gap, not 0 %." + ui.rollup_note(ctx)
                     + rollup_note(hits))

    st.subheader(f"Uploads served from cache vs extracted, {ui.per(window)}")
    ui.chart(charts.served_periods(earlier_days.served_long(frame), window, ctx.zone),
             frame[["period", "source", "hits", "extracted", "unhashed"]].rename(
                 columns={"hits": "from_cache", "unhashed": "no_file_hash"}),
             "cache_served", what=f"uploads served from cache {ui.per(window)}",
             empty=not hits["uploads"], message="No uploads in this window.")

    st.subheader("The cache now")
    held = ui.cached(watched_cache.cache_now, ctx.db, sources=(ctx.db, ui.MONITOR))
    contents = held["contents"]
    st.caption(cache_note(held["as_of"], timeutil.utcnow(), ctx.zone))
    row = st.columns(4)
    row[0].metric("Entries", ui.human_count(contents["entries"]), border=True)
    size_note = (f" Estimated from the newest {cache_hits.SIZE_SAMPLE:,} entries."
                 if contents["bytes_estimated"] else "")
    row[1].metric("Cached documents", ("≈ " if contents["bytes_estimated"] else "")
                  + ui.human_bytes(contents["bytes"]), border=True,
                  help="Bytes of cv_data (the extraction JSON) over all entries." + size_note)
    invalid = contents["invalid_access_counts"]
    row[2].metric("Accesses", ui.human_count(contents["accesses"]), border=True,
                  help="Sum of access_count." + (
                      f" {invalid:,} entries whose access_count is not a count (negative, not a "
                      f"whole number, above {MAX_ACCESS_COUNT:,}, or text) are left out."
                      if invalid else ""))
    row[3].metric("Eligible for cleanup", ui.human_count(contents["eligible_for_cleanup"]),
                  border=True,
                  help=f"Older than {config.CACHE_RETENTION_DAYS} days and never reused "
                       "(access_count = 1): what the cache cleanup deletes.")
    st.markdown("**Entries by access count**")
    access = held["access_counts"]
    ui.chart(charts.count_bars(access, "bucket", "entries", title="cache entries",
                               sort=list(access["bucket"]), extra=["accesses"]),
             access, "cache_access_counts", what="cache entries by access count",
             empty=not contents["entries"],
             message="The cache is empty.")
    st.markdown("**By extraction model**")
    ui.table(contents["by_model"], "cache_by_model", message="The cache is empty.",
             what="the cache by extraction model",
             column_config={
                 "average_confidence": st.column_config.NumberColumn("average confidence",
                                                                     format="%.3f"),
                 "below_threshold": st.column_config.NumberColumn(
                     f"below {config.CACHE_THRESHOLD}")})

ui.run(ctx, body)
