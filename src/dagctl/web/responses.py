"""Responses: JSON written with the standard library (no model validation on the way out), and SSE streams that
hold a stream slot exactly as long as they run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # backslashreplace: a lone surrogate (JSON lets "\ud800" in) goes out as the JSON escape it came in as,
        # so an answer that echoes bad input (an error naming it) never fails to be written
        return _ENCODER.encode(content).encode("utf-8", "backslashreplace")


class EventStream(StreamingResponse):
    """``text/event-stream`` that calls ``release`` once it ends, however it ends (finished, client gone,
    server stopping), and closes its generator."""

    def __init__(self, stream: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},  # nginx: do not buffer
        )
        self._stream = stream
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            aclose = getattr(self._stream, "aclose", None)
            if aclose is not None:
                await aclose()
