"""Frozen result models of the Python API: what ``--json`` prints and the REST API answers,
typed where the shape is fixed.

Each result is a pydantic model (``.model_dump()`` gives the JSON-ready payload, the same
dict the CLI prints) with the main figures as typed fields; keys not declared here (a
payload grows with new features) are kept as extra fields. ``.to_frame()`` gives a pandas
DataFrame (pandas is imported only then; :class:`~llmplan.errors.MissingDependencyError`
if it is not installed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from llmplan.errors import MissingDependencyError

if TYPE_CHECKING:
    import pandas


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:  # pragma: no cover - exercised by a test that hides pandas
        raise MissingDependencyError(
            "to_frame() needs pandas: python3 -m pip install pandas", field="pandas"
        ) from None
    return pandas


class Result(BaseModel):
    """Base of every result: frozen, extra keys kept, one row per result by default."""

    model_config = ConfigDict(frozen=True, extra="allow")
    #: The key holding the result's table (a list of row objects), if it has one.
    table_key: ClassVar[str | None] = None

    def to_frame(self) -> pandas.DataFrame:
        """The result's table as a DataFrame (one column per key); a result without a
        table gives one row of its scalar fields (intervals as ``<name>_low/_high``)."""
        pd = _pandas()
        payload = self.model_dump()
        if self.table_key is not None:
            return pd.DataFrame(payload.get(self.table_key) or [])
        return pd.DataFrame([_scalars(payload)])


def _scalars(payload: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in payload.items():
        if isinstance(value, dict) and key == "intervals":
            for name, bounds in value.items():
                low, high = bounds if bounds is not None else (None, None)
                row[f"{name}_low"], row[f"{name}_high"] = low, high
        elif not isinstance(value, dict | list):
            row[key] = value
    return row


class MemoryReport(Result):
    """``llmplan memory``: bytes of weights, KV cache, activations and overhead (serving),
    or of weights, gradients, optimizer states and activations (``finetune``)."""

    total_bytes: float = Field(description="All GPUs together, bytes.")
    per_gpu_bytes: float | None = Field(None, description="Per GPU, bytes (None: no GPU).")
    num_gpus: int
    fits: bool | None = Field(None, description="Whether it fits (None: no GPU given).")


class PerfReport(Result):
    """``llmplan perf``: latency and throughput of one load, with 80 % intervals."""

    ttft_ms: float | None = Field(description="Time to first token, ms.")
    tpot_ms: float | None = Field(description="Time per output token, ms.")
    e2e_latency_ms: float | None = Field(description="End-to-end latency, ms.")
    output_tokens_per_s: float | None
    requests_per_s: float | None
    bound: str = Field(description="What limits it: memory, compute, ...")
    model: str
    gpu: str
    engine: str
    calibration: str = Field(description="The engine profiles used.")
    intervals: dict[str, tuple[float | None, float | None] | None] | None = Field(
        default_factory=dict,
        description="80 % interval (low, high) per figure; None where none were fitted "
        "(disaggregated designs).",
    )


class ValidationReport(Result):
    """``llmplan validate``: every predicted row, the error summary and the skipped rows.
    ``to_frame()``: one row per prediction."""

    table_key: ClassVar[str | None] = "rows"
    rows: list[dict[str, Any]] = Field(default_factory=list)
    summary: dict[str, Any]
    skipped: list[dict[str, Any]] = Field(default_factory=list)


class SimulationReport(Result):
    """``llmplan simulate``: percentiles, goodput and series of a simulated run (or the
    largest rate within the SLO)."""

    deployment: dict[str, Any]
    result: dict[str, Any] | None = None

    def to_frame(self) -> pandas.DataFrame:
        """One row: the deployment's names and the run's scalar figures."""
        pd = _pandas()
        payload = self.model_dump()
        row = _scalars(payload) | _scalars(payload["deployment"])
        row |= _scalars(payload.get("result") or {})
        return pd.DataFrame([row])


class PlanReport(Result):
    """``llmplan plan``: the recommendation, every option costed (or excluded with its
    reason), break-even, sensitivity and risks. ``to_frame()``: one row per option."""

    table_key: ClassVar[str | None] = "options"
    recommended: Any = Field(None, description="The recommended option (None: none can serve).")
    options: list[dict[str, Any]]

    def to_frame(self) -> pandas.DataFrame:
        """One row per option: its scalar fields (nested figures left out)."""
        pd = _pandas()
        return pd.DataFrame([_scalars(o) for o in self.model_dump()["options"]])


class CalibrationReport(Result):
    """``llmplan calibrate``: errors before and after the fit per engine.
    ``to_frame()``: one row per engine."""

    table_key: ClassVar[str | None] = "engines"
    engines: list[dict[str, Any]]
    skipped_engines: dict[str, int] = Field(default_factory=dict)
