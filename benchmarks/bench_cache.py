"""The task cache: a fully cached run against the same run with nothing cached, side by side in one run.

    python benchmarks/bench_cache.py [--runs 5] [--tasks 1000]

  fan1000 cached    1,000 parallel `true` tasks with `cache: true`, every key a hit   (target <= 25% of uncached)
  fan1000 uncached  the same DAG with --no-cache (nothing read or written)
  fan1000 refresh   --refresh: every task runs and stores its entry again (the cost of a cold cache)
  make -j2          the same 1,000 recipes, for scale

Each side runs through `dagctl run -q` with logs in the temp folder and the plan cache on, interleaved so
machine noise hits both alike. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd, time_command


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=1000)
    args = parser.parse_args()
    dagctl = dagctl_cmd()
    n = args.tasks
    print(f"dagctl task-cache benchmark: {os.cpu_count()} CPUs, {n} tasks, median of {args.runs}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {"DAGCTL_LOGS_DIR": str(root / "logs")}
        dag = root / "fan.yaml"
        body = "".join(f"  - {{id: t{i}, run: 'true'}}\n" for i in range(n))
        dag.write_text("name: fan\noptions: {parallelism: 2}\ndefaults: {cache: true}\ntasks:\n" + body)
        make = shutil.which("make")
        makefile = root / "Makefile"
        targets = " ".join(f"t{i}" for i in range(n))
        makefile.write_text(f".PHONY: all {targets}\nall: {targets}\n" + "".join(f"t{i}:\n\t@true\n" for i in range(n)))
        time_command([*dagctl, "run", str(dag), "-q"], runs=1, cwd=root, env=env)  # fill the cache
        samples: dict[str, list[float]] = {"cached": [], "uncached": [], "refresh": [], "make": []}
        for _ in range(args.runs):  # interleaved
            samples["cached"] += time_command([*dagctl, "run", str(dag), "-q"], runs=1, cwd=root, env=env)
            samples["uncached"] += time_command(
                [*dagctl, "run", str(dag), "-q", "--no-cache"], runs=1, cwd=root, env=env
            )
            samples["refresh"] += time_command([*dagctl, "run", str(dag), "-q", "--refresh"], runs=1, cwd=root, env=env)
            if make:
                samples["make"] += time_command([make, "-s", "-j2", "-f", str(makefile)], runs=1, cwd=root)
    ms = {name: statistics.median(values) * 1000 for name, values in samples.items() if values}
    labels = {
        "cached": f"fan{n} fully cached",
        "uncached": f"fan{n} --no-cache",
        "refresh": f"fan{n} --refresh (run + store)",
        "make": "make -j2, same recipes",
    }
    width = max(len(v) for v in labels.values())
    for name, value in ms.items():
        print(f"  {labels[name]:<{width}}  {value:9.1f} ms")
    print(f"  cached / uncached: {ms['cached'] / ms['uncached']:.0%} (target <= 25%)")
    if "make" in ms:
        print(f"  uncached / make -j2: {ms['uncached'] / ms['make']:.2f}x")


if __name__ == "__main__":
    main()
