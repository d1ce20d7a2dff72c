"""The user's own catalog entries, kept in ``<home>/models/imported.yaml``.

Writes are atomic (a temporary file renamed over the old one), so an interrupted import
never leaves a half-written catalog, and an entry that fails validation is never saved.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from llmplan.catalog.hf_import import load_hf_config, model_spec_from_hf_config
from llmplan.catalog.loader import bundled_catalog, normalise_name, read_records
from llmplan.catalog.schema import ModelSpec
from llmplan.errors import InputError
from llmplan.files import write_text_atomic

IMPORTED_FILE = "imported.yaml"


def save_user_model(spec: ModelSpec, home: Path) -> Path:
    """Add or replace ``spec`` in the user's catalog; returns the file written."""
    bundled_names = {
        normalise_name(name) for m in bundled_catalog().models for name in (m.id, *m.aliases)
    }
    if normalise_name(spec.id) in bundled_names or any(
        normalise_name(a) in bundled_names for a in spec.aliases
    ):
        raise InputError(
            f"'{spec.id}' is already a name in the bundled catalog; "
            "pass --id to store it under another name",
            field="id",
        )
    path = home / "models" / IMPORTED_FILE
    existing = read_records(ModelSpec, [path], "models") if path.exists() else []
    kept = [m for m in existing if normalise_name(m.id) != normalise_name(spec.id)]
    entries = [m.model_dump(mode="json", exclude_defaults=True) for m in (*kept, spec)]
    write_text_atomic(path, yaml.safe_dump({"models": entries}, sort_keys=False))
    return path


def import_model(
    path_or_id: str, home: Path, *, model_id: str | None = None, allow_network: bool = False
) -> tuple[ModelSpec, Path]:
    """Read a Hugging Face config.json and save it as a user catalog model."""
    config, source = load_hf_config(path_or_id, allow_network=allow_network)
    name = model_id or _default_id(path_or_id, config)
    spec = model_spec_from_hf_config(config, name, source=source, source_date=dt.date.today())
    return spec, save_user_model(spec, home)


def _default_id(path_or_id: str, config: dict[str, object]) -> str:
    candidate = config.get("_name_or_path")
    if isinstance(candidate, str) and "/" in candidate and not Path(candidate).exists():
        return candidate
    path = Path(path_or_id)
    if path.exists():
        folder = path if path.is_dir() else path.parent
        return f"local/{folder.resolve().name}"
    return path_or_id
