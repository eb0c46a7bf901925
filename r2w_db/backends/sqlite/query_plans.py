"""SQLite's query plans for the benchmark: EXPLAIN QUERY PLAN read into steps.

A step reads a whole table when it is a `SCAN <table>` line without `USING ... INDEX`. A scan
of a covering index reads every entry of that index but not the table: a covering-index scan,
not a full table scan. bench.benchmark.plan_summary says what the steps mean.
"""
import re

_SOURCE = re.compile(
    r"\b(?:FROM|JOIN)\s+([A-Za-z_][A-Za-z0-9_]*)(?:\s+(?:AS\s+)?([A-Za-z_][A-Za-z0-9_]*))?",
    re.IGNORECASE)
_NOT_ALIAS = {"where", "join", "left", "inner", "cross", "natural", "on", "group", "order",
              "limit", "union", "using", "outer", "as", "window", "having", "except", "intersect"}


def table_aliases(sql, tables):
    """{name shown in a plan: table} for the tables (and their aliases) a statement reads."""
    names = {t: t for t in tables}
    for table, alias in _SOURCE.findall(sql):
        if table in tables and alias and alias.lower() not in _NOT_ALIAS:
            names[alias] = table
    return names


def query_plan(conn, sql, params=()):
    """[(depth, detail)] of EXPLAIN QUERY PLAN, in order."""
    rows = conn.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
    depth = {0: -1}
    plan = []
    for row in rows:
        node, parent, detail = row[0], row[1], row[3]
        depth[node] = depth.get(parent, -1) + 1
        plan.append((depth[node], detail))
    return plan


def classify(detail, aliases):
    """What one plan line does: full_scan, covering_scan, index_scan, search, temp_btree or other.

    Returns (kind, table or None).
    """
    match = re.match(r"(SCAN|SEARCH) (\S+)", detail)
    if not match:
        return ("temp_btree" if detail.startswith("USE TEMP B-TREE") else "other"), None
    verb, name = match.groups()
    table = aliases.get(name)
    if table is None:  # a subquery, a CTE, a constant row
        return "other", None
    if verb == "SEARCH":
        return "search", table
    if "COVERING INDEX" in detail:
        return "covering_scan", table
    if re.search(r"USING (?:\w+ )*INDEX", detail):
        return "index_scan", table
    return "full_scan", table


def steps(conn, sql, params, tables):
    """The plan of a statement as steps: depth, line, kind, table, index, notes."""
    aliases = table_aliases(sql, tables)
    found = []
    for depth, detail in query_plan(conn, sql, params):
        kind, table = classify(detail, aliases)
        index = detail.rsplit("INDEX ", 1)[-1].split(" ")[0] if "INDEX " in detail else None
        notes = ([detail.lower().replace("use ", "uses a ", 1)] if kind == "temp_btree" else [])
        found.append({"depth": depth, "line": detail, "kind": kind, "table": table,
                      "index": index, "notes": notes})
    return found
