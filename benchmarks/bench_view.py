"""What the live view costs a run: fan1000 on a pseudo-terminal, with the live view and with ``-q``, side by side.

    python benchmarks/bench_view.py [--runs 9] [--size 120x40] [--tasks 1000] [--dagctl PROGRAM]

Every row runs ``dagctl run fan1000.yaml`` (1000 independent ``true`` shell tasks, parallelism 2) with stdin,
stdout and stderr on a pseudo-terminal of the given size, whose output this script reads and throws away as a
terminal would show it; ``-q`` turns the view off. Each round runs every row once, in a shuffled order, so machine
noise and drift hit all rows alike; the logs folder keeps every run, so the live view reads real history (its ETA).

Prints, for each row against ``-q``: the ratio of the medians, the median of the per-round ratios, the ratio of
the fastest runs, and the geometric mean of the per-round ratios with its 95% confidence interval, which says how
far the figure can be trusted (target: the live view within 2% of ``-q``). A second ``-q`` row measured the same
way is the control: its interval shows what the machine's noise alone produces (it should contain 1.000). On a
busy two-core VM one round varies by ~10%, so resolving 1% takes a few hundred rounds (``--runs 301``: ~10 min).
"""

from __future__ import annotations

import argparse
import fcntl
import math
import os
import pty
import random
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import compile_bytecode, dagctl_cmd
from bench_runner import edges, write_dag


def run_on_pty(argv: list[str], cwd: Path, env: dict[str, str], size: tuple[int, int]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, bytes written to the terminal) of one run of ``argv`` on a fresh pty.

    The terminal's side is read by a process of its own, as a terminal emulator would: a reader thread in this
    process, starved of CPU on a busy machine, let the pty fill and made the program wait."""
    master, slave = pty.openpty()
    cols, rows = size
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    count_r, count_w = os.pipe()
    reader = os.fork()
    if reader == 0:  # the terminal: reads everything until the program's side is closed
        os.close(slave)
        os.close(count_r)
        received = 0
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the program's side closed
                break
            if not chunk:
                break
            received += len(chunk)
        os.write(count_w, str(received).encode())
        os._exit(0)
    os.close(count_w)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the program: a session of its own with the pty as its controlling terminal
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.chdir(cwd)
        os.execvpe(argv[0], argv, {**os.environ, **env})
    os.close(slave)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(master)
    os.waitpid(reader, 0)
    with os.fdopen(count_r) as counted:
        received = int(counted.read() or 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"failed ({code}): {' '.join(argv)}")
    return elapsed, usage.ru_utime + usage.ru_stime, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--size", default="120x40", help="terminal COLUMNSxLINES (default 120x40)")
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument(
        "--logs-dir",
        help="where dagctl writes its logs (default: tmpfs, /dev/shm, when there is one: creating files on a "
        "disk is the noisiest part of fan1000, see docs/benchmarks.md, and it is the same with and without the view)",
    )
    parser.add_argument("--dagctl", metavar="PROGRAM", help="the dagctl program to measure (default: the one on PATH)")
    args = parser.parse_args()
    cols, rows = (int(n) for n in args.size.lower().split("x"))
    dagctl = [args.dagctl] if args.dagctl else dagctl_cmd()
    compile_bytecode()
    print(f"live view benchmark: {os.cpu_count()} CPUs, fan{args.tasks} at parallelism 2 on a {cols}x{rows} pty")
    shm = Path("/dev/shm")
    tmpfs = shm.is_dir() and os.access(shm, os.W_OK) and not args.logs_dir
    with tempfile.TemporaryDirectory(dir=shm if tmpfs else None) as tmp:
        work = Path(tmp)
        name = f"fan{args.tasks}"
        write_dag(work / f"{name}.yaml", edges("fan", args.tasks), 2, python=False)
        logs = Path(args.logs_dir) / "bench-view-logs" if args.logs_dir else work / "logs"
        print(f"logs in {logs}")
        env = {"DAGCTL_LOGS_DIR": str(logs), "TERM": "xterm-256color"}
        os.environ.pop("NO_COLOR", None)
        quiet_label = "dagctl run -q (no view)"
        rows_of: dict[str, list[str]] = {
            quiet_label: [*dagctl, "run", f"{name}.yaml", "-q"],
            "dagctl run -q, again": [*dagctl, "run", f"{name}.yaml", "-q"],
            "dagctl run (live view)": [*dagctl, "run", f"{name}.yaml"],
        }
        for argv in rows_of.values():  # warm-up: fills the plan cache and gives the view some history
            run_on_pty(argv, work, env, (cols, rows))
        times: dict[str, list[float]] = {k: [] for k in rows_of}
        cpu: dict[str, list[float]] = {k: [] for k in rows_of}
        written: list[int] = []
        shuffle = random.Random(2026)
        for _ in range(args.runs):
            for label in shuffle.sample(list(rows_of), len(rows_of)):
                secs, used, nbytes = run_on_pty(rows_of[label], work, env, (cols, rows))
                times[label].append(secs)
                cpu[label].append(used)
                if "live" in label:
                    written.append(nbytes)
    print(f"\n{name} on a pty ({args.runs} rounds, each row once per round in a shuffled order)")
    for label, secs in times.items():
        spread = f"{min(secs) * 1000:.0f}-{max(secs) * 1000:.0f} ms"
        used = statistics.median(cpu[label]) * 1000
        print(f"  {label:<26} {statistics.median(secs) * 1000:8.1f} ms   (range {spread}; CPU {used:.0f} ms)")
    quiet = times[quiet_label]
    for label in [k for k in rows_of if k != quiet_label]:
        other = times[label]
        logs = [math.log(b / a) for a, b in zip(quiet, other, strict=True)]
        mean = math.exp(statistics.fmean(logs))
        half = 1.96 * statistics.stdev(logs) / math.sqrt(len(logs)) if len(logs) > 1 else float("nan")
        target = "  (target <= 1.02)" if "live" in label else "  (control: noise alone)"
        print(f"  {label} / -q:{target}")
        print(f"    {statistics.median(other) / statistics.median(quiet):.3f} of the medians")
        print(f"    {statistics.median([b / a for a, b in zip(quiet, other, strict=True)]):.3f} median of the rounds")
        print(f"    {min(other) / min(quiet):.3f} of the fastest runs")
        print(
            f"    {mean:.3f} geometric mean of the rounds, 95% interval "
            f"{math.exp(math.log(mean) - half):.3f}-{math.exp(math.log(mean) + half):.3f}"
        )
    print(f"  the live view wrote {statistics.median(written) / 1024:.0f} KB to the terminal per run (median)")


if __name__ == "__main__":
    main()
