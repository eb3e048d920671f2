"""The keeper program (see :mod:`dagctl.run.keeper`): ``python -I -S keeper_program.py COORDINATOR_PID GRACE_S``.

Reads ``+PGID`` / ``-PGID`` lines from stdin until the coordinator's end of the pipe closes, then stops the
groups still listed: SIGTERM, up to GRACE_S seconds, SIGKILL. It imports nothing of dagctl or site-packages,
ignores the signals a terminal or a service manager sends to a whole process group, and waits with
``select`` (a separate program: it has no clock to inject and must not hold a CPU while it waits).
"""

from __future__ import annotations

import os
import select
import signal
import sys


BATCH_S = 0.02
"""After each read, wait this long before the next: lines arriving meanwhile are read at once, so a run of
short tasks wakes the keeper ~50 times a second, not twice per task (on two cores those wake-ups were ~5%
of fan1000). A dead coordinator is noticed at most this much later."""


def read_groups() -> set[int]:
    groups: set[int] = set()
    rest = b""
    while True:
        try:
            data = os.read(0, 65536)
        except InterruptedError:
            continue
        if not data:
            return groups
        select.select([], [], [], BATCH_S)
        *lines, rest = (rest + data).split(b"\n")
        for line in lines:
            if line[:1] == b"+":
                groups.add(int(line[1:]))
            elif line[:1] == b"-":
                groups.discard(int(line[1:]))


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
    groups = signal_all(read_groups(), signal.SIGTERM)
    waited = 0.0
    while groups and waited < grace:
        select.select([], [], [], 0.05)
        waited += 0.05
        groups = signal_all(groups, 0)
    signal_all(groups, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
