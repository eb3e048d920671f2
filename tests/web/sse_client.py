"""A small Server-Sent Events reader over httpx for the tests: messages as they arrive, comments counted."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Message:
    event: str = "message"
    id: str | None = None
    data: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class Reader:
    comments: int = 0
    retry: int | None = None
    ended_cleanly: bool = False
    messages: list[Message] = field(default_factory=list)


def read(response: httpx.Response, reader: Reader | None = None) -> Iterator[Message]:
    """Parse ``response``'s body as SSE; ``reader`` (optional) counts comments and notes a clean end."""
    reader = reader or Reader()
    current = Message()
    has_data = False
    for line in response.iter_lines():
        if line == "":
            if has_data:
                reader.messages.append(current)
                yield current
            current, has_data = Message(), False
            continue
        if line.startswith(":"):
            reader.comments += 1
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            current.data = value if not has_data else current.data + "\n" + value
            has_data = True
        elif name == "event":
            current.event = value
        elif name == "id":
            current.id = value
        elif name == "retry":
            reader.retry = int(value)
    reader.ended_cleanly = True


def collect(client: httpx.Client, url: str, *, headers: dict[str, str] | None = None, until: int | None = None,
            reader: Reader | None = None) -> list[Message]:  # fmt: skip
    """Every message of a stream (or the first ``until``, then disconnect)."""
    out: list[Message] = []
    with client.stream("GET", url, headers=headers or {}) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for message in read(response, reader):
            out.append(message)
            if until is not None and len(out) >= until:
                break
    return out
