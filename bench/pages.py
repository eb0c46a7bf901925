"""Every page's first render against one `stats --json` process, on the production-sized database,
measured in the same run (issue 12's target: at most 1.5x for the 7-day window and 2x for "All"),
and `snapshot` as a process (target: at most 1 s).

A page's first render is the sum of its figure calls (`ui.cached` calls in the
page file), cold, in a fresh process: bench/scale.py's page_data. Pages are measured the way
they run in production, with the watcher's roll-ups in a monitor database beside the file
(recorded first by `snapshot`), and for reference without them. Processes alternate with the
`stats` runs, so both see the same machine.

    python bench/pages.py [--runs 3]        # writes bench/PAGES.md
"""
import argparse
import json
import os
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import scale  # noqa: E402
from machine_info import describe  # noqa: E402

REPORT = ROOT / "bench" / "PAGES.md"
MONITOR = scale.WORK / "pages-monitor.db"
NO_ROLLUPS = scale.WORK / "pages-no-rollups.db"
TARGETS = {"7d": 1.5, "all": 2.0}
SNAPSHOT_TARGET_S = 1.0


def _machine():
    m = describe()
    return (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; Python {m['python']},"
            f" SQLite {m['sqlite']}")


def run(argv, monitor):
    return scale.run_process(argv, env={"R2W_MONITOR_DB": str(monitor)})


def page_cold(page, window, monitor):
    """{"cold_s", "calls"} of one page in a fresh process."""
    _, _, text = run([sys.executable, str(ROOT / "bench" / "scale.py"), "--page-data", str(page),
                      str(scale.LARGE), window], monitor)
    got = json.loads(text.strip().splitlines()[-1])
    return {"cold_s": sum(c.get("cold_s", 0) for c in got["calls"]), "calls": got["calls"]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (stats, every page, snapshot)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    load_start = os.getloadavg()
    scale.build_large()
    stats_cmd = [sys.executable, "-m", "r2w_db", "--db", str(scale.LARGE), "stats", "--json"]
    snap_cmd = [sys.executable, "-m", "r2w_db", "--db", str(scale.LARGE), "snapshot"]
    NO_ROLLUPS.unlink(missing_ok=True)
    scale.log("first snapshot (back-fills the roll-ups) ...")
    first_wall, _, _ = run(snap_cmd, MONITOR)
    pages = [ROOT / "app.py"] + sorted((ROOT / "pages").glob("[0-9]*.py"))
    pages = [p for p in pages if scale.page_calls(p)]
    stats_runs, snapshot_runs = [], []
    results = {w: {p.name: {"rollups": [], "live": []} for p in pages} for w in TARGETS}
    calls = {}
    run(stats_cmd, MONITOR)   # warm-up: the file in the page cache, as for every run after it
    for round_ in range(args.runs):
        scale.log(f"round {round_ + 1} of {args.runs} ...")
        stats_runs.append(run(stats_cmd, MONITOR)[0])
        for window in TARGETS:
            for page in pages:
                got = page_cold(page, window, MONITOR)
                results[window][page.name]["rollups"].append(got["cold_s"])
                calls[(window, page.name)] = got["calls"]
                results[window][page.name]["live"].append(page_cold(page, window, NO_ROLLUPS)["cold_s"])
        stats_runs.append(run(stats_cmd, MONITOR)[0])
        snapshot_runs.append(run(snap_cmd, MONITOR)[0])
    stats_s = statistics.median(stats_runs)
    lines = [
        "# Page first render and snapshot against `stats --json`", "",
        f"Written by `python bench/pages.py --runs {args.runs}` on "
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC ({(time.perf_counter() - began) / 60:.0f} min)."
        f" {_machine()}. Load average at the start {load_start[0]:.2f}, at the end"
        f" {os.getloadavg()[0]:.2f}.", "",
        f"Database: bench/work/large.db (the large demo: {scale.table_counts(scale.LARGE)['cv_uploads']:,}"
        " uploads). A page's first render: the sum of its figure calls, cold, in a fresh process"
        " (bench/scale.py --page-data). 'with roll-ups': a monitor database holding the watcher's"
        f" daily and hourly roll-ups (the first `snapshot` recorded them in {first_wall:.1f} s);"
        " 'without': an empty monitor database, every figure read live.", "",
        f"`stats --json` as a process: median {stats_s:.3f} s (runs "
        + ", ".join(f"{s:.3f}" for s in stats_runs) + ").", "",
        "| window | page | with roll-ups | × stats | target | | without roll-ups | × stats |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    met = True
    for window, target in TARGETS.items():
        for page, got in results[window].items():
            with_s, live_s = statistics.median(got["rollups"]), statistics.median(got["live"])
            ok = with_s <= target * stats_s
            met &= ok
            lines.append(f"| {window} | {page} | {with_s:.3f} s | {with_s / stats_s:.2f}× | ≤ {target}× "
                         f"| {scale.verdict(ok)} | {live_s:.3f} s | {live_s / stats_s:.2f}× |")
    snap_s = statistics.median(snapshot_runs)
    lines += ["", f"`snapshot` as a process (a later one: the roll-ups are current): median "
              f"{snap_s:.3f} s (runs " + ", ".join(f"{s:.3f}" for s in snapshot_runs) + f"), "
              f"{snap_s / stats_s:.2f}× stats; target ≤ {SNAPSHOT_TARGET_S:g} s: "
              f"{scale.verdict(snap_s <= SNAPSHOT_TARGET_S)}.", "",
              "## The calls of each page (last round, with roll-ups)", ""]
    for (window, page), got in calls.items():
        lines.append(f"- {window} {page}: " + "; ".join(
            f"{c['call']} {scale.ms(c['cold_s'])}" if "cold_s" in c else
            f"{c['call']} not timed ({c['error']})" for c in got))
    REPORT.write_text("\n".join(lines) + "\n")
    scale.log(f"wrote {REPORT}: {'every target met' if met else 'a target MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
