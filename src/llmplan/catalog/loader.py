"""Loading and validating catalogs, and resolving the names users type.

Nothing is read at import time: :func:`load_catalog` reads the bundled YAML files (and
an optional user catalog folder) when first called. Names resolve case-insensitively,
with spaces and underscores read as hyphens; unknown names raise
:class:`~llmplan.errors.UnknownNameError` with the closest matches.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from llmplan.catalog.schema import (
    EngineProfile,
    GpuSpec,
    InterconnectKind,
    InterconnectProfile,
    KvFormat,
    ModelSpec,
    WeightFormat,
)
from llmplan.errors import CatalogError, UnknownNameError

RecordT = TypeVar("RecordT", bound=BaseModel)


def normalise_name(name: str) -> str:
    """Canonical form used for matching: lower case, spaces/underscores as hyphens."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


@dataclass(frozen=True)
class Registry(Generic[RecordT]):
    """Records of one kind, looked up by id or alias."""

    kind: str
    records: tuple[RecordT, ...]
    list_command: str = ""
    _index: dict[str, RecordT] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, RecordT] = {}
        for record in self.records:
            for name in _names_of(record):
                key = normalise_name(name)
                if key in index and index[key] is not record:
                    raise CatalogError(
                        f"{self.kind} catalog: name '{name}' is used by "
                        f"'{_id_of(index[key])}' and '{_id_of(record)}'"
                    )
                index[key] = record
        object.__setattr__(self, "_index", index)

    def __iter__(self) -> Any:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def ids(self) -> list[str]:
        return [_id_of(r) for r in self.records]

    def get(self, name: str, *, field_name: str | None = None) -> RecordT:
        """The record called ``name`` (id or alias); raises UnknownNameError otherwise."""
        key = normalise_name(name)
        if key in self._index:
            return self._index[key]
        matches = self._partial_matches(key)
        label = field_name or self.kind
        if len(matches) == 1:
            return matches[0]
        if matches:
            choices = ", ".join(sorted(_id_of(m) for m in matches)[:8])
            raise UnknownNameError(f"'{name}' is ambiguous; choose one of: {choices}", field=label)
        suggestions = difflib.get_close_matches(key, list(self._index), n=4, cutoff=0.5)
        hint = f"; did you mean: {', '.join(suggestions)}?" if suggestions else ""
        listing = self.list_command or f"{self.kind}s list"
        raise UnknownNameError(
            f"unknown {self.kind} '{name}'{hint} (see `llmplan {listing}`)",
            field=label,
        )

    def _partial_matches(self, key: str) -> list[RecordT]:
        """Records one of whose names contains ``key`` as whole hyphen-separated parts."""
        pattern = re.compile(rf"(^|[-/]){re.escape(key)}($|[-/])")
        found: dict[int, RecordT] = {}
        for name, record in self._index.items():
            if pattern.search(name):
                found[id(record)] = record
        return list(found.values())


_RELEASE = re.compile(r"(?<![\d.])(\d+\.\d+(?:\.\d+)?)")
_YEAR = re.compile(r"\b(20\d\d)\b")


def _release_number(text: str) -> str | None:
    """'0.6.3' out of '0.6.3.post2.dev308 (CUDA)'; None when no release is printed."""
    match = _RELEASE.search(text)
    return match.group(1) if match else None


def _year(text: str) -> int | None:
    match = _YEAR.search(text)
    return int(match.group(1)) if match else None


def _id_of(record: BaseModel) -> str:
    value = getattr(record, "id", None) or getattr(record, "kind", "")
    return str(value)


def _names_of(record: BaseModel) -> Iterable[str]:
    yield _id_of(record)
    yield from getattr(record, "aliases", ())


@dataclass(frozen=True)
class Catalog:
    """Every catalog llmplan uses, validated."""

    gpus: Registry[GpuSpec]
    models: Registry[ModelSpec]
    weight_formats: Registry[WeightFormat]
    kv_formats: Registry[KvFormat]
    engines: Registry[EngineProfile]
    interconnects: Mapping[InterconnectKind, InterconnectProfile]

    def gpu(self, name: str) -> GpuSpec:
        return self.gpus.get(name, field_name="gpu")

    def model(self, name: str) -> ModelSpec:
        return self.models.get(name, field_name="model")

    def weight_format(self, name: str) -> WeightFormat:
        return self.weight_formats.get(name, field_name="precision")

    def kv_format(self, name: str) -> KvFormat:
        return self.kv_formats.get(name, field_name="kv_precision")

    def engine(self, name: str) -> EngineProfile:
        return self.engines.get(name, field_name="engine")

    def engine_era(self, name: str, version_text: str) -> EngineProfile:
        """The profile of engine ``name``'s era that ``version_text`` (as a measurement
        prints it: '0.6.3.post2', '1.0 (PyTorch backend)', '2023 commits') belongs to:
        by release number when one is printed, else by year; the named profile when
        neither matches an era."""
        named = self.engine(name)
        eras = [e for e in self.engines if e.engine_family == named.engine_family]
        eras = [e for e in eras if e.platform == named.platform]
        if release := _release_number(version_text):
            matches = [e for e in eras if e.versions is not None and e.covers(release)]
        elif year := _year(version_text):
            matches = [e for e in eras if year in e.years]
        else:
            matches = []
        return matches[0] if matches else named

    def interconnect(self, kind: InterconnectKind) -> InterconnectProfile:
        return self.interconnects[kind]

    def with_engines(self, profiles: Iterable[EngineProfile]) -> Catalog:
        """A copy whose engine profiles with the ids of ``profiles`` are replaced by them
        (a calibration); profiles with new ids are added."""
        replaced = {p.id: p for p in profiles}
        kept = tuple(e for e in self.engines.records if e.id not in replaced)
        engines = Registry("engine", (*kept, *replaced.values()))
        return Catalog(
            self.gpus,
            self.models,
            self.weight_formats,
            self.kv_formats,
            engines,
            self.interconnects,
        )

    def with_models(self, extra: Iterable[ModelSpec]) -> Catalog:
        """A copy with ``extra`` models added (user imports); ids must not clash."""
        models = Registry("model", (*self.models.records, *extra))
        return Catalog(
            self.gpus,
            models,
            self.weight_formats,
            self.kv_formats,
            self.engines,
            self.interconnects,
        )


def _read_yaml(path: Path | Any) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise CatalogError(
            f"{path}:{where} malformed YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror})") from None


def _records(model_cls: type[RecordT], entries: Any, where: str, key: str) -> list[RecordT]:
    if not isinstance(entries, list):
        raise CatalogError(f"{where}: top-level key '{key}' must hold a list")
    out: list[RecordT] = []
    for position, entry in enumerate(entries):
        try:
            out.append(model_cls.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            name = (
                entry.get("id", entry.get("kind", f"#{position}"))
                if isinstance(entry, dict)
                else f"#{position}"
            )
            raise CatalogError(f"{where}: entry '{name}' field '{loc}': {first['msg']}") from None
    return out


def read_records(model_cls: type[RecordT], files: Iterable[Path | Any], key: str) -> list[RecordT]:
    """Validated records under ``key`` from each YAML file."""
    out: list[RecordT] = []
    for path in files:
        document = _read_yaml(path)
        if not isinstance(document, dict) or key not in document:
            raise CatalogError(f"{path}: expected a top-level '{key}:' list")
        out.extend(_records(model_cls, document[key], str(path), key))
    return out


def _bundled(name: str) -> Any:
    return resources.files("llmplan").joinpath("data").joinpath(name)


def bundled_data_file(name: str) -> Any:
    """A file of the bundled ``llmplan/data`` folder (a Traversable)."""
    return _bundled(name)


def _yaml_files(folder: Any) -> list[Any]:
    return sorted(
        (f for f in folder.iterdir() if f.name.endswith((".yaml", ".yml"))),
        key=lambda f: f.name,
    )


@functools.cache
def bundled_catalog() -> Catalog:
    """The catalog shipped with llmplan (read once, then cached)."""
    interconnects = read_records(
        InterconnectProfile, [_bundled("interconnects.yaml")], "interconnects"
    )
    return Catalog(
        gpus=Registry("gpu", tuple(read_records(GpuSpec, _yaml_files(_bundled("gpus")), "gpus"))),
        models=Registry(
            "model", tuple(read_records(ModelSpec, _yaml_files(_bundled("models")), "models"))
        ),
        weight_formats=Registry(
            "precision",
            tuple(read_records(WeightFormat, [_bundled("precisions.yaml")], "weight_formats")),
            list_command="precisions list",
        ),
        kv_formats=Registry(
            "kv_precision",
            tuple(read_records(KvFormat, [_bundled("precisions.yaml")], "kv_formats")),
            list_command="precisions list",
        ),
        engines=Registry(
            "engine", tuple(read_records(EngineProfile, [_bundled("engines.yaml")], "engines"))
        ),
        interconnects={p.kind: p for p in interconnects},
    )


def load_catalog(user_dir: Path | None = None) -> Catalog:
    """The bundled catalog, plus user-imported models from ``user_dir/models/*.yaml``."""
    catalog = bundled_catalog()
    if user_dir is None:
        return catalog
    models_dir = user_dir / "models"
    if not models_dir.is_dir():
        return catalog
    extra = read_records(ModelSpec, _yaml_files(models_dir), "models")
    return catalog.with_models(extra)
