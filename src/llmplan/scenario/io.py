"""Reading and writing scenario files (YAML or JSON), and the bundled examples.

Every problem with a file becomes one :class:`~llmplan.errors.InputError` line: malformed
YAML or JSON with its line, a duplicate key, an unknown field with the closest allowed
name, a bad value with the dotted path of its key (``workloads[1].slo.ttft_ms``) and,
for YAML, the line it is on. Nothing here touches a catalog: call
:func:`llmplan.scenario.resolve.check_names` to check model and GPU names.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from llmplan.errors import InputError, UnknownNameError
from llmplan.limits import MAX_TEXT_BYTES, check_depth, check_text, read_text_bounded
from llmplan.scenario._errors import PathPart, translate
from llmplan.scenario.schema import Scenario

JSON_SUFFIXES = (".json",)
YAML_SUFFIXES = (".yaml", ".yml")
KeyLines = dict[tuple[PathPart, ...], int]


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects a key given twice in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first_line.get(key)
            except TypeError:  # unhashable key: let PyYAML report it
                continue
            if seen is not None:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first given on line {seen})",
                    key_node.start_mark,
                )
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _key_lines(
    node: yaml.Node | None,
    path: tuple[PathPart, ...] = (),
    seen: set[int] | None = None,
) -> KeyLines:
    """Line (1-based) of every key and list item of a YAML node tree, by path.

    Raises InputError on a YAML alias (a node reached twice): scenarios need none, and
    nested aliases would make the document exponentially large ("billion laughs")."""
    seen = set() if seen is None else seen
    if node is None:
        return {}
    if id(node) in seen and not isinstance(node, yaml.ScalarNode):
        line = node.start_mark.line + 1
        raise InputError(f"YAML aliases (*name) are not allowed in scenario files (line {line})")
    seen.add(id(node))
    out: KeyLines = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                child = (*path, str(key_node.value))
                out[child] = key_node.start_mark.line + 1
                out.update(_key_lines(value_node, child, seen))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            out[child] = item.start_mark.line + 1
            out.update(_key_lines(item, child, seen))
    return out


def _parse_yaml(text: str, source: str) -> tuple[Any, KeyLines]:
    try:
        loader = _UniqueKeyLoader(text)  # its reader refuses non-printable characters
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: malformed YAML: {str(exc).splitlines()[0]}") from None
    try:
        node = loader.get_single_node()
        lines = _key_lines(node)  # before constructing: refuses aliases
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"{source}{where}: malformed YAML: {problem}") from None
    finally:
        loader.dispose()
    return data, lines


def _parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{source}, line {exc.lineno}, column {exc.colno}: malformed JSON: {exc.msg}"
        ) from None


def _looks_like_json(text: str) -> bool:
    return text.lstrip().startswith(("{", "["))


def _decode(text: str, source: str, fmt: str | None) -> tuple[Any, KeyLines]:
    """Parse ``text`` as ``fmt`` ('json' or 'yaml'), or by its first character."""
    if fmt == "json":
        return _parse_json(text, source), {}
    if fmt == "yaml" or not _looks_like_json(text):
        return _parse_yaml(text, source)
    try:
        return _parse_json(text, source), {}
    except InputError as json_error:
        try:  # a YAML flow mapping also starts with '{'
            return _parse_yaml(text, source)
        except InputError:
            raise json_error from None


def parse_scenario(
    data: str | bytes | Mapping[str, Any],
    source_name: str = "<scenario>",
    *,
    fmt: str | None = None,
) -> Scenario:
    """A validated :class:`Scenario` from YAML/JSON text or an already-parsed mapping.

    ``source_name`` names the input in messages; ``fmt`` ('yaml' or 'json') skips the
    guess made from the first character. Raises :class:`~llmplan.errors.InputError`.
    """
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(f"{source_name}: not UTF-8 text (byte {exc.start})") from None
    key_lines: KeyLines = {}
    if isinstance(data, str):
        check_text_input(data, source_name)
        data, key_lines = _decode(data, source_name, fmt)
    return scenario_from_data(data, source_name, key_lines)


def check_text_input(text: str, source_name: str) -> None:
    """Refuse scenario text that is too long, nested too deep or has control characters,
    before any parser reads it (see :mod:`llmplan.limits`)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_TEXT_BYTES:
        raise InputError(f"{source_name}: {size:,} bytes, more than the {MAX_TEXT_BYTES:,} allowed")
    check_text(text, None, source=source_name)
    check_depth(text, None, source=source_name)


def scenario_from_data(
    data: Any, source_name: str = "<scenario>", key_lines: KeyLines | None = None
) -> Scenario:
    """Validate parsed data (what an API receives as JSON) into a :class:`Scenario`."""
    if data is None:
        raise InputError(f"{source_name}: empty; a scenario needs at least name and workloads")
    if not isinstance(data, Mapping):
        raise InputError(
            f"{source_name}: the top level must be a mapping (name:, workloads:, ...), "
            f"got a {type(data).__name__}"
        )
    try:
        return Scenario.model_validate(dict(data))
    except ValidationError as exc:
        raise translate(exc, Scenario, source_name, key_lines) from None


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read a scenario file: JSON for ``.json``, YAML for ``.yaml``/``.yml``, else guessed."""
    file = Path(path)
    text = read_text_bounded(file, None)
    suffix = file.suffix.lower()
    fmt = "json" if suffix in JSON_SUFFIXES else "yaml" if suffix in YAML_SUFFIXES else None
    return parse_scenario(text, str(file), fmt=fmt)


def scenario_to_data(scenario: Scenario, *, full: bool = True) -> dict[str, Any]:
    """Plain data (JSON types) of ``scenario``.

    ``full`` writes every field, defaults included, so that a report shows every
    assumption; ``full=False`` writes only what differs from the defaults.
    """
    return scenario.model_dump(mode="json", exclude_defaults=not full)


class _ScenarioDumper(yaml.SafeDumper):
    """Block style, except lists of plain values, written on one line."""


def _represent_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flow = bool(value) and all(isinstance(v, int | float | str | bool) for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_ScenarioDumper.add_representer(list, _represent_list)


def dump_scenario(scenario: Scenario, *, full: bool = True) -> str:
    """YAML text of ``scenario`` that :func:`parse_scenario` reads back to an equal one."""
    return yaml.dump(
        scenario_to_data(scenario, full=full),
        Dumper=_ScenarioDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )


def bundled_examples() -> dict[str, Path]:
    """Name (file stem) -> path of each example scenario shipped with llmplan."""
    folder = resources.files("llmplan.scenario").joinpath("examples")
    files = sorted(
        (f for f in folder.iterdir() if f.name.endswith(YAML_SUFFIXES)), key=lambda f: f.name
    )
    return {Path(f.name).stem: Path(str(f)) for f in files}


def load_example(name: str) -> Scenario:
    """The bundled example called ``name`` (see :func:`bundled_examples`)."""
    examples = bundled_examples()
    if name not in examples:
        close = difflib.get_close_matches(name, list(examples), n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"choose one of: {', '.join(examples)}"
        raise UnknownNameError(f"no example scenario '{name}'; {hint}", field="example")
    return load_scenario(examples[name])
