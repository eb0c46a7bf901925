"""Anonymous users: how many ids are created, how many still hold uploads, and how old they are."""
import streamlit as st

from dashboard import chart_axes, charts, ui
from r2w_db import config
from r2w_db.engine import timeutil
from r2w_db.figures import earlier_days, watched_anonymous, windowed
from r2w_db.formatting import plural, snapshot_time

ctx = ui.page("Anonymous users", "👤")


def as_of(taken_at):
    return "Now" if taken_at is None else "As of the watcher's snapshot"


def owners_note(owners_at, ages_at, now, zone=None):
    """Whose counts the ids owning uploads are: the watcher's snapshot (with its age) or now."""
    if owners_at is None and ages_at is None:
        return "Ids owning uploads: counted now."
    taken_at = ages_at or owners_at
    which = ("the ids owning uploads, their ages and the chart's line" if owners_at and ages_at
             else "the ids owning uploads and their ages" if ages_at else "the chart's line")
    return (f"{which[0].upper()}{which[1:]}: as of the watcher's snapshot of "
            f"{snapshot_time(taken_at, now, zone)}; the new ids and the anonymous share are the window's own.")


def body(ctx):
    window = ctx.window
    st.caption("Anonymous: a user_id starting with the literal prefix `anonymous_` (case-sensitive). "
               "The application gives each anonymous upload its own id and writes no users row."
               + ui.rollup_note(ctx))
    merged = ui.cached(watched_anonymous.anonymous_ids, ctx.db, window,
                       sources=(ctx.db, ui.MONITOR))
    ids = merged["by_period"]
    ages = ui.cached(watched_anonymous.ages, ctx.db, window.now, sources=(ctx.db, ui.MONITOR))
    st.caption(owners_note(merged["owners_as_of"], ages["as_of"], timeutil.utcnow(), ctx.zone))
    share = ui.cached(windowed.anonymous_share, ctx.db, window)
    row = st.columns(4)
    live_new = int(ids.loc[ids["source"] == earlier_days.LIVE, "new_ids"].sum())
    row[0].metric("New anonymous ids", ui.human_count(live_new), border=True,
                  help="First seen in the window, among the rows the database holds now"
                       + (f"; {merged['rollup_new_ids']:,} more on {merged['rollup_days']} "
                          "earlier days from the daily roll-ups (in the chart)."
                          if merged["rollup_days"] else "."))
    row[1].metric("Ids owning uploads", ui.human_count(ages["ids"]), border=True,
                  help=f"{as_of(ages['as_of'])}; {ages['uploads']:,} uploads between them.")
    row[2].metric(f"Stale (> {ages['retention_days']} days)", ui.human_count(ages["stale_ids"]),
                  border=True,
                  help=f"Ids whose every upload is older than the {ages['retention_days']}-day "
                       f"retention: {ui.human_percent(ages['stale_share'])} of the ids, "
                       f"{ages['stale_uploads']:,} uploads.")
    row[3].metric("Anonymous share of uploads", ui.human_percent(share["share"]), border=True,
                  help=f"{share['anonymous']:,} of the window's {share['uploads']:,} uploads.")

    drawn = chart_axes.shared_window(window, ids, share["by_period"])   # one band per day on both
    st.subheader(f"New ids {ui.per(window)}, and ids still owning uploads")
    ui.chart(charts.new_and_total(ids, drawn, ctx.zone), ids, "anonymous_ids",
             what=f"anonymous ids {ui.per(window)}",
             empty=ids.empty or not (ids["new_ids"].any() or ids["owning_ids"].any()),
             message="No anonymous id in this window.",
             caption="Bars: ids first seen that day. Line: anonymous ids that still own uploads "
                     "today, counted from the day of their first remaining upload."
                     + (f" Lighter bars: the {plural(merged['rollup_days'], 'day')} before "
                        f"{merged['first_live']:%d %b %Y}, which the database no longer holds "
                        "(cleaned up), from the daily roll-ups."
                        if merged["rollup_days"] and merged["first_live"] is not None else
                        f" Lighter bars: {plural(merged['rollup_days'], 'day')} from the daily "
                        "roll-ups (the database no longer holds them)." if merged["rollup_days"]
                        else ""))

    left, right = st.columns(2)
    with left:
        st.subheader("Age of anonymous data")
        st.caption(f"By each id's newest upload; {as_of(ages['as_of']).lower()}, whatever the "
                   f"window. Beyond "
                   f"{ages['retention_days']} days is stale.")
        ui.chart(charts.age_bars(ages["by_age"]), ages["by_age"], "anonymous_ages",
                 what="anonymous ids by age", empty=not ages["ids"],
                 message="No anonymous id owns an upload.")
        if ages["stale_ids"]:
            st.warning(f"{ages['stale_ids']:,} anonymous ids ({ui.human_percent(ages['stale_share'])}"
                       f") hold {ages['stale_uploads']:,} uploads past the "
                       f"{config.ANONYMOUS_RETENTION_DAYS}-day retention: run the anonymous "
                       "data cleanup.", icon=":material/warning:")
    with right:
        st.subheader(f"Anonymous share of uploads {ui.per(window)}")
        frame = share["by_period"]
        ui.chart(charts.rate_line(frame, "share", drawn, "anonymous share", charts.SHARE_SAMPLE,
                                  overall=share["share"], zone=ctx.zone),
                 frame, "anonymous_share", what=f"the anonymous share {ui.per(window)}",
                 empty=not share["uploads"], message="No uploads in this window.",
                 caption="Dashed: the whole window. " + charts.rate_caption("uploads"))


ui.run(ctx, body)
