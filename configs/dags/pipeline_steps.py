"""Steps of the diamond_pipeline example DAG. Plain functions: params in, outputs (a dict) out."""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

REGIONS = ["north", "south", "east", "west"]
PRODUCTS = ["widget", "gadget", "gizmo", "doohickey"]


def extract(rows: int, ctx: Any = None) -> dict[str, Any]:
    """Write a reproducible sales CSV into the run's folder and return its path and row count."""
    folder = Path(ctx.run_dir) if ctx is not None else Path("logs")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sales.csv"
    rng = random.Random(42)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["order_id", "region", "product", "amount"])
        for n in range(int(rows)):
            writer.writerow([n, rng.choice(REGIONS), rng.choice(PRODUCTS), f"{rng.uniform(5, 500):.2f}"])
    return {"path": str(path.resolve()), "rows": int(rows)}


def total_by(column: str, source: str, **_: Any) -> dict[str, Any]:
    """Sum the amount column grouped by ``column``."""
    totals: dict[str, float] = defaultdict(float)
    with open(source, newline="") as fh:
        for row in csv.DictReader(fh):
            totals[row[column]] += float(row["amount"])
    return {key: round(value, 2) for key, value in sorted(totals.items())}


def publish(out_dir: str, **upstream: Any) -> dict[str, Any]:
    """Write a Markdown report from the upstream outputs (``by_region__north``, ``by_product__gizmo`` ...)."""
    sections: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in upstream.items():
        if "__" in key:
            task, name = key.split("__", 1)
            sections[task][name] = value
    lines = ["# Sales report", ""]
    for task in sorted(sections):
        lines += [f"## {task}", "", "| key | total |", "|---|---:|"]
        lines += [f"| {k} | {float(v):.2f} |" for k, v in sorted(sections[task].items())]
        lines.append("")
    path = Path(out_dir) / "sales_report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return {"report": str(path), "sections": len(sections)}
