"""Everything that draws on the terminal. The only module that imports rich (lazily)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def echo(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def echo_err(text: str) -> None:
    sys.stderr.write(text + "\n")


def echo_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def use_color() -> bool:
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def console(stderr: bool = False):  # type: ignore[no-untyped-def]
    from rich.console import Console

    return Console(stderr=stderr, no_color="NO_COLOR" in os.environ, highlight=False)
