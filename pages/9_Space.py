"""Space: every table and index with its rows, bytes, share of the database and growth over 7
and 30 days (PgHero's Space page is the model), and the unused space beside it with the
maintenance task that reclaims it. Sizes are read now (r2w_db.figures.space); growth from the
watcher's snapshots."""
import streamlit as st
from streamlit.errors import StreamlitAPIException

from dashboard import ui
from r2w_db import errors
from r2w_db.engine import timeutil
from r2w_db.figures import space
from r2w_db.formatting import signed_bytes, snapshot_time, wall_time
from r2w_db.maintenance import registry

MAINTENANCE_PAGE = "pages/6_Maintenance.py"
METHOD = {"dbstat": "Bytes measured with SQLite's dbstat: every page of each table and index "
                    "(exact).",
          "catalog": "Bytes from PostgreSQL's catalog: a table's pg_table_size (heap and TOAST), "
                     "each index's pg_relation_size; with indexes: pg_total_relation_size.",
          "estimate": "Bytes **estimated** ({why}): each table's and index's rows × the average "
                      "size of its newest rows, scaled to the file's used pages (their sum is "
                      "exact)."}

ctx = ui.page("Space", "🗄️", window=False)   # sizes are now; growth looks 7 and 30 days back


def when(stamp):
    return "–" if stamp is None else wall_time(timeutil.parse(str(stamp)), ui.shown_zone())


def rows_note(taken_at, now, zone=None):
    """Whose row counts the table shows: the watcher's snapshot, with its age."""
    return (f"Rows: the counts of the watcher's snapshot of {snapshot_time(taken_at, now, zone)}; "
            "bytes read now.")


def headline(got):
    frame = got["relations"]
    growth = got["database_growth"]
    row = st.columns(4)
    row[0].metric("Database", ui.human_bytes(got["database_bytes"]), border=True,
                  help=f"{signed_bytes(growth[7])} in 7 days, {signed_bytes(growth[30])} in "
                       "30 days (– where no snapshot is that old).")
    for col, kind, label in ((row[1], "table", "Tables"), (row[2], "index", "Indexes")):
        part = frame[frame["kind"] == kind]
        col.metric(label, ui.human_bytes(int(part["bytes"].sum())), border=True,
                   help=f"{len(part):,} {label.lower()}, "
                        f"{part['share'].sum():.1%} of the database.")
    unused = got["unused"]
    row[3].metric(f"Unused ({unused['what']})", ui.human_bytes(unused["bytes"]), border=True,
                  help="Share of the database: " + ui.human_percent(unused["share"]) + ".")


def relations(got):
    st.subheader("Tables and indexes")
    notes = [METHOD[got["method"]].format(why=got["why"])]
    if got["rows"] == "snapshot":
        notes.append(rows_note(got["rows_as_of"], timeutil.utcnow(), ui.shown_zone()))
    elif got["rows"] != "count":
        notes.append("Some rows are PostgreSQL's estimate (pg_class.reltuples, kept by VACUUM "
                     "and ANALYZE).")
    compared = got["compared"]
    if any(compared.values()):
        notes.append(f"Growth: bytes now minus the snapshot of {when(compared[7])} (7 days) and "
                     f"{when(compared[30])} (30 days).")
    else:
        notes.append("Growth needs a snapshot 7 (30) days old: "
                     f"{ui.code(errors.command(ctx.location.display, 'watch'))} records them.")
    st.caption(" ".join(notes) + " Click a column's header to sort.")
    if got["history_problem"]:
        st.warning(f"No growth: the monitor database cannot be read "
                   f"({ui.prose(got['history_problem'])}).", icon=":material/warning:")
    bytes_column = {"format": "bytes"}
    ui.table(got["relations"], "space_relations", column_config={
        "name": st.column_config.TextColumn("Table or index"),
        "kind": st.column_config.TextColumn("Kind"),
        "table": st.column_config.TextColumn("Table"),
        "rows": st.column_config.NumberColumn("Rows", format="localized"),
        "bytes": st.column_config.NumberColumn("Bytes", **bytes_column),
        "share": st.column_config.ProgressColumn("Share of the database", format="percent",
                                                 min_value=0.0, max_value=1.0),
        "total_bytes": st.column_config.NumberColumn("With its indexes", **bytes_column),
        "growth_7d": st.column_config.NumberColumn("Growth, 7 days", **bytes_column),
        "growth_30d": st.column_config.NumberColumn("Growth, 30 days", **bytes_column)},
        message="No table in this database.")


def unused_space(got):
    unused = got["unused"]
    task = registry.task_for(ctx.db, got["reclaimed_by"])
    st.subheader("Unused space")
    st.markdown(f"**{ui.human_bytes(unused['bytes'])}** of {unused['what']} "
                f"({ui.human_percent(unused['share'])} of the database). "
                f"The maintenance task **{ui.md(task.title)}** reclaims it: {ui.prose(task.what)}")
    if len(unused["tables"]):
        st.caption("Dead tuples per table (pg_stat_user_tables); their bytes are an estimate: "
                   "the table's bytes × its dead share of the tuples.")
        ui.table(unused["tables"], "space_dead_tuples",
                 column_config={"table": "Table",
                                "dead_rows": st.column_config.NumberColumn("Dead tuples",
                                                                           format="localized"),
                                "live_rows": st.column_config.NumberColumn("Live tuples",
                                                                           format="localized"),
                                "bytes": st.column_config.NumberColumn("Bytes (estimate)",
                                                                       format="bytes")})
    try:
        st.page_link(MAINTENANCE_PAGE, label=f"Open Maintenance to run {task.title}",
                     icon=":material/build:")
    except StreamlitAPIException:   # this page run on its own (no page list)
        st.caption(f"Run it on the Maintenance page, or "
                   f"{ui.code(errors.command(ctx.location.display, 'maintain', task.name))}.")


def body(ctx):
    got = ui.cached(space.space, ctx.db, sources=(ctx.db, ui.MONITOR))
    headline(got)
    relations(got)
    unused_space(got)


ui.run(ctx, body)
