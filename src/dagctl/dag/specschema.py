"""What the JSON Schema of DAG files (:mod:`dagctl.dag.schema`) adds to what pydantic derives from the models of
:mod:`dagctl.dag.spec`, and the rules it cannot derive (exactly one kind of task, keys that must match a
pattern, a handler's fewer keys), so that an editor accepts what ``dagctl validate`` accepts and refuses what it
refuses wherever a schema can say it. Pure: no IO.
"""

from __future__ import annotations

from typing import Any

MATRIX_VALUES: dict[str, Any] = {
    "anyOf": [
        {"type": "array", "minItems": 1},
        {
            "type": "string",
            "pattern": r"^\s*\$\{.*\}\s*$",
            "description": "${params.NAME} (a list param) or ${outputs.TASK.KEY} (a list)",
        },
    ]
}
"""A matrix key's values: a list of at least one value, or one ``${...}`` reference to a list."""


def exactly_one_of(*keys: str) -> dict[str, Any]:
    """JSON Schema: exactly one of ``keys`` is given, and not null (a null key counts as not given, as here)."""
    return {"oneOf": [{"required": [key], "properties": {key: {"not": {"type": "null"}}}} for key in keys]}


def also_text(schema: dict[str, Any]) -> None:
    """JSON Schema of ``precondition:``: a command string is one too (:func:`dagctl.dag.spec._precondition`)."""
    schema["anyOf"] = [{"type": "string"}, *schema.get("anyOf", [])]


def handler_schema(schema: dict[str, Any], cls: Any) -> None:
    """JSON Schema of a handler: a task's, less the keys that do not apply to a handler, and of fewer kinds."""
    for key in cls.REFUSED:
        schema["properties"].pop(key, None)
    schema.pop("required", None)
    schema.update(exactly_one_of("run", "python", "workflow_ref"))


def notify_schema(schema: dict[str, Any]) -> None:
    """JSON Schema of ``notify:``: ``urls`` (at least one) unless ``events`` is ``[]``, which sends no messages."""
    schema["if"] = {"required": ["events"], "properties": {"events": {"maxItems": 0}}}
    schema["else"] = {"required": ["urls"], "properties": {"urls": {"minItems": 1}}}
