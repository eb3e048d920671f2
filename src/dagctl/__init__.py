"""dagctl: a local-first DAG runner and cron scheduler driven by YAML files."""

from __future__ import annotations

__version__ = "0.1.0"
