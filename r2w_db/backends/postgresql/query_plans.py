"""PostgreSQL's query plans for the benchmark: plain `EXPLAIN (FORMAT JSON)` read into steps.

The statement is planned, never executed (no ANALYZE). Each plan node becomes one line ("Index
Scan using sessions_pkey on sessions (Index Cond: (session_id = ?))"): every literal the planner
inlined is shown as `?`, so a sampled session id or e-mail never reaches a stored run, and two
runs with other samples have the same lines. A full table scan is a Seq Scan of a LARGE table:
more than LARGE_TABLE_ROWS rows by pg_class.reltuples (an exact count for a table never
analysed). A Seq Scan of a smaller table is cheap, and often the planner's best choice, so it is
noted, not flagged. An Index Only Scan without an index condition reads every entry of a
covering index: the covering-index scan.
"""
import json
import re

from r2w_db.engine import schema
from r2w_db.backends.postgresql.connection import identifier

LARGE_TABLE_ROWS = 10_000
CONDITIONS = ("Index Cond", "Recheck Cond", "Hash Cond", "Merge Cond", "Join Filter", "Filter")
PG_TYPES = (r"timestamp with time zone|double precision|text\[\]|text|integer|bigint|numeric"
            r"|boolean|interval|date|float8\[\]|int4\[\]")
_LITERAL = re.compile(r"'(?:[^']|'')*'(?:::(?:" + PG_TYPES + "))?")
TABLE_ROWS = ("SELECT t, (SELECT reltuples FROM pg_class WHERE oid = to_regclass(t))"
              " FROM unnest(%(tables)s::text[]) AS t")
INDEX_LEADS = """
SELECT ic.relname, a.attname FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = i.indkey[0]
WHERE tc.relnamespace = current_schema()::regnamespace AND tc.relname = ANY(%(tables)s)"""


def full_scan_rule(large_rows=LARGE_TABLE_ROWS):
    return (f"a Seq Scan of a table of more than {large_rows:,} rows (pg_class.reltuples): "
            "every row of a large table is read")


def table_rows(conn, tables=tuple(schema.COLUMNS)):
    """{table: rows}: pg_class.reltuples, or an exact count for a table never analysed (-1)."""
    from psycopg import sql

    found = {}
    for table, estimate in conn.execute(TABLE_ROWS, {"tables": list(tables)}):
        if estimate is None:
            continue  # no such table
        found[table] = int(estimate) if estimate >= 0 else conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(identifier(table))).fetchone()[0]
    return found


def index_leads(conn, tables=tuple(schema.COLUMNS)):
    """{index: its first column} of the tables' indexes."""
    return dict(conn.execute(INDEX_LEADS, {"tables": list(tables)}).fetchall())


def _literal_free(text):
    return _LITERAL.sub("?", text)


def _walk(node, depth=0):
    yield depth, node
    for child in node.get("Plans", []):
        yield from _walk(child, depth + 1)


def _node_name(node):
    kind = node["Node Type"]
    if kind == "Aggregate":
        kind = {"Hashed": "HashAggregate", "Sorted": "GroupAggregate",
                "Mixed": "MixedAggregate"}.get(node.get("Strategy"), kind)
    if node.get("Join Type") not in (None, "Inner") and kind.endswith("Join"):
        kind = kind.replace(" Join", f" {node['Join Type']} Join")
    return ("Parallel " if node.get("Parallel Aware") else "") + kind


def plan_line(node):
    """One plan node as a line, every literal shown as `?`."""
    line = _node_name(node)
    relation, index, alias = node.get("Relation Name"), node.get("Index Name"), node.get("Alias")
    if index and relation:
        line += f" using {index} on {relation}"
    elif index:
        line += f" on {index}"
    elif relation:
        line += f" on {relation}"
    if relation and alias and alias != relation:
        line += f" {alias}"
    if node.get("Sort Key"):
        line += f" (Sort Key: {', '.join(node['Sort Key'])})"
    for key in CONDITIONS:
        if node.get(key):
            line += f" ({key}: {_literal_free(node[key])})"
    return line


def classify(node, rows, large_rows=LARGE_TABLE_ROWS):
    """What one plan node does: full_scan, small_scan, covering_scan, index_scan, search, sort or
    other, with its table (or None)."""
    kind, table = node["Node Type"], node.get("Relation Name")
    if kind == "Sort":
        return "sort", None
    if table not in rows:
        return "other", None
    if kind == "Seq Scan":
        return ("full_scan" if rows[table] > large_rows else "small_scan"), table
    if kind in ("Index Only Scan", "Index Scan") and not node.get("Index Cond"):
        return ("covering_scan" if kind == "Index Only Scan" else "index_scan"), table
    if kind in ("Index Only Scan", "Index Scan", "Bitmap Heap Scan", "Tid Scan"):
        return "search", table
    return "other", table


def _notes(node, kind, table, rows, large_rows, leads):
    """(detail of the kind's note, the notes of this engine's own)."""
    index, notes = node.get("Index Name"), []
    detail = ""
    if kind == "full_scan":
        detail = f" (Seq Scan, about {rows[table]:,} rows: more than {large_rows:,})"
    elif kind == "small_scan":
        notes.append(f"Seq Scan of {table}, a small table (about {rows[table]:,} rows, "
                     f"{large_rows:,} at most): not flagged")
    elif kind == "covering_scan":
        detail = " (but those the visibility map does not cover)"
    elif kind == "sort":
        notes.append("sorts the rows (" + ", ".join(node.get("Sort Key", [])) + ")")
    lead = leads.get(index)
    if lead and node.get("Index Cond") and not re.search(rf"\b{re.escape(lead)}\b",
                                                         node["Index Cond"]):
        notes.append(f"reads every entry of {index}: its first column, {lead}, is not in the "
                     "condition")
    return detail, notes


def steps(conn, statement, params, rows, large_rows=LARGE_TABLE_ROWS, leads=None):
    """The plan of `EXPLAIN (FORMAT JSON)` (planned, not run) of a statement (text) as steps.
    `rows`: {table: rows} (table_rows); `leads`: {index: first column} (index_leads), to note an
    index searched without its first column: PostgreSQL then reads the whole index (not a table
    scan, but no B-tree descent either)."""
    document = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()[0]
    document = json.loads(document) if isinstance(document, str) else document
    found = []
    for depth, node in _walk(document[0]["Plan"]):
        kind, table = classify(node, rows, large_rows)
        detail, notes = _notes(node, kind, table, rows, large_rows, leads or {})
        found.append({"depth": depth, "line": plan_line(node), "kind": kind, "table": table,
                      "index": node.get("Index Name"), "detail": detail, "notes": notes})
    return found
