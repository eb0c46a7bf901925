"""The move's batch conversion (backends/postgresql/move_columns.py): the same bytes, Problems and
checksum as the general path, row by row; its fast paths taken only for the usual forms."""
import pytest

from r2w_db.backends.postgresql import move_columns
from r2w_db.backends.postgresql.move_convert import Converter, _timestamp
from r2w_db.maintenance.move_convert import Checksum
from r2w_db.maintenance.move import MODES

CANONICAL = ["2026-09-08T19:34:50.444996", "2026-09-08 19:34:50.444996",
             "0001-01-01T00:00:00.000000", "9999-12-31T23:59:59.999999",
             "2024-02-29T12:00:00.000001", "2000-01-01 00:00:00.000000"]
OTHER_FORMS = ["2026-09-08T19:34:50", "2026-09-08T19:34:50.4", "2026-09-08T19:34:50.44",
               "2026-09-08T19:34:50.444", "2026-09-08T19:34:50.4449", "2026-09-08T19:34:50.44499",
               "2026-09-08 19:34:50", "2026-09-08T19:34:50.444996Z", "2026-09-08T19:34:50Z",
               "2026-09-08T19:34:50.444996+02:00", "2026-09-08T19:34:50-05:30",
               "2026-09-08 19:34:50.444996+00:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59",
               "2024-02-29", "2024-02-29T00:00", " 2026-09-08T19:34:50.444996",
               "2026-09-08T19:34:50.444996 ", "0001-01-01T00:30:00+01:00",
               "9999-12-31T23:00:00-05:00", "2023-02-29T00:00:00.000000", "20260908T193450",
               "yesterday", "", 1700000000, 2.5, b"2026-09-08T19:34:50.444996"]


def both_ways(table, rows, mode="refuse"):
    """(row by row, in a batch): each a (converted rows, Problems, checksum hex)."""
    found = []
    for batch in (False, True):
        converter, checksum = Converter(table, mode), Checksum()
        if batch:
            converted = converter.convert_many(rows)
            checksum.add_many(converted)
        else:
            converted = [c for c in map(converter.convert, rows) if c is not None]
            for row in converted:
                checksum.add(row)
        found.append((converted, converter.problems, checksum.hex))
    return found


@pytest.mark.parametrize("value", CANONICAL + OTHER_FORMS)
def test_every_timestamp_form_converts_alike_in_a_batch(value):
    rows = [("s1", "u", CANONICAL[0]), ("s2", "u", value), ("s3", "u", CANONICAL[1])]
    one_by_one, batched = both_ways("sessions", rows)
    assert batched == one_by_one
    alone_one, alone_batched = both_ways("sessions", [("s", "u", value)] * 3)
    assert alone_batched == alone_one


def test_the_fast_timestamp_path_takes_only_the_stored_form():
    for value in CANONICAL:
        parts = move_columns.timestamp_parts((value, value))
        assert parts == [[_timestamp(value)[0]] * 2], value
    for value in OTHER_FORMS:
        assert move_columns.timestamp_parts((CANONICAL[0], value)) is None, value
    for value in ("2026-09-08T19:34:50", "2026-09-08T19:34:50.444996Z",
                  "2026-09-08T19:34:50-05:00"):   # accepted, by the general parser
        assert _timestamp(value)[1] is None


@pytest.mark.parametrize("value", ["", "plain", "Zoë 🎉 日本", "tab\there \\ back", "x" * 5000,
                                   "with\x00nul", "caf\udce9", None, 7, 2.5, b"bytes"])
@pytest.mark.parametrize("mode", MODES)
def test_text_values_convert_alike_in_a_batch(value, mode):
    rows = [("u1", "a@x", "h", "Ann", None, None, None, CANONICAL[0], None, None, None, None),
            ("u2", "b@x", "h", value, value, None, None, CANONICAL[1], None, None, CANONICAL[2],
             None),
            ("u3", value, "h", None, None, None, None, CANONICAL[0], None, None, None, None)]
    one_by_one, batched = both_ways("users", rows, mode)
    assert batched == one_by_one


@pytest.mark.parametrize("temperature, score, count", [
    (0.2, None, None), (1, 0.5, 3), (-0.0, 1e300, 2**31 - 1), (0.0, -1e-300, -2**31),
    (0.2, 0.5, 2**31), (0.2, 0.5, -2**31 - 1), (0.2, 0.5, True), (0.2, 0.5, 1.0), (0.2, "x", 1),
    (None, 0.5, 1), ("0.2", 0.5, 1), (True, 0.5, 1), (2**53 + 1, 0.5, 1)])
@pytest.mark.parametrize("mode", MODES)
def test_numbers_convert_alike_in_a_batch(temperature, score, count, mode):
    rows = [("h1", "{}", "m", 0.7, CANONICAL[0], 0.9, 4, CANONICAL[1]),
            ("h2", "{}", "m", temperature, CANONICAL[0], score, count, CANONICAL[0]),
            ("h3", "{}", "m", 1, CANONICAL[3], None, None, CANONICAL[2])]
    one_by_one, batched = both_ways("cv_extraction_cache", rows, mode)
    assert batched == one_by_one


def test_nulls_and_keys_convert_alike_in_a_batch():
    rows = [(None, "u", CANONICAL[0]), ("s", None, CANONICAL[0]), ("s", "u", None)]
    for mode in MODES:
        one_by_one, batched = both_ways("sessions", rows, mode)
        assert batched == one_by_one
        assert [p.reason for p in batched[1]] == ["NULL in a NOT NULL column"] * 3
    nullable = [("u", "e", "h", None, None, None, None, CANONICAL[0], None, None, None, None)] * 2
    one_by_one, batched = both_ways("users", nullable)
    assert batched == one_by_one and not batched[1]
    assert both_ways("sessions", []) == [([], [], Checksum().hex)] * 2


def test_a_column_of_the_usual_case_takes_its_fast_path():
    assert move_columns.column_parts("text", ("a", None, "é"), False) == [
        [b"\x00\x00\x00\x01", move_columns.NULL_FIELD, b"\x00\x00\x00\x02"], [b"a", b"", "é".encode()]]
    assert move_columns.column_parts("text", ("a", None), True) is None
    assert move_columns.column_parts("text", ("a\x00",), True) is None
    assert move_columns.column_parts("integer", (1, None), False) == [
        [b"\x00\x00\x00\x04\x00\x00\x00\x01", move_columns.NULL_FIELD]]
    assert move_columns.column_parts("integer", (True,), False) is None
    assert move_columns.column_parts("double precision", (1, 2.5), True) is not None
    assert move_columns.column_parts("double precision", ("1",), True) is None
    assert move_columns.column_parts("timestamptz", (None, None), False) == [
        [move_columns.NULL_FIELD] * 2]
