"""Manifests through Hera's models of the Argo schema: the only module that imports Hera (lazily).

:func:`checked` loads a manifest with Hera (``Workflow.from_dict`` and friends: pydantic models generated
from Argo's own schema), builds it again, and refuses it unless the result is the very same data. Hera's
models ignore keys they do not know, so a misspelled or misplaced key comes back missing and is caught
here, as is a value of the wrong type. :func:`to_yaml` renders the checked manifest the way Hera does.
"""

from __future__ import annotations

from dagctl.errors import EnvironmentProblem

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

INSTALL_HINT = "pip install 'dagctl[argo]' (it installs hera)"


class ManifestError(EnvironmentProblem):
    """A manifest that Hera's models of the Argo schema do not take back unchanged (a dagctl bug)."""


def hera_class(kind: str) -> Any:
    """Hera's class for a manifest kind; EnvironmentProblem (exit 3) when Hera is not installed."""
    try:
        from hera.workflows import CronWorkflow, Workflow, WorkflowTemplate
    except ImportError:
        raise EnvironmentProblem("exporting to Argo needs the hera package", hint=INSTALL_HINT) from None
    classes: dict[str, Any] = {"Workflow": Workflow, "WorkflowTemplate": WorkflowTemplate, "CronWorkflow": CronWorkflow}
    if kind not in classes:
        raise ManifestError(f"no Hera model for kind {kind!r}", hint="use Workflow, WorkflowTemplate or CronWorkflow")
    return classes[kind]


def load(manifest: dict[str, Any]) -> Any:
    """The Hera object of ``manifest`` (a Workflow, WorkflowTemplate or CronWorkflow)."""
    from pydantic import ValidationError

    cls = hera_class(str(manifest.get("kind")))
    try:
        return cls.from_dict(manifest)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ManifestError(
            f"Hera's Argo models refuse the manifest at {where}: {first['msg']}",
            hint="this is a bug in dagctl export: report it with the DAG file",
        ) from None


def checked(manifest: dict[str, Any]) -> Any:
    """Load ``manifest`` through Hera and check that it round-trips; return the Hera object."""
    obj = load(manifest)
    back = obj.to_dict()
    if back != manifest:
        where = first_difference(manifest, back)
        raise ManifestError(
            f"Hera's Argo models do not take the manifest back unchanged (at {where})",
            hint="this is a bug in dagctl export: report it with the DAG file",
        )
    return obj


def to_yaml(manifest: dict[str, Any]) -> str:
    """The checked manifest as YAML, keys in Hera's order (name first, then values, lists, mappings)."""
    text: str = checked(manifest).to_yaml(width=100_000)
    return text


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """Where two JSON-like values first differ, as a dotted path ("spec.templates.1.container")."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b or a[key] != b[key]:
                inner = f"{path}.{key}" if path else str(key)
                return inner if key not in a or key not in b else first_difference(a[key], b[key], inner)
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return first_difference(x, y, f"{path}.{i}" if path else str(i))
        if len(a) != len(b):
            return f"{path}.{min(len(a), len(b))}" if path else str(min(len(a), len(b)))
    return path or "(top)"
