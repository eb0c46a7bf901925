"""The file names of the dashboard's CSV downloads: `<db>_<what>_<window>_<YYYY-MM-DD>.csv`,
so a downloaded file says which database, which figures, which window and which day it holds.
No Streamlit here."""
import re
from pathlib import PurePosixPath

_UNSAFE = re.compile(r"[^A-Za-z0-9.-]+")


def safe_part(text):
    """Letters, digits, '.' and '-' only; every other run of characters one '-'."""
    return _UNSAFE.sub("-", str(text)).strip("-.") or "unnamed"


def database_name(location):
    """A database's short name: its configured name, else the file's stem, else the database
    of a postgresql:// URL (the display form, password already redacted). A location given by
    --db or DATABASE_URL carries a stand-in name ('default') labelled with its display: not a
    name of its own."""
    if location.name and location.label != location.display:
        return location.name
    display = location.display
    if "://" in display:
        return display.rsplit("/", 1)[-1].split("?", 1)[0] or "postgresql"
    return PurePosixPath(display.replace("\\", "/")).stem


def csv_file_name(database, what, window_key, day):
    """'<database>_<what>_<window>_<YYYY-MM-DD>.csv' in safe characters (`day` a date)."""
    parts = (safe_part(database), safe_part(what), safe_part(window_key), day.isoformat())
    return "_".join(parts) + ".csv"
