"""`dagctl serve` over a long history: list latency, event delivery, memory, and a load test on loopback.

    python benchmarks/bench_serve.py [--lines 1000000] [--seconds 60] [--clients 100] [--rate 20] [--samples 101]

Generates LINES event lines (benchmarks/gen_history.py) split into run folders as dagctl writes them, starts a
real `dagctl serve` process on a free loopback port over them, and prints medians:

  GET /api/runs?limit=50                  target <= 30 ms median (cold: the first request, which reads the runs)
  event appended -> SSE client            target <= 250 ms (receive time minus the event's own timestamp)
  server RSS                              target <= 150 MB
  load: CLIENTS SSE clients on one run plus RATE x GET /api/runs a second for SECONDS: every client gets every
  event, the list stays fast, and memory stays bounded (RSS sampled every second).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import dagctl_cmd
from bench_history import split_into_run_folders
from gen_history import generate_history

SRC = Path(__file__).resolve().parents[1] / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))
from dagctl.store.events import parse_ts  # noqa: E402


def rss(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB."""
    found = {}
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found["VmRSS"], found["VmHWM"]


def chain(name: str, tasks: int, sleep: float) -> str:
    lines = [f"name: {name}", "tasks:"]
    for i in range(tasks):
        after = f", depends_on: [t{i - 1:03d}]" if i else ""
        lines.append(f"  - {{id: t{i:03d}, run: 'sleep {sleep}'{after}}}")
    return "\n".join(lines) + "\n"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def follow(client: httpx.AsyncClient, run_id: str, lags: list[float]) -> list[str]:
    kinds: list[str] = []
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        response.raise_for_status()
        event = "message"
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                if event == "complete":
                    kinds.append("complete")
                    return kinds
                record = json.loads(line[6:])
                lags.append((datetime.now(timezone.utc) - parse_ts(record["ts"])).total_seconds())
                kinds.append(record["event"])
            elif not line:
                event = "message"
    return kinds


async def list_runs(client: httpx.AsyncClient, rate: float, stop: asyncio.Event, took: list[float]) -> None:
    while not stop.is_set():
        began = time.perf_counter()
        response = await client.get("/api/runs", params={"limit": 50})
        response.raise_for_status()
        took.append(time.perf_counter() - began)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), max(1 / rate - (time.perf_counter() - began), 0.001))


async def sample_rss(pid: int, stop: asyncio.Event, samples: list[float]) -> None:
    while not stop.is_set():
        samples.append(rss(pid)[0])
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def measure(url: str, pid: int, args: argparse.Namespace) -> None:
    limits = httpx.Limits(max_connections=args.clients + 20)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        # 1. the list, cold then warm
        began = time.perf_counter()
        first = await client.get("/api/runs", params={"limit": 50})
        cold = time.perf_counter() - began
        assert len(first.json()) == 50, first.text[:300]
        took = []
        for _ in range(args.samples):
            began = time.perf_counter()
            (await client.get("/api/runs", params={"limit": 50})).raise_for_status()
            took.append(time.perf_counter() - began)
        print(
            f"  GET /api/runs?limit=50          median {statistics.median(took) * 1000:6.1f} ms, "
            f"p95 {pct(took, 0.95) * 1000:.1f} ms, cold {cold * 1000:.0f} ms   target <= 30 ms median"
        )
        # 2. delivery of events to one client
        started = (await client.post("/api/runs", json={"dag": "chain"})).json()
        lags: list[float] = []
        kinds = await follow(client, started["run_id"], lags)
        print(
            f"  event appended -> SSE client    median {statistics.median(lags) * 1000:6.1f} ms, "
            f"p95 {pct(lags, 0.95) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms over {len(kinds) - 1} events"
            "   target <= 250 ms"
        )
        now, peak = rss(pid)
        print(f"  server RSS                      {now:6.1f} MB (peak {peak:.1f} MB)   target <= 150 MB")
        # 3. load
        started = (await client.post("/api/runs", json={"dag": "long"})).json()
        lags, took, memory = [], [], []
        stop = asyncio.Event()
        side = [
            asyncio.create_task(list_runs(client, args.rate, stop, took)),
            asyncio.create_task(sample_rss(pid, stop, memory)),
        ]
        began = time.perf_counter()
        results = await asyncio.gather(*(follow(client, started["run_id"], lags) for _ in range(args.clients)))
        elapsed = time.perf_counter() - began
        stop.set()
        await asyncio.gather(*side)
        same = all(r == results[0] for r in results)
        print(
            f"  load, {elapsed:.0f} s: {args.clients} SSE clients x {len(results[0]) - 1} events "
            f"({'all identical' if same else 'CLIENTS DIFFER'}), {len(took)} x GET /api/runs "
            f"({len(took) / elapsed:.1f}/s)"
        )
        print(
            f"    list under load               median {statistics.median(took) * 1000:6.1f} ms, "
            f"p95 {pct(took, 0.95) * 1000:.1f} ms"
        )
        print(
            f"    delivery under load           median {statistics.median(lags) * 1000:6.1f} ms, "
            f"p95 {pct(lags, 0.95) * 1000:.0f} ms, max {max(lags) * 1000:.0f} ms"
        )
        every_10 = ", ".join(f"{m:.0f}" for m in memory[::10])
        print(
            f"    server RSS                    start {memory[0]:.1f} MB, end {memory[-1]:.1f} MB, "
            f"max {max(memory):.1f} MB (every 10 s: {every_10} MB)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load test")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="GET /api/runs per second during the load test")
    parser.add_argument("--samples", type=int, default=101)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        logs = root / "logs"
        logs.mkdir()
        events = logs / "orchestrator_events.jsonl"
        began = time.perf_counter()
        generate_history(events, logs / "orchestrator_state.jsonl", lines=args.lines, now=datetime.now(timezone.utc))
        runs = split_into_run_folders(events, logs / "runs")
        dags = root / "configs" / "dags"
        dags.mkdir(parents=True)
        (dags / "chain.yaml").write_text(chain("chain", 40, 0.1))
        (dags / "long.yaml").write_text(chain("long", max(int(args.seconds / 0.52), 1), 0.5))
        print(
            f"history: {args.lines:,} event lines ({events.stat().st_size / 1048576:.0f} MiB), {runs:,} run folders "
            f"(made in {time.perf_counter() - began:.0f} s); {os.cpu_count()} CPUs"
        )
        env = {**os.environ, "DAGCTL_LOGS_DIR": str(logs)}
        err = root / "serve.err"
        with err.open("wb") as err_fh:
            server = subprocess.Popen(
                [*dagctl_cmd(), "serve", "--port", "0", "-q", "--max-streams", str(args.clients + 10)],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err_fh,
                start_new_session=True,
            )
        try:
            url = None
            for _ in range(300):
                lines = [x for x in err.read_text().splitlines() if x.startswith("dagctl serve: listening on ")]
                if lines:
                    url = lines[0].rsplit(" ", 1)[1]
                    break
                if server.poll() is not None:
                    raise SystemExit(f"dagctl serve exited: {err.read_text()}")
                time.sleep(0.1)
            assert url, "dagctl serve did not start"
            asyncio.run(measure(url, server.pid, args))
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                code = server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                code = server.wait()
            print(f"  SIGTERM: the server exited {code}")


if __name__ == "__main__":
    main()
