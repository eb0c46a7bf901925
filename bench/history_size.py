"""The monitor database after a year of 5-minute snapshots (a fixed, simulated clock), with the
default retention (raw 14 days, hourly 90 days, daily for ever) applied every hour, and daily
roll-ups recorded once a day. Prints the file size and the rows kept per grain.

    python bench/history_size.py [--days 365] [--every 300]
"""
import argparse
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from r2w_db.demo.builder import build_demo  # noqa: E402
from r2w_db.figures import rollups, snapshot  # noqa: E402
from r2w_db.monitor.history_store import HistoryStore, Retention  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--every", type=int, default=300, help="seconds between snapshots")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app, monitor = Path(folder) / "app.db", Path(folder) / "monitor.db"
        build_demo(app)
        snap = snapshot.take_snapshot(app)
        metrics = snap["metrics"]
        day = rollups.compute(app, datetime(2026, 11, 20), datetime(2026, 11, 21))["2026-11-20"]
        store, retention = HistoryStore(monitor), Retention()
        start = datetime(2026, 1, 1)
        moment, end, n, started = start, start + timedelta(days=args.days), 0, time.perf_counter()
        while moment < end:
            varied = {k: (v + n if isinstance(v, int) and k.startswith("stats.") else v)
                      for k, v in metrics.items()}
            store.record_snapshot(app, varied, taken_at=moment, seconds=0.05)
            n += 1
            moment += timedelta(seconds=args.every)
            if moment.minute == 0 and moment.second < args.every:
                store.prune(app, retention, now=moment)
            if moment.hour == 0 and moment.minute == 0 and moment.second < args.every:
                store.record_rollups(app, {(moment - timedelta(days=1)).date().isoformat(): day},
                                     recorded_at=moment)
        store.prune(app, retention, now=end)
        with sqlite3.connect(monitor) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            grains = dict(conn.execute("SELECT grain, count(*) FROM snapshots GROUP BY grain"))
            days = conn.execute("SELECT count(*) FROM daily_rollups").fetchone()[0]
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0] * page_size
        size = monitor.stat().st_size
        print(f"{n:,} snapshots of {len(metrics)} metrics over {args.days} days "
              f"(every {args.every} s) in {time.perf_counter() - started:.0f} s")
        print(f"kept: {grains}, {days} daily roll-ups")
        print(f"monitor database: {size / 2**20:.1f} MB ({free / 2**20:.1f} MB of it free pages, "
              f"reusable; VACUUM would give {(size - free) / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
