"""Small helpers the data-operation tests share (the `db` fixture is in conftest.py)."""
import re
import sqlite3

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def query(db, sql, params=()):
    """All rows of one statement, on a plain connection of its own."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
