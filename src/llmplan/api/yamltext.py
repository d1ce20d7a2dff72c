"""A scenario file's text edited in place: comments, integers and key order kept.

The web editor's form changes a few fields of the YAML the user wrote; re-dumping the
parsed scenario would drop every comment that justifies an assumption and turn ``9000``
into ``9000.0``. ruamel.yaml's round-trip mode changes only the values named here.
Paths are written as in error messages: ``workloads[0].slo.ttft_ms``.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from llmplan.errors import InputError

_PART = re.compile(r'(\.)?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\["([^"\\\]]+)"\]')


#: (mapping, sequence, offset) indents tried, to write lists the way the file does.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 6, 4), (4, 4, 0))


def _yaml(indent: tuple[int, int, int] = _INDENTS[0]) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, sequence, offset = indent
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    return yaml


def _dump(yaml: Any, document: Any) -> str:
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _matching_yaml(text: str, document: Any) -> Any:
    """The writer whose indentation reproduces ``text`` unchanged (else the first)."""
    for indent in _INDENTS:
        yaml = _yaml(indent)
        if _dump(yaml, document) == text:
            return yaml
    return _yaml()


def split_path(path: str) -> list[str | int]:
    """``workloads[0].slo.ttft_ms`` -> ``['workloads', 0, 'slo', 'ttft_ms']``.

    A key that is not a plain name (a GPU id such as ``RTX-4090``) is quoted in brackets:
    ``overrides.gpus["RTX-4090"].purchase_price_usd``."""
    parts: list[str | int] = []
    position = 0
    while position < len(path):
        match = _PART.match(path, position)
        misplaced_dot = match is not None and (match.group(1) is not None) != (position > 0)
        if match is None or (match.group(2) is not None and misplaced_dot):
            raise InputError(
                f"'{path}' is not a field path like workloads[0].slo.ttft_ms", field="set"
            )
        name, index, quoted = match.group(2, 3, 4)
        parts.append(int(index) if index is not None else name or quoted)
        position = match.end()
    if not parts:
        raise InputError(
            "an empty field path; write one like workloads[0].slo.ttft_ms", field="set"
        )
    return parts


def _parent(document: Any, parts: list[str | int], path: str) -> Any:
    """The mapping or list holding the last part of ``parts`` (mappings made on the way)."""
    from ruamel.yaml.comments import CommentedMap

    node = document
    for part in parts[:-1]:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                raise InputError(f"{path}: no item {part} in the file", field="set")
            node = node[part]
            continue
        if not isinstance(node, dict):
            raise InputError(f"{path}: {part} is not inside a mapping", field="set")
        if node.get(part) is None:
            node[part] = CommentedMap()
        elif isinstance(node[part], int | float) and not isinstance(node[part], bool):
            node[part] = CommentedMap(mean=node[part])  # a length as one number: its mean
        node = node[part]
    return node


def _plain(value: Any) -> Any:
    """Integral floats written as integers (9000, not 9000.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


_QUOTED = re.compile(r"'(?:[^'\n]|'')*'|\"(?:[^\"\\\n]|\\.)*\"")
_IN_FLOW = re.compile(r"[^\s,\]}#][^,\]}#\n]*")
_IN_BLOCK = re.compile(r"[^\s#|>&*!][^\n]*?(?=\s+#|[ \t]*$)", re.MULTILINE)
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_RESERVED = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _scalar(value: Any) -> str | None:
    """``value`` written as a YAML scalar (None for a list or mapping)."""
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return repr(value)
    if isinstance(value, float):
        mantissa, e, exponent = repr(value).partition("e")
        # YAML 1.1 readers (PyYAML) want a dot in a float: 5e-324 -> 5.0e-324
        return f"{mantissa if '.' in mantissa else mantissa + '.0'}{e}{exponent}"
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value.lower() not in _RESERVED
        return value if plain else json.dumps(value)
    return None


def _walk(document: Any, parts: list[str | int]) -> Any:
    """The node at ``parts`` below ``document`` (None where there is none)."""
    node = document
    for part in parts:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _in_place(text: str, document: Any, path: str, value: Any) -> tuple[int, int, str] | None:
    """(start, end, new token) replacing the scalar at ``path`` in ``text``, if it is one."""
    parts = split_path(path)
    if parts[-1] == "mean" and len(parts) > 1:  # a length written as one number: that number
        parent = _walk(document, parts[:-2])
        if isinstance(parent, dict) and isinstance(parent.get(parts[-2]), int | float):
            parts = parts[:-1]
    node = _walk(document, parts[:-1])
    if node is None:
        return None
    key = parts[-1]
    if not isinstance(node, dict) or key not in node:
        return None
    if isinstance(node[key], dict) and "mean" in node[key] and not isinstance(value, dict):
        node, key = node[key], "mean"
    new = _scalar(value)
    if new is None or isinstance(node[key], dict | list) or not hasattr(node, "lc"):
        return None
    line, column = node.lc.value(key)
    lines = text.splitlines(keepends=True)
    start = sum(len(x) for x in lines[:line]) + column
    flow = node.fa.flow_style() if hasattr(node, "fa") else False
    match = _QUOTED.match(text, start) or (_IN_FLOW if flow else _IN_BLOCK).match(text, start)
    if match is None:  # a block scalar (| or >), an anchor or an alias: not in place
        return None
    end = start + len(match.group(0).rstrip())
    return start, end, new


def _load(text: str) -> Any:
    """The round-trip document of a scenario file (422 naming ``text`` if unreadable)."""
    from ruamel.yaml.error import YAMLError

    try:
        document = _yaml().load(text)
    except YAMLError as exc:
        line = str(exc).splitlines()[0]
        raise InputError(f"the YAML cannot be read: {line}", field="text") from None
    if not isinstance(document, dict):
        raise InputError("the scenario file must be a mapping (key: value lines)", field="text")
    return document


def set_fields(text: str, changes: Mapping[str, Any]) -> str:
    """``text`` with each field path in ``changes`` set to its value; the rest as written.

    A value that is already in the file is replaced where it stands, so the rest of the
    text is byte for byte the same; a field that is not there yet is added by ruamel.yaml
    (which may rewrap long flow lists)."""
    document = _load(text)
    edits = [_in_place(text, document, path, value) for path, value in changes.items()]
    if all(edit is not None for edit in edits):
        for start, end, new in sorted((e for e in edits if e), reverse=True):
            text = text[:start] + new + text[end:]
        return text
    writer = _matching_yaml(text, document)
    _apply_set(document, changes)
    return _dump(writer, document)


def edit_text(
    text: str,
    changes: Mapping[str, Any] | None = None,
    append: Mapping[str, Any] | None = None,
    remove: Sequence[str] = (),
) -> str:
    """``text`` with fields set, items appended to lists and fields or items removed.

    Setting values only is :func:`set_fields` (in place where possible). Appending or
    removing re-writes the document with ruamel.yaml, which keeps comments, integers and
    key order (a comment on a removed line goes with it). Order: set, append, remove."""
    if not append and not remove:
        return set_fields(text, changes or {})
    document = _load(text)
    writer = _matching_yaml(text, document)
    _apply_set(document, changes or {})
    for path, value in (append or {}).items():
        _append(document, path, value)
    _remove(document, remove)
    return _dump(writer, document)


def _block(value: Any) -> Any:
    """``value`` with integral floats as integers, mappings as blocks, lists of scalars in
    flow style (``[0, 1, 4]``)."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, dict):
        return CommentedMap((k, _block(v)) for k, v in value.items())
    if isinstance(value, list):
        seq = CommentedSeq(_block(v) for v in value)
        if not any(isinstance(v, dict | list) for v in value):
            seq.fa.set_flow_style()  # numbers and names on one line: [0, 1, 4]
        return seq
    return _plain(value)


def _apply_set(document: Any, changes: Mapping[str, Any]) -> None:
    """Set each path of ``changes`` in ``document`` (a list item replaced whole by index)."""
    for path, value in changes.items():
        parts = split_path(path)
        parent, key = _parent(document, parts, path), parts[-1]
        if isinstance(key, int):
            if not isinstance(parent, list) or not 0 <= key < len(parent):
                raise InputError(f"{path}: no item {key} in the file", field="set")
            parent[key] = _block(value)
            continue
        if not isinstance(parent, dict):
            raise InputError(f"{path}: the value is not inside a mapping", field="set")
        old = parent.get(key)
        if isinstance(old, dict) and not isinstance(value, dict) and "mean" in old:
            parent[key]["mean"] = _plain(value)  # a length distribution: its mean
        else:
            parent[key] = _block(value)


def _append(document: Any, path: str, value: Any) -> None:
    """Append ``value`` to the list at ``path`` (made if the field is absent)."""
    from ruamel.yaml.comments import CommentedSeq

    parts = split_path(path)
    parent, key = _parent(document, parts, path), parts[-1]
    if isinstance(key, int) or not isinstance(parent, dict):
        raise InputError(f"{path}: append needs a list field like workloads", field="append")
    if parent.get(key) is None:
        parent[key] = CommentedSeq()
    if not isinstance(parent[key], list):
        raise InputError(f"{path}: is not a list", field="append")
    parent[key].append(_block(value))


def _remove(document: Any, paths: Sequence[str]) -> None:
    """Delete each field or list item named in ``paths`` (list items from the last one)."""
    targets = []
    for path in paths:
        parts = split_path(path)
        parent, key = _walk(document, parts[:-1]), parts[-1]
        present = (
            isinstance(parent, list) and isinstance(key, int) and 0 <= key < len(parent)
        ) or (isinstance(parent, dict) and key in parent)
        if not present:
            raise InputError(f"{path}: not in the file", field="remove")
        targets.append((parent, key))
    for parent, key in sorted(targets, key=lambda t: -t[1] if isinstance(t[1], int) else 0):
        del parent[key]
