"""The summary of a resumed run gives its whole time, pauses included, as `runs` and `show` do, then the part since
it was resumed, whatever it kept: whole tasks, only matrix cells, or nothing. With only cells kept it gave the
resumed part alone, without saying so."""

from __future__ import annotations

from dagctl.store.history import History
from tests.support import wait_until

CELLS = """
    name: pm2
    options: {parallelism: 1}
    tasks:
      - id: cells
        matrix: {x: [1, 2]}
        run: >-
          touch started-$DAGCTL_MATRIX_X; while [ ! -f go ]; do sleep 0.02; done;
          if [ "$DAGCTL_MATRIX_X" = 1 ]; then sleep 1; fi
"""


def test_a_resume_that_kept_only_matrix_cells_says_its_whole_time(proj, cli) -> None:
    proj.write("pm2.yaml", CELLS)
    run = proj.dagctl("run", "pm2.yaml", "-q")
    try:
        wait_until((proj.folder / "started-1").exists, 30, "the first cell started")
        assert cli("pause", "latest", "--wait", "0").code == 0
        (proj.folder / "go").touch()  # the first cell ends a second later (the run looks 4 times a second)
        assert run.wait(timeout=30) == 0
    finally:
        (proj.folder / "go").touch()
        run.kill()
    history = History(proj.settings)
    run_id = history.resolve("latest")
    assert history.summary(run_id).status == "paused" and not (proj.folder / "started-2").exists()
    resumed = cli("resume", run_id)
    assert resumed.code == 0, resumed.err
    [line] = [line for line in resumed.out.splitlines() if line.startswith("Duration: ")]
    whole = history.summary(run_id).duration_s
    assert whole is not None
    assert line.startswith(f"Duration: {whole:.2f}s, pauses included (") and line.endswith("s since resumed)")
