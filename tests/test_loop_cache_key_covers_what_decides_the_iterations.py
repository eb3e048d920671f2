"""A cached loop (``repeat:`` with ``cache:``) is served from the cache only when it would run the same iterations:
its key covers ``until``, ``max_iterations``, ``on_max`` and the values ``until`` reads. It was keyed on its first
iteration alone, so a loop asked to go further was served the result of the shorter one. And a loop a retry
finished is stored, as any loop that ends."""

from __future__ import annotations

import json
from typing import Any

import pytest

LOOP = """
    name: loop1
    params: {target: 3}
    tasks:
      - id: fit
        run: 'echo "$DAGCTL_ITERATION" >> iterations; echo "i=${iteration}" > $DAGCTL_OUTPUT'
        cache: true
        repeat:
          until: "outputs.fit.i >= params.target"
          max_iterations: 10
      - id: report
        depends_on: fit
        run: echo "final=${outputs.fit.i}" > $DAGCTL_OUTPUT
"""


def _ran(proj: Any) -> list[str]:
    path = proj.folder / "iterations"
    return path.read_text().split() if path.exists() else []


def test_a_param_that_until_reads_is_in_the_loops_key(proj) -> None:
    first, _ = proj.run("loop1.yaml", LOOP)
    assert first.tasks["report"].outputs == {"final": "3"}
    further, _ = proj.run("loop1.yaml", params={"target": 6})
    assert further.tasks["fit"].reason != "cached"
    assert further.tasks["report"].outputs == {"final": "6"}  # it was served "final 3": until (i >= 6) is false there
    again, _ = proj.run("loop1.yaml", params={"target": 6})
    assert again.tasks["fit"].reason == "cached" and again.tasks["report"].outputs == {"final": "6"}
    assert _ran(proj) == ["1", "2", "3", "1", "2", "3", "4", "5", "6"]  # the third run ran nothing


@pytest.mark.parametrize(
    ("rule", "final"),
    [
        ("max_iterations: 2, on_max: succeed", "2"),  # was served "final=5" after the cap was lowered
        ("max_iterations: 5, on_max: fail", None),  # the same loop fails at its cap now
    ],
)
def test_the_stopping_rule_is_in_the_loops_key(proj, rule: str, final: str | None) -> None:
    text = """
        name: loop2
        tasks:
          - id: fit
            run: 'echo "i=${iteration}" > $DAGCTL_OUTPUT'
            cache: true
            repeat: {until: "outputs.fit.i >= 100", max_iterations: 5, on_max: succeed}
          - {id: report, depends_on: fit, run: 'echo "final=${outputs.fit.i}" > $DAGCTL_OUTPUT'}
    """
    first, _ = proj.run("loop2.yaml", text)
    assert first.tasks["report"].outputs == {"final": "5"}
    second, _ = proj.run("loop2.yaml", text.replace("max_iterations: 5, on_max: succeed", rule))
    assert second.tasks["fit"].reason != "cached"
    if final is None:
        assert second.status == "failed" and second.tasks["fit"].status == "failed"
    else:
        assert second.tasks["report"].outputs == {"final": final}


def test_an_env_variable_until_reads_is_in_the_key_and_the_delay_is_not(proj, monkeypatch) -> None:
    text = """
        name: loop3
        tasks:
          - id: fit
            run: 'echo "i=${iteration}" > $DAGCTL_OUTPUT'
            cache: true
            repeat: {until: "outputs.fit.i >= env.LOOP_TARGET", max_iterations: 10}
    """
    monkeypatch.setenv("LOOP_TARGET", "2")
    proj.run("loop3.yaml", text)
    monkeypatch.setenv("LOOP_TARGET", "4")
    moved, _ = proj.run("loop3.yaml")
    assert moved.tasks["fit"].reason != "cached" and moved.tasks["fit"].outputs == {"i": "4"}
    slower, _ = proj.run("loop3.yaml", text.replace("max_iterations: 10", "max_iterations: 10, delay: 0s"))
    assert slower.tasks["fit"].reason == "cached" and slower.tasks["fit"].outputs == {"i": "4"}


def test_the_dry_run_predicts_a_miss_when_the_loop_would_go_further(proj, cli) -> None:
    proj.write("loop1.yaml", LOOP)
    assert cli("run", "loop1.yaml", "-q").code == 0

    def predicted(*args: str) -> str:
        dry = cli("run", "loop1.yaml", "--dry-run", "--json", *args)
        assert dry.code == 0, dry
        return next(t["cache"] for t in json.loads(dry.out)["tasks"] if t["id"] == "fit")

    assert predicted().startswith("cache: hit")
    assert predicted("-p", "target=6").startswith("cache: miss")


def test_a_loop_a_retry_finished_is_stored(proj, cli) -> None:
    """A loop that failed at iteration 3 and was finished by `dagctl retry` was never stored: the next run ran
    every iteration again."""
    proj.write(
        "lrc.yaml",
        """
        name: lrc
        tasks:
          - id: fit
            cache: true
            run: >-
              echo "$DAGCTL_ITERATION" >> iterations;
              if [ $DAGCTL_ITERATION -eq 3 ] && [ ! -f lr.ok ]; then exit 1; fi;
              echo "loss=$(( 10 - $DAGCTL_ITERATION * 2 ))" > $DAGCTL_OUTPUT
            repeat: {until: "outputs.fit.loss <= 2", max_iterations: 10}
        """,
    )
    assert cli("run", "lrc.yaml", "-q").code == 1
    (proj.folder / "lr.ok").touch()
    assert cli("retry", "latest", "-q").code == 0
    assert _ran(proj) == ["1", "2", "3", "3", "4"]  # the retry went on from the failed iteration
    served, sink = proj.run("lrc.yaml")
    assert served.tasks["fit"].reason == "cached" and served.tasks["fit"].outputs == {"loss": "2"}
    assert not sink.of("task_start") and _ran(proj) == ["1", "2", "3", "3", "4"]
