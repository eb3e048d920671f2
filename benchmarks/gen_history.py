"""Write a realistic event history (and the matching scheduler state log) for benchmarks.

    python benchmarks/gen_history.py EVENTS_PATH STATE_PATH [--lines 1000000] [--days 60] [--seed 1]
                                     [--now 2026-11-21T12:00:00Z] [--host NAME]

or from Python::

    from gen_history import generate_history
    run_ids = generate_history(events, state, lines=1_000_000, days=60, now=now, seed=1)

What it writes, in the runner's exact record shapes (``dagctl.store.events``):

* runs of 8 DAGs (5–30 tasks in layers, 5 tenants), spread over ``days`` days ending at ``now``; most are
  started by schedules at minute boundaries, the rest by hand, a few are retries of failed runs;
* per task attempt ``task_start`` then ``task_ok`` / ``task_fail`` (some timeouts) / ``task_retry``;
  skips propagate from failed upstream tasks; ~1 % of runs are cancelled part-way;
* a few runs whose owner "crashed" (no ``dag_done``), and the runs still in flight at ``now`` (their
  events after ``now`` are not written), both of which read as ``running``;
* lines from concurrent runs interleaved in time order, as several processes appending to one file;
* the state log: ``schedule_enqueued``, ``run_started``, ``run_finished`` and some ``schedule_skipped``.

Exactly ``lines`` event lines are written: the history is generated a little longer than ``days`` and
its oldest lines are dropped (as if the log had been pruned), so the newest part always ends at ``now``.
Deterministic for a given ``(lines, days, now, seed, host)``. Returns the run ids that have at least one
written line, oldest first; run folders are not created (``run_dir`` values point at
``<events dir>/runs/<run_id>``).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from dagctl.store.events import SCHEMA_VERSION, format_ts, parse_ts  # noqa: E402

EVENTS, STATE = 0, 1


@dataclass(frozen=True)
class Dag:
    name: str
    tenant: str
    layers: tuple[tuple[str, ...], ...]
    schedule_id: str | None
    every_min: int  # cron cadence of its schedule, for the mix of runs


def _catalog() -> list[Dag]:
    def layered(prefix: str, widths: list[int]) -> tuple[tuple[str, ...], ...]:
        n = 0
        out = []
        for w in widths:
            out.append(tuple(f"{prefix}_{n + i:02d}" for i in range(w)))
            n += w
        return tuple(out)

    return [
        Dag(
            "diamond_pipeline",
            "local-dev",
            (("extract",), ("transform_a", "transform_b"), ("join",), ("publish",)),
            "diamond-5m",
            5,
        ),
        Dag("etl_daily", "acme", layered("etl", [1, 3, 3, 2, 2, 1]), "etl-daily", 60),
        Dag("ml_training", "acme", layered("train", [2, 4, 4, 6, 6, 4, 3, 1]), "ml-nightly", 240),
        Dag("reports_pack", "globex", layered("report", [1, 4, 4, 4, 4, 1]), "reports-hourly", 60),
        Dag("ingest_hourly", "globex", layered("ingest", [1, 2, 2, 1, 1]), "ingest-15m", 15),
        Dag("weekly_ops_chain", "ops", layered("ops", [1, 1, 2, 2, 1, 1]), "weekly-ops", 120),
        Dag("backfill", "initech", layered("backfill", [1, 4, 4, 4, 4, 4, 3, 1]), None, 0),
        Dag("healthcheck", "ops", (("ping",), ("db", "cache", "queue"), ("report",)), "health-5m", 5),
    ]


def _task_traits(task_id: str) -> tuple[float, float, int]:
    """(median duration s, failure probability per attempt, retries) — fixed per task name."""
    r = random.Random(task_id)
    median = math.exp(r.uniform(math.log(0.2), math.log(90.0)))
    fail = r.choice([0.002, 0.005, 0.01, 0.02, 0.05, 0.12])
    retries = r.choice([0, 0, 1, 2])
    return median, fail, retries


class _Run:
    """One simulated run: its events as (ms offset, stream, kind, fields) in emission order."""

    __slots__ = ("dag", "events", "host", "pid", "run_id", "scheduler_pid", "start_ms", "status", "trigger")

    def __init__(self, dag: Dag, run_id: str, start_ms: int, trigger: str, pid: int, host: str) -> None:
        self.dag, self.run_id, self.start_ms, self.trigger, self.pid = dag, run_id, start_ms, trigger, pid
        self.host = host
        self.scheduler_pid = 1000 + sum(host.encode()) % 1000
        self.events: list[tuple[int, int, str, dict[str, Any]]] = []
        self.status = "running"


def _simulate(
    dag: Dag,
    start_ms: int,
    rng: random.Random,
    *,
    run_id: str,
    trigger: str,
    parent: str | None,
    host: str,
    runs_dir: str,
    traits: dict[str, tuple[float, float, int]],
) -> _Run:
    pid = rng.randint(2000, 4_000_000)
    run = _Run(dag, run_id, start_ms, trigger, pid, host)
    ev = run.events
    t = start_ms
    ntasks = sum(len(layer) for layer in dag.layers)
    run_dir = f"{runs_dir}/{run_id}"
    scheduled = trigger == "schedule"
    logical = format_ts(datetime.fromtimestamp(start_ms // 60000 * 60, timezone.utc)) if scheduled else None
    if scheduled:
        ev.append((t - rng.randint(5, 900), STATE, "schedule_enqueued", {}))
        ev.append((t, STATE, "run_started", {}))
    ev.append(
        (
            t,
            EVENTS,
            "dag_start",
            {
                "params": {"rows": rng.choice([100, 1000, 10000]), "mode": rng.choice(["full", "incremental"])},
                "trigger": trigger,
                "host": host,
                "pid": pid,
                "pid_start": float(rng.randint(10_000, 90_000_000)),
                "dag_file": f"configs/dags/{dag.name}.yaml",
                "run_dir": run_dir,
                "tasks": ntasks,
                "executor": "threads",
                "parent_run_id": parent,
                "schedule_id": dag.schedule_id if scheduled else None,
                "logical_date": logical,
            },
        )
    )
    crash = rng.random() < 0.002
    cancel_at = rng.randrange(len(dag.layers)) if rng.random() < 0.01 else -1
    status: dict[str, str] = {}
    counts = {"success": 0, "failed": 0, "skipped": 0, "cancelled": 0}
    upstream: tuple[str, ...] = ()
    for li, layer in enumerate(dag.layers):
        cancelled = li == cancel_at
        bad = next((u for u in upstream if status[u] != "success"), None)
        end = t
        for tid in layer:
            ts = t + rng.randint(1, 40)
            if cancelled or (cancel_at >= 0 and li > cancel_at):
                status[tid] = "cancelled"
                ev.append((ts, EVENTS, "task_cancel", {"task_id": tid, "reason": "not started: interrupted by SIGINT"}))
                continue
            if bad is not None:
                status[tid] = "skipped"
                ev.append((ts, EVENTS, "task_skip", {"task_id": tid, "reason": f"upstream '{bad}' {status[bad]}"}))
                continue
            median, p_fail, retries = traits[tid]
            for attempt in range(1, retries + 2):
                log = f"{run_dir}/{tid}.log" if attempt == 1 else f"{run_dir}/{tid}@{attempt}.log"
                ev.append((ts, EVENTS, "task_start", {"task_id": tid, "attempt": attempt, "log_path": log}))
                dur = round(median * rng.lognormvariate(0.0, 0.35), 3)
                ts += max(1, int(dur * 1000))
                if rng.random() >= p_fail:
                    outputs = ["rows"] if rng.random() < 0.3 else None
                    ev.append(
                        (
                            ts,
                            EVENTS,
                            "task_ok",
                            {
                                "task_id": tid,
                                "attempt": attempt,
                                "duration_s": dur,
                                "exit_code": 0,
                                "log_path": log,
                                "outputs": outputs,
                            },
                        )
                    )
                    status[tid] = "success"
                    break
                timeout = rng.random() < 0.1
                err = "timed out after 300s" if timeout else f"exit code {rng.choice([1, 1, 2, 137])}"
                if attempt <= retries:
                    delay = round(2.0 * 2 ** (attempt - 1) * rng.uniform(0.8, 1.2), 3)
                    ev.append(
                        (
                            ts,
                            EVENTS,
                            "task_retry",
                            {
                                "task_id": tid,
                                "attempt": attempt,
                                "delay_s": delay,
                                "error": err,
                                "status": "timeout" if timeout else "failed",
                            },
                        )
                    )
                    ts += int(delay * 1000)
                    continue
                ev.append(
                    (
                        ts,
                        EVENTS,
                        "task_fail",
                        {
                            "task_id": tid,
                            "attempt": attempt,
                            "status": "timeout" if timeout else "failed",
                            "duration_s": dur,
                            "exit_code": None if timeout else int(err.split()[-1]),
                            "error": err,
                            "log_path": log,
                        },
                    )
                )
                status[tid] = "failed"
            end = max(end, ts)
            if crash and rng.random() < 0.3:
                return run  # the owner died here: no more events, no dag_done
        t = end + rng.randint(2, 30)
        upstream = layer
    for s in status.values():
        counts[s] += 1
    final = run.status = "cancelled" if cancel_at >= 0 else ("failed" if counts["failed"] else "success")
    ev.append(
        (
            t,
            EVENTS,
            "dag_done",
            {
                "status": final,
                "duration_s": round((t - start_ms) / 1000, 3),
                "tasks_succeeded": counts["success"],
                "tasks_failed": counts["failed"],
                "tasks_skipped": counts["skipped"],
                "tasks_cancelled": counts["cancelled"],
                "error": "interrupted by SIGINT" if final == "cancelled" else None,
            },
        )
    )
    if scheduled:
        ev.append(
            (
                t + rng.randint(1, 50),
                STATE,
                "run_finished",
                {"status": final, "duration_s": round((t - start_ms) / 1000, 3)},
            )
        )
        if rng.random() < 0.03 and t - start_ms > 60_000:
            ev.append((start_ms // 60_000 * 60_000 + 60_000, STATE, "schedule_skipped", {"reason": "overlap"}))
    return run


def _plan_runs(
    lines: int, days: float, now_ms: int, seed: int, host: str | None, runs_dir: str, margin: float
) -> Iterator[_Run]:
    """Runs in start order, over a span ``margin`` times ``days`` (so that ``lines`` are surely there)."""
    rng = random.Random(seed)
    catalog = _catalog()
    traits = {tid: _task_traits(tid) for d in catalog for layer in d.layers for tid in layer}
    weights = [1.0 / max(d.every_min, 30) if d.every_min else 0.004 for d in catalog]
    avg_lines = _average_lines(catalog, weights, traits)
    span_ms = int(days * 86_400_000 * margin) + 3_600_000
    count = math.ceil(lines / avg_lines * margin) + 20
    starts = sorted(rng.randrange(now_ms - span_ms, now_ms) for _ in range(count))
    failed_recent: list[tuple[Dag, str]] = []
    hosts = [host] if host else ["worker-1", "worker-2", "worker-3"]
    for start in starts:
        dag = rng.choices(catalog, weights)[0]
        trigger, parent = ("schedule" if dag.schedule_id and rng.random() < 0.85 else "manual"), None
        if trigger == "schedule":
            start = start // 60_000 * 60_000 + rng.randint(0, 1500)
        elif failed_recent and rng.random() < 0.1:
            dag, parent = failed_recent.pop()
            trigger = "retry"
        when = datetime.fromtimestamp(start / 1000, timezone.utc)
        run_id = when.strftime("%Y%m%d-%H%M%S.") + f"{start % 1000:03d}-{rng.getrandbits(24):06x}"
        run = _simulate(
            dag,
            start,
            random.Random(rng.getrandbits(64)),
            run_id=run_id,
            trigger=trigger,
            parent=parent,
            host=rng.choice(hosts),
            runs_dir=runs_dir,
            traits=traits,
        )
        if run.status == "failed":
            failed_recent.append((dag, run_id))
            del failed_recent[:-20]
        yield run


def _average_lines(catalog: list[Dag], weights: list[float], traits: dict[str, tuple[float, float, int]]) -> float:
    rng = random.Random(0)
    total = 0
    samples = 2000
    for _ in range(samples):
        dag = rng.choices(catalog, weights)[0]
        run = _simulate(dag, 0, rng, run_id="x", trigger="manual", parent=None, host="h", runs_dir="r", traits=traits)
        total += sum(1 for e in run.events if e[1] == EVENTS)
    return total / samples


def _merge(runs: Iterator[_Run], now_ms: int) -> Iterator[tuple[int, int, _Run, str, dict[str, Any]]]:
    """Every (ts_ms, stream, run, kind, fields) up to ``now``, in time order across overlapping runs."""
    heap: list[tuple[int, int, int, _Run, str, dict[str, Any]]] = []
    seq = 0
    for run in runs:
        while heap and heap[0][0] < run.start_ms - 900_000:  # nothing earlier can come from later runs
            ts, _, stream, r, kind, fields = heapq.heappop(heap)
            if ts <= now_ms:
                yield ts, stream, r, kind, fields
        for ts, stream, kind, fields in run.events:
            heapq.heappush(heap, (ts, seq, stream, run, kind, fields))
            seq += 1
    while heap:
        ts, _, stream, r, kind, fields = heapq.heappop(heap)
        if ts <= now_ms:
            yield ts, stream, r, kind, fields


def _state_record(ts: str, kind: str, run: _Run, fields: dict[str, Any]) -> dict[str, Any]:
    """A line of the state log as ``dagctl.store.state`` writes it: slots keyed ``<schedule>@<fire>Z``."""
    sid = run.dag.schedule_id
    fire = datetime.fromtimestamp(run.start_ms // 60_000 * 60, timezone.utc)
    record: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "ts": ts,
        "event": kind,
        "schedule_id": sid,
        "slot": f"{sid}@{fire:%Y-%m-%dT%H:%M:%S}Z",
    }
    dag_file = f"configs/dags/{run.dag.name}.yaml"
    if kind == "schedule_enqueued":
        record.update(
            fire_utc=format_ts(fire),
            local_minute=f"{fire:%Y-%m-%dT%H:%M}",
            claimed_by={"host": run.host, "pid": run.scheduler_pid, "pid_start": 1234.0},
            trigger="schedule",
            dag=dag_file,
        )
    elif kind == "run_started":
        record.update(run_id=run.run_id, dag=dag_file, logical_date=format_ts(fire))
    elif kind == "run_finished":
        record.update(run_id=run.run_id, status=fields["status"], duration_s=fields["duration_s"])
    elif kind == "schedule_skipped":
        later = datetime.fromtimestamp(run.start_ms // 60_000 * 60 + 60, timezone.utc)
        record.update(
            slot=f"{sid}@{later:%Y-%m-%dT%H:%M:%S}Z",
            fire_utc=format_ts(later),
            local_minute=f"{later:%Y-%m-%dT%H:%M}",
            reason=fields["reason"],
        )
    return record


class _Stamp:
    """Fast ``format_ts`` for integer milliseconds (cached per second)."""

    def __init__(self) -> None:
        self._sec = -1
        self._prefix = ""

    def __call__(self, ms: int) -> str:
        sec, milli = divmod(ms, 1000)
        if sec != self._sec:
            self._sec = sec
            self._prefix = datetime.fromtimestamp(sec, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._prefix}.{milli:03d}Z"


def generate_history(
    events_path: Path | str,
    state_path: Path | str,
    *,
    lines: int,
    days: float = 60,
    now: datetime,
    seed: int = 1,
    host: str | None = None,
) -> list[str]:
    """Write exactly ``lines`` event lines (and the state log) ending at ``now``; return the run ids."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    events_path, state_path = Path(events_path), Path(state_path)
    now_ms = int(now.timestamp() * 1000)
    runs_dir = str(events_path.parent / "runs")

    margin = 1.02
    while True:  # count first (cheap: no JSON), then write the same history minus its oldest lines

        def merged(margin: float = margin) -> Iterator[tuple[int, int, _Run, str, dict[str, Any]]]:
            return _merge(_plan_runs(lines, days, now_ms, seed, host, runs_dir, margin), now_ms)

        total = sum(1 for item in merged() if item[1] == EVENTS)
        if total >= lines:
            break
        margin *= 1.05
    drop = total - lines
    stamp = _Stamp()
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    events_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    run_ids: list[str] = []
    seen: set[str] = set()
    written = 0
    with open(events_path, "w", encoding="utf-8") as ev_out, open(state_path, "w", encoding="utf-8") as st_out:
        ev_buf: list[str] = []
        st_buf: list[str] = []
        for ts, stream, run, kind, fields in merged():
            if stream == EVENTS:
                if drop:
                    drop -= 1
                    continue
                if run.run_id not in seen:
                    seen.add(run.run_id)
                    run_ids.append(run.run_id)
                record: dict[str, Any] = {
                    "v": SCHEMA_VERSION,
                    "ts": stamp(ts),
                    "event": kind,
                    "run_id": run.run_id,
                    "dag_name": run.dag.name,
                    "tenant_id": run.dag.tenant,
                }
                for key, value in fields.items():
                    if value is not None:
                        record[key] = value
                ev_buf.append(dumps(record))
                written += 1
                if len(ev_buf) >= 4096:
                    ev_out.write("\n".join(ev_buf) + "\n")
                    ev_buf.clear()
            elif not drop:
                st_buf.append(dumps(_state_record(stamp(ts), kind, run, fields)))
        if ev_buf:
            ev_out.write("\n".join(ev_buf) + "\n")
        if st_buf:
            st_out.write("\n".join(st_buf) + "\n")
    assert written == lines, (written, lines)
    return run_ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("events_path", type=Path)
    parser.add_argument("state_path", type=Path)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--now", help="UTC end of the history, e.g. 2026-11-21T12:00:00Z (default: now)")
    parser.add_argument("--host", help="host name in dag_start (default: worker-1..3, never this machine)")
    args = parser.parse_args(argv)
    now = parse_ts(args.now) if args.now else datetime.now(timezone.utc)
    began = time.perf_counter()
    run_ids = generate_history(
        args.events_path, args.state_path, lines=args.lines, days=args.days, now=now, seed=args.seed, host=args.host
    )
    took = time.perf_counter() - began
    size = args.events_path.stat().st_size / 1e6
    print(
        f"wrote {args.lines:,} event lines ({size:.0f} MB) of {len(run_ids):,} runs ending {format_ts(now)} "
        f"to {args.events_path}, state to {args.state_path}, in {took:.1f}s"
    )


if __name__ == "__main__":
    main()
