"""Calibration profiles: engine profiles fitted to your own measurements, in a file.

``llmplan calibrate`` writes one; ``--calibration FILE`` (and a scenario's
``calibration`` field) makes ``perf``, ``plan`` and ``validate`` use its engine profiles
instead of the bundled ones. The file records where its numbers came from.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmplan.catalog.loader import Catalog
from llmplan.catalog.schema import EngineProfile
from llmplan.errors import CatalogError, InputError
from llmplan.files import write_text_atomic
from llmplan.limits import check_depth, read_text_bounded


class CalibrationProfile(BaseModel):
    """Engine profiles fitted to measurements, with their provenance."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Shown in reports: which calibration was used.")
    source: str = Field(min_length=1, description="The measurements the fit used.")
    created: dt.date
    rows: int = Field(ge=1, description="Measurement rows fitted.")
    engines: tuple[EngineProfile, ...] = Field(min_length=1)

    def apply(self, catalog: Catalog) -> Catalog:
        """``catalog`` with this profile's engines in place of the bundled ones.

        Two engines sharing an id or alias (in the profile, or with a bundled engine it
        does not replace) are the profile's fault: an InputError on ``calibration``."""
        try:
            return catalog.with_engines(self.engines)
        except CatalogError as exc:
            raise InputError(
                f"{exc.message}; give each engine of the profile its own id and aliases",
                field="calibration",
            ) from None


def save_calibration(profile: CalibrationProfile, path: Path) -> None:
    """Write ``profile`` as YAML (atomically)."""
    text = yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False)
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise InputError(f"cannot write {path} ({exc.strerror})", field="out") from None


def load_calibration(path: Path) -> CalibrationProfile:
    """Read and validate a calibration file; errors name the file and the field."""
    text = read_text_bounded(path, "calibration")
    check_depth(text, "calibration", source=str(path))
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"{path}:{where} malformed YAML", field="calibration") from None
    try:
        return CalibrationProfile.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or "file"
        raise InputError(f"{path}: {location}: {first['msg']}", field="calibration") from None
