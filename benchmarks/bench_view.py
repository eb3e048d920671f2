"""What the live view costs a run: fan1000 on a pseudo-terminal, with the live view and with ``-q``, side by side.

    python benchmarks/bench_view.py [--runs 9] [--size 120x40] [--tasks 1000] [--dagctl PROGRAM]

Both rows run ``dagctl run fan1000.yaml`` (1000 independent ``true`` shell tasks, parallelism 2) with stdin,
stdout and stderr on a pseudo-terminal of the given size, whose output this script reads and throws away as a
terminal would show it; ``-q`` turns the view off. Runs are interleaved, so machine noise hits both alike, and
the logs folder keeps every run, so the live view reads real history (its ETA). Prints the medians and the ratio
(target: the live view within 2% of ``-q``), as well as the median ratio of the side-by-side pairs and the ratio of
the fastest runs, which a busy machine disturbs less, and how many bytes a run with the view wrote to the terminal.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
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
        rows_of: dict[str, list[str]] = {
            "dagctl run -q (no view)": [*dagctl, "run", f"{name}.yaml", "-q"],
            "dagctl run (live view)": [*dagctl, "run", f"{name}.yaml"],
        }
        for argv in rows_of.values():  # warm-up: fills the plan cache and gives the view some history
            run_on_pty(argv, work, env, (cols, rows))
        times: dict[str, list[float]] = {k: [] for k in rows_of}
        cpu: dict[str, list[float]] = {k: [] for k in rows_of}
        written: list[int] = []
        for _ in range(args.runs):
            for label, argv in rows_of.items():
                secs, used, nbytes = run_on_pty(argv, work, env, (cols, rows))
                times[label].append(secs)
                cpu[label].append(used)
                if "live" in label:
                    written.append(nbytes)
    medians = {k: statistics.median(v) for k, v in times.items()}
    quiet, live = medians["dagctl run -q (no view)"], medians["dagctl run (live view)"]
    print(f"\n{name} on a pty (median of {args.runs}, interleaved)")
    for label, secs in medians.items():
        spread = f"{min(times[label]) * 1000:.0f}-{max(times[label]) * 1000:.0f} ms"
        used = statistics.median(cpu[label]) * 1000
        print(f"  {label:<26} {secs * 1000:8.1f} ms   (range {spread}; CPU {used:.0f} ms)")
    pairs = [b / a for a, b in zip(times["dagctl run -q (no view)"], times["dagctl run (live view)"], strict=True)]
    fastest = min(times["dagctl run (live view)"]) / min(times["dagctl run -q (no view)"])
    print(f"  ratio live / -q: {live / quiet:.3f} of the medians (target <= 1.02)")
    print(f"  ratio live / -q: {statistics.median(pairs):.3f} median of the {len(pairs)} side-by-side pairs")
    print(f"  ratio live / -q: {fastest:.3f} of the fastest runs (least disturbed by the rest of the machine)")
    print(f"  the live view wrote {statistics.median(written) / 1024:.0f} KB to the terminal per run (median)")


if __name__ == "__main__":
    main()
