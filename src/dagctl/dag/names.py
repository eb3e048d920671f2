"""The shapes of names in DAG files: ids, DAG names and ``module:function`` references.

Plain regular expressions, apart from :mod:`dagctl.dag.spec`, so that what reads ``dagctl.yaml`` at run
time checks names without importing pydantic.
"""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
NAME_RE = re.compile(NAME_PATTERN)
CALLABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$"
