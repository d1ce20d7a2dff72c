"""Shared base of the scenario models, and the error a validator uses to point at a field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from llmplan.errors import LlmplanError


class ScenarioModel(BaseModel):
    """Base of every scenario block: immutable, unknown keys and inf/NaN are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class FieldValueError(LlmplanError, ValueError):
    """Raised inside a model validator to blame one field of that model.

    Pydantic reports a model validator's error at the model's own path; the scenario
    reader (:mod:`llmplan.scenario.io`) appends ``field`` so that the message names the
    exact key (``workloads[0].tokens_per_day`` rather than ``workloads[0]``).
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:  # the message alone, as before it joined the tree
        return self.message
