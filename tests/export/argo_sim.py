"""A local stand-in for Argo running an exported Workflow: no cluster, the steps' real container commands.

It walks the manifest's DAG template in order and does what Argo's controller does with each task, as far
as an exported dagctl DAG uses it:

* ``depends``: evaluated over the upstream tasks' phases (``a.Succeeded && (b.Failed || b.Errored)``);
  false -> the task is ``Omitted``;
* arguments: ``{{workflow.*}}`` and ``{{tasks.X.outputs.parameters.Y}}`` substituted; a reference to a task
  that produced nothing (skipped) is left as written (Argo resolves DAG task arguments with unresolved
  references allowed);
* ``when``: substituted, then evaluated with govaluate's rules (bare words are strings); false -> ``Skipped``;
* the container: ``command + args`` with ``{{inputs.parameters.*}}``, ``{{workflow.*}}`` and ``{{retries}}``
  substituted, run as a local process with the container's env, in its own empty output folder (the
  step's private filesystem); ``retryStrategy.limit`` more tries while it fails;
* output parameters read from their ``valueFrom.path`` (or their ``default``).

``dagctl`` in the container command is replaced by ``python -m dagctl`` from this checkout.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dagctl.export.argo import OUTPUTS_DIR

ROOT = Path(__file__).resolve().parents[2]
_REF = re.compile(r"\{\{([^{}]+)\}\}")
_RESULT = re.compile(r"([a-z][a-z0-9-]*)\.(Succeeded|Failed|Errored|Skipped|Omitted|Daemoned)\b")
_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|-)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_.:-]*))"
)


@dataclass
class Simulation:
    phases: dict[str, str] = field(default_factory=dict)
    """Argo task name -> Succeeded, Failed, Skipped or Omitted."""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Argo task name -> its output parameters."""
    task_ids: dict[str, str] = field(default_factory=dict)
    """Argo task name -> dagctl task id (from the template's dagctl.io/task annotation)."""
    commands: dict[str, list[list[str]]] = field(default_factory=dict)
    """Argo task name -> the argv of every try."""


def substitute(text: str, scope: dict[str, str], *, allow_unresolved: bool) -> str:
    def one(match: re.Match[str]) -> str:
        key = match.group(1).strip()
        if key in scope:
            return scope[key]
        if allow_unresolved:
            return match.group(0)
        raise KeyError(f"unresolved {match.group(0)}")

    return _REF.sub(one, text)


def eval_depends(expression: str, phases: dict[str, str]) -> bool:
    python = _RESULT.sub(lambda m: str(phases[m.group(1)] == m.group(2)), expression)
    python = python.replace("&&", " and ").replace("||", " or ").replace("!", " not ")
    return bool(eval(python, {"__builtins__": {}}))  # only True/False/and/or/not/() are left


def eval_when(expression: str) -> bool:
    """govaluate, as Argo calls it: bare words are strings; '...' strings; numbers; && || ! == != < <= > >=."""
    parts: list[str] = []
    pos = 0
    text = expression.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f"cannot tokenize {text[pos:]!r}")
        pos = match.end()
        if match.group("str") is not None:
            parts.append(repr(match.group("str")[1:-1]))
        elif match.group("num") is not None:
            parts.append(match.group("num"))
        elif match.group("op") is not None:
            op = match.group("op")
            parts.append({"&&": "and", "||": "or", "!": "not"}.get(op, op))
        else:
            word = match.group("word")
            parts.append({"true": "True", "false": "False"}.get(word, repr(word)))
    return bool(eval(" ".join(parts), {"__builtins__": {}}))


def simulate(
    manifest: dict[str, Any],
    *,
    workdir: Path,
    steps_dir: Path,
    env: dict[str, str] | None = None,
    workflow_name: str = "sim-wf",
    arguments: dict[str, str] | None = None,
) -> Simulation:
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    templates = {t["name"]: t for t in spec["templates"]}
    scope = {"workflow.name": workflow_name}
    for param in spec.get("arguments", {}).get("parameters", []):
        scope[f"workflow.parameters.{param['name']}"] = str(param["value"])
    for name, value in (arguments or {}).items():
        scope[f"workflow.parameters.{name}"] = value
    sim = Simulation()
    for task in templates[spec["entrypoint"]]["dag"]["tasks"]:
        name = task["name"]
        template = templates[task["template"]]
        sim.task_ids[name] = template["metadata"]["annotations"]["dagctl.io/task"]
        depends = task.get("depends", "")
        if depends and not eval_depends(depends, sim.phases):
            sim.phases[name] = "Omitted"
            continue
        args = {
            p["name"]: substitute(p["value"], scope, allow_unresolved=True)
            for p in task.get("arguments", {}).get("parameters", [])
        }
        if "when" in task and not eval_when(substitute(task["when"], scope, allow_unresolved=False)):
            sim.phases[name] = "Skipped"
            continue
        phase, outputs = _run_template(template, args, scope, workdir, steps_dir / name, env, sim, name)
        sim.phases[name] = phase
        sim.outputs[name] = outputs
        for key, value in outputs.items():
            scope[f"tasks.{name}.outputs.parameters.{key}"] = value
    return sim


def _run_template(
    template: dict[str, Any],
    args: dict[str, str],
    scope: dict[str, str],
    workdir: Path,
    folder: Path,
    env: dict[str, str] | None,
    sim: Simulation,
    name: str,
) -> tuple[str, dict[str, str]]:
    container = template["container"]
    limit = int(template.get("retryStrategy", {}).get("limit", 0))
    local = dict(scope)
    local.update({f"inputs.parameters.{k}": v for k, v in args.items()})
    container_env = {e["name"]: e["value"] for e in container.get("env", [])}
    process_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {}), **container_env}
    phase = "Failed"
    for retry in range(limit + 1):
        local["retries"] = str(retry)
        own = folder / f"try{retry}"  # the step's private filesystem: OUTPUTS_DIR lives here
        own.mkdir(parents=True)
        argv = [substitute(a, local, allow_unresolved=False) for a in [*container["command"], *container["args"]]]
        argv = [a.replace(OUTPUTS_DIR, str(own / "outputs")) for a in argv]
        assert argv[0] == "dagctl", argv
        argv = [sys.executable, "-m", "dagctl", *argv[1:]]
        sim.commands.setdefault(name, []).append(argv)
        done = subprocess.run(argv, cwd=workdir, env=process_env, capture_output=True, text=True, timeout=60)
        if done.returncode == 0:
            phase = "Succeeded"
            break
    outputs = {}
    for param in template.get("outputs", {}).get("parameters", []):
        source = param["valueFrom"]
        path = Path(source["path"].replace(OUTPUTS_DIR, str(own / "outputs")))
        outputs[param["name"]] = path.read_text() if phase == "Succeeded" and path.exists() else source["default"]
    return phase, outputs
