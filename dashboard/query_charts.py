"""Altair chart of the Queries page: each selected statement's mean execution time per capture
interval, on a UTC time scale (24-hour clock) so the browser's time zone never shifts it."""
import altair as alt

HEIGHT = 300
TIME_FORMAT = "%d %b %H:%M"


def mean_lines(frame):
    """Mean time per capture interval (frame: captured_at, statement, mean_ms, calls), one
    line per statement."""
    return alt.Chart(frame).mark_line(point=alt.OverlayMarkDef(size=24)).encode(
        x=alt.X("captured_at:T", title="UTC", scale=alt.Scale(type="utc"),
                axis=alt.Axis(format="%H:%M", formatType="utc", labelOverlap=True)),
        y=alt.Y("mean_ms:Q", title="mean time (ms)", axis=alt.Axis(format=",.2~f")),
        color=alt.Color("statement:N", legend=alt.Legend(title=None, orient="top",
                                                         labelLimit=360)),
        tooltip=[alt.Tooltip("captured_at:T", title="captured (UTC)", format=TIME_FORMAT,
                             formatType="utc"),
                 alt.Tooltip("statement:N"),
                 alt.Tooltip("mean_ms:Q", title="mean (ms)", format=",.3f"),
                 alt.Tooltip("calls:Q", title="calls in the interval", format=",d")],
    ).properties(height=HEIGHT)
