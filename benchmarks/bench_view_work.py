"""What the live view's own work costs for one fan1000 run, phase by phase, each time in a fresh process.

    python benchmarks/bench_view_work.py [--runs 21] [--tasks 1000] [--valgrind]
    python benchmarks/bench_view_work.py --in-runs 25

``bench_view.py`` measures what the view costs a real run, side by side with ``-q``; on a busy two-core VM that
figure moves by ±1% from one measurement to the next, so it cannot tell whether a change to the view saved
5% of its work. This script replays the view's work for a fan1000 run without the run: the view is made for the
DAG, reads the recent durations (a cache of five earlier runs), orders its rows, folds the first 40% of the
run's 2,002 events and draws a 120x40 frame (as at its first frame, a quarter of a second in), folds the rest and
draws the last frame, and remembers the run. Each round is a fresh interpreter that has first run a one-task
DAG with ``dagctl run -q`` in-process, and imported nothing else (so it has imported what a run has by the time
its view starts, no more), as every ``dagctl run`` is one, so the view's one-off costs (its imports, including
extension modules, and first calls) count.

Prints the CPU time of each phase (median over ``--runs`` fresh processes). With ``--valgrind`` (valgrind on
PATH) it counts the instructions of each phase instead, with address-space randomization off: the same code
gives the same count to a few hundred instructions, so a change of 1% is visible in one measurement.

``--in-runs N`` times the view's steps inside N real ``dagctl run`` of the DAG on a 120x40 pseudo-terminal
instead (after two runs that give it history): the CPU time of the thread that calls each step, as the run
competes with it for the two cores, which makes each step dearer than in the replay.
"""

from __future__ import annotations

# a measuring process imports nothing a `dagctl run` does not (the view's own imports count): the rest is
# imported where the parent process needs it
import io
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

PHASES = ("view and model", "recent durations", "rows in order", "first frame", "last frame", "remember the run")
FIRST = 0.4
"""The share of the run's events folded for the first frame."""


def work(folder: Path, stop: str | None) -> list[float]:
    """The view's work in this process; CPU seconds of each phase (up to ``stop``, then exit)."""
    from datetime import datetime, timedelta, timezone

    from dagctl.cli import main

    if main(["run", str(folder / "one.yaml"), "-q"]):  # what a `dagctl run` has imported and called by then
        raise SystemExit("dagctl run -q of a one-task DAG failed")
    from dagctl.cli.render import TermStyle
    from dagctl.cli.view import live_view
    from dagctl.clock import FakeClock
    from dagctl.dag.plancache import load_plan
    from dagctl.settings import Settings
    from dagctl.store.events import DagDone, DagStart, TaskOk, TaskStart, format_ts

    settings = Settings.from_env()
    plan, _ = load_plan(folder / "fan.yaml", cache_dir=None)
    now = datetime.now(timezone.utc)
    run = {"run_id": now.strftime("%Y%m%d-%H%M%S.000-0000ff"), "dag_name": plan.dag.name, "tenant_id": "default"}
    ts = format_ts(now)
    events: list[object] = [DagStart(ts=ts, tasks=len(plan.tasks), trigger="manual", **run)]
    for tid in plan.tasks:
        log = str(folder / f"{tid}.log")
        events.append(TaskStart(ts=ts, task_id=tid, attempt=1, log_path=log, **run))
        events.append(TaskOk(ts=ts, task_id=tid, attempt=1, duration_s=0.001, log_path=log, **run))
    events.append(DagDone(ts=ts, status="success", duration_s=0.6, **run))
    cut = int(len(events) * FIRST)
    clock = FakeClock(now + timedelta(seconds=0.25))
    if stop == "begin":  # what every count starts from: the interpreter, the imports, the events
        os._exit(0)  # no interpreter teardown: what it frees differs from one stop to the next
    spent: list[float] = []
    mark = time.thread_time()

    def phase() -> None:
        nonlocal mark
        spent.append(time.thread_time() - mark)
        if stop == PHASES[len(spent) - 1]:
            os._exit(0)
        mark = time.thread_time()

    view = live_view(plan, parallelism=2, clock=clock, settings=settings, stream=io.StringIO())
    view.style, view._size = TermStyle(color=True, unicode=True), lambda: (120, 40)
    view._last_line = lambda path: "some output"
    model = view.model
    phase()
    assert view._history is not None and view._on_end is not None
    history = view._history()
    phase()
    model.set_history(history)
    phase()
    for event in events[:cut]:
        view.emit(event)  # type: ignore[arg-type]
    view.draw()
    phase()
    clock.advance(0.35)
    for event in events[cut:]:
        view.emit(event)  # type: ignore[arg-type]
    view.draw()
    phase()
    view._on_end(model)
    phase()
    return spent


def prepare(folder: Path, tasks: int) -> dict[str, str]:
    """The DAG and a durations cache of five earlier runs; the environment a measuring process needs."""
    from datetime import datetime, timezone

    from bench_runner import edges, write_dag

    from dagctl.store import recent

    write_dag(folder / "fan.yaml", edges("fan", tasks), 2, python=False)
    write_dag(folder / "one.yaml", edges("fan", 1), 1, python=False)
    cache = folder / "logs" / "cache" / "durations"
    known = recent.summarize((), recent.format_ts(datetime.now(timezone.utc)))
    for n in range(5):
        durations = {f"t{i}": 0.001 + (i % 7) * 0.0001 * (n + 1) for i in range(tasks)}
        recent.remember_run(cache, "fan", known, f"20261207-00000{n}.000-0000aa", 0.6, durations)
    return {**os.environ, "DAGCTL_LOGS_DIR": str(folder / "logs"), "PYTHONHASHSEED": "0"}


def main() -> None:
    if sys.argv[1:2] == ["--folder"]:  # a measuring process: --folder DIR [--stop PHASE]
        stop = sys.argv[4] if sys.argv[3:4] == ["--stop"] else None
        print(json.dumps(work(Path(sys.argv[2]), stop)))
        return
    import argparse
    import shutil
    import statistics
    import subprocess
    import tempfile

    sys.path.insert(0, str(HERE))
    from _common import compile_bytecode

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--valgrind", action="store_true", help="count instructions (needs valgrind)")
    parser.add_argument(
        "--in-runs", type=int, metavar="N", help="time the view's thread inside N real runs on a pty instead"
    )
    args = parser.parse_args()
    compile_bytecode()
    if args.in_runs:
        in_runs(args.in_runs, args.tasks)
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = prepare(folder, args.tasks)
        me = [sys.executable, __file__, "--folder", str(folder)]
        print(f"the live view's work for fan{args.tasks} (a fresh process each time; 2,002 events, 120x40 frames)")
        if args.valgrind:
            valgrind = shutil.which("valgrind")
            if valgrind is None:
                raise SystemExit("valgrind is not on PATH (apt-get install valgrind)")
            fixed = ["setarch", "-R"] if shutil.which("setarch") else []
            counts = []
            for stop in ("begin", *PHASES):
                shutil.rmtree(folder / "logs", ignore_errors=True)
                env = prepare(folder, args.tasks)  # each count starts from the same cache
                done = subprocess.run(
                    [*fixed, valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", *me, "--stop", stop],
                    env=env,
                    capture_output=True,
                    text=True,
                    check=True,
                )
                counts.append(int(done.stderr.split("Collected : ")[1].split()[0]))
            for name, before, after in zip(PHASES, counts, counts[1:], strict=False):
                print(f"  {name:<18} {(after - before) / 1e6:7.2f} M instructions")
            print(f"  {'in all':<18} {(counts[-1] - counts[0]) / 1e6:7.2f} M instructions")
            return
        rounds = []
        for _ in range(args.runs):
            shutil.rmtree(folder / "logs", ignore_errors=True)
            env = prepare(folder, args.tasks)
            done = subprocess.run(me, env=env, capture_output=True, text=True, check=True)
            rounds.append(json.loads(done.stdout))
        for n, name in enumerate(PHASES):
            print(f"  {name:<18} {statistics.median(r[n] for r in rounds) * 1000:6.2f} ms CPU")
        print(f"  {'in all':<18} {statistics.median(sum(r) for r in rounds) * 1000:6.2f} ms CPU")


TIMED = """
import atexit, json, os, sys, time
import dagctl.cli.view as view

spent = {}

def timed(name, f):
    def call(*args, **kwargs):
        begin = time.thread_time()
        try:
            return f(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.thread_time() - begin
    return call

def model_timed(make):
    def model():
        begin = time.thread_time()
        made = make()  # its modules are imported here, as in any run
        spent["view and model"] = time.thread_time() - begin
        cls = type(made)
        if not getattr(cls, "_timed", False):
            cls._timed = True
            cls.set_history = timed("rows in order", cls.set_history)
            cls.apply_batch = timed("fold", cls.apply_batch)
            cls.view = timed("views", cls.view)
        return made
    return model

init = view.LiveView.__init__

def new_init(self, model, **kwargs):
    init(self, model_timed(model) if callable(model) else model, **kwargs)
    self._history = self._history and timed("recent durations", self._history)
    self._on_end = self._on_end and timed("remember the run", self._on_end)

view.LiveView.__init__ = new_init
view.LiveView.draw = timed("frames", view.LiveView.draw)
view.live_lines = timed("lines", view.live_lines)
atexit.register(lambda: open(os.environ["VIEW_CPU_OUT"], "a").write(json.dumps(spent) + "\\n"))
from dagctl.cli import entry
sys.argv = ["dagctl", *sys.argv[1:]]
entry()
"""
"""Runs ``dagctl`` with the live view's steps timed (CPU of the calling thread); writes them at exit."""


def in_runs(runs: int, tasks: int) -> None:
    """The CPU time of the live view's steps inside real runs of fan``tasks`` on a 120x40 pty (median)."""
    import statistics
    import tempfile

    from bench_runner import edges, write_dag
    from bench_view import run_on_pty

    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
        folder = Path(tmp)
        write_dag(folder / "fan.yaml", edges("fan", tasks), 2, python=False)
        out = folder / "cpu.jsonl"
        env = {**os.environ, "DAGCTL_LOGS_DIR": str(folder / "logs"), "VIEW_CPU_OUT": str(out), "TERM": "xterm"}
        argv = [sys.executable, "-c", TIMED, "run", str(folder / "fan.yaml")]
        for _ in range(runs + 2):  # the first two make the history the others read
            run_on_pty(argv, folder, env, (120, 40))
        rounds = [json.loads(line) for line in out.read_text().splitlines()[2:]]
    print(f"the live view's work inside {len(rounds)} runs of fan{tasks} on a 120x40 pty (CPU, median)")
    parts = ("view and model", "recent durations", "rows in order", "frames", "remember the run")
    for name in (*parts[:4], "  fold", "  views", "  lines", parts[4]):
        print(f"  {name:<20} {statistics.median(r.get(name.strip(), 0.0) for r in rounds) * 1000:6.2f} ms")
    print(f"  {'in all':<20} {statistics.median(sum(r.get(p, 0.0) for p in parts) for r in rounds) * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
