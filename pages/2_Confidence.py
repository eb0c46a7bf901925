"""Confidence: how sure the extractions in the cache are, against the 0.7 and 0.75 rules."""
import streamlit as st

from dashboard import charts, ui
from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures import confidence as conf, watched_confidence, windowed
from dashboard import zones
from r2w_db.formatting import snapshot_time

ctx = ui.page("Confidence", "🎚️")


def body(ctx):
    window = ctx.window
    st.caption("Cache entries created in the window. Low: below "
               f"{config.LOW_CONFIDENCE}. Caching threshold: {config.CACHE_THRESHOLD} (the "
               "application caches extractions at or above it). Invalid: NULL or outside [0, 1]."
               + ui.rollup_note(ctx))
    summary = ui.cached(windowed.confidence_summary, ctx.db, window)
    row = st.columns(6)
    row[0].metric("Entries", ui.human_count(summary["entries"]), border=True)
    row[1].metric("Mean", ui.human_score(summary["mean"]), border=True,
                  help="Valid scores only.")
    row[2].metric(f"Low (< {config.LOW_CONFIDENCE})", ui.human_count(summary["low"]), border=True)
    row[3].metric(f"{config.LOW_CONFIDENCE}–{config.CACHE_THRESHOLD}",
                  ui.human_count(summary["below_threshold_not_low"]), border=True,
                  help="Not low, but below the caching threshold.")
    row[4].metric(f"Cacheable (≥ {config.CACHE_THRESHOLD})", ui.human_count(summary["cacheable"]),
                  border=True)
    row[5].metric("Invalid", ui.human_count(summary["invalid"]), border=True,
                  help=f"NULL: {summary['null']:,} · outside [0, 1]: {summary['out_of_range']:,}. "
                       "Left out of the histogram and the means.")
    if summary["below_threshold"]:
        st.warning(f"{summary['below_threshold']:,} entries of this window are below the caching "
                   f"threshold ({config.CACHE_THRESHOLD}): the cache serves them to every re-upload "
                   "of the same file.", icon=":material/warning:")

    st.subheader("Distribution (bins of 0.05)")
    histogram = ui.cached(windowed.confidence_histogram, ctx.db, window)
    ui.chart(charts.confidence_histogram(histogram, conf.BANDS), histogram, "confidence_histogram",
             what="the confidence distribution", empty=not summary["valid"],
             message="No cache entry with a valid confidence was created in this window.")

    left, right = st.columns(2)
    with left:
        st.subheader(f"Mean {ui.per(window)}")
        means = ui.cached(windowed.confidence_by_period, ctx.db, window)
        ui.chart(charts.value_line(means, "mean", window, "mean confidence",
                                   counts=("entries",), zone=ctx.zone),
                 means, "confidence_mean", what=f"the mean {ui.per(window)}",
                 empty=not summary["valid"], message="No valid confidence in this window.",
                 caption=f"On the whole 0–1 scale; dashed: the low ({config.LOW_CONFIDENCE}) and "
                         f"caching ({config.CACHE_THRESHOLD}) thresholds. Hollow grey points: "
                         f"periods with fewer than {charts.MIN_CASES} entries, too few to judge.")
    with right:
        st.subheader("By model")
        models = ui.cached(watched_confidence.by_model, ctx.db, window,
                           sources=(ctx.db, ui.MONITOR))
        if models["as_of"] is not None:
            st.caption("Every entry the cache held, as of the watcher's snapshot of "
                       f"{snapshot_time(models['as_of'], timeutil.utcnow(), ctx.zone)}.")
        elif models["by_model"].attrs.get("source") == "live" and ui.rollup_note(ctx):
            st.caption("Counted live: days of this window were rolled up before the per-model "
                       "figures were kept (the next snapshot adds them).")
        ui.table(models["by_model"], "confidence_by_model",
                 what="confidence by model",
                 message="No cache entry was created in this window.",
                 column_config={
                     "mean": st.column_config.NumberColumn("mean", format="%.3f"),
                     "low": st.column_config.NumberColumn(f"< {config.LOW_CONFIDENCE}"),
                     "below_threshold": st.column_config.NumberColumn(
                         f"< {config.CACHE_THRESHOLD}")})

    st.subheader("Lowest scores")
    st.caption("The first 12 characters of the file hash identify the entry; the document "
               "itself is never shown.")
    ui.table(ui.cached(conf.lowest, ctx.db, window), "confidence_lowest", what="the lowest scores",
             message="No valid confidence in this window.",
             column_config={"hash_prefix": "file hash (prefix)",
                            "confidence": st.column_config.NumberColumn(format="%.3f")},
             times={"created_at": ("created", zones.SECOND)})


ui.run(ctx, body)
