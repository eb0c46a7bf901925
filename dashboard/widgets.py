"""Showing figures: numbers as words, metrics with their change, charts and tables with their
CSV, and the small facts pages look up (health overrides, whether a page exists). No SQL here."""
from pathlib import Path

import streamlit as st

from dashboard import csv_names, zones
from r2w_db import formatting
from r2w_db.engine import timeutil
from r2w_db.figures import periods

CSV_CONTEXT = "_r2w_csv_context"   # (database name, window key) of the page, for CSV file names
TIME_ZONE = "_r2w_time_zone"       # the zone tables show times in (None: UTC), set by page()
ISO_HELP = "Times in the CSV are full ISO-8601 UTC, ending in Z."
human_bytes = formatting.human_bytes
human_age = formatting.human_age


def human_count(n):
    return "–" if n is None else f"{n:,}"


def human_percent(x, digits=1):
    return "no data" if x is None else f"{x:.{digits}%}"


def human_score(x):
    return "no data" if x is None else f"{x:.3f}"


def rollup_note(ctx):
    """A caption sentence when the window's figures come from the watcher's roll-ups ("" when
    they are read live)."""
    from r2w_db.figures import windowed

    if not windowed.usable(ctx.db, ctx.window):
        return ""
    return (" Closed days and hours come from the watcher's roll-ups, as recorded when each "
            "closed; the open hour is read live.")


def per(window):
    """'per hour' for the 24-hour window, else 'per day' (UTC)."""
    return "per hour" if window.grain == "hour" else "per day"


def delta(current, previous, kind="count"):
    """st.metric's delta: the change against the previous window (None when not comparable)."""
    if previous is None or current is None:
        return None
    if kind == "percent":
        return f"{(current - previous) * 100:+.1f} pp"
    if kind == "score":
        return f"{current - previous:+.3f}"
    return f"{current - previous:+,}"


def metric(where, label, value, current=None, previous=None, kind="count", inverse=False,
           help=None, series=None, series_type="line"):
    """A bordered st.metric whose delta is the change against the previous window; an unchanged
    figure says "no change" without an arrow (not a green "-0.0"). `series` (numbers, oldest
    first, from history) draws a sparkline (st.metric's chart_data; `series_type` line, bar or
    area); fewer than two points draw none."""
    change = delta(current, previous, kind)
    unchanged = change is not None and change.lstrip("+-").strip("0.,% p") == ""
    spark = {"chart_data": list(series), "chart_type": series_type} if series and len(series) >= 2 else {}
    where.metric(label, value, "no change" if unchanged else change, border=True, help=help,
                 delta_color="off" if unchanged else "inverse" if inverse else "normal",
                 delta_arrow="off" if unchanged else "auto", **spark)


class Unvalidated:
    """An Altair chart as st.altair_chart reads it (its only call is to_dict()), without
    Altair's JSON-schema validation of the whole spec (about half of what Altair spends turning a
    chart into its spec): the chart builders' specs are validated by their tests
    (tests/test_charts.py, tests/test_chart_specs.py: their to_dict() validates)."""

    def __init__(self, chart):
        self.chart = chart

    def to_dict(self):
        return self.chart.to_dict(validate=False)


def chart(spec, data, name, *, empty=None, message="No data in this window.", caption=None,
          what=None):
    """Draw an Altair chart, its caption right under it, and the Download button of its data
    (CSV, labelled with `what` it downloads); or a sentence when there is nothing to draw.
    `empty` (bool) overrides the test "data has no rows"."""
    if (data is None or len(data) == 0) if empty is None else empty:
        st.info(message, icon=":material/info:")
        return False
    st.altair_chart(Unvalidated(spec), width="stretch")
    if caption:
        st.caption(caption)
    csv_download(data, name, what)
    return True


def shown_zone():
    """The zone the page shows times in: None (UTC) or the browser's IANA name."""
    return st.session_state.get(TIME_ZONE)


def csv_download(data, name, what=None, help=None):
    """The Download button of a CSV: it says what it downloads, and the file is named
    <database>_<name>_<window>_<date>.csv (dashboard/csv_names.py)."""
    database, window = st.session_state.get(CSV_CONTEXT, ("database", periods.DEFAULT_WINDOW))
    file_name = csv_names.csv_file_name(database, name, window, timeutil.utcnow().date())
    # written when the button is clicked, not with every view of the page
    st.download_button(f"Download {what or name.replace('_', ' ')} (CSV)",
                       lambda: data.to_csv(index=False).encode("utf-8"), file_name=file_name,
                       mime="text/csv", key=f"csv_{name}", icon=":material/download:",
                       type="tertiary", help=help)


def table(data, name, column_config=None, message="Nothing to list.", height="auto", what=None,
          times=None):
    """A data table with its CSV (the button says `what` it downloads), or a sentence when it
    is empty. `times` maps each time column to (title, zones.SECOND or zones.MINUTE): shown as
    wall time in the page's zone, named in the header; ISO-8601 UTC in the CSV."""
    if data is None or len(data) == 0:
        st.info(message, icon=":material/info:")
        return False
    csv, help = data, None
    if times:
        data, csv, headers = zones.table_times(data, times, shown_zone())
        column_config = {**(column_config or {}),
                         **{c: st.column_config.TextColumn(h) for c, h in headers.items()}}
        help = ISO_HELP
    st.dataframe(data, hide_index=True, column_config=column_config, width="stretch",
                 height=height, placeholder="–")   # a cell with no value, never "None"
    csv_download(csv, name, what, help)
    return True


def health_overrides():
    """The optional [health] table of .streamlit/secrets.toml ({} when there is none)."""
    try:
        return dict(st.secrets.get("health", {}))
    except Exception:  # no secrets file, or one that does not parse: the defaults stand
        return {}


def page_exists(path):
    """Whether a page file (e.g. 'pages/6_Maintenance.py') exists beside app.py."""
    return (Path(__file__).resolve().parent.parent / path).is_file()

