"""Composed DAGs against their plain equivalents, side by side in one run.

    python benchmarks/bench_compose.py [--runs 5] [--cells 10000]

  matrix      one task with a 10,000-cell matrix of `true`    vs 10,000 plain `true` tasks   (target <= 1.2x)
  validate    `dagctl validate` of that matrix DAG                                           (target <= 0.5 s)
  sub-DAG     a parent whose `dag:` task runs a 5-task child    vs the same 5 tasks inline    (target <= +20 ms)

Both sides run through `dagctl run -q` with the same parallelism, logs in the temp folder, plan cache on
(as repeated runs of a DAG are), interleaved so machine noise hits both alike. Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd, time_command


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cells", type=int, default=10_000)
    args = parser.parse_args()
    dagctl = dagctl_cmd()
    n = args.cells
    print(f"dagctl compose benchmark: {os.cpu_count()} CPUs, {n} cells, median of {args.runs}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = {"DAGCTL_LOGS_DIR": str(root / "logs")}
        values = ", ".join(str(i) for i in range(n))
        matrix = write(root / "matrix.yaml", f"name: matrix\noptions: {{parallelism: 2}}\ntasks:\n"
                       f"  - {{id: t, run: 'true', matrix: {{n: [{values}]}}}}\n")  # fmt: skip
        plain_tasks = "".join(f"  - {{id: t{i}, run: 'true'}}\n" for i in range(n))
        plain = write(root / "plain.yaml", "name: plain\noptions: {parallelism: 2}\ntasks:\n" + plain_tasks)
        rows: list[tuple[str, float]] = []
        samples: dict[str, list[float]] = {"plain": [], "matrix": []}
        for _ in range(args.runs):  # interleaved
            samples["plain"] += time_command([*dagctl, "run", str(plain), "-q"], runs=1, cwd=root, env=env)
            samples["matrix"] += time_command([*dagctl, "run", str(matrix), "-q"], runs=1, cwd=root, env=env)
        plain_ms = statistics.median(samples["plain"]) * 1000
        matrix_ms = statistics.median(samples["matrix"]) * 1000
        rows += [(f"{n} plain tasks", plain_ms), (f"{n}-cell matrix", matrix_ms)]
        validate = time_command([*dagctl, "validate", "-q", str(matrix)], runs=args.runs, cwd=root, env=env)
        rows.append(("validate the matrix DAG", statistics.median(validate) * 1000))

        (root / "sub").mkdir()
        inner = "".join(f"  - {{id: s{i}, run: 'true'}}\n" for i in range(5))
        write(root / "sub" / "child.yaml", "name: child\ntasks:\n" + inner)
        inline = write(root / "inline.yaml", "name: inline\ntasks:\n" + inner)
        parent = write(root / "parent.yaml", "name: parent\ntasks:\n  - {id: c, dag: sub/child.yaml}\n")
        sub_samples: dict[str, list[float]] = {"inline": [], "parent": []}
        for _ in range(max(args.runs, 9)):
            sub_samples["inline"] += time_command([*dagctl, "run", str(inline), "-q"], runs=1, cwd=root, env=env)
            sub_samples["parent"] += time_command([*dagctl, "run", str(parent), "-q"], runs=1, cwd=root, env=env)
        inline_ms = statistics.median(sub_samples["inline"]) * 1000
        parent_ms = statistics.median(sub_samples["parent"]) * 1000
        rows += [("5 tasks inline", inline_ms), ("the same 5 tasks as a sub-DAG", parent_ms)]
    width = max(len(name) for name, _ in rows)
    for name, ms in rows:
        print(f"  {name:<{width}}  {ms:9.1f} ms")
    print(f"  matrix / plain: {matrix_ms / plain_ms:.2f}x (target <= 1.2x)")
    print(f"  sub-DAG call: {parent_ms - inline_ms:+.1f} ms over inline (target <= 20 ms)")


if __name__ == "__main__":
    main()
