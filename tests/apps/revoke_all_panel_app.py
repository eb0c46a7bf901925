"""A tiny page for AppTest: the gate, then dashboard.access.revoke_all_panel() (the lead calls
it from pages/6_Maintenance.py)."""
import streamlit as st

from dashboard import access

st.set_page_config(page_title="Sign-ins · r2w monitor")
access.gate()
access.revoke_all_panel()
