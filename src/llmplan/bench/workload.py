"""What a benchmark run sends: load steps, request lengths, prompts and bounds.

Every setting is validated once, here, when the config is built; the client only runs it.
Prompts are built from a fixed list of common English words, each about one token in the
tokenizers of current LLMs, so a prompt of ``n`` words is roughly ``n`` tokens; the
server's ``usage`` reports the exact count, which is what the results record.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from urllib.parse import urlparse

import numpy as np

from llmplan.errors import ConfigurationError, InputError

# common words that are single tokens in the Llama, Qwen, Mistral and GPT tokenizers
_WORD_TEXT = (
    "the of and to in is was for on that with as by at from his an were are which this be "
    "has or had one first their its new after but who not they have her she two been other "
    "when there all during into school time may years more most only over city some world "
    "would where later up such used many can state about national out known university "
    "united then made also him part well three people being game while both before through "
    "team same since under year group between film name second these music than book number "
    "high life work early days place public long water small line great north south west "
    "east home local power own old end back side both light play road river house point"
)
WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())


class Api(enum.StrEnum):
    """OpenAI-compatible endpoint the requests go to."""

    CHAT = "chat"
    COMPLETIONS = "completions"

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self is Api.CHAT else "/v1/completions"


class StepKind(enum.StrEnum):
    """``concurrency``: closed loop of N clients; ``rate``: open-loop Poisson arrivals."""

    CONCURRENCY = "concurrency"
    RATE = "rate"


class LengthDist(enum.StrEnum):
    FIXED = "fixed"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True)
class LoadStep:
    kind: StepKind
    value: float  # clients for concurrency, requests/s for rate

    @property
    def label(self) -> str:
        if self.kind is StepKind.CONCURRENCY:
            return f"concurrency {int(self.value)}"
        return f"rate {self.value:g}/s"


@dataclass(frozen=True)
class LengthSpec:
    """Token lengths of requests: ``mean_tokens`` exactly, or lognormal with that mean."""

    mean_tokens: int
    dist: LengthDist = LengthDist.FIXED
    cv: float = 0.5  # coefficient of variation of the lognormal

    def __post_init__(self) -> None:
        if self.mean_tokens < 1:
            raise InputError(f"must be at least 1, got {self.mean_tokens}", field="tokens")
        if self.dist is LengthDist.LOGNORMAL and not 0 < self.cv <= 5:
            raise InputError(f"must be in (0, 5], got {self.cv}", field="length_cv")

    def sample(self, rng: np.random.Generator, n: int) -> list[int]:
        if self.dist is LengthDist.FIXED:
            return [self.mean_tokens] * n
        sigma = math.sqrt(math.log1p(self.cv**2))
        mu = math.log(self.mean_tokens) - sigma**2 / 2
        return [max(1, round(float(x))) for x in rng.lognormal(mu, sigma, n)]

    @property
    def label(self) -> str:
        if self.dist is LengthDist.FIXED:
            return str(self.mean_tokens)
        return f"lognormal mean {self.mean_tokens} cv {self.cv:g}"


@dataclass(frozen=True)
class BenchConfig:
    """One benchmark run. Each step stops after ``requests`` requests or ``duration_s``."""

    url: str
    model: str
    steps: tuple[LoadStep, ...]
    input_len: LengthSpec
    output_len: LengthSpec
    api: Api = Api.COMPLETIONS
    requests: int | None = 32
    duration_s: float | None = None
    warmup: int = 2
    timeout_s: float = 60.0
    seed: int = 0
    ignore_eos: bool = True
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parsed = urlparse(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise InputError(f"must be an http(s) URL, got '{self.url}'", field="url")
        if not self.model:
            raise InputError("must not be empty", field="model")
        if not self.steps:
            raise ConfigurationError("give at least one concurrency or rate", field="steps")
        for step in self.steps:
            if step.value <= 0 or not math.isfinite(step.value):
                raise InputError(f"must be positive, got {step.value:g}", field=step.kind.value)
        if self.requests is None and self.duration_s is None:
            raise ConfigurationError("give a request count or a duration", field="requests")
        if self.requests is not None and self.requests < 1:
            raise InputError(f"must be at least 1, got {self.requests}", field="requests")
        if self.duration_s is not None and self.duration_s <= 0:
            raise InputError(f"must be positive, got {self.duration_s:g}", field="duration_s")
        if self.warmup < 0:
            raise InputError(f"must be 0 or more, got {self.warmup}", field="warmup")
        if self.timeout_s <= 0:
            raise InputError(f"must be positive, got {self.timeout_s:g}", field="timeout_s")

    @property
    def endpoint(self) -> str:
        return self.url.rstrip("/").removesuffix("/v1") + self.api.path


def make_prompt(tokens: int, rng: np.random.Generator) -> str:
    """About ``tokens`` tokens of words drawn from :data:`WORDS` (a random prefix, so
    requests do not share a cached prefix)."""
    picks = rng.integers(0, len(WORDS), size=max(tokens, 1))
    return " ".join(WORDS[int(i)] for i in picks)


def parse_steps(concurrency: str | None, rate: str | None) -> tuple[LoadStep, ...]:
    """Steps from comma-separated lists such as ``"1,2,4"`` and ``"0.5,1"``."""
    steps: list[LoadStep] = []
    for kind, text in ((StepKind.CONCURRENCY, concurrency), (StepKind.RATE, rate)):
        for item in (text or "").split(","):
            if not item.strip():
                continue
            try:
                value = float(item)
            except ValueError:
                raise InputError(f"'{item.strip()}' is not a number", field=kind.value) from None
            if kind is StepKind.CONCURRENCY and value != int(value):
                raise InputError(f"must be whole numbers, got {item.strip()}", field=kind.value)
            steps.append(LoadStep(kind, value))
    return tuple(steps)
