"""Workloads of a scenario: inference services and fine-tuning jobs.

An :class:`InferenceWorkload` states a model, a volume (requests or tokens per day or
per month), the lengths of prompts and completions, how traffic is spread over the day,
latency targets and growth. A :class:`FineTuneWorkload` states a model, a method and how
much training it needs per year. Derived quantities are pure methods with their unit in
the name; ``month`` arguments count from 0 (the first month of the horizon) and apply
``growth_per_year`` compounded: the volume in month ``m`` is the base volume times
``(1 + growth_per_year) ** (m / 12)``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from llmplan.domain.finetune import FinetuneMethod
from llmplan.limits import MAX_DESCRIPTION_CHARS
from llmplan.scenario._base import FieldValueError, ScenarioModel

SECONDS_PER_HOUR = 3600.0
HOURS_PER_DAY = 24
MONTHS_PER_YEAR = 12
DAYS_PER_YEAR = 365.0
#: Calendar days in an average month (365 / 12), the default of ``days_per_month``.
DEFAULT_DAYS_PER_MONTH = DAYS_PER_YEAR / MONTHS_PER_YEAR
#: Upper bound on any token length: above every context window in the catalog.
MAX_LENGTH_TOKENS = 10_000_000
#: LoRA rank assumed when ``lora_rank`` is not given (the sizing model's default).
DEFAULT_LORA_RANK = 16
VOLUME_FIELDS = ("requests_per_day", "tokens_per_day", "tokens_per_month")
#: Volume ranges the cost and capacity models compute with (finite rates, integer fleet
#: sizes). The top is 4x ChatGPT's ~2.5 billion prompts a day (OpenAI, July 2025) and
#: ~20x the ~1.3 quadrillion tokens a month Google served (Alphabet, October 2025); the
#: bottom is one request every 100 days.
MIN_REQUESTS_PER_DAY = 0.01
MAX_REQUESTS_PER_DAY = 1e10
MAX_TOKENS_PER_DAY = 1e15
#: Largest relative weight of an hour in ``hourly_profile`` (any scale below it works).
MAX_HOURLY_WEIGHT = 1e9
#: Tokens in a fine-tuning set per epoch: 25x the 40T tokens Llama 4 was pre-trained on.
MAX_DATASET_TOKENS = 1e15
#: Most drafted tokens per speculative step (``llmplan.perf.speculative.MAX_SPEC_TOKENS``;
#: the scenario schema imports no model package, a test keeps the two equal).
MAX_SPEC_TOKENS = 16


class LengthDistribution(ScenarioModel):
    """Lengths, in tokens, of the prompts (or of the completions) of a workload.

    Write either a number (the mean) or a mapping with ``mean`` and optional quantiles:
    ``input_tokens: 1500`` or ``input_tokens: {mean: 1500, p50: 900, p95: 6000}``.
    """

    mean: float = Field(ge=1, le=MAX_LENGTH_TOKENS, description="Mean length, tokens.")
    p50: float | None = Field(
        None, ge=1, le=MAX_LENGTH_TOKENS, description="Median length, tokens (optional)."
    )
    p95: float | None = Field(
        None,
        ge=1,
        le=MAX_LENGTH_TOKENS,
        description="95th-percentile length, tokens (optional); used to check the context "
        "window and to size the KV cache for long requests.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_number(cls, data: Any) -> Any:
        if isinstance(data, int | float) and not isinstance(data, bool):
            return {"mean": data}
        return data

    @model_validator(mode="after")
    def _check_quantiles(self) -> LengthDistribution:
        if self.p50 is not None and self.p95 is not None and self.p50 > self.p95:
            raise FieldValueError("p95", f"must be >= p50 ({self.p50:g}), got {self.p95:g}")
        return self

    def high_tokens(self) -> float:
        """The longest length stated: p95 if given, else the mean."""
        return self.p95 if self.p95 is not None else self.mean


class Slo(ScenarioModel):
    """Latency targets, met by the stated share of requests. Omit a target to have none."""

    ttft_ms: float | None = Field(
        None,
        gt=0,
        le=3_600_000,
        description="Time to first token target, milliseconds (queueing and prefill). "
        "null: no target.",
    )
    tpot_ms: float | None = Field(
        None,
        gt=0,
        le=60_000,
        description="Time per output token target after the first, milliseconds "
        "(1000 / tpot_ms is the tokens/s one user sees). null: no target.",
    )
    percentile: float = Field(
        95.0,
        ge=50,
        lt=100,
        description="Share of requests, in percent, that must meet the targets (50 to "
        "99.99; 95 means p95).",
    )

    def has_targets(self) -> bool:
        """True when at least one latency target is set."""
        return self.ttft_ms is not None or self.tpot_ms is not None


class Speculative(ScenarioModel):
    """Speculative decoding on self-hosted designs; omitted values: the method's defaults.

    Defaults and their sources: ``llmplan.perf.speculative.SPEC_DEFAULTS``."""

    method: Literal["draft", "eagle", "mtp", "ngram"] = Field(
        description="How tokens are drafted: a small draft model, an EAGLE head, the "
        "model's multi-token-prediction module, or n-gram lookup in the prompt."
    )
    tokens: int | None = Field(
        None,
        ge=0,
        le=MAX_SPEC_TOKENS,
        description="Tokens drafted per step, K. null: the method's default.",
    )
    acceptance: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability that each drafted token is accepted. null: the method's default.",
    )
    draft_model: str | None = Field(
        None,
        min_length=1,
        description="Draft model (catalog id or alias) for method draft. null: a small "
        "catalog model sharing the vocabulary.",
    )

    @model_validator(mode="after")
    def _check_draft_model(self) -> Speculative:
        if self.draft_model is not None and self.method != "draft":
            raise FieldValueError(
                "draft_model", f"only applies with method draft, not {self.method}"
            )
        return self


class InferenceWorkload(ScenarioModel):
    """A model served to users or a pipeline: volume, lengths, traffic shape, SLOs."""

    kind: Literal["inference"] = Field(
        "inference", description="Workload type; may be omitted for inference workloads."
    )
    name: str = Field(min_length=1, max_length=80, description="Unique name, shown in reports.")
    description: str = Field(
        "", max_length=MAX_DESCRIPTION_CHARS, description="Free text for reports."
    )
    model: str = Field(
        min_length=1, description="Model id or alias in the model catalog (`llmplan models list`)."
    )
    requests_per_day: float | None = Field(
        None,
        ge=MIN_REQUESTS_PER_DAY,
        le=MAX_REQUESTS_PER_DAY,
        description="Volume as requests per operating day. Give exactly one volume.",
    )
    tokens_per_day: float | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS_PER_DAY,
        description="Volume as tokens (input + output) per operating day; converted to "
        "requests with the mean lengths.",
    )
    tokens_per_month: float | None = Field(
        None,
        ge=1,
        le=MAX_TOKENS_PER_DAY * 31,
        description="Volume as tokens (input + output) per month; divided by days_per_month.",
    )
    input_tokens: LengthDistribution = Field(
        description="Prompt length in tokens (system prompt, history and retrieved context "
        "included): a number (mean) or {mean, p50, p95}."
    )
    output_tokens: LengthDistribution = Field(
        description="Completion length in tokens: a number (mean) or {mean, p50, p95}."
    )
    cached_input_fraction: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of input tokens served from a prefix cache (shared system "
        "prompts, multi-turn history): no prefill on self-hosted engines, the cached-input "
        "price on APIs.",
    )
    speculative: Speculative | None = Field(
        None,
        description="Speculative decoding on self-hosted designs, e.g. {method: eagle, "
        "tokens: 3, acceptance: 0.7}. null: none.",
    )
    operating_hours_per_day: float | None = Field(
        None,
        ge=0.1,
        le=HOURS_PER_DAY,
        description="Hours per day the service takes traffic; the daily volume arrives in "
        "them. Default 24, or the non-zero hours of hourly_profile.",
    )
    days_per_month: float = Field(
        DEFAULT_DAYS_PER_MONTH,
        gt=0,
        le=31,
        description="Operating days per month (default 365/12 = 30.42; about 21.7 for "
        "working days only).",
    )
    peak_to_average: float | None = Field(
        None,
        ge=1,
        le=1000,
        description="Peak request rate over the average rate within operating hours. "
        "Default 1 (traffic even over the operating hours); take it from your logs. "
        "Give this or hourly_profile.",
    )
    hourly_profile: tuple[Annotated[float, Field(ge=0, le=MAX_HOURLY_WEIGHT)], ...] | None = Field(
        None,
        description="24 relative weights, hour 0 to 23, of the daily traffic (any scale); "
        "hours with weight 0 are outside operating hours. Replaces peak_to_average and "
        "operating_hours_per_day.",
    )
    slo: Slo = Field(default_factory=Slo, description="Latency targets.")
    growth_per_year: float = Field(
        0.0,
        gt=-1,
        le=100,
        description="Volume growth per year as a fraction (0.5 = +50 %/year), compounded "
        "monthly over the horizon.",
    )
    reasoning_share_of_output: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Share of output_tokens that are hidden reasoning (thinking) tokens. "
        "They are generated like any output token (count them in output_tokens); an API "
        "bills them at its reasoning price where it states one, else as output tokens.",
    )
    api_model: str | None = Field(
        None,
        min_length=1,
        description="Per-token API model priced for the API option (an id of `llmplan "
        "prices list --kind api`, e.g. gpt-5-mini). null: an API provider serving this "
        "open model, if the price list has one; otherwise the API option is excluded.",
    )

    @model_validator(mode="after")
    def _check_volume(self) -> InferenceWorkload:
        given = [name for name in VOLUME_FIELDS if getattr(self, name) is not None]
        if not given:
            raise ValueError(
                "no volume given; set exactly one of requests_per_day, tokens_per_day, "
                "tokens_per_month"
            )
        if len(given) > 1:
            raise FieldValueError(
                given[1],
                f"give only one volume, got {' and '.join(given)}; keep exactly one of "
                "requests_per_day, tokens_per_day, tokens_per_month",
            )
        return self

    @model_validator(mode="after")
    def _check_traffic_shape(self) -> InferenceWorkload:
        profile = self.hourly_profile
        if profile is None:
            return self
        if len(profile) != HOURS_PER_DAY:
            raise FieldValueError(
                "hourly_profile", f"needs 24 weights (hours 0-23), got {len(profile)}"
            )
        if min(profile) < 0 or sum(profile) <= 0:
            raise FieldValueError(
                "hourly_profile", "weights must be >= 0 with at least one above 0"
            )
        for other in ("peak_to_average", "operating_hours_per_day"):
            if getattr(self, other) is not None:
                raise FieldValueError(
                    other, "give hourly_profile or this field, not both (the profile sets it)"
                )
        return self

    # --- traffic shape -------------------------------------------------------------

    def active_hours_per_day(self) -> float:
        """Hours per day with traffic: the profile's non-zero hours, the field, or 24."""
        if self.hourly_profile is not None:
            return float(sum(1 for w in self.hourly_profile if w > 0))
        if self.operating_hours_per_day is not None:
            return self.operating_hours_per_day
        return float(HOURS_PER_DAY)

    def peak_to_average_ratio(self) -> float:
        """Peak hourly rate over the average rate within the active hours (>= 1)."""
        if self.hourly_profile is not None:
            active = [w for w in self.hourly_profile if w > 0]
            return max(active) * len(active) / sum(active)
        return self.peak_to_average if self.peak_to_average is not None else 1.0

    # --- volume ----------------------------------------------------------------------

    def mean_tokens_per_request(self) -> float:
        """Mean input plus mean output tokens of one request."""
        return self.input_tokens.mean + self.output_tokens.mean

    def growth_factor(self, month: float = 0) -> float:
        """Volume multiplier in ``month`` (0 = first month) from ``growth_per_year``."""
        return float((1.0 + self.growth_per_year) ** (month / MONTHS_PER_YEAR))

    def requests_per_day_at(self, month: float = 0) -> float:
        """Requests per operating day in ``month``, whichever volume field was given."""
        if self.requests_per_day is not None:
            base = self.requests_per_day
        elif self.tokens_per_day is not None:
            base = self.tokens_per_day / self.mean_tokens_per_request()
        else:
            assert self.tokens_per_month is not None  # guaranteed by _check_volume
            base = self.tokens_per_month / self.days_per_month / self.mean_tokens_per_request()
        return base * self.growth_factor(month)

    def requests_per_month(self, month: float = 0) -> float:
        """Requests in ``month``: requests per day times ``days_per_month``."""
        return self.requests_per_day_at(month) * self.days_per_month

    def input_tokens_per_month(self, month: float = 0) -> float:
        """Prompt tokens in ``month``, cached ones included."""
        return self.requests_per_month(month) * self.input_tokens.mean

    def cached_input_tokens_per_month(self, month: float = 0) -> float:
        """The part of :meth:`input_tokens_per_month` served from a prefix cache."""
        return self.input_tokens_per_month(month) * self.cached_input_fraction

    def output_tokens_per_month(self, month: float = 0) -> float:
        """Generated tokens in ``month``."""
        return self.requests_per_month(month) * self.output_tokens.mean

    def total_tokens_per_month(self, month: float = 0) -> float:
        """Input plus output tokens in ``month``."""
        return self.input_tokens_per_month(month) + self.output_tokens_per_month(month)

    # --- rates -------------------------------------------------------------------------

    def average_requests_per_s(self, month: float = 0) -> float:
        """Mean arrival rate within the active hours, requests per second."""
        active_s = self.active_hours_per_day() * SECONDS_PER_HOUR
        return self.requests_per_day_at(month) / active_s

    def peak_requests_per_s(self, month: float = 0) -> float:
        """Arrival rate in the busiest hour: the active-hours average times the peak ratio."""
        return self.average_requests_per_s(month) * self.peak_to_average_ratio()

    def peak_input_tokens_per_s(self, month: float = 0) -> float:
        """Prompt tokens per second arriving in the busiest hour (cached ones included)."""
        return self.peak_requests_per_s(month) * self.input_tokens.mean

    def peak_output_tokens_per_s(self, month: float = 0) -> float:
        """Tokens per second to generate in the busiest hour."""
        return self.peak_requests_per_s(month) * self.output_tokens.mean


class FineTuneWorkload(ScenarioModel):
    """A recurring fine-tuning job: method, data, epochs and how often it runs."""

    kind: Literal["finetune"] = Field(description="Workload type: always `finetune` here.")
    name: str = Field(min_length=1, max_length=80, description="Unique name, shown in reports.")
    description: str = Field(
        "", max_length=MAX_DESCRIPTION_CHARS, description="Free text for reports."
    )
    model: str = Field(min_length=1, description="Base model id or alias in the model catalog.")
    method: FinetuneMethod = Field(
        description="full (all weights, Adam), lora (16-bit frozen base plus adapters) or "
        "qlora (4-bit NF4 frozen base plus adapters)."
    )
    dataset_tokens: float = Field(
        ge=1, le=MAX_DATASET_TOKENS, description="Tokens in the training set, per epoch."
    )
    epochs: float = Field(1.0, gt=0, le=1000, description="Passes over the dataset per run.")
    runs_per_year: float = Field(
        gt=0, le=8760, description="How often the job runs (12 = monthly, 52 = weekly)."
    )
    sequence_tokens: int = Field(
        4096, gt=0, le=MAX_LENGTH_TOKENS, description="Training sequence length, tokens."
    )
    lora_rank: int | None = Field(
        None,
        ge=1,
        le=4096,
        description=f"Adapter rank for lora and qlora (default {DEFAULT_LORA_RANK}); not "
        "allowed with full.",
    )
    max_hours_per_run: float | None = Field(
        None,
        ge=0.01,
        le=8760,
        description="Wall-clock limit for one run, hours (null: no limit); more GPUs are "
        "used to meet it.",
    )

    @model_validator(mode="after")
    def _check_rank(self) -> FineTuneWorkload:
        if self.lora_rank is not None and self.method is FinetuneMethod.FULL:
            raise FieldValueError(
                "lora_rank", "only applies to method lora or qlora, not full; remove it"
            )
        return self

    def effective_lora_rank(self) -> int | None:
        """Adapter rank used for sizing: the field, the default, or None for full."""
        if self.method is FinetuneMethod.FULL:
            return None
        return self.lora_rank if self.lora_rank is not None else DEFAULT_LORA_RANK

    def training_tokens_per_run(self) -> float:
        """Tokens processed by one run: dataset tokens times epochs."""
        return self.dataset_tokens * self.epochs

    def training_tokens_per_year(self) -> float:
        """Tokens processed per year over all runs."""
        return self.training_tokens_per_run() * self.runs_per_year

    def runs_per_month(self) -> float:
        """Average runs per month."""
        return self.runs_per_year / MONTHS_PER_YEAR


def _workload_kind(value: Any) -> str | None:
    """Discriminator: the ``kind`` key, ``inference`` when it is missing."""
    if isinstance(value, dict):
        kind = value.get("kind", "inference")
        return kind if isinstance(kind, str) else None
    return getattr(value, "kind", None)


#: One workload of a scenario, told apart by its ``kind`` key.
Workload = Annotated[
    Annotated[InferenceWorkload, Tag("inference")] | Annotated[FineTuneWorkload, Tag("finetune")],
    Discriminator(_workload_kind),
]
#: ``kind`` value -> workload class.
WORKLOAD_KINDS: dict[str, type[InferenceWorkload] | type[FineTuneWorkload]] = {
    "inference": InferenceWorkload,
    "finetune": FineTuneWorkload,
}
