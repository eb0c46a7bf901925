"""One clear message for a database error, with the command that fixes it. No SQL here."""
import streamlit as st

from dashboard.safe_text import prose
from r2w_db import errors


def show_error(exc: errors.R2WError):
    """One clear message, and the command that fixes it when there is one."""
    st.error(prose(str(exc)), icon=":material/error:")   # it may quote ?db= or a location
    if isinstance(exc, errors.SchemaTooOld):
        st.markdown("Bring it to the current schema (keeps every row, one transaction):")
        st.code(f"python -m r2w_db --db {exc.path} migrate", language="bash")
    elif isinstance(exc, errors.EmptyDatabase):
        st.markdown("Point the dashboard at the application's database, or create the schema:")
        st.code("DATABASE_URL=/path/to/resume2website.db streamlit run app.py", language="bash")
    elif isinstance(exc, errors.HotJournal):
        st.markdown("Roll the crashed writer's journal back (changes nothing else):")
        st.code(f"python -m r2w_db --db {exc.path} recover", language="bash")
    elif isinstance(exc, errors.DatabaseDamaged):
        st.markdown("See what is damaged, then restore the newest verified backup:")
        st.code(f"python -m r2w_db --db {exc.path} check\npython -m r2w_db --db {exc.path} backups",
                language="bash")
    elif isinstance(exc, errors.DatabaseLocked):
        st.button("Try again", icon=":material/refresh:")

