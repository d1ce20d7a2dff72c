"""The server catalogue: GPU servers, racks and workstations as units of purchase.

Each :class:`ServerSpec` is one platform you can buy whole (an 8-GPU HGX board in its
chassis, a 4-GPU PCIe server, a GB200 NVL72 rack, a tower workstation) with its system
price, rated power at the wall (before PUE), rack units and the source and date of those
figures. Entries validate themselves when read; nothing is read at import time
(:func:`bundled_servers` reads ``llmplan/data/servers/*.yaml`` once and caches it).
"""

from __future__ import annotations

import datetime as dt
import functools
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llmplan.errors import CatalogError

SERVERS_DIR = "servers"


class ServerForm(StrEnum):
    """What kind of platform a server is (how it is bought and racked)."""

    HGX8 = "hgx8"
    OAM8 = "oam8"
    PCIE4 = "pcie4"
    RACK = "rack"
    WORKSTATION = "workstation"


class ServerSpec(BaseModel):
    """One purchasable platform: ``gpus`` GPUs of catalog id ``gpu`` for ``price_usd``.

    ``power_kw`` is the rated draw at the wall before PUE; ``rack_units`` the height it
    takes in a rack (0: a tower on the floor). A :attr:`ServerForm.RACK` platform fills one
    rack of its own. ``derivation`` says which figures were computed rather than read.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=3, pattern=r"^[a-z0-9][a-z0-9.-]*$")
    name: str = Field(min_length=3)
    form: ServerForm
    gpu: str = Field(min_length=2)
    gpus: int = Field(ge=1, le=1024)
    price_usd: float = Field(gt=0, le=50_000_000)
    power_kw: float = Field(gt=0, le=2_000)
    rack_units: int = Field(ge=0, le=60)
    source: str = Field(min_length=8)
    price_date: dt.date
    date_precision: str = Field("day", pattern="^(day|month|year)$")
    derivation: str = ""

    @property
    def usd_per_gpu(self) -> float:
        """System price per GPU, USD."""
        return self.price_usd / self.gpus


def _entries(text: str, name: str) -> list[Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogError(f"server catalogue {name}: not valid YAML ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("servers"), list):
        raise CatalogError(f"server catalogue {name}: needs a top-level list 'servers'")
    entries: list[Any] = data["servers"]
    return entries


def parse_servers(text: str, name: str = "<text>") -> tuple[ServerSpec, ...]:
    """Server entries of one YAML text; a bad entry raises :class:`CatalogError` naming
    the file, the entry and the field."""
    out: list[ServerSpec] = []
    for index, entry in enumerate(_entries(text, name)):
        label = entry.get("id", f"#{index}") if isinstance(entry, dict) else f"#{index}"
        try:
            out.append(ServerSpec.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "entry"
            raise CatalogError(
                f"server catalogue {name}, entry {label}: {field}: {first['msg']}"
            ) from None
    ids = [s.id for s in out]
    duplicate = next((i for i in ids if ids.count(i) > 1), None)
    if duplicate is not None:
        raise CatalogError(f"server catalogue {name}: id '{duplicate}' is used twice")
    return tuple(out)


@functools.cache
def bundled_servers() -> tuple[ServerSpec, ...]:
    """Every bundled server entry (read once)."""
    folder = resources.files("llmplan").joinpath("data", SERVERS_DIR)
    out: list[ServerSpec] = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            out.extend(parse_servers(item.read_text(encoding="utf-8"), item.name))
    return tuple(out)


def servers_for_gpu(servers: tuple[ServerSpec, ...], gpu_id: str) -> tuple[ServerSpec, ...]:
    """Entries holding GPUs of catalog id ``gpu_id``."""
    return tuple(s for s in servers if s.gpu == gpu_id)
