"""Turning a pydantic ValidationError on a scenario into one line naming the field.

The path is written as in the file (``workloads[1].slo.ttft_ms``): the discriminator tag
pydantic inserts for workloads is dropped, and an error a model validator raised with
:class:`~llmplan.scenario._base.FieldValueError` is moved to the field it names. Unknown
keys get the closest field name of the block they are in.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from llmplan.errors import InputError
from llmplan.scenario._base import FieldValueError
from llmplan.scenario.workloads import LengthDistribution

PathPart = str | int
#: Longest input value quoted in a message.
MAX_QUOTED_CHARS = 60
#: A block with at most this many fields lists them all when a key is unknown.
MAX_LISTED_FIELDS = 12


def format_path(parts: Sequence[PathPart]) -> str:
    """``('workloads', 1, 'slo', 'ttft_ms')`` -> ``workloads[1].slo.ttft_ms``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def translate(
    exc: ValidationError,
    root: type[BaseModel],
    source: str,
    key_lines: Mapping[tuple[PathPart, ...], int] | None = None,
) -> InputError:
    """One :class:`InputError` naming every error of ``exc`` (validating ``root``): the
    first in ``field``, all of them in ``details`` and, after the first, in the message."""
    errors = exc.errors(include_url=False)
    # A misspelt key also makes its real name "missing": report the misspelling first.
    errors.sort(key=lambda e: e["type"] != "extra_forbidden")
    described = [_describe(e, root) for e in errors]
    lines = key_lines or {}
    details = tuple(
        (
            format_path(parts) or None,
            f"{format_path(parts) or 'scenario'}: {detail} ({_where(source, parts, lines)})",
        )
        for parts, detail in described
    )
    message = "; ".join(text for _, text in details)
    return InputError(message, field=details[0][0], details=details)


def _where(source: str, parts: Sequence[PathPart], key_lines: Mapping[Any, int]) -> str:
    for end in range(len(parts), 0, -1):
        line = key_lines.get(tuple(parts[:end]))
        if line is not None:
            return f"in {source}, line {line}"
    return f"in {source}"


def _describe(error: ErrorDetails, root: type[BaseModel]) -> tuple[list[PathPart], str]:
    """Path of the offending key, and what is wrong with it."""
    parts, target = walk(error["loc"], root)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        parent_parts, parent = walk(error["loc"][:-1], root)
        return parts, _unknown_field(str(parts[-1]), parent_parts, parent)
    if kind == "value_error" and isinstance(ctx.get("error"), FieldValueError):
        cause = ctx["error"]
        return [*parts, cause.field], str(cause)
    if kind == "value_error":
        return parts, str(ctx.get("error", error["msg"]))
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ", ".join(_union_tags(target))
        return [*parts, "kind"], f"unknown workload kind {_quote(ctx.get('tag'))}; allowed: {tags}"
    if kind == "missing":
        return parts, "required field is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return parts, f"{_expected_mapping(target)}, got {_quote(error['input'])}"
    if kind in ("tuple_type", "list_type"):
        return parts, f"must be a list, got {_quote(error['input'])}"
    if kind == "too_short":
        count = ctx.get("min_length", 1)
        return parts, f"must list at least {count} item{'' if count == 1 else 's'}"
    return parts, f"{_lowercase_first(error['msg'])}, got {_quote(error['input'])}"


def walk(loc: Sequence[PathPart], root: type[BaseModel]) -> tuple[list[PathPart], Any]:
    """The user-facing path of ``loc`` and the type expected at its end."""
    parts: list[PathPart] = []
    current: Any = root
    for item in loc:
        current = _strip(current)
        if isinstance(item, int):
            parts.append(item)
            current = _item_type(current)
            continue
        member = _tagged_member(current, item)
        if member is not None:
            current = member
            continue
        parts.append(item)
        current = _child_type(current, item)
    return parts, _strip(current)


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _strip(annotation: Any) -> Any:
    """Drop ``Annotated`` and ``| None``."""
    while True:
        if typing.get_origin(annotation) is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif _is_union(annotation):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _item_type(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    return args[0] if args else None


def _child_type(annotation: Any, key: str) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(key)
        return field.annotation if field is not None else None
    if typing.get_origin(annotation) is dict:
        return typing.get_args(annotation)[1]
    return None


def _tags(annotation: Any) -> list[tuple[str, Any]]:
    """(tag, class) of each ``Annotated[cls, Tag(...)]`` member of a union."""
    if not _is_union(annotation):
        return []
    out: list[tuple[str, Any]] = []
    for member in typing.get_args(annotation):
        if typing.get_origin(member) is typing.Annotated:
            cls, *meta = typing.get_args(member)
            out.extend((m.tag, cls) for m in meta if isinstance(m, Tag))
    return out


def _tagged_member(annotation: Any, item: str) -> Any:
    return next((cls for tag, cls in _tags(annotation) if tag == item), None)


def _union_tags(annotation: Any) -> list[str]:
    tags = [tag for tag, _ in _tags(annotation)]
    return tags or ["inference", "finetune"]


def _field_names(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _unknown_field(key: str, parent_parts: Sequence[PathPart], parent: Any) -> str:
    block = format_path(parent_parts) or "the scenario"
    names = _field_names(parent)
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.6)
    if close:
        return f"unknown field in {block}; did you mean '{close[0]}'?"
    if names and len(names) <= MAX_LISTED_FIELDS:
        return f"unknown field in {block}; allowed: {', '.join(names)}"
    return f"unknown field in {block} (docs/scenario.md lists the allowed fields)"


def _expected_mapping(target: Any) -> str:
    names = _field_names(target)
    if target is LengthDistribution:
        return "must be a number of tokens (the mean) or a mapping with mean, p50, p95"
    if names:
        return f"must be a mapping with keys such as {', '.join(names[:6])}"
    return "must be a mapping (key: value lines)"


def _quote(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)}"
    text = repr(value)
    return text if len(text) <= MAX_QUOTED_CHARS else text[: MAX_QUOTED_CHARS - 3] + "..."


def _lowercase_first(text: str) -> str:
    return text[:1].lower() + text[1:]
