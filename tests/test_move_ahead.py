"""The move's producer runs a table ahead (maintenance/move_ahead.py): everything in order, the
next table converted while the caller is busy, its memory bounded, errors carried across, and
nothing left running when the caller stops."""
import threading
import time

import pytest

from r2w_db.maintenance import move_ahead

WAIT_S = 10


def streams(tables, pieces_per_table=3, size=10, started=None, ended=None):
    def stream(table):
        if started is not None:
            started[table].set()

        def pieces():
            try:
                for i in range(pieces_per_table):
                    yield f"{table}{i}".encode().ljust(size, b".")
            finally:
                if ended is not None:
                    ended.append(table)
        return pieces(), lambda: f"{table} done"
    return stream


def test_every_piece_and_result_in_order():
    got = []
    for table, pieces, done in move_ahead.tables_ahead(["a", "b", "c"], streams("abc")):
        got.append((table, [p.rstrip(b".") for p in pieces], done()))
    assert got == [(t, [f"{t}{i}".encode() for i in range(3)], f"{t} done") for t in "abc"]


def test_the_next_table_is_converted_while_the_caller_works_on_this_one():
    started = {t: threading.Event() for t in "ab"}
    ahead = move_ahead.tables_ahead(["a", "b"], streams("ab", started=started))
    table, pieces, done = next(ahead)
    list(pieces)
    # the caller is now busy with "a" (its checksum, its indexes): "b" starts without it
    assert started["b"].wait(WAIT_S)
    assert [t for t, p, d in ahead if list(p)] == ["b"]


def test_the_waiting_bytes_stay_within_the_budget(monkeypatch):
    monkeypatch.setattr(move_ahead, "AHEAD_BYTES", 100)
    held = []
    original = move_ahead._Budget.take

    def take(self, size):
        original(self, size)
        held.append(self.held)
    monkeypatch.setattr(move_ahead._Budget, "take", take)
    for _table, pieces, _done in move_ahead.tables_ahead(["a", "b"], streams("ab", 40, size=30)):
        for _ in pieces:
            time.sleep(0.001)   # a slow caller: the producer fills the budget and waits
    assert len(held) == 80 and max(held) <= 100 and max(held) > 30


def test_an_error_in_the_producer_is_raised_in_the_caller():
    def stream(table):
        def pieces():
            yield b"x"
            raise ValueError(f"{table}: a value that does not convert")
        return pieces(), lambda: None

    with pytest.raises(ValueError, match="a: a value that does not convert"):
        for _table, pieces, _done in move_ahead.tables_ahead(["a", "b"], stream):
            list(pieces)


def test_a_caller_that_stops_stops_the_producer(monkeypatch):
    monkeypatch.setattr(move_ahead, "AHEAD_BYTES", 100)
    ended = []
    ahead = move_ahead.tables_ahead(["a", "b"], streams("ab", 1000, size=30, ended=ended))
    _table, pieces, _done = next(ahead)
    next(pieces)
    ahead.close()   # as `with closing(...)` does when the COPY fails
    assert ended == ["a"]   # the producer's source reads ended before close returned
    assert not [t for t in threading.enumerate() if t.name == "move-producer"]
