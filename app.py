"""r2w monitor: the overview page."""
import streamlit as st

from dashboard import ui
from r2w_db import stats

ctx = ui.page("Overview", "🩺")
figures = ui.cached(stats.collect_stats, ctx.db)

users, sessions, uploads, cache = (figures[k] for k in ("users", "sessions", "uploads", "cache"))
cols = st.columns(5)
cols[0].metric("Registered users", ui.human_count(users["registered"]))
cols[1].metric("Anonymous ids", ui.human_count(users["anonymous"]))
cols[2].metric("Active sessions", ui.human_count(sessions["active"]),
               help="Created within the last 7 days")
cols[3].metric("Uploads", ui.human_count(uploads["total"]))
cols[4].metric("Stuck jobs", ui.human_count(uploads["stuck"]),
               help="'processing' and uploaded more than 60 minutes ago")
cols = st.columns(5)
cols[0].metric("Cache hit rate", ui.human_percent(cache["cache_hit_rate"]),
               help="Uploads with a file_hash whose cache entry predates them")
average = cache["average_confidence_score"]
cols[1].metric("Average confidence", "no data" if average is None else f"{average:.3f}")
cols[2].metric("Low-confidence entries", ui.human_count(cache["low_confidence_extractions"]),
               help="Confidence below 0.7")
cols[3].metric("Database size", ui.human_bytes(figures["database"]["size_bytes"]))
cols[4].metric("WAL size", ui.human_bytes(figures["database"]["wal_bytes"]))
