"""Load test of the REST API: a bounded number of requests against a local server.

Usage: python benchmarks/bench_api.py [--requests 1000] [--concurrency 8] [--database-url URL]

Starts ``llmplan serve`` on a free port of 127.0.0.1 (SQLite in a temporary
``LLMPLAN_HOME`` unless ``--database-url`` is given), then for each kind of request sends
``--requests`` of them from ``--concurrency`` concurrent clients (keep-alive HTTP/1.1) and
prints requests/s with the p50 and p99 latency; then times a few plan jobs end to end.
Every phase stops after ``--max-seconds`` whatever its count, and the server is stopped at
the end. Traffic goes to loopback only. Client and server share this machine's cores, so
the figures are a floor. Run on demand; nothing here passes or fails on time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVE = "import typer; from llmplan.cli.serve import serve_command; typer.run(serve_command)"
MEMORY = {"model": "meta-llama/Llama-3.1-70B", "gpu": "H100", "tp": 2, "precision": "fp8"}
PERF = {"model": "meta-llama/Llama-3.1-8B", "gpu": "H100", "request_rate": 4.0}
SCENARIO = {
    "name": "Load test",
    "workloads": [
        {
            "name": "chat",
            "model": "meta-llama/Llama-3.1-8B",
            "requests_per_day": 5000,
            "input_tokens": 800,
            "output_tokens": 200,
        }
    ],
}
PLAN = {"example": "small-team-consumer-gpus", "samples": 100}
Call = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Phase:
    name: str
    call: Call
    setup: Callable[[httpx.AsyncClient, int], Awaitable[Any]] | None = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int, home: str, database_url: str | None) -> subprocess.Popen[bytes]:
    env = os.environ | {"LLMPLAN_HOME": home}
    env.pop("LLMPLAN_DATABASE_URL", None)
    args = ["--port", str(port), "--log-level", "warning"]
    if database_url:
        args += ["--database-url", database_url]
    server = subprocess.Popen([sys.executable, "-c", SERVE, *args], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


async def _own_scenario(client: httpx.AsyncClient, worker: int) -> dict[str, Any]:
    body = {"scenario": SCENARIO | {"name": f"Load test {worker}"}}
    created = (await client.post("/api/v1/scenarios", json=body)).json()
    return {"id": created["id"], "version": created["version"]}


def phases() -> list[Phase]:
    state: dict[int, dict[str, Any]] = {}

    async def setup(client: httpx.AsyncClient, worker: int) -> None:
        state[worker] = await _own_scenario(client, worker)

    async def update(client: httpx.AsyncClient, worker: int) -> httpx.Response:
        mine = state[worker]
        body = {"scenario": SCENARIO | {"name": f"Load test {worker} v{mine['version'] + 1}"}}
        headers = {"If-Match": f'"{mine["version"]}"'}
        response = await client.put(f"/api/v1/scenarios/{mine['id']}", json=body, headers=headers)
        if response.status_code == 200:
            mine["version"] = response.json()["version"]
        return response

    async def read(client: httpx.AsyncClient, worker: int) -> httpx.Response:
        return await client.get(f"/api/v1/scenarios/{state[worker]['id']}")

    return [
        Phase("GET /health", lambda c, w: c.get("/health")),
        Phase("GET /catalog/gpus?search", lambda c, w: c.get("/api/v1/catalog/gpus?search=h100")),
        Phase("POST /memory", lambda c, w: c.post("/api/v1/memory", json=MEMORY)),
        Phase("POST /perf (Poisson)", lambda c, w: c.post("/api/v1/perf", json=PERF)),
        Phase(
            "POST /scenarios", lambda c, w: c.post("/api/v1/scenarios", json={"scenario": SCENARIO})
        ),
        Phase("PUT /scenarios/{id}", update, setup),
        Phase("GET /scenarios/{id}", read, setup),
    ]


async def run_phase(
    base: str, phase: Phase, requests: int, concurrency: int, max_seconds: float
) -> tuple[int, float, list[float], int]:
    """Requests done, seconds, latencies (s) and failures of one phase."""
    latencies: list[float] = []
    failures = 0
    counter = iter(range(requests))
    deadline = time.monotonic() + max_seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def worker(index: int) -> None:
            nonlocal failures
            if phase.setup is not None:
                await phase.setup(client, index)
            for _ in counter:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = await phase.call(client, index)
                latencies.append(time.perf_counter() - started)
                failures += response.status_code >= 400

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return len(latencies), elapsed, latencies, failures


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def plan_jobs(base: str, count: int) -> tuple[float, list[float]]:
    """Seconds for ``count`` plan jobs submitted together, and each one's latency."""
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:

        async def one() -> float:
            started = time.perf_counter()
            job = (await client.post("/api/v1/plans", json=PLAN)).json()
            while job["status"] in ("queued", "running"):
                job = (await client.get(f"/api/v1/jobs/{job['id']}", params={"wait": 10})).json()
            assert job["status"] == "succeeded", job
            return time.perf_counter() - started

        started = time.perf_counter()
        latencies = await asyncio.gather(*(one() for _ in range(count)))
        return time.perf_counter() - started, list(latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per kind of request")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--plans", type=int, default=4, help="plan jobs timed end to end")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per phase")
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    requests = max(1, min(args.requests, 20_000))
    with tempfile.TemporaryDirectory() as home:
        port = free_port()
        server = start_server(port, home, args.database_url)
        base = f"http://127.0.0.1:{port}"
        try:
            report(base, requests, args, server.pid)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=30)


def report(base: str, requests: int, args: argparse.Namespace, pid: int) -> None:
    """One line per kind of request; ``cpu ms`` is the server's CPU time per request, a
    figure that other load on the machine does not inflate."""
    database = args.database_url.split("://")[0] if args.database_url else "sqlite"
    print(f"{requests} requests per kind, {args.concurrency} concurrent clients, {database}")
    print(
        f"{'request':28s} {'done':>6s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} "
        f"{'cpu ms':>7s} {'errors':>6s}"
    )
    for phase in phases():
        asyncio.run(run_phase(base, phase, min(20, requests), args.concurrency, 10))  # warm up
        cpu = cpu_seconds(pid)
        done, seconds, latencies, failures = asyncio.run(
            run_phase(base, phase, requests, args.concurrency, args.max_seconds)
        )
        cpu = cpu_seconds(pid) - cpu
        print(
            f"{phase.name:28s} {done:6d} {done / seconds:8.1f} "
            f"{percentile(latencies, 0.5) * 1e3:8.1f} {percentile(latencies, 0.99) * 1e3:8.1f} "
            f"{cpu / done * 1e3:7.2f} {failures:6d}"
        )
    if args.plans > 0:
        seconds, latencies = asyncio.run(plan_jobs(base, args.plans))
        print(
            f"{args.plans} plan jobs ({PLAN['example']}, {PLAN['samples']} draws) submitted "
            f"together: {seconds:.1f} s in all, {args.plans / seconds:.2f} plans/s, "
            f"median {statistics.median(latencies):.2f} s each (1 worker process)"
        )


if __name__ == "__main__":
    main()
