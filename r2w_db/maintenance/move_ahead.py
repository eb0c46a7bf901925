"""The move's producer, running ahead: one thread reads, converts and checksums the tables in
turn, so that the next table is being converted while the target's server checksums and
indexes the table just copied (bench/POSTGRES.md: the two cores both busy instead of one).

At most AHEAD_BYTES of converted rows wait between the two (enough for the demo's whole cache
table while the server indexes cv_uploads). An error in the producer is raised in the
consumer; a consumer that stops early stops the producer before its source connection is
closed.
"""
import queue
import threading
from contextlib import closing

AHEAD_BYTES = 256 << 20
_WAIT_S = 0.1   # how often a blocked producer checks whether it should stop


class _Stop(Exception):
    """The consumer stopped: the producer ends quietly."""


class _Budget:
    """Bytes produced and not yet consumed, at most `limit` (one piece may pass it)."""

    def __init__(self, limit, stop):
        self.limit, self.stop, self.held = limit, stop, 0
        self.changed = threading.Condition()

    def take(self, size):
        with self.changed:
            while not self.stop.is_set() and self.held and self.held + size > self.limit:
                self.changed.wait(_WAIT_S)
            if self.stop.is_set():
                raise _Stop
            self.held += size

    def give(self, size):
        with self.changed:
            self.held -= size
            self.changed.notify()


def tables_ahead(tables, stream):
    """Yield (table, pieces, done) for each of `tables` in order. `stream(table)` returns
    (a generator of the table's pieces, a function giving its result once they are all read);
    here that runs in a thread of its own, a table ahead of the caller. `pieces` must be read to
    its end before the next item is taken; `done()` then gives that table's result."""
    waiting, stop = queue.Queue(), threading.Event()
    budget = _Budget(AHEAD_BYTES, stop)

    def produce():
        try:
            for table in tables:
                pieces, done = stream(table)
                with closing(pieces):   # its source read ends here, even when stopped
                    for piece in pieces:
                        budget.take(len(piece))
                        waiting.put((True, piece))
                waiting.put((False, done()))
        except _Stop:
            pass
        except BaseException as exc:   # raised in the consumer, below
            waiting.put((False, exc))

    producer = threading.Thread(target=produce, name="move-producer", daemon=True)
    producer.start()
    try:
        for table in tables:
            result = []

            def pieces():
                while True:
                    is_piece, item = waiting.get()
                    if is_piece:
                        budget.give(len(item))
                        yield item
                    elif isinstance(item, BaseException):
                        raise item
                    else:
                        result.append(item)
                        return

            yield table, pieces(), lambda result=result: result[0]
    finally:
        stop.set()
        producer.join()
