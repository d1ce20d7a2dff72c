"""Driving an OpenAI-compatible streaming endpoint and timing every request.

A run is a :class:`BenchRun`: it holds the results measured so far, so when the run is
cancelled (Ctrl-C cancels the asyncio task) the caller still has every finished request.
A failed request (timeout, dropped connection, HTTP error, malformed stream chunk) becomes
a :class:`RequestResult` with ``error`` set; it never stops the run.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from llmplan.bench.workload import Api, BenchConfig, LoadStep, StepKind, make_prompt
from llmplan.errors import LlmplanError

ProgressHook = Callable[[LoadStep, int, int | None], None]  # step, requests done, total
MAX_ERROR_CHARS = 200


class StreamError(LlmplanError):
    """A response that is not a valid OpenAI-compatible stream; ``kind`` names the failure."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


@dataclass
class RequestResult:
    """One request. Times are seconds from the request's start (``perf_counter`` based)."""

    input_tokens_requested: int
    output_tokens_requested: int
    start_s: float = 0.0
    ttft_s: float | None = None
    e2e_s: float | None = None
    token_times_s: list[float] = field(default_factory=list)
    input_tokens: int | None = None  # from the server's usage, when sent
    output_tokens: int | None = None
    error: str | None = None  # failure kind: timeout, connection, http_500, malformed_chunk...
    error_detail: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def itl_s(self) -> list[float]:
        times = self.token_times_s
        return [b - a for a, b in itertools.pairwise(times)]

    @property
    def tokens_out(self) -> int:
        """Generated tokens: the server's count, else the content chunks received."""
        return self.output_tokens if self.output_tokens is not None else len(self.token_times_s)


@dataclass
class StepRun:
    step: LoadStep
    results: list[RequestResult] = field(default_factory=list)
    started_s: float = 0.0
    ended_s: float = 0.0


@dataclass
class BenchRun:
    """Results of a run so far; filled in place while the run goes."""

    config: BenchConfig
    steps: list[StepRun] = field(default_factory=list)
    warmup: list[RequestResult] = field(default_factory=list)
    ignore_eos: bool = True
    interrupted: bool = False


def _payload(config: BenchConfig, prompt: str, max_tokens: int, ignore_eos: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": config.model,
        "max_tokens": max_tokens,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.0,
    }
    if config.api is Api.CHAT:
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if ignore_eos:
        body["ignore_eos"] = True
    return body


def _chunk_text(chunk: dict[str, Any], api: Api) -> str:
    choices = chunk.get("choices")
    if not isinstance(choices, list):
        raise StreamError("malformed_chunk", "chunk without a 'choices' list")
    if not choices:
        return ""  # the usage chunk
    choice = choices[0]
    if not isinstance(choice, dict):
        raise StreamError("malformed_chunk", "choice is not an object")
    if api is Api.CHAT:
        delta = choice.get("delta") or {}
        text = delta.get("content") if isinstance(delta, dict) else None
    else:
        text = choice.get("text")
    return text if isinstance(text, str) else ""


def _read_usage(chunk: dict[str, Any], result: RequestResult) -> None:
    usage = chunk.get("usage")
    if isinstance(usage, dict):
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        if isinstance(prompt, int):
            result.input_tokens = prompt
        if isinstance(completion, int):
            result.output_tokens = completion


async def _consume(response: httpx.Response, result: RequestResult, api: Api, t0: float) -> None:
    done = False
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, comments, event names
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            break
        try:
            chunk = json.loads(data)
        except json.JSONDecodeError:
            raise StreamError("malformed_chunk", f"not JSON: {data[:80]!r}") from None
        if not isinstance(chunk, dict):
            raise StreamError("malformed_chunk", "chunk is not a JSON object")
        if "error" in chunk:
            raise StreamError("stream_error", str(chunk["error"])[:MAX_ERROR_CHARS])
        if _chunk_text(chunk, api):
            now = time.perf_counter() - t0
            if result.ttft_s is None:
                result.ttft_s = now
            result.token_times_s.append(now)
        _read_usage(chunk, result)
    if not done:
        raise StreamError("incomplete_stream", "stream ended without 'data: [DONE]'")
    if result.ttft_s is None:
        raise StreamError("no_tokens", "stream carried no generated text")


async def send_request(
    client: httpx.AsyncClient,
    config: BenchConfig,
    prompt: str,
    result: RequestResult,
    ignore_eos: bool,
) -> RequestResult:
    """Send one streaming request and fill ``result``; failures set ``result.error``."""
    body = _payload(config, prompt, result.output_tokens_requested, ignore_eos)
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    t0 = time.perf_counter()
    result.start_s = t0
    try:
        async with client.stream("POST", config.endpoint, json=body, headers=headers) as resp:
            if resp.status_code >= 400:
                text = (await resp.aread()).decode("utf-8", "replace")
                raise StreamError(f"http_{resp.status_code}", text[:MAX_ERROR_CHARS])
            await _consume(resp, result, config.api, t0)
        result.e2e_s = time.perf_counter() - t0
    except StreamError as exc:
        result.error, result.error_detail = exc.kind, str(exc)
    except httpx.TimeoutException as exc:
        result.error, result.error_detail = "timeout", type(exc).__name__
    except (httpx.TransportError, httpx.DecodingError) as exc:
        result.error, result.error_detail = "connection", f"{type(exc).__name__}: {exc}"[:200]
    return result


class _Requests:
    """Request lengths and prompts of one step, drawn from the run's generator."""

    def __init__(self, config: BenchConfig, rng: np.random.Generator, n: int) -> None:
        self.config, self.rng = config, rng
        self.inputs = config.input_len.sample(rng, n)
        self.outputs = config.output_len.sample(rng, n)

    def make(self, i: int) -> tuple[str, RequestResult]:
        k = i % len(self.inputs)
        inp, out = self.inputs[k], self.outputs[k]
        return make_prompt(inp, self.rng), RequestResult(inp, out)


def _budget(config: BenchConfig, step: LoadStep) -> int:
    """How many requests to prepare lengths for."""
    if config.requests is not None:
        return config.requests
    per_s = step.value if step.kind is StepKind.RATE else step.value * 4
    return max(64, int(per_s * (config.duration_s or 0) * 2))


async def _run_concurrency(
    client: httpx.AsyncClient,
    run: BenchRun,
    step_run: StepRun,
    reqs: _Requests,
    progress: ProgressHook | None,
) -> None:
    config, clients = run.config, int(step_run.step.value)
    deadline = None if config.duration_s is None else time.perf_counter() + config.duration_s
    issued = 0

    def take() -> int | None:
        nonlocal issued
        if config.requests is not None and issued >= config.requests:
            return None
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        issued += 1
        return issued - 1

    async def worker() -> None:
        while (i := take()) is not None:
            prompt, result = reqs.make(i)
            await send_request(client, config, prompt, result, run.ignore_eos)
            step_run.results.append(result)
            if progress:
                progress(step_run.step, len(step_run.results), config.requests)

    await asyncio.gather(*(worker() for _ in range(clients)))


async def _run_rate(
    client: httpx.AsyncClient,
    run: BenchRun,
    step_run: StepRun,
    reqs: _Requests,
    rng: np.random.Generator,
    progress: ProgressHook | None,
) -> None:
    config, rate = run.config, step_run.step.value
    start = time.perf_counter()
    tasks: set[asyncio.Task[None]] = set()

    async def one(i: int) -> None:
        prompt, result = reqs.make(i)
        await send_request(client, config, prompt, result, run.ignore_eos)
        step_run.results.append(result)
        if progress:
            progress(step_run.step, len(step_run.results), config.requests)

    i, at = 0, 0.0
    try:
        while config.requests is None or i < config.requests:
            at += float(rng.exponential(1.0 / rate))
            if config.duration_s is not None and at >= config.duration_s:
                break
            await asyncio.sleep(max(0.0, start + at - time.perf_counter()))
            tasks.add(asyncio.create_task(one(i)))
            i += 1
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


async def run_bench(
    config: BenchConfig, run: BenchRun | None = None, progress: ProgressHook | None = None
) -> BenchRun:
    """Run every step of ``config`` in order; results accumulate in ``run``."""
    run = run or BenchRun(config, ignore_eos=config.ignore_eos)
    rng = np.random.default_rng(config.seed)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    timeout = httpx.Timeout(config.timeout_s)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        await _warm_up(client, run, rng)
        for step in config.steps:
            step_run = StepRun(step, started_s=time.perf_counter())
            run.steps.append(step_run)
            reqs = _Requests(config, rng, _budget(config, step))
            try:
                if step.kind is StepKind.CONCURRENCY:
                    await _run_concurrency(client, run, step_run, reqs, progress)
                else:
                    await _run_rate(client, run, step_run, reqs, rng, progress)
            finally:
                step_run.ended_s = time.perf_counter()
    return run


async def _warm_up(client: httpx.AsyncClient, run: BenchRun, rng: np.random.Generator) -> None:
    """Warm-up requests, not measured. A server that rejects ``ignore_eos`` (HTTP 400/422
    on the first one) is retried without it, and the run goes on without it."""
    config = run.config
    for i in range(config.warmup):
        inp, out = config.input_len.mean_tokens, config.output_len.mean_tokens
        prompt = make_prompt(inp, rng)
        result = await send_request(client, config, prompt, RequestResult(inp, out), run.ignore_eos)
        if i == 0 and run.ignore_eos and result.error in ("http_400", "http_422"):
            run.ignore_eos = False
            result = await send_request(client, config, prompt, RequestResult(inp, out), False)
        run.warmup.append(result)
