"""Matrix keys that differ only in case would set one environment variable, `DAGCTL_MATRIX_<KEY>`, and one value
was lost (`lr=1 LR=30 env=30`); validate refuses them at the second key's FILE:LINE:COL, and so does a run."""

from __future__ import annotations

from pathlib import Path

MK = """\
name: mk
tasks:
  - id: t
    matrix: {lr: [1, 2], LR: [30]}
    run: 'echo "lr=${matrix.lr} LR=${matrix.LR} env=$DAGCTL_MATRIX_LR"'
"""


def test_validate_and_run_refuse_matrix_keys_that_differ_only_in_case(project: Path, cli) -> None:
    (project / "mk.yaml").write_text(MK)
    problem = (
        "mk.yaml:4:30: task 't' matrix keys 'lr' and 'LR' differ only in case: both would set $DAGCTL_MATRIX_LR, "
        "and one value would be lost — rename one of them"
    )
    checked = cli("validate", "mk.yaml")
    assert checked.code == 2 and checked.err.splitlines()[0] == problem
    run = cli("run", "mk.yaml", "-q")
    assert run.code == 2 and problem in run.err
    (project / "ok.yaml").write_text(MK.replace("LR: [30]", "lr2: [30]").replace("${matrix.LR}", "${matrix.lr2}"))
    assert cli("validate", "ok.yaml").code == 0
