"""`dagctl retry` (and `resume`) run again what depends on a task that runs again: a `trigger_rule: all_done` report
that ran after its upstream failed read that failure. It was reused with the outputs it computed from the
failure, with everything after it, and the retry said success while nothing downstream saw the real outputs."""

from __future__ import annotations

import json
from pathlib import Path

from dagctl.settings import Settings
from dagctl.store.history import History

RT = """\
name: rt
tasks:
  - id: flaky
    run: 'test -f ok || exit 1; echo "rows=42" > $DAGCTL_OUTPUT'
  - id: report
    depends_on: flaky
    trigger_rule: all_done
    run: 'echo "saw=${outputs.flaky.rows:-NONE}" > $DAGCTL_OUTPUT'
  - id: publish
    depends_on: report
    run: 'echo "published=${outputs.report.saw}" > $DAGCTL_OUTPUT'
  - id: other
    run: 'echo ran >> other.log'
"""


def _outputs(run_id: str, task: str) -> dict[str, str]:
    return History(Settings.from_env()).outputs_of(run_id, task)


def test_a_retry_runs_the_all_done_report_and_what_follows_it_again(project: Path, cli) -> None:
    (project / "rt.yaml").write_text(RT)
    assert cli("run", "rt.yaml", "-q").code == 1
    (project / "ok").touch()
    retried = cli("retry", "latest")
    assert retried.code == 0, retried
    assert "; reusing outputs of: other\n" in retried.err  # was: reusing outputs of: report, publish, other
    history = History(Settings.from_env())
    run_id = history.resolve("latest")
    assert _outputs(run_id, "report") == {"saw": "42"}  # was {"saw": "NONE"}, reused from the failed run
    assert _outputs(run_id, "publish") == {"published": "42"}
    assert history.summary(run_id).tasks["other"].reason == "reused outputs of an earlier run"  # not downstream
    assert (project / "other.log").read_text().split() == ["ran"]


def test_a_matrix_of_sub_dags_runs_its_all_done_reporter_again(project: Path, cli) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "child.yaml").write_text(
        "name: child\nparams: {n: 1}\ntasks:\n"
        "  - id: work\n"
        "    env: {N: '${params.n}'}\n"
        "    run: 'test $N -ne 13 || test -f ok || exit 1; echo \"d=$(( N * 2 ))\" > $DAGCTL_OUTPUT'\n"
        "outputs: {d: '${outputs.work.d}'}\n"
    )
    (project / "parent.yaml").write_text(
        "name: parent\ntasks:\n"
        "  - {id: kids, matrix: {n: [1, 13]}, dag: sub/child.yaml, params: {n: '${matrix.n}'}}\n"
        "  - id: report\n"
        "    depends_on: kids\n"
        "    trigger_rule: all_done\n"
        '    run: \'echo "${outputs.kids.cells}" | grep -c failed > /dev/null || echo "clean=yes" > $DAGCTL_OUTPUT\'\n'
    )
    assert cli("run", "parent.yaml", "-q").code == 1
    (project / "ok").touch()
    retried = cli("retry", "latest", "--json")
    assert retried.code == 0, retried
    # it was reused from the failed run, where it saw a failed cell (and wrote nothing)
    assert _outputs(json.loads(retried.out)["run_id"], "report") == {"clean": "yes"}
