"""`dagctl show RUN --gantt` of a run that was paused and resumed says it took what `dagctl show` says (its wall
time, the pause included), not the resumed part's time, and says how long it was paused."""

from __future__ import annotations

import re

from dagctl.store.history import History
from tests.support import wait_until

PAUSABLE = """
    name: pausable
    options: {parallelism: 1}
    tasks:
      - {id: a, run: 'touch a.started; sleep 1'}  # the run sees the pause request (polled each 0.25s) meanwhile
      - {id: b, depends_on: a, run: 'true'}
"""


def test_the_timeline_of_a_resumed_run_took_what_show_says(proj, cli) -> None:
    proj.write("p.yaml", PAUSABLE)
    run = proj.dagctl("run", "p.yaml", "-q")
    try:
        wait_until((proj.folder / "a.started").exists, 30, "task a")
        assert cli("pause", "latest", "--wait", "0").code == 0
        assert run.wait(timeout=30) == 0
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    history = History(proj.settings)
    run_id = history.resolve("latest")
    assert history.summary(run_id).status == "paused"
    assert cli("resume", run_id, "-q").code == 0
    show = cli("show", run_id).out
    took = re.search(r"took (\S+)", show)
    paused = re.search(r"\((\S+) paused\)", show)
    assert took and paused, show
    chart = cli("show", run_id, "--gantt", "--width", "100").out.splitlines()
    assert chart[0].endswith(f": success in {took[1]}")
    assert f"paused once for {paused[1]}" in chart[1]
