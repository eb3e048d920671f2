"""A local stand-in for Argo running an exported Workflow: no cluster, the steps' real container commands.

It walks the manifest's templates from the entrypoint and does what Argo's controller does with them, as far
as an exported dagctl DAG uses them:

* DAG templates, nested and recursive: each task in order, ``depends`` evaluated over the phases of the
  template's own tasks (false -> ``Omitted``), then ``when`` (false -> ``Skipped``; an expression govaluate
  cannot parse or evaluate, such as one holding an unresolved ``{{...}}`` or an empty value where a number
  goes, -> ``Errored``, as Argo marks the node); the template ends
  ``Failed`` when one of its leaf tasks failed, an ``Omitted`` leaf taking the worst phase of the tasks it
  waited for (Argo's ``assessDAGPhase``), else ``Succeeded``; its outputs from ``valueFrom.parameter`` or
  ``valueFrom.expression`` (the ``a == 'x' ? b : c`` form exports use);
* arguments: ``{{workflow.*}}``, ``{{inputs.parameters.*}}``, ``{{tasks.X.outputs.parameters.Y}}`` and
  ``{{item}}`` substituted; a reference to a task that produced nothing (skipped) is left as written (Argo
  resolves DAG task arguments and ``when`` with unresolved references allowed);
* ``withItems`` / ``withParam``: one run of the template per item, ``{{item}}`` written as Argo writes it
  (text as is, anything else as compact JSON with sorted keys); the task group fails when an item failed,
  and ``tasks.X.outputs.parameters.Y`` of it is Argo's aggregate of the items that succeeded (a JSON list:
  the values as JSON when every one is a JSON object or list, else as strings);
* ``suspend``: resumed (``Succeeded``, outputs their ``supplied`` defaults or the values given), failed
  (``argo node set --phase Failed``) as ``decisions`` says, or after its ``duration``;
* ``memoize``: a key already in ``cache`` gives the outputs stored under it without running anything;
* containers: ``command + args`` substituted (``{{retries}}`` too), run as a local process with the
  container's env, in its own empty output folder (the step's private filesystem); ``retryStrategy.limit``
  more tries while it fails; output parameters read from their ``valueFrom.path`` (or their ``default``);
* ``onExit``: run after the workflow, with ``{{workflow.status}}`` and ``{{workflow.failures}}`` (the failed
  top-level tasks as ``[{"displayName", "phase", "message"}]``); its nodes are under ``onExit.``.

``dagctl`` in the container command is replaced by ``python -m dagctl`` from this checkout.
"""

from __future__ import annotations

import json
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
_PARAM = r"tasks\['([^']+)'\]\.outputs\.parameters\['([^']+)'\]"
_TERNARY = re.compile(rf"^{_PARAM} == '([^']*)' \? {_PARAM} : {_PARAM}$")
FAILED = ("Failed", "Errored")


@dataclass
class Simulation:
    phases: dict[str, str] = field(default_factory=dict)
    """Argo task name of the entrypoint's DAG -> Succeeded, Failed, Skipped or Omitted."""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Argo task name of the entrypoint's DAG -> its output parameters."""
    task_ids: dict[str, str] = field(default_factory=dict)
    """Argo task name of the entrypoint's DAG -> dagctl task id (from the template's dagctl.io/task annotation)."""
    commands: dict[str, list[list[str]]] = field(default_factory=dict)
    """Node (``train``, ``train.cells(3)``, ``fit.next.run``) -> the argv of every try of its container."""
    nodes: dict[str, str] = field(default_factory=dict)
    """Every node -> its phase."""
    node_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    """Every node that ran a template -> its output parameters."""
    memoized: list[str] = field(default_factory=list)
    """Nodes whose outputs came from the memoization cache (nothing ran)."""
    phase: str = ""
    """The workflow's."""


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
    """govaluate, as Argo calls it: bare words are strings; '...' strings; numbers (float64: ``03`` is 3);
    && || ! == != < <= > >= and ``-``. The whole expression is parsed before any of it is evaluated, so text
    it cannot read raises (ValueError, SyntaxError) even where ``&&`` would not evaluate it."""
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
            parts.append(repr(float(match.group("num"))))
        elif match.group("op") is not None:
            op = match.group("op")
            parts.append({"&&": "and", "||": "or", "!": "not"}.get(op, op))
        else:
            word = match.group("word")
            parts.append({"true": "True", "false": "False"}.get(word, repr(word)))
    return bool(eval(" ".join(parts), {"__builtins__": {}}))


def item_text(item: Any) -> str:
    """``{{item}}`` as Argo writes one item: text as is, anything else compact JSON (Go sorts map keys)."""
    if isinstance(item, str):
        return item
    return json.dumps(item, sort_keys=True, separators=(",", ":"))


def aggregate(values: list[str]) -> str:
    """Argo's ``aggregatedJsonValueList``: every value a JSON object or list -> a list of them (re-encoded,
    numbers through float64 as Go decodes them); else a list of the values as strings."""
    parsed = []
    for value in values:
        try:
            data = json.loads(value, parse_int=float)
        except ValueError:
            break
        if not isinstance(data, (dict, list)):
            break
        parsed.append(data)
    else:
        return json.dumps(_as_go(parsed), sort_keys=True, separators=(",", ":"))
    return json.dumps(values, separators=(",", ":"))


def _as_go(value: Any) -> Any:
    """A value decoded by Go into interface{} and encoded again: every number a float64 (``1.0`` is ``1``)."""
    if isinstance(value, dict):
        return {k: _as_go(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_go(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


@dataclass
class _Node:
    phase: str
    outputs: dict[str, str]


class _Runner:
    def __init__(
        self,
        spec: dict[str, Any],
        scope: dict[str, str],
        *,
        workdir: Path,
        steps_dir: Path,
        env: dict[str, str] | None,
        decisions: dict[str, str | dict[str, str]],
        cache: dict[str, dict[str, str]],
        sim: Simulation,
    ) -> None:
        self.templates = {t["name"]: t for t in spec["templates"]}
        self.scope = scope
        self.workdir, self.steps_dir, self.env = workdir, steps_dir, env
        self.decisions, self.cache, self.sim = decisions, cache, sim

    def run(self, name: str, inputs: dict[str, str], path: str) -> _Node:
        template = self.templates[name]
        local = {**self.scope, **{f"inputs.parameters.{k}": v for k, v in inputs.items()}}
        memo = template.get("memoize")
        if memo is not None:
            key = substitute(memo["key"], local, allow_unresolved=False)
            if key in self.cache:
                self.sim.memoized.append(path)
                self.sim.nodes[path], self.sim.node_outputs[path] = "Succeeded", dict(self.cache[key])
                return _Node("Succeeded", dict(self.cache[key]))
        if "dag" in template:
            node = self.dag(template, local, path)
        elif "suspend" in template:
            node = self.suspend(template, path)
        else:
            node = self.container(template, local, path)
        if memo is not None and node.phase == "Succeeded":
            self.cache[key] = dict(node.outputs)
        self.sim.nodes[path] = node.phase
        self.sim.node_outputs[path] = node.outputs
        return node

    def dag(self, template: dict[str, Any], local: dict[str, str], path: str) -> _Node:
        phases: dict[str, str] = {}
        waits: dict[str, list[str]] = {}
        scope = dict(local)
        for task in template["dag"]["tasks"]:
            name = task["name"]
            node_path = f"{path}.{name}" if path else name
            depends = task.get("depends", "")
            waits[name] = list(dict.fromkeys(m[0] for m in _RESULT.findall(depends)))
            if depends and not eval_depends(depends, phases):
                phases[name] = "Omitted"
                self.sim.nodes[node_path] = "Omitted"
                self._top(path, name, task, "Omitted", {})
                continue
            args = {
                p["name"]: substitute(p["value"], scope, allow_unresolved=True)
                for p in task.get("arguments", {}).get("parameters", [])
            }
            if "when" in task:
                try:
                    proceed = eval_when(substitute(task["when"], scope, allow_unresolved=True))
                except (ValueError, SyntaxError, TypeError):  # Argo: "Invalid 'when' expression": the node errors
                    proceed = None
                if not proceed:
                    phases[name] = "Skipped" if proceed is False else "Errored"
                    self.sim.nodes[node_path] = phases[name]
                    self._top(path, name, task, phases[name], {})
                    continue
            items = self._items(task, scope)
            if items is None:
                node = self.run(task["template"], args, node_path)
            else:
                node = self._group(task, args, items, node_path)
            phases[name] = node.phase
            self._top(path, name, task, node.phase, node.outputs)
            for key, value in node.outputs.items():
                scope[f"tasks.{name}.outputs.parameters.{key}"] = value
        phase = _dag_phase(phases, waits)
        if phase != "Succeeded":
            return _Node(phase, {})
        outputs = {}
        for param in template.get("outputs", {}).get("parameters", []):
            source = param["valueFrom"]
            if "parameter" in source:
                outputs[param["name"]] = substitute(source["parameter"], scope, allow_unresolved=False)
            else:
                outputs[param["name"]] = _expression(source["expression"], scope)
        return _Node(phase, outputs)

    def _items(self, task: dict[str, Any], scope: dict[str, str]) -> list[Any] | None:
        if "withItems" in task:
            return list(task["withItems"])
        if "withParam" in task:
            items = json.loads(substitute(task["withParam"], scope, allow_unresolved=False))
            assert isinstance(items, list), items
            return items
        return None

    def _group(self, task: dict[str, Any], args: dict[str, str], items: list[Any], path: str) -> _Node:
        succeeded: list[dict[str, str]] = []
        phase = "Succeeded"
        for index, item in enumerate(items):
            given = {k: substitute(v, {"item": item_text(item)}, allow_unresolved=True) for k, v in args.items()}
            node = self.run(task["template"], given, f"{path}({index})")
            if node.phase == "Succeeded":
                succeeded.append(node.outputs)
            else:
                phase = "Failed"
        names = [n for n in dict.fromkeys(k for outputs in succeeded for k in outputs)]
        outputs = {n: aggregate([o[n] for o in succeeded if n in o]) for n in names}
        self.sim.nodes[path] = phase
        return _Node(phase, outputs)

    def suspend(self, template: dict[str, Any], path: str) -> _Node:
        display = path.rsplit(".", 1)[-1]
        decision = self.decisions.get(display)
        if decision is None and "duration" not in template["suspend"]:
            raise AssertionError(f"the workflow waits at {path}: nobody resumes it (give decisions)")
        if decision == "reject":
            return _Node("Failed", {})
        supplied = decision if isinstance(decision, dict) else {}
        outputs = {
            p["name"]: supplied.get(p["name"], p["valueFrom"].get("default", ""))
            for p in template.get("outputs", {}).get("parameters", [])
        }
        return _Node("Succeeded", outputs)

    def container(self, template: dict[str, Any], local: dict[str, str], path: str) -> _Node:
        container = template["container"]
        limit = int(template.get("retryStrategy", {}).get("limit", 0))
        container_env = {e["name"]: e["value"] for e in container.get("env", [])}
        process_env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(self.env or {}), **container_env}
        folder = self.steps_dir / re.sub(r"[^A-Za-z0-9_.-]", "_", path)
        phase = "Failed"
        for retry in range(limit + 1):
            local["retries"] = str(retry)
            own = folder / f"try{retry}"  # the step's private filesystem: OUTPUTS_DIR lives here
            own.mkdir(parents=True)
            argv = [substitute(a, local, allow_unresolved=False) for a in [*container["command"], *container["args"]]]
            argv = [a.replace(OUTPUTS_DIR, str(own / "outputs")) for a in argv]
            assert argv[0] == "dagctl", argv
            argv = [sys.executable, "-m", "dagctl", *argv[1:]]
            self.sim.commands.setdefault(path, []).append(argv)
            done = subprocess.run(argv, cwd=self.workdir, env=process_env, capture_output=True, text=True, timeout=60)
            if done.returncode == 0:
                phase = "Succeeded"
                break
        outputs = {}
        for param in template.get("outputs", {}).get("parameters", []):
            source = param["valueFrom"]
            file = Path(source["path"].replace(OUTPUTS_DIR, str(own / "outputs")))
            outputs[param["name"]] = file.read_text() if phase == "Succeeded" and file.exists() else source["default"]
        return _Node(phase, outputs)

    def _top(self, path: str, name: str, task: dict[str, Any], phase: str, outputs: dict[str, str]) -> None:
        if path:
            return
        template = self.templates[task["template"]]
        self.sim.task_ids[name] = template.get("metadata", {}).get("annotations", {}).get("dagctl.io/task", name)
        self.sim.phases[name] = phase
        if phase == "Succeeded":
            self.sim.outputs[name] = outputs


def _dag_phase(phases: dict[str, str], waits: dict[str, list[str]]) -> str:
    """Argo's ``assessDAGPhase``: Failed when a leaf task failed, an Omitted leaf counting as the worst of the
    tasks it waited for; else Succeeded."""
    waited = {d for deps in waits.values() for d in deps}

    def effective(name: str) -> str:
        phase = phases[name]
        if phase != "Omitted":
            return phase
        return "Failed" if any(effective(d) in FAILED for d in waits[name] if d in phases) else "Succeeded"

    leaves = [n for n in phases if n not in waited]
    return "Failed" if any(effective(n) in FAILED for n in leaves) else "Succeeded"


def _expression(expression: str, scope: dict[str, str]) -> str:
    match = _TERNARY.match(expression)
    assert match is not None, f"the stand-in reads only a == 'x' ? b : c, not {expression!r}"
    test_task, test_param, value, yes_task, yes_param, no_task, no_param = match.groups()
    key = "tasks.{}.outputs.parameters.{}"
    chosen = (yes_task, yes_param) if scope.get(key.format(test_task, test_param)) == value else (no_task, no_param)
    return scope[key.format(*chosen)]


def simulate(
    manifest: dict[str, Any],
    *,
    workdir: Path,
    steps_dir: Path,
    env: dict[str, str] | None = None,
    workflow_name: str = "sim-wf",
    arguments: dict[str, str] | None = None,
    decisions: dict[str, str | dict[str, str]] | None = None,
    cache: dict[str, dict[str, str]] | None = None,
) -> Simulation:
    """Run ``manifest``. ``decisions``: suspended step (display name) -> ``approve``, ``reject`` or the output
    parameters to supply; ``cache``: Argo's memoization cache (key -> outputs), kept across calls."""
    spec = manifest["spec"].get("workflowSpec", manifest["spec"])
    scope = {"workflow.name": workflow_name}
    for param in spec.get("arguments", {}).get("parameters", []):
        scope[f"workflow.parameters.{param['name']}"] = str(param["value"])
    for name, value in (arguments or {}).items():
        scope[f"workflow.parameters.{name}"] = value
    sim = Simulation()
    runner = _Runner(
        spec, scope, workdir=workdir, steps_dir=steps_dir, env=env, decisions=decisions or {},
        cache={} if cache is None else cache, sim=sim,
    )  # fmt: skip
    sim.phase = runner.run(spec["entrypoint"], {}, "").phase
    if "onExit" in spec:  # Argo's exit handler: after the workflow, with its status and failed nodes
        scope["workflow.status"] = sim.phase
        failed = [
            {"displayName": n, "phase": p, "message": ""} for n, p in sim.phases.items() if p in ("Failed", "Error")
        ]
        scope["workflow.failures"] = json.dumps(failed)
        runner.run(spec["onExit"], {}, "onExit")
    return sim
