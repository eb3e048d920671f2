"""History reads over a long history: `dagctl runs`, `dagctl show`, `dagctl stats`.

    python benchmarks/bench_history.py [--lines 1000000] [--runs 5]

Generates LINES event lines over 60 days (benchmarks/gen_history.py), splits them into run folders the
way dagctl writes them (logs/runs/<run_id>/events.jsonl next to the global log), then times, side by
side with `python -c pass` and `dagctl --version` as floors:
  dagctl runs --limit 20        target <= 300 ms
  dagctl runs --dag X / --status S / --tenant T (and --dag of no run)   target <= 300 ms each
  dagctl show <a run>           target <= 300 ms
  dagctl stats --window 24h     target <= 2 s
Reading one run must not scan the whole history; the script also reports the size of what was read.
The filtered listings read the run catalog (logs/cache/runs.json, dagctl.store.runcatalog); the first one after
the history was written builds it from the run folders, and is timed on its own ("first filtered listing").
--baseline DAGCTL times another dagctl program (an older checkout) in rows of its own, on the same history.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd, median_ms, report, time_command
from gen_history import generate_history


def split_into_run_folders(events_path: Path, runs_dir: Path) -> int:
    """Write each run's lines to runs/<run_id>/events.jsonl, as the runner does. Returns the run count."""
    buffers: dict[str, list[str]] = defaultdict(list)
    runs = 0
    with events_path.open() as fh:
        for line in fh:
            run_id = json.loads(line)["run_id"]
            buffers[run_id].append(line)
            if len(buffers) > 2000:
                runs += _flush(buffers, runs_dir)
    runs += _flush(buffers, runs_dir)
    return runs


def _flush(buffers: dict[str, list[str]], runs_dir: Path) -> int:
    new = 0
    for run_id, lines in buffers.items():
        folder = runs_dir / run_id
        if not folder.exists():
            folder.mkdir(parents=True)
            new += 1
        with (folder / "events.jsonl").open("a") as fh:
            fh.writelines(lines)
    buffers.clear()
    return new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dagctl", metavar="DAGCTL", help="the dagctl program to time (default: this checkout's)")
    parser.add_argument("--baseline", metavar="DAGCTL", help="another dagctl program to time on the same history")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(tmp) / "logs"
        logs.mkdir()
        events = logs / "orchestrator_events.jsonl"
        state = logs / "orchestrator_state.jsonl"
        run_ids = generate_history(events, state, lines=args.lines, now=datetime.now(timezone.utc))
        runs = split_into_run_folders(events, logs / "runs")
        size = events.stat().st_size / 1048576
        print(
            f"history: {args.lines:,} event lines ({size:.0f} MiB), {runs:,} run folders; "
            f"{os.cpu_count()} CPUs; medians of {args.runs}"
        )
        env = {"DAGCTL_LOGS_DIR": str(logs)}
        dagctl = [args.dagctl] if args.dagctl else dagctl_cmd()
        middle = run_ids[len(run_ids) // 2]
        one_run = (logs / "runs" / middle / "events.jsonl").stat().st_size
        floor = median_ms(time_command([sys.executable, "-c", "pass"], runs=args.runs))
        version = median_ms(time_command([*dagctl, "--version"], runs=args.runs, env=env))
        runs_ms = median_ms(time_command([*dagctl, "runs", "--limit", "20"], runs=args.runs, env=env))
        show_ms = median_ms(time_command([*dagctl, "show", middle], runs=args.runs, env=env))
        first = median_ms(time_command([*dagctl, "runs", "--dag", "etl_daily"], runs=1, env=env))
        filters = [
            ("--status failed", ["--status", "failed"]),
            ("--dag etl_daily", ["--dag", "etl_daily"]),
            ("--tenant acme", ["--tenant", "acme"]),
            ("--dag unknown", ["--dag", "unknown"]),
            ("--dag backfill --status failed", ["--dag", "backfill", "--status", "failed"]),
        ]
        filtered: list[tuple[str, float, str]] = []
        for label, flags in filters:
            ms = median_ms(time_command([*dagctl, "runs", "--limit", "20", *flags], runs=args.runs, env=env))
            filtered.append((f"dagctl runs {label}", ms, "target <= 300 ms"))
            if args.baseline:
                ms = median_ms(time_command([args.baseline, "runs", "--limit", "20", *flags], runs=args.runs, env=env))
                filtered.append((f"  baseline runs {label}", ms, ""))
        stats_ms = median_ms(time_command([*dagctl, "stats", "--window", "24h"], runs=args.runs, env=env))
    report(
        [
            ("python -c pass", floor, "(floor)"),
            ("dagctl --version", version, ""),
            ("dagctl runs --limit 20", runs_ms, "target <= 300 ms"),
            ("first filtered listing", first, "(builds the run catalog from the run folders)"),
            *filtered,
            ("dagctl show RUN", show_ms, f"target <= 300 ms (reads {one_run / 1024:.1f} KiB of {size:.0f} MiB)"),
            ("dagctl stats --window 24h", stats_ms, "target <= 2000 ms"),
        ]
    )


if __name__ == "__main__":
    main()
