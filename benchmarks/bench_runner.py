"""Runner speed against make, doit and a bare thread pool, side by side in one run.

    python benchmarks/bench_runner.py [--runs 5] [--only fan1000,chain200,layered10k] [--baseline DAGCTL]

Workloads (from the runner issue):
  fan1000     1000 independent `true` shell tasks, parallelism 2   vs make -j2, doit -n 2
  chain200    200 chained `true` shell tasks                       vs make, doit
  layered10k  10,000 in-process no-op Python tasks, 100 layers x 100, each depending on two tasks of
              the layer above, parallelism 4                       vs a bare ThreadPoolExecutor
Targets on a 2-core machine, with every event written: fan1000 <= 1.5x make -j2; chain200 <= 2x make;
layered10k <= 2.5 s with peak RSS <= 200 MB. Prints medians; RSS is the child's peak (ru_maxrss).
"dagctl run" reuses the cached plan of the unchanged DAG after its first run (as repeated runs of a DAG
do); the "no plan cache" row validates the file every time, as the first run of a new or edited DAG does.

dagctl writes a log file per task, which make and doit do not, and what creating a file costs depends on
the disk and its recent history (docs/benchmarks.md). So the shell workloads also run dagctl with its logs
on tmpfs (/dev/shm, when there is one), in a row of their own; --logs-dir puts every dagctl row's logs in
the given folder instead.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd

NOOP_MODULE = "def noop(**_):\n    return None\n"

POOL_BASELINE = r"""
import sys
from concurrent.futures import ThreadPoolExecutor, wait, FIRST_COMPLETED
width, layers = 100, 100
deps = {}
for i in range(width * layers):
    layer, pos = divmod(i, width)
    deps[i] = [] if layer == 0 else [(layer - 1) * width + pos, (layer - 1) * width + (pos + 1) % width]
children = {i: [] for i in deps}
for i, ds in deps.items():
    for d in ds:
        children[d].append(i)
remaining = {i: len(ds) for i, ds in deps.items()}
def noop(**_):
    return None
with ThreadPoolExecutor(4) as pool:
    running = {pool.submit(noop): i for i, n in remaining.items() if n == 0}
    while running:
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for f in done:
            i = running.pop(f)
            for c in children[i]:
                remaining[c] -= 1
                if remaining[c] == 0:
                    running[pool.submit(noop)] = c
"""


def run_measured(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, int]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss // 1024


def edges(kind: str, n: int) -> dict[str, list[str]]:
    if kind == "fan":
        return {f"t{i}": [] for i in range(n)}
    if kind == "chain":
        return {f"t{i}": ([f"t{i - 1}"] if i else []) for i in range(n)}
    width = 100
    out = {}
    for i in range(n):
        layer, pos = divmod(i, width)
        out[f"t{i}"] = (
            [] if layer == 0 else [f"t{(layer - 1) * width + pos}", f"t{(layer - 1) * width + (pos + 1) % width}"]
        )
    return out


def write_dag(path: Path, graph: dict[str, list[str]], parallelism: int, python: bool) -> None:
    lines = [f"name: {path.stem}", f"options: {{parallelism: {parallelism}}}", "tasks:"]
    for tid, deps in graph.items():
        action = "python: noop_mod:noop" if python else "run: 'true'"
        dep = f", depends_on: [{', '.join(deps)}]" if deps else ""
        lines.append(f"  - {{id: {tid}, {action}{dep}}}")
    path.write_text("\n".join(lines) + "\n")


def write_makefile(path: Path, graph: dict[str, list[str]]) -> None:
    lines = [".PHONY: all " + " ".join(graph), "all: " + " ".join(graph)]
    for tid, deps in graph.items():
        lines.append(f"{tid}: {' '.join(deps)}")
        lines.append("\t@true")
    path.write_text("\n".join(lines) + "\n")


def write_dodo(path: Path, graph: dict[str, list[str]]) -> None:
    path.write_text(
        "DOIT_CONFIG = {'verbosity': 0}\n"
        f"GRAPH = {graph!r}\n"
        "def task_t():\n"
        "    for tid, deps in GRAPH.items():\n"
        "        yield {'name': tid, 'actions': ['true'], 'task_dep': ['t:' + d for d in deps],\n"
        "               'uptodate': [False], 'verbosity': 0}\n"
    )


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def bench(
    name: str, tools: dict[str, tuple[list[str], Path, dict[str, str] | None]], runs: int, reference: str | None
) -> dict[str, tuple[float, int]]:
    results: dict[str, list[tuple[float, int]]] = {k: [] for k in tools}
    for _ in range(runs):  # interleave tools so machine noise hits all of them alike
        for tool, (argv, cwd, env) in tools.items():
            results[tool].append(run_measured(argv, cwd, env))
    summary = {k: (median([s[0] for s in v]), max(s[1] for s in v)) for k, v in results.items()}
    print(f"\n{name}  (median of {runs})")
    ref = summary.get(reference or "", (None, 0))[0]
    for tool, (secs, rss) in summary.items():
        ratio = f"{secs / ref:5.2f}x {reference}" if ref else ""
        print(f"  {tool:<28} {secs * 1000:9.1f} ms   peak RSS {rss:4d} MB   {ratio}")
    return summary


def file_create_us(folder: Path, count: int = 200) -> float:
    """Median microseconds to create an empty file in ``folder`` (the files stay until the run ends: deleting
    them would slow the next creations on ext4 without a journal, which skips recently freed inodes)."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = Path(tempfile.mkdtemp(prefix="probe-", dir=folder))  # fresh even when --logs-dir is reused
    samples = []
    for i in range(count):
        start = time.perf_counter()
        os.close(os.open(probe / f"f{i}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        samples.append(time.perf_counter() - start)
    return median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", default="fan1000,chain200,layered10k")
    parser.add_argument(
        "--logs-dir",
        help="where dagctl writes its logs (default: the temp folder); e.g. a "
        "tmpfs folder, to see how much of the time is creating log files",
    )
    parser.add_argument(
        "--baseline",
        metavar="DAGCTL",
        help="another dagctl program (e.g. an older checkout's .venv/bin/dagctl) measured in rows of its own, "
        "interleaved with this one, to compare two builds side by side",
    )
    args = parser.parse_args()
    baseline = [args.baseline] if args.baseline else None
    wanted = set(args.only.split(","))
    dagctl = dagctl_cmd()
    make = shutil.which("make")
    doit = shutil.which("doit") or (
        str(Path(sys.executable).with_name("doit")) if Path(sys.executable).with_name("doit").exists() else None
    )
    print(
        f"dagctl runner benchmark: {os.cpu_count()} CPUs; make={'yes' if make else 'missing'}, "
        f"doit={'yes' if doit else 'missing'}"
    )
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        logs = Path(args.logs_dir) / "bench-logs" if args.logs_dir else root / "logs"
        env = {"DAGCTL_LOGS_DIR": str(logs)}
        # a folder of its own (same disk): the two builds would otherwise replace each other's plan cache entry
        base_env = {"DAGCTL_LOGS_DIR": str(logs.parent / (logs.name + "-baseline"))}
        print(
            f"logs in {logs}: creating a file there takes {file_create_us(logs):.0f} us "
            "(tmpfs ~3 us; see docs/benchmarks.md when it is far more)"
        )
        tmpfs_env = None
        if not args.logs_dir and shm.is_dir() and os.access(shm, os.W_OK):
            tmpfs_logs = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=shm))) / "logs"
            tmpfs_env = {"DAGCTL_LOGS_DIR": str(tmpfs_logs)}
            print(
                f"logs on tmpfs in {tmpfs_logs} (creating a file: {file_create_us(tmpfs_logs):.0f} us) "
                "for the rows marked so"
            )
        for name, kind, n, par in (("fan1000", "fan", 1000, 2), ("chain200", "chain", 200, 1)):
            if name not in wanted:
                continue
            work = root / name
            work.mkdir()
            graph = edges(kind, n)
            write_dag(work / f"{name}.yaml", graph, par, python=False)
            tools: dict[str, tuple[list[str], Path, dict[str, str] | None]] = {}
            if make:
                write_makefile(work / "Makefile", graph)
                tools[f"make -j{par}"] = ([make, "-s", f"-j{par}", "all"], work, None)
            if doit:
                write_dodo(work / "dodo.py", graph)
                tools[f"doit -n {par}"] = (
                    [doit, "-n", str(par), "--backend", "json", "--db-file", str(work / ".doit.json")],
                    work,
                    None,
                )
            tools[f"dagctl run -j{par}"] = ([*dagctl, "run", f"{name}.yaml", "-q"], work, env)
            if baseline:
                tools[f"baseline run -j{par}"] = ([*baseline, "run", f"{name}.yaml", "-q"], work, base_env)
            if tmpfs_env is not None:
                tools[f"dagctl run -j{par}, logs on tmpfs"] = ([*dagctl, "run", f"{name}.yaml", "-q"], work, tmpfs_env)
            # every run validates the file afresh: what the first run of a new or edited DAG costs
            tools[f"dagctl run -j{par}, no plan cache"] = (
                [*dagctl, "run", f"{name}.yaml", "-q"],
                work,
                {**env, "DAGCTL_PLAN_CACHE": "0"},
            )
            bench(name, tools, args.runs, f"make -j{par}" if make else None)
        if "layered10k" in wanted:
            work = root / "layered10k"
            work.mkdir()
            (work / "noop_mod.py").write_text(NOOP_MODULE)
            write_dag(work / "layered10k.yaml", edges("layered", 10_000), 4, python=True)
            (work / "pool.py").write_text(POOL_BASELINE)
            tools = {
                "ThreadPoolExecutor(4) bare": ([sys.executable, "pool.py"], work, None),
                "dagctl run -j4": ([*dagctl, "run", "layered10k.yaml", "-q"], work, env),
            }
            if baseline:
                tools["baseline run -j4"] = ([*baseline, "run", "layered10k.yaml", "-q"], work, base_env)
            bench("layered10k", tools, args.runs, "ThreadPoolExecutor(4) bare")


if __name__ == "__main__":
    main()
