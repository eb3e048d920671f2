"""`dagctl stats` over a long history: 1,000,000 event lines spread over 60 days, window 24 h.

    python benchmarks/bench_stats.py [--lines 1000000] [--days 60] [--runs 5] [--dir DIR]

Writes the history with gen_history.generate_history (into a temporary folder, or DIR, reused when it
already holds a history of the asked size), then times, as whole processes, medians of ``--runs``:

  dagctl stats --window 24h          (the issue's target: <= 2 s)
  dagctl stats --window 24h --json
  dagctl stats --window 7d
  dagctl --version                   (the floor: interpreter start-up)

and, in-process, where the 24 h time goes (read backwards vs a full forward parse, and the reports).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd, median_ms, report, time_command
from gen_history import generate_history


def _count_lines(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 20), b""))


def prepare(base: Path, lines: int, days: float) -> tuple[Path, Path]:
    events, state = base / "orchestrator_events.jsonl", base / "orchestrator_state.jsonl"
    if events.exists() and _count_lines(events) == lines:
        age = time.time() - events.stat().st_mtime
        if age < 3600:
            print(f"reusing {events} ({lines:,} lines, written {age / 60:.0f} min ago)")
            return events, state
    began = time.perf_counter()
    now = datetime.now(timezone.utc)
    run_ids = generate_history(events, state, lines=lines, days=days, now=now, seed=1)
    print(
        f"generated {lines:,} lines, {len(run_ids):,} runs, {events.stat().st_size / 1e6:.0f} MB over {days:g} "
        f"days in {time.perf_counter() - began:.1f} s"
    )
    return events, state


def in_process(events: Path, state: Path, runs: int) -> list[tuple[str, float, str]]:
    from dagctl.store.eventlog import load_events, load_state_events
    from dagctl.store.jsonl import iter_records
    from dagctl.store.reports import stats_report

    def median_of(fn: Callable[[], Any]) -> tuple[float, Any]:
        samples, result = [], None
        for _ in range(runs):
            began = time.perf_counter()
            result = fn()
            samples.append(time.perf_counter() - began)
        return statistics.median(samples) * 1000, result

    now = datetime.now(timezone.utc)
    since = now - timedelta(hours=24)
    ms_load, loaded = median_of(lambda: load_events(events, since=since))
    ms_state, state_loaded = median_of(lambda: load_state_events(state, now - timedelta(days=7)))
    ms_report, _ = median_of(lambda: stats_report(loaded, state_loaded, now=now, window_hours=24))
    ms_full, full = median_of(lambda: sum(1 for _ in iter_records(events)))
    return [
        ("load_events 24h (read backwards)", ms_load, f"{len(loaded):,} records"),
        ("load_state_events 7d", ms_state, f"{len(state_loaded):,} records"),
        ("stats_report (4 sections)", ms_report, ""),
        ("full forward parse, for scale", ms_full, f"{full:,} records"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, help="keep the history here (reused by later runs within an hour)")
    args = parser.parse_args()
    tmp = None
    if args.dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="dagctl-bench-stats-")
        base = Path(tmp.name)
    else:
        base = args.dir
        base.mkdir(parents=True, exist_ok=True)
    try:
        events, state = prepare(base, args.lines, args.days)
        env = {"ORCH_EVENTS_PATH": str(events), "STATE_STORE_PATH": str(state), "NO_COLOR": "1"}
        dagctl = dagctl_cmd()
        print(f"dagctl stats benchmark: {os.cpu_count()} CPUs, {args.runs} runs each, medians")
        rows = []
        for label, argv in [
            ("dagctl --version (floor)", ["--version"]),
            ("dagctl stats --window 24h", ["stats", "--window", "24h"]),
            ("dagctl stats --window 24h --json", ["stats", "--window", "24h", "--json"]),
            ("dagctl stats --window 7d", ["stats", "--window", "7d"]),
        ]:
            samples = time_command([*dagctl, *argv], runs=args.runs, env=env)
            note = ""
            if argv[:3] == ["stats", "--window", "24h"] and len(argv) == 3:
                note = "target <= 2000 ms: " + ("met" if median_ms(samples) <= 2000 else "NOT met")
            rows.append((label, median_ms(samples), note))
        report(rows)
        print("in-process, window 24h:")
        report(in_process(events, state, args.runs))
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    main()
