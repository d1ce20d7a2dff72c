"""Poisson arrivals with varied lengths: TTFT and TPOT, means and percentiles, as queues.

One replica under open-loop Poisson arrivals at ``rate_per_s``, prompts and outputs
lognormal (:class:`Lengths`; fixed lengths are a coefficient of variation of 0),
continuous batching with chunked prefill. Four mechanisms, each a textbook result:

- **prefill as a single server** (M/G/1, FCFS): a prompt of ``x`` tokens occupies the
  engine's steps for ``S(x) = p(x) + k(x) d`` seconds, ``p(x)`` the time its tokens add
  to the steps (beside the running decodes, or alone without chunked prefill), ``k(x)``
  its chunks of the token budget and ``d`` a decode step. A new prompt waits for the
  prompt work ahead of it: the Pollaczek-Khinchine mean ``lambda E[S^2] / (2 (1 - rho))``
  with ``rho = lambda E[S]``; the wait is 0 with probability ``1 - rho`` and otherwise
  taken as exponential (exact for M/M/1; Kleinrock, *Queueing Systems* I, 1975, ch. 5).
  Long prompts count by ``E[S^2]``, so heavy-tailed prompts queue far more than their
  mean suggests;
- **decode slowed by prefill**: a share ``lambda E[p(X)]`` of the time goes to prompt
  work, so decode steps advance at ``(1 - that share) / d`` per second;
- **the batch a request sees**: running sequences form an M/G/inf system, Poisson in
  number with mean ``b`` (Little: ``b = lambda x decode time``); a request sees itself
  and ``Poisson(b)`` others, so its step holds ``1 + b`` sequences on average, and that
  number's average over the request's life fluctuates (exponential correlation over
  the running sequences' mean residual life);
- **running sequences are length-biased**: a sequence runs for a time proportional to
  its output, so the running ones hold ``E[Y^2] / (2 E[Y])`` output tokens on average,
  ``mean x (1 + cv^2) / 2``, not ``mean / 2``;
- **a prompt without room in the KV cache holds back the queue** (FCFS admission of
  whole prompts, as vLLM's scheduler): its wait for running sequences to finish is
  part of the time it holds the head of the queue, so every prompt behind it waits too
  (:mod:`llmplan.perf.kvroom`). With long-tailed prompts and a cache of a few long
  requests (consumer GPUs) this, not prompt work, sets the tail of TTFT.

A request of ``y`` output tokens has TPOT ``d(1 + N) + Z / (y - 1)``: ``N`` its average
batch of others, ``Z`` the prompt work of the arrivals during its decoding (compound
Poisson, mean ``lambda L E[p]``, variance ``lambda L E[p^2]``). Its distribution is taken
lognormal with that mean and variance; percentiles mix over the lengths' quadrature
nodes (Gauss-Hermite). The discrete-event simulator (:mod:`llmplan.sim`) runs the same
engine request by request and is the referee (``tests/test_plan_sim_agreement.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

import numpy as np
from numpy.polynomial.hermite_e import hermegauss

from llmplan.deployment import Deployment
from llmplan.errors import InputError
from llmplan.perf.features import NO_FEATURES, Features
from llmplan.perf.kvroom import blocked_chance, kv_capacity_tokens, room_wait_moments
from llmplan.perf.load import DATASET_LENGTH_CV, Load, PerfResult
from llmplan.perf.openloop_costs import decode_step_s, prompt_costs
from llmplan.perf.serving import steady_capacity

CDF_POINTS = 128
"""Equally likely lengths over which percentiles of a mixture are taken."""
COST_REFRESHES = 2
"""Rounds of (prompt costs beside ``b`` decodes, then ``b``): the costs barely move."""
STEP_POSITIONS = 8
"""Equally likely arrival times within the step in progress, for TTFT percentiles."""
QUADRATURE_NODES = 16
"""Gauss-Hermite nodes per lognormal length (exact for polynomials of degree 31 in the
normal variable; the tails reach z = +-5.7)."""

NEGLIGIBLE_SHARE = 1e-9
"""Shares of arrivals waiting for cache room below this are left out of percentiles."""
MIN_FEEDBACK_MARGIN = 0.05
"""Floor of ``1 - g`` in :func:`_dispersion` (``g`` -> 1 is saturation)."""


@cache
def _standard_nodes() -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and probabilities of a standard normal."""
    z, w = hermegauss(QUADRATURE_NODES)
    return z, w / w.sum()


@dataclass(frozen=True)
class Lengths:
    """Token lengths of one kind (prompts or outputs): lognormal with ``mean_tokens`` and
    coefficient of variation ``cv`` (0 = every request has the mean)."""

    mean_tokens: float
    cv: float = 0.0

    def __post_init__(self) -> None:
        if not (self.mean_tokens > 0 and math.isfinite(self.mean_tokens)):
            raise InputError(f"must be a finite number > 0, got {self.mean_tokens}", field="mean")
        if not (self.cv >= 0 and math.isfinite(self.cv)):
            raise InputError(f"must be a finite number >= 0, got {self.cv}", field="length_cv")

    @property
    def second_moment(self) -> float:
        """``E[X^2]`` in tokens squared."""
        return self.mean_tokens**2 * (1 + self.cv**2)

    def nodes(self) -> tuple[np.ndarray, np.ndarray]:
        """(lengths >= 1 token, probabilities summing to 1) of a quadrature of the law."""
        if self.cv == 0:
            return np.array([self.mean_tokens]), np.array([1.0])
        z, w = _standard_nodes()
        sigma = math.sqrt(math.log1p(self.cv**2))
        mu = math.log(self.mean_tokens) - sigma**2 / 2
        return np.maximum(1.0, np.exp(mu + sigma * z)), w


@dataclass(frozen=True)
class OpenLoopState:
    """A replica's steady state under Poisson arrivals (seconds; see the module text).

    ``others``: mean running sequences ``b``; ``decode_s``: a step of ``1 + b`` decodes
    as a request sees it, ``decode_slope_s`` what one more sequence adds;
    ``prefill_share``: time share of prompt work; ``prompt_*``: quadrature of prompts
    with each one's prompt work ``p``, queue service ``S`` and chance of finding no room
    in the cache, ``room_wait_*`` the moments of its wait then; ``output_*``: of outputs."""

    rate_per_s: float
    others: float
    decode_s: float
    decode_slope_s: float
    prefill_share: float
    tpot_s: float
    inputs: Lengths
    outputs: Lengths
    prompt_tokens: np.ndarray
    prompt_weights: np.ndarray
    prompt_work_s: np.ndarray
    prompt_service_s: np.ndarray
    output_tokens: np.ndarray
    output_weights: np.ndarray
    residual_life_s: float
    decode_per_token_s: float = 0.0
    dispersion: float = 1.0
    prompt_blocked: np.ndarray | None = None
    room_wait_s: np.ndarray | None = None
    room_wait_sq_s2: np.ndarray | None = None

    @property
    def kv_overflow_share(self) -> float:
        """Share of arrivals whose prompt finds no room beside the running sequences."""
        if self.prompt_blocked is None:
            return 0.0
        return float(self.prompt_weights @ self.prompt_blocked)

    def _gate_moments(self) -> tuple[float, float]:
        """(``E[S']``, ``E[S'^2]``) of the time a prompt holds the head of the FCFS
        queue: its service ``S`` and, when the cache has no room for it (probability
        ``q``), first a wait ``R`` for room (:attr:`room_wait_s`, :attr:`room_wait_sq_s2`):
        ``E[S'] = E[S] + q E[R]``, ``E[S'^2] = E[S^2] + 2 q E[R] E[S] + q E[R^2]`` per
        prompt length."""
        service = self.prompt_service_s
        blocked = self.prompt_blocked if self.prompt_blocked is not None else 0.0 * service
        wait = self.room_wait_s if self.room_wait_s is not None else 0.0 * service
        wait_sq = self.room_wait_sq_s2 if self.room_wait_sq_s2 is not None else 0.0 * service
        first = service + blocked * wait
        second = service**2 + blocked * (2 * wait * service + wait_sq)
        return float(self.prompt_weights @ first), float(self.prompt_weights @ second)

    @property
    def queue_load(self) -> float:
        """``rho`` of the prompt queue: the share of time its head is served or waits for
        room in the cache (FCFS: a prompt that does not fit holds back those behind it)."""
        return self.rate_per_s * self._gate_moments()[0]

    @property
    def queue_wait_s(self) -> float:
        """Pollaczek-Khinchine mean wait of a prompt for the prompts ahead of it."""
        first, second = self._gate_moments()
        return self.rate_per_s * second / (2 * (1 - self.rate_per_s * first))

    @property
    def own_room_wait_s(self) -> float:
        """Mean wait of a prompt for room in the cache for itself (0 when it fits)."""
        if self.prompt_blocked is None or self.room_wait_s is None:
            return 0.0
        return float(self.prompt_weights @ (self.prompt_blocked * self.room_wait_s))

    @property
    def service_wait_s(self) -> float:
        """The part of :attr:`queue_wait_s` spent on the prompt steps ahead (the term of
        ``E[S^2]``); the rest is spent behind heads of the queue waiting for room."""
        second = float(self.prompt_weights @ self.prompt_service_s**2)
        return self.rate_per_s * second / (2 * (1 - self.queue_load))

    @property
    def ttft_s(self) -> float:
        """Mean time to first token: the remainder of the step's decodes, the wait for
        the prompts ahead, then the prompt's own wait for room and its own steps."""
        return self.decode_s / 2 + self.queue_wait_s + self._gate_moments()[0]

    @property
    def unblocked_ttft_s(self) -> float:
        """Mean time to first token without the waits for room in the cache."""
        own = float(self.prompt_weights @ self.prompt_service_s)
        return self.decode_s / 2 + self.service_wait_s + own


def _running_context(inputs: Lengths, outputs: Lengths) -> float:
    """Mean context of running sequences: prompt plus the length-biased elapsed output."""
    return inputs.mean_tokens + outputs.second_moment / (2 * outputs.mean_tokens)


def _state_at(
    dep: Deployment,
    rate: float,
    laws: tuple[Lengths, Lengths],
    others: float,
    longest_tokens: float,
    features: Features = NO_FEATURES,
) -> OpenLoopState:
    inputs, outputs = laws
    context = _running_context(inputs, outputs)

    def step_s(sequences: float, context_tokens: float = context) -> float:
        return decode_step_s(dep, sequences, context_tokens, features)

    mean_step = step_s(max(others, 1.0))
    seen = step_s(1.0 + others)
    slope = step_s(2.0 + others) - seen
    per_token = (step_s(1.0 + others, 2 * context) - seen) / ((1 + others) * context)
    prompts, prompt_weights = inputs.nodes()
    prompts = np.minimum(prompts, max(1.0, longest_tokens - 1))  # cut to fit, as served
    work, service = prompt_costs(dep, prompts, others, context, mean_step, features)
    share = rate * float(prompt_weights @ work)
    tpot = seen / max(1e-9, 1 - share)
    decode_steps = max(outputs.mean_tokens - 1, 0.0)
    residual = decode_steps * tpot * (1 + outputs.cv**2) / 2
    output_tokens, output_weights = outputs.nodes()
    return OpenLoopState(
        rate, others, seen, slope, share, tpot, inputs, outputs, prompts, prompt_weights, work,
        service,
        output_tokens, output_weights, residual, max(0.0, per_token),
    )  # fmt: skip


def open_loop_state(
    dep: Deployment,
    rate_per_s: float,
    inputs: Lengths,
    outputs: Lengths,
    *,
    longest_tokens: float = math.inf,
    features: Features = NO_FEATURES,
) -> OpenLoopState | None:
    """The steady state at ``rate_per_s``, or None when the replica cannot keep up
    (prompt work or the decode batch beyond what the engine and KV cache hold).
    Prompts longer than ``longest_tokens`` (a request's limit) are cut to it."""
    laws = (inputs, outputs)
    limit = float(
        steady_capacity(
            dep, inputs.mean_tokens, outputs.mean_tokens,
            prefix_hit=features.prefix_hit, spec=features.spec,
        )
    )  # fmt: skip
    decode_steps = max(outputs.mean_tokens - 1, 0.0)
    context = _running_context(inputs, outputs)
    prompts, weights = inputs.nodes()
    prompts = np.minimum(prompts, max(1.0, longest_tokens - 1))
    others = 0.0
    for _ in range(COST_REFRESHES):  # prompt costs depend weakly on the decodes beside them
        mean_step = decode_step_s(dep, max(others, 1.0), context, features)
        work = prompt_costs(dep, prompts, others, context, mean_step, features)[0]
        share = rate_per_s * float(weights @ work)
        if share >= 1 or limit < 1:
            return None
        steps_per_s = rate_per_s * decode_steps / (1 - share)
        found = _little_batch(dep, steps_per_s, context, limit, features)
        if found is None:
            return None
        others = found
    state = _state_at(dep, rate_per_s, laws, others, longest_tokens, features)
    if state.queue_load >= 1 or state.prefill_share >= 1:
        return None
    dispersion = _dispersion(state, decode_steps)
    blocked, room_wait, room_wait_sq = _cache_room(dep, state, inputs, outputs, dispersion)
    state = replace(
        state,
        dispersion=dispersion,
        prompt_blocked=blocked,
        room_wait_s=room_wait,
        room_wait_sq_s2=room_wait_sq,
    )
    return state if state.queue_load < 1 else None


def _little_batch(
    dep: Deployment,
    steps_per_s: float,
    context: float,
    limit: float,
    features: Features = NO_FEATURES,
) -> float | None:
    """Others ``b`` running beside a request with ``b = steps_per_s x d(1 + b)`` (Little:
    arrivals/s x decode steps x step time, stretched by the prompt work), or None
    beyond ``limit`` sequences."""

    def excess(others: float) -> float:
        return steps_per_s * decode_step_s(dep, 1.0 + others, context, features) - others

    if excess(limit) > 0:
        return None
    if excess(0.0) <= 0:
        return 0.0
    from scipy.optimize import brentq  # imported on first use: scipy is slow to import

    return float(brentq(excess, 0.0, limit, rtol=1e-4))


def _dispersion(state: OpenLoopState, decode_steps: float) -> float:
    """Variance over mean of the running sequences' number. Poisson (1) for fixed step
    times; prompt work arriving in bursts stalls every decode at once (adding
    ``lambda^2 E[p^2]``), and a longer batch makes every step slower, which keeps
    sequences longer (feedback gain ``g = lambda (out - 1) d'(b) / (1 - share)``)."""
    rate = state.rate_per_s
    bursts = rate**2 * float(state.prompt_weights @ state.prompt_work_s**2)
    gain = rate * decode_steps * state.decode_slope_s / max(1e-9, 1 - state.prefill_share)
    return (1 + bursts) / max(1 - gain, MIN_FEEDBACK_MARGIN)


def _cache_room(
    dep: Deployment, state: OpenLoopState, inputs: Lengths, outputs: Lengths, dispersion: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(probability that a prompt of each length finds no room in the KV cache, mean and
    second moment of its wait for room; see :mod:`llmplan.perf.kvroom`)."""
    context = _running_context(inputs, outputs)
    room = kv_capacity_tokens(dep, context) - state.prompt_tokens
    context_sq = context_second_moment(inputs, outputs)
    blocked = blocked_chance(room, state.others, context, context_sq, dispersion)
    wait, wait_sq = room_wait_moments(room, state.others, context, state.residual_life_s)
    return blocked, wait, wait_sq


def context_second_moment(inputs: Lengths, outputs: Lengths) -> float:
    """``E[context^2]`` of a running sequence: its prompt plus the output it has produced
    so far, uniform over a length-biased output (``E[Y^2] / (2 E[Y])`` on average,
    ``E[Y^3] / (3 E[Y])`` squared)."""
    mean_y, cv_y = outputs.mean_tokens, outputs.cv
    elapsed = mean_y * (1 + cv_y**2) / 2
    elapsed_sq = mean_y**2 * (1 + cv_y**2) ** 3 / 3
    return inputs.second_moment + 2 * inputs.mean_tokens * elapsed + elapsed_sq


def _quantile(cdf: Callable[[float], float], q: float, high: float) -> float:
    """Smallest ``t`` (to 0.01 %) with ``cdf(t) >= q``, ``t`` in [0, high] (grown as
    needed)."""
    while cdf(high) < q:
        high *= 2
    from scipy.optimize import brentq  # imported on first use: scipy is slow to import

    return float(brentq(lambda t: cdf(t) - q, 0.0, high, xtol=1e-9, rtol=1e-4))


def _fine(values: np.ndarray, law: Lengths) -> np.ndarray:
    """``values`` (known at the quadrature nodes of ``law``) at :data:`CDF_POINTS` equally
    likely lengths of ``law``, interpolated in log-log: percentiles of a mixture need
    a smooth law, not the few quadrature nodes."""
    if law.cv == 0:
        return values
    from scipy.special import ndtri  # imported on first use: scipy is slow to import

    probabilities = (np.arange(CDF_POINTS) + 0.5) / CDF_POINTS
    sigma = math.sqrt(math.log1p(law.cv**2))
    mu = math.log(law.mean_tokens) - sigma**2 / 2
    grid = np.maximum(1.0, np.exp(mu + sigma * ndtri(probabilities)))
    logs = np.log(np.maximum(values, 1e-12))  # power laws are straight in log-log
    fine: np.ndarray = np.exp(np.interp(np.log(grid), np.log(law.nodes()[0]), logs))
    return fine


def _wait_cdf(slack: np.ndarray, busy: float, mean_s: float) -> np.ndarray:
    """P(wait <= slack) for a wait of 0 w.p. ``1 - busy``, else exponential(``mean_s``)."""
    if mean_s <= 0:
        return (slack >= 0).astype(float)
    return np.where(slack >= 0, 1 - busy * np.exp(-np.maximum(slack, 0.0) / mean_s), 0.0)


def _two_exponentials_cdf(slack: np.ndarray, first_s: float, second_s: float) -> np.ndarray:
    """P(A + B <= slack) for independent exponentials of means ``first_s``, ``second_s``."""
    s = np.maximum(slack, 0.0)
    if abs(first_s - second_s) < 1e-6 * second_s:  # equal means: a gamma of shape 2
        return np.where(slack >= 0, 1 - (1 + s / second_s) * np.exp(-s / second_s), 0.0)
    tail = (first_s * np.exp(-s / first_s) - second_s * np.exp(-s / second_s)) / (
        first_s - second_s
    )
    return np.where(slack >= 0, 1 - tail, 0.0)


def ttft_quantile_s(state: OpenLoopState, q: float) -> float:
    """TTFT at quantile ``q``: the rest of the step in progress (uniform), the wait for
    the prompt steps ahead (0 w.p. ``rho`` of those steps, else exponential), the wait
    for room in the KV cache (its own, w.p. ``kv_overflow_share``, or of a head of the
    queue it finds blocked, w.p. the blocked heads' load; then exponential with the
    Pollaczek-Khinchine mean of those waits), then the prompt's own steps; mixed over
    prompt lengths."""
    rate, own_blocked = state.rate_per_s, state.kv_overflow_share
    rho = rate * float(state.prompt_weights @ state.prompt_service_s)
    queued_s = state.service_wait_s / rho if rho > 0 else 0.0
    heads_blocked = min(1.0, rate * state.own_room_wait_s)
    blocked = 1 - (1 - heads_blocked) * (1 - own_blocked)
    blocked_wait_s = state.queue_wait_s - state.service_wait_s + state.own_room_wait_s
    held_s = max(blocked_wait_s / blocked, 1e-9) if blocked > NEGLIGIBLE_SHARE else 0.0
    position = (np.arange(STEP_POSITIONS) + 0.5) / STEP_POSITIONS  # within the step
    service = _fine(state.prompt_service_s, state.inputs)
    start = (state.decode_s * position[:, None] + service[None, :]).ravel()

    def cdf(t: float) -> float:
        slack = t - start
        free = _wait_cdf(slack, rho, queued_s)
        if blocked <= NEGLIGIBLE_SHARE:
            return float(free.mean())
        held = _wait_cdf(slack, 1.0, held_s)
        if queued_s > 0:
            held = (1 - rho) * held + rho * _two_exponentials_cdf(slack, queued_s, held_s)
        return float(((1 - blocked) * free + blocked * held).mean())

    return _quantile(cdf, q, float(start.max()) + 10 * (queued_s + held_s) + 1e-3)


def _batch_sd_s(state: OpenLoopState, life_s: np.ndarray) -> np.ndarray:
    """Standard deviation of the time per token a request of decoding time ``life_s``
    sees, from the others' number (averaged over its life; exponential correlation over
    the running sequences' residual life) and their contexts, each step stretched by
    the prompt work as the mean is (``1 / (1 - share)``)."""
    u = life_s / max(state.residual_life_s, 1e-12)
    averaged = 2 * (u - 1 + np.exp(-u)) / np.maximum(u * u, 1e-12)
    count_var = state.dispersion * state.others * averaged
    context = _running_context(state.inputs, state.outputs)
    spread = max(0.0, context_second_moment(state.inputs, state.outputs) - context**2)
    per_seq_sq = state.decode_slope_s**2 + state.decode_per_token_s**2 * spread
    stretched = 1 - state.prefill_share  # a longer step also waits out the prompt work
    return np.sqrt(per_seq_sq * count_var) / max(stretched, 1e-9)


def tpot_quantile_s(state: OpenLoopState, q: float) -> float:
    """TPOT at quantile ``q`` over requests of two or more output tokens (see the module
    text). No prompt work falls into a request's decoding with probability
    ``exp(-lambda W)`` (``W``: its decoding and, FCFS, its own TTFT, during which the
    prompts that will be served after it arrive): its TPOT is then the batch term alone
    (normal), otherwise lognormal with the conditional mean and variance of both."""
    outputs = _fine(state.output_tokens, state.outputs)
    outputs = outputs[outputs >= 2] if (outputs >= 2).any() else outputs
    steps = np.maximum(outputs - 1, 1.0)
    life = steps * state.tpot_s
    batch_sd = _batch_sd_s(state, life)
    arrivals = state.rate_per_s * (life + state.unblocked_ttft_s)
    work = float(state.prompt_weights @ state.prompt_work_s)
    work_sq = float(state.prompt_weights @ state.prompt_work_s**2)
    quiet = np.exp(-arrivals)
    hit = np.maximum(1 - quiet, 1e-12)
    extra = arrivals * work / steps / hit
    var = batch_sd**2 + arrivals * work_sq / steps**2 / hit - extra**2 * quiet
    mean = state.decode_s + extra
    sigma = np.sqrt(np.log1p(np.maximum(var, 1e-18) / mean**2))
    mu = np.log(mean) - sigma**2 / 2

    from scipy.special import ndtr  # imported on first use: scipy is slow to import

    def cdf(t: float) -> float:
        calm = ndtr((t - state.decode_s) / np.maximum(batch_sd, 1e-12))
        busy = ndtr((math.log(max(t, 1e-12)) - mu) / np.maximum(sigma, 1e-12))
        return float((quiet * calm + (1 - quiet) * busy).mean())

    return _quantile(cdf, q, float(mean.max()) * 4)


def open_loop_result(dep: Deployment, load: Load, result: PerfResult) -> PerfResult:
    """``result`` (a Poisson load below saturation) with the open-loop model's mean TTFT,
    TPOT, end-to-end latency and batch, and schedule kind ``open_loop`` (percentiles then
    come from :func:`ttft_quantile_s` and :func:`tpot_quantile_s`); unchanged when the
    open loop finds no steady state."""
    state = load_state(dep, load)
    if state is None or result.schedule is None:
        return result
    e2e_s = state.ttft_s + (load.output_tokens - 1) * state.tpot_s
    return replace(
        result,
        ttft_ms=state.ttft_s * 1e3,
        tpot_ms=state.tpot_s * 1e3,
        e2e_latency_ms=e2e_s * 1e3,
        batch=max(1.0, state.others),
        schedule=replace(result.schedule, kind="open_loop"),
    )


def load_state(dep: Deployment, load: Load, length_cv: float | None = None) -> OpenLoopState | None:
    """The open-loop state of a Poisson ``load``: lengths fixed, or lognormal with
    ``length_cv`` (default :data:`~llmplan.perf.load.DATASET_LENGTH_CV`) when they vary."""
    cv = length_cv if length_cv is not None else (0.0 if load.fixed_lengths else DATASET_LENGTH_CV)
    rate = float(load.request_rate or 0.0)
    inputs = Lengths(max(load.input_tokens, 1.0), cv)
    features = Features(load.prefix_hit, load.speculative)
    return open_loop_state(dep, rate, inputs, Lengths(load.output_tokens, cv), features=features)
