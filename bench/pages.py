"""Every page's first render against one `stats --json` process on the same file, in the same
run (issue 21's targets: at most 1.0x stats at 600k uploads for the 7-day and the all-time
window; on a database ten times that size, each page within 1.5x its own time at 600k while
`stats` grows with the rows), and `snapshot` as a process (issue 12's target: at most 1 s).

A page's first render is Streamlit's AppTest running the page once, cold, in a fresh process
(bench/page_render.py). Pages are measured the way they run in production: with the watcher's
roll-ups in a monitor database beside each file (recorded first by `snapshot`). Every round
runs `stats`, then every page in both windows, on each database in turn, so that all of them
see the same machine; figures are medians over the rounds.

    python bench/pages.py [--runs 3]                          # bench/work/large.db (600k uploads)
    python bench/pages.py --uploads 600000 --uploads 6000000  # builds bench/work/large-N.db once
    python bench/pages.py --db A.db --db B.db                 # existing files; the first is the
                                                              # reference for the growth ratio
Writes bench/PAGES.md (--report to write elsewhere).
"""
import argparse
import json
import os
import statistics
import subprocess
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
WINDOWS = ("7d", "all")
STATS_TARGET = 1.0        # a page's first render, × one `stats --json` process (first database)
GROWTH_TARGET = 1.5       # a page on a later database, × its own time on the first
SNAPSHOT_TARGET_S = 1.0
MAX_UPLOADS = 20_000_000
NOTES = "\n## Notes\n"   # from here on the report is written by hand and kept by every run


def _machine():
    m = describe()
    return (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB RAM; Python {m['python']},"
            f" SQLite {m['sqlite']}")


def _uploads(text):
    value = int(text)
    if not 1 <= value <= MAX_UPLOADS:
        raise argparse.ArgumentTypeError(f"from 1 to {MAX_UPLOADS:,}, not {value}")
    return value


def demo_file(uploads):
    """bench/work/large-N.db: the large demo with N uploads, built once."""
    path = scale.WORK / f"large-{uploads}.db"
    if path.exists() and not Path(f"{path}-journal").exists():
        return path
    path.unlink(missing_ok=True)
    scale.WORK.mkdir(parents=True, exist_ok=True)
    scale.log(f"building {path} ({uploads:,} uploads) ...")
    subprocess.run([sys.executable, "-m", "r2w_db", "--db", str(path), "demo", "--scale", "large",
                    "--uploads", str(uploads), "--quiet"], cwd=ROOT, check=True)
    return path


def monitor_for(db):
    return scale.WORK / f"pages-monitor-{Path(db).stem}.db"


def run(argv, db):
    return scale.run_process(argv, env={"R2W_MONITOR_DB": str(monitor_for(db))})


def render(page, window, db):
    """{"render_s", "calls", "exceptions"} of one page's first render in a fresh process."""
    _, _, text = run([sys.executable, str(ROOT / "bench" / "page_render.py"), str(page), str(db),
                      window], db)
    return json.loads(text.strip().splitlines()[-1])


def cli(db, *command):
    return [sys.executable, "-m", "r2w_db", "--db", str(db), *command]


def measure(databases, pages, runs):
    """{db: {"stats": [s], "snapshot": [s], "first_snapshot_s", (window, page): [s], "calls": {}}}."""
    got = {db: {"stats": [], "snapshot": [], "calls": {}, "problems": {}} for db in databases}
    for db in databases:
        scale.log(f"{db}: first snapshot (records the roll-ups) ...")
        got[db]["first_snapshot_s"] = run(cli(db, "snapshot"), db)[0]
        run(cli(db, "stats", "--json"), db)   # warm-up: the file in the page cache
    for round_ in range(runs):
        scale.log(f"round {round_ + 1} of {runs} ...")
        for db in databases:
            got[db]["stats"].append(run(cli(db, "stats", "--json"), db)[0])
            for window in WINDOWS:
                for page in pages:
                    one = render(page, window, db)
                    got[db].setdefault((window, page.name), []).append(one["render_s"])
                    got[db]["calls"][(window, page.name)] = one["calls"]
                    if one["exceptions"]:
                        got[db]["problems"][(window, page.name)] = one["exceptions"]
            got[db]["stats"].append(run(cli(db, "stats", "--json"), db)[0])
            got[db]["snapshot"].append(run(cli(db, "snapshot"), db)[0])
    return got


def report(databases, pages, got, runs, began, load_start, command):
    med = statistics.median
    first = databases[0]
    counts = {db: scale.table_counts(db)["cv_uploads"] for db in databases}
    lines = [
        "# Page first render against `stats --json`", "",
        f"Written by `{command}` on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
        f" ({(time.perf_counter() - began) / 60:.0f} min). {_machine()}. Load average at the start"
        f" {load_start[0]:.2f}, at the end {os.getloadavg()[0]:.2f}.", "",
        "A page's first render: Streamlit's AppTest running the page once in a fresh process, every"
        " figure cold (bench/page_render.py; what a server does before its first view, importing the"
        " page's modules and starting the runtime, is done before the clock starts). Each database"
        " has a monitor database holding the watcher's roll-ups (its first `snapshot` recorded them)."
        f" Medians of {runs} rounds; in every round `stats`, then every page, on each database in"
        " turn.", ""]
    for db in databases:
        stats_runs = got[db]["stats"]
        lines.append(f"- {Path(db).name}: {counts[db]:,} uploads; `stats --json` median"
                     f" {med(stats_runs):.3f} s (runs " + ", ".join(f"{s:.3f}" for s in stats_runs)
                     + f"); first snapshot {got[db]['first_snapshot_s']:.1f} s.")
    head = ["window", "page"]
    for i, db in enumerate(databases):
        name = f"{counts[db]:,}"
        head += [f"{name} s", "× stats"] + ([f"× {counts[first]:,}"] if i else [])
    lines += ["", f"Targets: ≤ {STATS_TARGET}× stats on {Path(first).name}; ≤ {GROWTH_TARGET}× its"
              f" own time there on the others.", "",
              "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    met = True
    for window in WINDOWS:
        for page in pages:
            key = (window, page.name)
            base = med(got[first][key])
            row = [window, page.name]
            for i, db in enumerate(databases):
                seconds, stats_s = med(got[db][key]), med(got[db]["stats"])
                ok = seconds <= (GROWTH_TARGET * base if i else STATS_TARGET * stats_s)
                met &= ok
                mark = "" if ok else " **MISSED**"
                row += [f"{seconds:.3f}", f"{seconds / stats_s:.2f}×" + ("" if i else mark)]
                if i:
                    row.append(f"{seconds / base:.2f}×{mark}")
            lines.append("| " + " | ".join(row) + " |")
    lines += [""]
    for db in databases:
        snap = got[db]["snapshot"]
        lines.append(f"`snapshot` on {Path(db).name} (the roll-ups current): median {med(snap):.3f} s"
                     f" (runs " + ", ".join(f"{s:.3f}" for s in snap) + f"); target ≤"
                     f" {SNAPSHOT_TARGET_S:g} s: {scale.verdict(med(snap) <= SNAPSHOT_TARGET_S)}.")
    lines += ["", "## The figure calls of each page (last round)", ""]
    for db in databases:
        for (window, page), calls in got[db]["calls"].items():
            lines.append(f"- {counts[db]:,} {window} {page}: " + ("; ".join(
                f"{c['call']} {scale.ms(c['s'])}" for c in calls) or "no figure call"))
        for (window, page), problems in got[db]["problems"].items():
            lines.append(f"- {counts[db]:,} {window} {page} showed: " + " / ".join(problems)[:300])
    return lines, met


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds (stats, every page, snapshot)")
    parser.add_argument("--db", action="append", default=[], type=Path, metavar="PATH",
                        help="a database file to measure (repeatable; the first is the reference)")
    parser.add_argument("--uploads", action="append", default=[], type=_uploads, metavar="N",
                        help="the large demo with N uploads, built under bench/work once (repeatable)")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    args = parser.parse_args(argv)
    began, load_start = time.perf_counter(), os.getloadavg()
    scale.WORK.mkdir(parents=True, exist_ok=True)
    databases = [p.resolve() for p in args.db] + [demo_file(n) for n in args.uploads]
    if not databases:
        scale.build_large()
        databases = [scale.LARGE]
    missing = [str(p) for p in databases if not p.exists()]
    if missing:
        parser.error(f"no such database: {', '.join(missing)}")
    pages = [ROOT / "app.py"] + sorted((ROOT / "pages").glob("[0-9]*.py"))
    got = measure(databases, pages, args.runs)
    command = "python bench/pages.py " + " ".join(argv if argv is not None else sys.argv[1:])
    lines, met = report(databases, pages, got, args.runs, began, load_start, command.strip())
    kept = args.report.read_text() if args.report.exists() else ""
    notes = kept[kept.index(NOTES):] if NOTES in kept else ""
    args.report.write_text("\n".join(lines) + "\n" + notes)
    scale.log(f"wrote {args.report}: {'every target met' if met else 'a target MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
