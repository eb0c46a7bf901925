"""Altair chart of the Queries page: each selected statement's mean execution time per capture
interval, on a UTC time scale (24-hour clock) so the browser's time zone never shifts it; with
a chosen `zone`, its labels and tooltips read that zone's clock (dashboard/chart_axes.py)."""
import altair as alt

from dashboard import zones
from dashboard.chart_axes import instant_label, instant_tooltip, span_of, with_wall

HEIGHT = 300
TIME_FORMAT = "%d %b %H:%M"


def _axis(frame, zone):
    if zone is None:
        return dict(title="UTC", axis=alt.Axis(format="%H:%M", formatType="utc",
                                                labelOverlap=True))
    span = span_of(frame, "captured_at", None, None)
    return dict(title=zones.titled("time", zone), axis=alt.Axis(labelExpr=instant_label(span, zone), labelOverlap=True))


def mean_lines(frame, zone=None):
    """Mean time per capture interval (frame: captured_at, statement, mean_ms, calls), one
    line per statement."""
    tooltip = (alt.Tooltip("captured_at:T", title="captured (UTC)", format=TIME_FORMAT,
                           formatType="utc") if zone is None
               else instant_tooltip("captured_at", "captured", zone))
    return alt.Chart(with_wall(frame, "captured_at", zone)).mark_line(
        point=alt.OverlayMarkDef(size=24)).encode(
        x=alt.X("captured_at:T", scale=alt.Scale(type="utc"), **_axis(frame, zone)),
        y=alt.Y("mean_ms:Q", title="mean time (ms)", axis=alt.Axis(format=",.2~f")),
        color=alt.Color("statement:N", legend=alt.Legend(title=None, orient="top",
                                                         labelLimit=360)),
        tooltip=[tooltip, alt.Tooltip("statement:N"),
                 alt.Tooltip("mean_ms:Q", title="mean (ms)", format=",.3f"),
                 alt.Tooltip("calls:Q", title="calls in the interval", format=",d")],
    ).properties(height=HEIGHT)
