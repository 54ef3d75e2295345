"""Strict YAML for catalog files: libyaml, duplicated keys refused, dates kept as text.

YAML would silently keep the last of two equal keys, and would turn ``2024-13-01`` into a
Python exception from its date constructor (and ``2024-1-5`` into a date); here mapping keys
must be unique and timestamps stay strings, so the schema checks them as ISO dates
(YYYY-MM-DD) like every other input. Problems found later are given the line of the value
they concern (:func:`with_yaml_lines`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from densing.errors import DensingInputError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_Base):  # type: ignore[misc]
    """libyaml parser; refuses duplicated mapping keys, keeps timestamps as strings."""


def _no_duplicate_keys(loader: Any, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):
            continue  # complex keys: left to the constructor
        key = key_node.value
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicated key '{key}' (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)
StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _Base.construct_yaml_str)


def parse_yaml(text: str) -> Any:
    """Parse YAML text with :class:`StrictLoader` (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=StrictLoader)  # a safe loader


def read_yaml(path: Path) -> Any:
    """The parsed file; a :class:`DensingInputError` with the line for invalid YAML."""
    try:
        return parse_yaml(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc
        raise DensingInputError(f"not valid YAML{where}: {problem}", file=str(path)) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise DensingInputError(f"cannot read file: {exc}", file=str(path)) from exc


def _node_line(root: Any, path: list[str | int]) -> int | None:
    """1-based line of the node at ``path`` (deepest node found) in a composed YAML tree."""
    node, line = root, None
    for part in path:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            hit = next(((k, v) for k, v in node.value if getattr(k, "value", None) == part), None)
            if hit is None:
                break
            line, node = hit[0].start_mark.line + 1, hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _compose(file: str) -> Any:
    try:
        return yaml.compose(Path(file).read_text(encoding="utf-8-sig"), Loader=_Base)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None


def _field_path(row: int | None, column: str | None) -> list[str | int]:
    path: list[str | int] = [] if row is None else ["models", row - 1]
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", column or ""):
        path.append(int(part[1:-1]) if part.startswith("[") else part)
    return path


def with_yaml_lines(problems: list[DensingInputError]) -> list[DensingInputError]:
    """Add the YAML line number to problems located in a YAML file (only on the error path)."""
    trees: dict[str, Any] = {}
    out = []
    for p in problems:
        loc = p.location
        located = loc.row is not None or loc.column is not None
        if loc.file is None or not loc.file.endswith((".yaml", ".yml")) or not located:
            out.append(p)
            continue
        if loc.file not in trees:
            trees[loc.file] = _compose(loc.file)
        root = trees[loc.file]
        line = None if root is None else _node_line(root, _field_path(loc.row, loc.column))
        if line is None:
            out.append(p)
            continue
        reason = f"line {line}: {p.reason}"
        out.append(DensingInputError(reason, file=loc.file, row=loc.row, column=loc.column))
    return out
