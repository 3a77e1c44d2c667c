"""YAML read with line numbers, so every validation error can name the file, line and field.

``load_located(path)`` composes the YAML document (PyYAML nodes carry their start marks) and turns
it into plain Python values, keeping the 1-based line of every mapping, key and list item in
:class:`Node` wrappers' side tables. Scalars are converted like YAML 1.1 does (bool, int, null,
dates) except that floats stay strings: amounts and ratios become ``Decimal`` in the schema, never
binary floats.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..datafiles import compose_yaml
from ..errors import BusinessError
from ..types import FaultCode


class RulesError(BusinessError):
    """A rules or deadlines file is invalid. ``str()`` reads ``file:line: field: problem``."""

    code = FaultCode.RULES_INVALID

    def __init__(self, message: str, *, file: str = "", line: int | None = None,
                 field: str = "") -> None:
        where = Path(file).name if file else ""
        if line:
            where = f"{where}:{line}"
        text = f"{where}: {field}: {message}" if field else f"{where}: {message}"
        super().__init__(text if where else message, file=file, line=line, field=field)
        self.problem = message
        self.file = file
        self.line = line
        self.field = field


@dataclass
class LMap:
    """A YAML mapping: ``values`` plus the line of the mapping and of each key."""

    values: dict[str, Any]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def keys(self) -> list[str]:
        return list(self.values)


@dataclass
class LList:
    items: list[Any]
    line: int
    item_lines: list[int] = field(default_factory=list)


_BOOL_TRUE = {"yes", "true", "on", "y"}


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, value = node.tag, node.value
    if tag.endswith(":null"):
        return None
    if tag.endswith(":bool"):
        return value.lower() in _BOOL_TRUE
    if tag.endswith(":int"):
        try:
            return int(value.replace("_", ""), 0)
        except ValueError:
            return value
    if tag.endswith(":timestamp"):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value  # str and float (kept as text, converted to Decimal where meant)


def _convert(node: yaml.Node, path: Path) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        return _scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return LList([_convert(n, path) for n in node.value], line,
                     [n.start_mark.line + 1 for n in node.value])
    if isinstance(node, yaml.MappingNode):
        out = LMap({}, line)
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise RulesError("mapping keys must be plain words", file=str(path),
                                 line=key_node.start_mark.line + 1)
            key = str(key_node.value)
            if key in out.values:
                raise RulesError(f"key {key!r} appears twice (first on line "
                                 f"{out.key_lines[key]})", file=str(path),
                                 line=key_node.start_mark.line + 1, field=key)
            out.values[key] = _convert(value_node, path)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    raise RulesError(f"unsupported YAML node {type(node).__name__}", file=str(path), line=line)


def load_located(path: str | Path) -> LMap:
    """The file as :class:`LMap` / :class:`LList` values (read by :mod:`claimwright.datafiles`)."""
    path = Path(path)
    node = compose_yaml(path, RulesError)
    if node is None:
        raise RulesError("file is empty", file=str(path))
    data = _convert(node, path)
    if not isinstance(data, LMap):
        raise RulesError("top level must be a mapping", file=str(path), line=1)
    return data


def plain(value: Any) -> Any:
    """Strip the line-number wrappers (for printing and comparisons)."""
    if isinstance(value, LMap):
        return {k: plain(v) for k, v in value.values.items()}
    if isinstance(value, LList):
        return [plain(v) for v in value.items]
    return value
