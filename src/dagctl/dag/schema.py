"""``dagctl schema``: the JSON Schema of DAG files, from the models of :mod:`dagctl.dag.spec` (whose own rules for
it are in :mod:`dagctl.dag.specschema`), for editors (yaml-language-server) and external validation. Pure."""

from __future__ import annotations

from typing import Any

from .spec import DagSpec


def dag_json_schema() -> dict[str, Any]:
    """JSON Schema of the DAG file, for editors (yaml-language-server) and external validation."""
    schema = DagSpec.model_json_schema()
    # an inline sub-DAG's tasks are tasks (checked as such when the file is validated)
    schema["$defs"]["InlineDag"]["properties"]["tasks"]["items"] = {"$ref": "#/$defs/TaskSpec"}
    _only_keys_of_their_pattern(schema)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "dagctl DAG file"
    return schema


def _only_keys_of_their_pattern(node: Any) -> None:
    """A mapping whose keys have a pattern (``outputs:``, ``secrets:``, ``workflows:``) takes no other keys, as the
    models refuse them: pydantic writes the pattern as ``patternProperties`` only, which lets any other key by."""
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node and "properties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _only_keys_of_their_pattern(value)
    elif isinstance(node, list):
        for value in node:
            _only_keys_of_their_pattern(value)
