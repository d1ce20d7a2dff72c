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
from collections.abc import Mapping
from typing import Any

from llmplan.errors import InputError

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")


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
    """``workloads[0].slo.ttft_ms`` -> ``['workloads', 0, 'slo', 'ttft_ms']``."""
    parts: list[str | int] = []
    for piece in path.split("."):
        matches = list(_PART.finditer(piece))
        if not matches or "".join(m.group(0) for m in matches) != piece:
            raise InputError(
                f"'{path}' is not a field path like workloads[0].slo.ttft_ms", field="set"
            )
        parts.extend(m.group(1) if m.group(1) else int(m.group(2)) for m in matches)
    return parts


def _parent(document: Any, parts: list[str | int], path: str) -> Any:
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
        node = node[part]
    if not isinstance(node, dict):
        raise InputError(f"{path}: the value is not inside a mapping", field="set")
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


def _in_place(text: str, document: Any, path: str, value: Any) -> tuple[int, int, str] | None:
    """(start, end, new token) replacing the scalar at ``path`` in ``text``, if it is one."""
    parts = split_path(path)
    node = document
    for part in parts[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
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


def set_fields(text: str, changes: Mapping[str, Any]) -> str:
    """``text`` with each field path in ``changes`` set to its value; the rest as written.

    A value that is already in the file is replaced where it stands, so the rest of the
    text is byte for byte the same; a field that is not there yet is added by ruamel.yaml
    (which may rewrap long flow lists)."""
    from ruamel.yaml.error import YAMLError

    yaml = _yaml()
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        line = str(exc).splitlines()[0]
        raise InputError(f"the YAML cannot be read: {line}", field="text") from None
    if not isinstance(document, dict):
        raise InputError("the scenario file must be a mapping (key: value lines)", field="text")
    edits = [_in_place(text, document, path, value) for path, value in changes.items()]
    if all(edit is not None for edit in edits):
        for start, end, new in sorted((e for e in edits if e), reverse=True):
            text = text[:start] + new + text[end:]
        return text
    return _rewritten(text, document, changes)


def _rewritten(text: str, document: Any, changes: Mapping[str, Any]) -> str:
    """The document re-written by ruamel.yaml with the changes applied."""
    writer = _matching_yaml(text, document)
    for path, value in changes.items():
        parts = split_path(path)
        key = parts[-1]
        if isinstance(key, int):
            raise InputError(f"{path}: the last part must be a field name", field="set")
        parent = _parent(document, parts, path)
        old = parent.get(key)
        if isinstance(old, dict) and not isinstance(value, dict) and "mean" in old:
            parent[key]["mean"] = _plain(value)  # a length distribution: its mean
        else:
            parent[key] = _plain(value)
    return _dump(writer, document)
