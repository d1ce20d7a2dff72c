"""The simulator's tabulated step times against the roofline they approximate.

Tolerances (relative to ``round_time``, on random step shapes up to the engine's limits):
decode steps within 0.2 %, steps with prompt tokens within 1 % (median within 0.3 %);
the fast whole-number lookup equals the table to rounding.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest

from conftest import deploy
from llmplan.deployment import Deployment
from llmplan.perf.serving import round_time
from llmplan.perf.step import StepShape
from llmplan.sim.lookup import StepLookup
from llmplan.sim.steptable import StepTimeTable, build_step_table, seqs_grid

DECODE_TOLERANCE = 0.002
MIXED_TOLERANCE = 0.01
MIXED_MEDIAN_TOLERANCE = 0.003
MAX_CONTEXT = 16384
SHAPES = 200

DEPLOYMENTS: dict[str, dict[str, Any]] = {
    "dense": dict(model="meta-llama/Llama-3.1-8B", gpu="H100"),
    "tensor-parallel fp8": dict(
        model="meta-llama/Llama-3.1-70B", gpu="H100", precision="fp8", tp=2
    ),
    "moe": dict(model="Qwen/Qwen3-30B-A3B", gpu="H100"),
    "sliding window": dict(model="google/gemma-2-9b", gpu="A100-80GB"),
    "pipeline micro-batches": dict(model="meta-llama/Llama-3.1-8B", gpu="L40S", pp=2),
    "no chunked prefill": dict(
        model="meta-llama/Llama-3.1-8B", gpu="RTX-4090", engine="llama.cpp", precision="q4_k_m"
    ),
}


@pytest.fixture(scope="module", params=sorted(DEPLOYMENTS))
def deployed(request: pytest.FixtureRequest) -> tuple[Deployment, StepTimeTable]:
    dep = deploy(**DEPLOYMENTS[request.param])
    return dep, build_step_table(dep, max_context=MAX_CONTEXT)


def _exact(dep: Deployment, n: float, c: float, p: float, s: float, x: float) -> float:
    shape = StepShape(n, c, p, s if p else 0.0, 2 * x)
    return float(round_time(dep, shape)[0])


def test_decode_steps_match_the_roofline(deployed: tuple[Deployment, StepTimeTable]) -> None:
    dep, table = deployed
    rng = np.random.default_rng(0)
    for _ in range(SHAPES):
        n = int(rng.integers(1, dep.engine.max_num_seqs + 1))
        context = float(rng.uniform(1, MAX_CONTEXT / 2))
        got = table.step(n, context, 0, 0, 0)
        assert got == pytest.approx(_exact(dep, n, context, 0, 0, 0), rel=DECODE_TOLERANCE)


def test_steps_with_prompt_tokens_match_the_roofline(
    deployed: tuple[Deployment, StepTimeTable],
) -> None:
    dep, table = deployed
    rng = np.random.default_rng(1)
    errors = []
    for _ in range(SHAPES):
        n = int(rng.integers(0, dep.engine.max_num_seqs + 1))
        context = float(rng.uniform(1, MAX_CONTEXT / 2))
        prefill = int(rng.integers(1, dep.engine.max_batched_tokens + 1))
        seqs = int(rng.integers(1, 4))
        attended = float(rng.uniform(0, MAX_CONTEXT / 4))
        got = table.step(n, context, prefill, seqs, attended)
        errors.append(got / _exact(dep, n, context, prefill, seqs, attended) - 1)
    assert max(map(abs, errors)) < MIXED_TOLERANCE
    assert float(np.median(np.abs(errors))) < MIXED_MEDIAN_TOLERANCE


def test_a_lone_prompt_is_exact_on_the_grid(deployed: tuple[Deployment, StepTimeTable]) -> None:
    """What sets the simulated TTFT at low load: a whole prompt, nothing decoding."""
    dep, table = deployed
    for prompt in (256, 1024):
        got = table.step(0, 0.0, prompt, 1, prompt / 2)
        assert got == pytest.approx(_exact(dep, 0, 0, prompt, 1, prompt / 2), rel=0.005)


def test_fast_lookup_equals_the_table(deployed: tuple[Deployment, StepTimeTable]) -> None:
    dep, table = deployed
    lookup = StepLookup(table)
    rng = np.random.default_rng(2)
    for _ in range(SHAPES):
        n = int(rng.integers(0, dep.engine.max_num_seqs + 1))
        context = float(rng.uniform(0, MAX_CONTEXT))
        prefill = int(rng.integers(1, dep.engine.max_batched_tokens + 1))
        seqs = int(rng.integers(1, 4))
        attended = float(rng.uniform(0, MAX_CONTEXT))
        fast = lookup.mixed(n, context, prefill, seqs, attended)
        assert fast == pytest.approx(table.step(n, context, prefill, seqs, attended), rel=1e-12)
        if n:
            a, b = lookup.decode_line(n, context)
            c, d = table.decode_line(n, context)
            assert a + b * context == pytest.approx(c + d * context, rel=1e-12)


def test_decode_time_is_linear_between_context_knots() -> None:
    """The closed form of a run of decode steps needs a straight line per knot interval."""
    dep = deploy("meta-llama/Llama-3.1-8B", "H100")
    table = build_step_table(dep, max_context=MAX_CONTEXT)
    a, b = table.decode_line(64, 3000.0)
    for context in (2048.0, 2500.0, 4095.0):
        assert a + b * context == pytest.approx(_exact(dep, 64, context, 0, 0, 0), rel=1e-3)


def test_seqs_grid_covers_every_batch_size() -> None:
    grid = seqs_grid(256)
    assert grid[:33] == tuple(float(n) for n in range(33))
    assert grid[-1] == 257.0
    assert all(b > a for a, b in itertools.pairwise(grid))
    assert seqs_grid(4) == (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
