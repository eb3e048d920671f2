"""A short load test on loopback (the 60-second one is benchmarks/bench_serve.py): 100 SSE clients follow one
run while ``GET /api/runs`` is asked 20 times a second, against a real ``dagctl serve`` process whose memory is
read from /proc."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from dagctl.clock import SystemClock
from dagctl.store.events import parse_ts
from tests.support import process_alive, wait_until

CLIENTS = 100
REQUESTS_PER_S = 20
SECONDS = 5.0


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def follow(client: httpx.AsyncClient, run_id: str, clock: SystemClock, lags: list[float]) -> list[str]:
    events: list[str] = []
    async with client.stream("GET", f"/api/runs/{run_id}/events") as response:
        assert response.status_code == 200
        kind = "message"
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                if kind == "complete":
                    events.append("complete")
                    break
                record = json.loads(line[6:])
                events.append(record["event"])
                lags.append((clock.now() - parse_ts(record["ts"])).total_seconds())
            elif line == "":
                kind = "message"
    return events


async def poll_runs(client: httpx.AsyncClient, stop: asyncio.Event, clock: SystemClock, took: list[float]) -> None:
    while not stop.is_set():
        began = clock.monotonic()
        response = await client.get("/api/runs", params={"limit": 50})
        assert response.status_code == 200
        took.append(clock.monotonic() - began)
        with contextlib.suppress(asyncio.TimeoutError):  # paced: the next request 1/20 s after this one began
            await asyncio.wait_for(stop.wait(), max(1 / REQUESTS_PER_S - (clock.monotonic() - began), 0.001))


@pytest.mark.slow
def test_100_streams_and_20_list_requests_a_second_for_5_seconds(web_project: Path, tmp_path: Path) -> None:
    lines = ["name: steps", "tasks:"]
    for i in range(int(SECONDS / 0.15)):  # a chain of short tasks: events all along the test
        after = f", depends_on: [s{i - 1:02d}]" if i else ""
        lines.append(f"  - {{id: s{i:02d}, run: 'sleep 0.1'{after}}}")
    (web_project / "configs" / "dags" / "steps.yaml").write_text("\n".join(lines) + "\n")
    err = (tmp_path / "serve.err").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dagctl", "serve", "--port", "0", "-q"],
        cwd=web_project,
        stdout=subprocess.DEVNULL,
        stderr=err,
        start_new_session=True,
    )
    run_pid = 0
    try:
        url = wait_until(lambda: _url(tmp_path / "serve.err"), 20, "listening")
        clock = SystemClock()

        async def load() -> tuple[list[list[str]], list[float], list[float], float, float, float]:
            limits = httpx.Limits(max_connections=CLIENTS + 10)
            async with httpx.AsyncClient(base_url=str(url), timeout=60, limits=limits) as client:
                for _ in range(3):  # some history to list
                    started = await client.post("/api/runs", json={"dag": "quick"})
                    assert started.status_code == 202
                before = rss_mb(proc.pid)
                started = await client.post("/api/runs", json={"dag": "steps"})
                nonlocal run_pid
                run_pid = started.json()["pid"]
                run_id = started.json()["run_id"]
                lags: list[float] = []
                took: list[float] = []
                stop = asyncio.Event()
                began = clock.monotonic()
                poller = asyncio.create_task(poll_runs(client, stop, clock, took))
                results = await asyncio.gather(*(follow(client, run_id, clock, lags) for _ in range(CLIENTS)))
                elapsed = clock.monotonic() - began
                stop.set()
                await poller
                return results, lags, took, before, rss_mb(proc.pid), elapsed

        results, lags, took, before, after, elapsed = asyncio.run(load())
        expected = results[0]
        assert expected[0] == "dag_start" and expected[-2:] == ["dag_done", "complete"]
        assert all(r == expected for r in results), "every client got every event, in order"
        lags.sort()
        took.sort()
        # generous bounds: this checks behaviour on a shared CI machine; bench_serve.py measures the speed
        assert lags[len(lags) // 2] < 1.0, f"median delivery {lags[len(lags) // 2]:.3f}s"
        assert len(took) >= REQUESTS_PER_S * elapsed * 0.4, f"{len(took)} list requests in {elapsed:.1f}s"
        assert took[len(took) // 2] < 0.5, f"median list {took[len(took) // 2]:.3f}s"
        assert after - before < 40, f"RSS grew from {before:.0f} MB to {after:.0f} MB"
        print(
            f"\n{CLIENTS} streams x {len(expected)} events; delivery median {lags[len(lags) // 2] * 1000:.0f} ms, "
            f"max {lags[-1] * 1000:.0f} ms; GET /api/runs x {len(took)}: median {took[len(took) // 2] * 1000:.1f} ms;"
            f" RSS {before:.0f} -> {after:.0f} MB"
        )
    finally:
        err.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        if run_pid and process_alive(run_pid):
            os.killpg(run_pid, signal.SIGKILL)


def _url(err_path: Path) -> str | None:
    for line in err_path.read_text().splitlines():
        if line.startswith("dagctl serve: listening on "):
            return line.rsplit(" ", 1)[1]
    return None
