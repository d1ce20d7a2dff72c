"""Checking a scenario's catalog names and turning them into catalog records.

A :class:`~llmplan.scenario.schema.Scenario` holds names as typed; :func:`resolve` looks
each one up in a catalog (ids or aliases, as everywhere in llmplan) and returns a
:class:`ResolvedScenario` with the records the planner needs. Every unknown or ambiguous
name raises :class:`~llmplan.errors.UnknownNameError` whose ``field`` is the path of the
key in the scenario file (``workloads[0].model``, ``candidates.gpus[2]``); combinations
that cannot work (a prompt longer than the model's context window, a GPU both allowed and
denied) raise :class:`~llmplan.errors.ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TypeVar

from pydantic import BaseModel

from llmplan.catalog.loader import Catalog, Registry
from llmplan.catalog.schema import EngineProfile, GpuSpec, ModelSpec, WeightFormat
from llmplan.errors import ConfigurationError, InputError
from llmplan.scenario.schema import (
    DEFAULT_CANDIDATE_GPUS,
    GpuOverride,
    MeasuredThroughput,
    Scenario,
)
from llmplan.scenario.workloads import FineTuneWorkload, InferenceWorkload

RecordT = TypeVar("RecordT", bound=BaseModel)


@dataclass(frozen=True)
class ResolvedScenario:
    """A scenario with its catalog names replaced by records (canonical ids).

    ``models[i]`` is the model of ``scenario.workloads[i]``; ``gpus`` is the GPU search
    space after ``candidates``, ``gpu_allow`` and ``gpu_deny``; ``gpu_overrides`` is keyed
    by canonical GPU id; ``measured_throughput`` carries canonical ids.
    """

    scenario: Scenario
    models: tuple[ModelSpec, ...]
    gpus: tuple[GpuSpec, ...]
    precisions: tuple[WeightFormat, ...]
    engines: tuple[EngineProfile, ...]
    gpu_overrides: Mapping[str, GpuOverride]
    measured_throughput: tuple[MeasuredThroughput, ...]

    def model_of(self, workload_name: str) -> ModelSpec:
        """The model record of the workload called ``workload_name``."""
        names = [w.name for w in self.scenario.workloads]
        self.scenario.workload(workload_name)  # raises a helpful error when unknown
        return self.models[names.index(workload_name)]


def check_names(scenario: Scenario, catalog: Catalog) -> None:
    """Raise :class:`~llmplan.errors.InputError` for the first name or fit problem."""
    resolve(scenario, catalog)
    _check_quote_names(scenario, catalog)


def _check_quote_names(scenario: Scenario, catalog: Catalog) -> None:
    """The GPUs and open models named by ``overrides.cloud_prices`` / ``api_prices``."""
    for index, cloud in enumerate(scenario.overrides.cloud_prices):
        catalog.gpus.get(cloud.gpu, field_name=f"overrides.cloud_prices[{index}].gpu")
    for index, api in enumerate(scenario.overrides.api_prices):
        if api.open_model is not None:
            catalog.models.get(
                api.open_model, field_name=f"overrides.api_prices[{index}].open_model"
            )


def resolve(scenario: Scenario, catalog: Catalog) -> ResolvedScenario:
    """Look up every catalog name of ``scenario`` in ``catalog``."""
    candidates = scenario.candidates
    return ResolvedScenario(
        scenario=scenario,
        models=_workload_models(scenario, catalog),
        gpus=_search_gpus(scenario, catalog),
        precisions=_lookup_all(
            catalog.weight_formats, candidates.precisions, "candidates.precisions"
        ),
        engines=_lookup_all(catalog.engines, candidates.engines, "candidates.engines"),
        gpu_overrides=_gpu_overrides(scenario, catalog),
        measured_throughput=tuple(
            _canonical_measurement(m, catalog, f"overrides.measured_throughput[{i}]")
            for i, m in enumerate(scenario.overrides.measured_throughput)
        ),
    )


def _lookup_all(
    registry: Registry[RecordT], names: Sequence[str], path: str
) -> tuple[RecordT, ...]:
    """Records for ``names``; the same record named twice (e.g. by an alias) is an error."""
    records: list[RecordT] = []
    for index, name in enumerate(names):
        record = registry.get(name, field_name=f"{path}[{index}]")
        if any(r is record for r in records):
            raise InputError(
                f"'{name}' names {_record_id(record)}, which is already listed",
                field=f"{path}[{index}]",
            )
        records.append(record)
    return tuple(records)


def _record_id(record: BaseModel) -> str:
    return str(getattr(record, "id", record))


def _workload_models(scenario: Scenario, catalog: Catalog) -> tuple[ModelSpec, ...]:
    models: list[ModelSpec] = []
    for index, workload in enumerate(scenario.workloads):
        path = f"workloads[{index}]"
        model = catalog.models.get(workload.model, field_name=f"{path}.model")
        if isinstance(workload, InferenceWorkload):
            _check_request_fits(workload, model, path)
            stated = workload.speculative
            if stated is not None and stated.draft_model is not None:
                field = f"{path}.speculative.draft_model"
                catalog.models.get(stated.draft_model, field_name=field)
        else:
            _check_sequence_fits(workload, model, path)
        models.append(model)
    return tuple(models)


def _check_request_fits(workload: InferenceWorkload, model: ModelSpec, path: str) -> None:
    longest = workload.input_tokens.high_tokens() + workload.output_tokens.high_tokens()
    if longest > model.max_context_tokens:
        raise ConfigurationError(
            f"prompt plus completion ({longest:,.0f} tokens, p95 where given) exceeds the "
            f"{model.max_context_tokens:,}-token context window of {model.id}",
            field=f"{path}.input_tokens",
        )


def _check_sequence_fits(workload: FineTuneWorkload, model: ModelSpec, path: str) -> None:
    if workload.sequence_tokens > model.max_context_tokens:
        raise ConfigurationError(
            f"{workload.sequence_tokens:,} tokens exceeds the "
            f"{model.max_context_tokens:,}-token context window of {model.id}",
            field=f"{path}.sequence_tokens",
        )


def _search_gpus(scenario: Scenario, catalog: Catalog) -> tuple[GpuSpec, ...]:
    """Candidates (or gpu_allow, or the defaults), kept if allowed and not denied."""
    constraints = scenario.constraints
    allow = (
        None
        if constraints.gpu_allow is None
        else _lookup_all(catalog.gpus, constraints.gpu_allow, "constraints.gpu_allow")
    )
    deny = _lookup_all(catalog.gpus, constraints.gpu_deny, "constraints.gpu_deny")
    for index, gpu in enumerate(deny):
        if allow is not None and gpu in allow:
            raise ConfigurationError(
                f"{gpu.id} is both allowed (gpu_allow) and denied; keep it in one list",
                field=f"constraints.gpu_deny[{index}]",
            )
    if scenario.candidates.gpus is not None:
        base = _lookup_all(catalog.gpus, scenario.candidates.gpus, "candidates.gpus")
    elif allow is not None:
        base = allow
    else:
        base = _lookup_all(catalog.gpus, DEFAULT_CANDIDATE_GPUS, "candidates.gpus (default)")
    kept = tuple(g for g in base if (allow is None or g in allow) and g not in deny)
    if not kept:
        raise ConfigurationError(
            "no GPU left to search once constraints.gpu_allow and constraints.gpu_deny are "
            "applied to the candidates; widen one of them",
            field="candidates.gpus",
        )
    return kept


def _gpu_overrides(scenario: Scenario, catalog: Catalog) -> Mapping[str, GpuOverride]:
    out: dict[str, GpuOverride] = {}
    for name, override in scenario.overrides.gpus.items():
        path = f"overrides.gpus.{name}"
        gpu = catalog.gpus.get(name, field_name=path)
        if gpu.id in out:
            raise InputError(f"'{name}' names {gpu.id}, which already has overrides", field=path)
        out[gpu.id] = override
    return MappingProxyType(out)


def _canonical_measurement(
    measured: MeasuredThroughput, catalog: Catalog, path: str
) -> MeasuredThroughput:
    update: dict[str, str] = {
        "model": catalog.models.get(measured.model, field_name=f"{path}.model").id,
        "gpu": catalog.gpus.get(measured.gpu, field_name=f"{path}.gpu").id,
    }
    if measured.precision is not None:
        field = f"{path}.precision"
        update["precision"] = catalog.weight_formats.get(measured.precision, field_name=field).id
    if measured.engine is not None:
        update["engine"] = catalog.engines.get(measured.engine, field_name=f"{path}.engine").id
    return measured.model_copy(update=update)
