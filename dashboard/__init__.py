"""The Streamlit side of r2w monitor: shared page helpers and chart builders (no SQL here)."""
