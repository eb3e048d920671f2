"""The keeper program (see :mod:`dagctl.run.keeper`): ``python -I -S keeper_program.py COORDINATOR_PID GRACE_S
MARKER``.

Reads ``+PGID`` / ``-PGID`` lines from stdin until the coordinator's end of the pipe closes, then stops the
groups still listed, and, unless the coordinator said goodbye (``.``), those of every process whose
environment has ``DAGCTL_COORDINATOR=MARKER``: SIGTERM, up to GRACE_S seconds, SIGKILL. It imports nothing of
dagctl or site-packages, ignores the signals a terminal or a service manager sends to a whole process group,
and waits with ``select`` (a separate program: it has no clock to inject and must not hold a CPU while it
waits).
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

BATCH_S = 0.02
"""After each read, wait this long before the next: lines arriving meanwhile are read at once, so a run of
short tasks wakes the keeper ~50 times a second, not twice per task (on two cores those wake-ups were ~5%
of fan1000). A dead coordinator is noticed at most this much later."""


def read_groups() -> tuple[set[int], bool]:
    """The groups still listed when the pipe ends, and whether the coordinator said goodbye (``.``)."""
    groups: set[int] = set()
    rest = b""
    goodbye = False
    while True:
        try:
            data = os.read(0, 65536)
        except InterruptedError:
            continue
        if not data:
            return groups, goodbye
        select.select([], [], [], BATCH_S)
        *lines, rest = (rest + data).split(b"\n")
        for line in lines:
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))
            elif line == b".":
                goodbye = True


def marked_groups(marker: str) -> set[int]:
    """Process groups of the processes whose environment carries ``DAGCTL_COORDINATOR=<marker>``: tasks the
    coordinator started but had not listed yet when it died."""
    wanted = b"DAGCTL_COORDINATOR=" + marker.encode()
    found: set[int] = set()
    own = os.getpgid(0)
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if wanted not in fh.read().split(b"\0"):
                    continue
            group = os.getpgid(int(entry))
        except OSError:  # gone, or another user's
            continue
        if group != own:
            found.add(group)
    return found


def signal_all(groups: set[int], sig: int) -> set[int]:
    """The groups that still exist, after sending them ``sig`` (0: just look)."""
    alive = set()
    for group in groups:
        try:
            os.killpg(group, sig)
        except OSError:
            continue
        alive.add(group)
    return alive


def main(argv: list[str]) -> int:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP):
        signal.signal(sig, signal.SIG_IGN)
    grace = float(argv[2]) if len(argv) > 2 else 1.0
    groups, goodbye = read_groups()
    if not goodbye and len(argv) > 3:  # the coordinator died: also what it started but had not listed yet
        groups |= marked_groups(argv[3])
    groups = signal_all(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        select.select([], [], [], 0.05)
        groups = signal_all(groups, 0)
    signal_all(groups, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
