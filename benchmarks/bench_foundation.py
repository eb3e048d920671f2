"""Validation, dry-run and start-up speed.

    python benchmarks/bench_foundation.py [--tasks 10000] [--runs 7]

Targets on a 2-core machine: validate of a 10,000-task DAG <= 1.5 s; ``dagctl --version`` <= 100 ms
median; ``dagctl --help`` <= 200 ms. ``python -c pass`` is measured in the same run as the floor.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd, median_ms, report, time_command


def write_layered_dag(path: Path, tasks: int, width: int = 100) -> None:
    """``tasks`` shell tasks in layers of ``width``; each depends on two tasks of the layer above."""
    lines = ["name: layered", "defaults: {retries: 1, timeout: 1m}", "tasks:"]
    for i in range(tasks):
        layer, pos = divmod(i, width)
        lines.append(f"  - id: t{i}")
        lines.append("    run: 'true'")
        if layer:
            above = (layer - 1) * width
            lines.append(f"    depends_on: [t{above + pos}, t{above + (pos + 1) % width}]")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    dagctl = dagctl_cmd()
    print(f"dagctl foundation benchmark: {os.cpu_count()} CPUs, {args.runs} runs each, medians")
    with tempfile.TemporaryDirectory() as tmp:
        dag = Path(tmp) / "layered.yaml"
        write_layered_dag(dag, args.tasks)
        floor = median_ms(time_command([sys.executable, "-c", "pass"], runs=args.runs))
        version = median_ms(time_command([*dagctl, "--version"], runs=args.runs))
        help_ = median_ms(time_command([*dagctl, "--help"], runs=args.runs))
        validate = median_ms(time_command([*dagctl, "validate", str(dag)], runs=args.runs))
        dry = median_ms(time_command([*dagctl, "run", str(dag), "--dry-run"], runs=args.runs))
        dry_json = median_ms(time_command([*dagctl, "run", str(dag), "--dry-run", "--json"], runs=args.runs))
    report(
        [
            ("python -c pass", floor, "(floor)"),
            ("dagctl --version", version, f"target <= 100 ms   ({version / floor:.1f}x python -c pass)"),
            ("dagctl --help", help_, f"target <= 200 ms   ({help_ / floor:.1f}x python -c pass)"),
            (f"validate {args.tasks} tasks", validate, "target <= 1500 ms"),
            (f"dry-run {args.tasks} tasks", dry, ""),
            (f"dry-run --json {args.tasks} tasks", dry_json, ""),
        ]
    )


if __name__ == "__main__":
    main()
