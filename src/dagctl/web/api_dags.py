"""``/api/dags``, ``/api/validate`` and ``/api/templates``: what can be run, and checking YAML before it is."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from dagctl.errors import UsageError

from .context import WebContext
from .dags import same_names, validate_text
from .errors import check_unicode, located
from .responses import JSON


class NewTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="The template's name: 1-64 letters, digits, '_', '.' or '-'.")
    yaml: str = Field(description="The DAG, as the text of a DAG file.")
    overwrite: bool = Field(False, description="Replace a template of that name.")


def body_text(raw: bytes, content_type: str) -> str:
    """A request body as text: raw YAML, or ``{"yaml": "..."}`` when sent as JSON."""
    if content_type.startswith("application/json"):
        import json

        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not isinstance(data.get("yaml"), str):
            raise UsageError('a JSON body must be {"yaml": "<the DAG as YAML>"}', hint="or send the YAML itself")
        check_unicode(data["yaml"], "body.yaml")
        return str(data["yaml"])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError("the body is not UTF-8 text", hint="send the YAML file as UTF-8") from None


def router(ctx: WebContext) -> APIRouter:
    api = APIRouter(prefix="/api")

    @api.get("/dags", tags=["dags"], summary="List DAGs")
    def dags() -> JSON:
        """Every DAG file in the DAG folder (``--dags``): name, file, params, number of tasks, or why it does not
        load; ``same_name_as``: the other files with the same ``name:`` (then it can be started by its file only)."""
        entries = ctx.dags.entries()
        shared = same_names(entries)
        return JSON([entry.to_dict(shared.get(entry.file)) for entry in entries])

    @api.post(
        "/validate",
        tags=["dags"],
        summary="Validate a DAG",
        openapi_extra={
            "requestBody": {"content": {"application/yaml": {"schema": {"type": "string"}}}, "required": True}
        },
    )
    async def validate(
        request: Request, name: str = Query("dag.yaml", description="File name used in problems.")
    ) -> JSON:
        """Check a DAG sent as YAML (the body) as ``dagctl validate`` checks a file: ``valid``, and every problem
        with its line and column. Always 200 when the body could be read: the problems are the answer."""
        raw = await request.body()
        content_type = request.headers.get("content-type", "")

        def check() -> dict[str, Any]:  # parsing a large DAG takes a while: never on the event loop
            with located("body"):
                text = body_text(raw, content_type)
            return validate_text(text, name)

        return JSON(await asyncio.to_thread(check))

    @api.get("/templates", tags=["templates"], summary="List templates")
    def templates() -> JSON:
        """The templates in the templates folder (``--templates``), with their params and tasks."""
        return JSON(ctx.templates.list())

    @api.post("/templates", tags=["templates"], status_code=201, summary="Create a template")
    def create_template(body: NewTemplate) -> JSON:
        """Validate the YAML as a DAG and keep it as ``<name>.yaml``; 422 with every problem (line, column) when
        it is not valid, 409 when the name is taken (unless ``overwrite``)."""
        check_unicode(body.model_dump(), "body")
        with located("body.name"):
            saved = ctx.templates.save(body.name, body.yaml, overwrite=body.overwrite)
        return JSON(saved, status_code=201)

    @api.get("/templates/{name}", tags=["templates"], summary="Show a template")
    def template(name: str) -> JSON:
        """The template's YAML, params and tasks."""
        return JSON(ctx.templates.get(name))

    @api.delete("/templates/{name}", tags=["templates"], status_code=204, summary="Delete a template")
    def delete_template(name: str) -> Response:
        ctx.templates.delete(name)
        return Response(status_code=204)

    return api
