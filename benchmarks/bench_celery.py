"""Task throughput and per-task overhead of the Celery executor against the thread executor.

    python benchmarks/bench_celery.py [--runs 3] [--tasks 1000] [--workers 2] [--concurrency 2] [-j 8]

Starts a throwaway redis-server on a free loopback port and ``--workers`` local ``dagctl worker`` processes
(``--concurrency`` each), then times, interleaved:

  fan<N>    N independent `true` shell tasks   threads: dagctl run -j <workers x concurrency>
                                               celery:  dagctl run --executor celery -j <j>
  chain50   50 chained `true` tasks            latency: (celery - threads) / 50 = per-task overhead

Reports medians of the run itself (dag_start to dag_done, from --json) and of the whole command, tasks/s,
and the overhead a task pays for the trip through the broker. Target (scaling-out issue): >= 200 tasks/s
for fan1000 through two workers x concurrency 2 on a 2-core machine. Needs redis-server and the celery extra.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import ROOT, dagctl_cmd
from tests.service_helpers import RedisServer, Worker


def write_dag(folder: Path, name: str, n: int, chain: bool) -> Path:
    lines = [f"name: {name}", "tasks:"]
    for i in range(n):
        dep = f", depends_on: t{i - 1}" if chain and i else ""
        lines.append(f"  - {{id: t{i}, run: 'true'{dep}}}")
    path = folder / f"{name}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def timed_run(dag: Path, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """(run seconds from the summary, whole command seconds)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [*dagctl_cmd(), "run", str(dag), "--json", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): dagctl run {dag.name} {' '.join(args)}\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout)["duration_s"], wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("-j", "--parallelism", type=int, default=8, help="coordinator parallelism for celery")
    opts = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    slots = opts.workers * opts.concurrency
    with tempfile.TemporaryDirectory(prefix="bench-celery-") as tmp:
        folder = Path(tmp)
        redis = RedisServer(folder / "redis").start()
        started: list[Worker] = []
        try:
            client = redis.client()
            started = [
                Worker(redis.url, folder, f"bench{i}", concurrency=opts.concurrency) for i in range(opts.workers)
            ]
            for w in started:
                w.wait_ready(client)
            env = {
                **os.environ,
                "PYTHONPATH": str(ROOT / "src"),
                "DAGCTL_LOGS_DIR": str(folder / "logs"),
                "REDIS_URL": redis.url,
                "PYTHONWARNINGS": "ignore",
            }
            env.pop("ORCH_EVENTS_PATH", None)
            fan = write_dag(folder, f"fan{opts.tasks}", opts.tasks, chain=False)
            chain = write_dag(folder, "chain50", 50, chain=True)
            cases = {
                ("fan", "threads"): (fan, ["-j", str(slots)]),
                ("fan", "celery"): (fan, ["-j", str(opts.parallelism), "--executor", "celery"]),
                ("chain", "threads"): (chain, ["-j", "1"]),
                ("chain", "celery"): (chain, ["-j", "1", "--executor", "celery"]),
            }
            timed_run(chain, cases[("chain", "celery")][1], env, folder)  # warm the workers' imports
            samples: dict[tuple[str, str], list[tuple[float, float]]] = {k: [] for k in cases}
            for _ in range(opts.runs):
                for key, (dag, args) in cases.items():
                    samples[key].append(timed_run(dag, args, env, folder))
        finally:
            for w in started:
                w.stop()
            redis.stop()

    def med(key: tuple[str, str], i: int) -> float:
        return statistics.median(s[i] for s in samples[key])

    print(
        f"{opts.workers} workers x concurrency {opts.concurrency}, {os.cpu_count()} cores, {opts.runs} runs (medians)"
    )
    for executor in ("threads", "celery"):
        run_s, wall_s = med(("fan", executor), 0), med(("fan", executor), 1)
        print(
            f"  fan{opts.tasks:<5} {executor:<8} run {run_s * 1000:8.0f} ms  {opts.tasks / run_s:7.0f} tasks/s   "
            f"command {wall_s * 1000:8.0f} ms  {opts.tasks / wall_s:7.0f} tasks/s"
        )
    for executor in ("threads", "celery"):
        run_s = med(("chain", executor), 0)
        print(f"  chain50   {executor:<8} run {run_s * 1000:8.0f} ms  {run_s / 50 * 1000:6.2f} ms per task (latency)")
    overhead = (med(("chain", "celery"), 0) - med(("chain", "threads"), 0)) / 50
    fan_rate = opts.tasks / med(("fan", "celery"), 0)
    print(f"  per-task overhead of the broker round trip: {overhead * 1000:.2f} ms")
    print(f"  target >= 200 tasks/s through celery: {'met' if fan_rate >= 200 else 'NOT met'} ({fan_rate:.0f})")


if __name__ == "__main__":
    main()
