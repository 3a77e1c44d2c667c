"""What a denial reason points to in the note or the coding, in plain words, for the feedback
report to clinical leadership (``claimwright/reports/feedback.py``).

The mapping is data, ``claimwright/rules/documentation.yaml`` (``$CLAIMWRIGHT_DOCUMENTATION``
overrides the path), read through the one loader (:mod:`claimwright.datafiles`) and validated on
load: a mistake raises :class:`claimwright.rules.source.RulesError` naming the file, the line and
the field (``documentation.yaml:41: elements[3].rarc[0]: RARC 'N9999' is not in the code
tables``). The file is read again when it changes.

An entry names a CARC and, optionally, the group code, remark codes (RARCs) and procedure codes
it is about. :meth:`DocumentationElements.element_for` picks the **most specific** entry that
matches an adjustment: one naming remarks beats one that does not, then one naming procedures,
then one naming the group; among equally specific entries the first in the file wins. No entry:
the file's ``default`` text.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .. import codes as codes_mod
from .. import datafiles
from ..settings import Settings
from .source import RulesError

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=600)]
Procedure = Annotated[str, StringConstraints(strip_whitespace=True,
                                             pattern=r"^[A-Za-z0-9*?]{1,8}$")]


def _codes(value: Any) -> Any:
    """One code or a list of codes; bare YAML numbers (50) are read as the code "50"."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(v).strip().upper() if isinstance(v, (str, int)) and not isinstance(v, bool)
            else v for v in items]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryModel(_Strict):
    carc: str
    group: str | None = None
    rarc: list[str] = Field(default_factory=list)
    procedure: list[Procedure] = Field(default_factory=list)
    element: Text

    @field_validator("carc", "group", mode="before")
    @classmethod
    def _one_code(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("rarc", "procedure", mode="before")
    @classmethod
    def _code_list(cls, value: Any) -> Any:
        return _codes(value)


class DocumentationModel(_Strict):
    version: int
    default: Text
    elements: Annotated[list[EntryModel], Field(min_length=1)]


@dataclass(frozen=True)
class Entry:
    carc: str
    group: str | None
    rarcs: frozenset[str]
    procedures: tuple[str, ...]
    text: str
    line: int | None

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        return (bool(self.rarcs), bool(self.procedures), self.group is not None)

    def matches(self, group: str, carc: str, rarcs: frozenset[str], procedure: str) -> bool:
        if carc != self.carc or (self.group is not None and group != self.group):
            return False
        if self.rarcs and not self.rarcs & rarcs:
            return False
        if self.procedures:
            return bool(procedure) and any(fnmatch.fnmatchcase(procedure.upper(), p)
                                           for p in self.procedures)
        return True

    def conditions(self) -> str:
        """How the entry reads in a report: ``CARC 50 with N115 on 992*`` (``CO-50`` when the
        entry names the group)."""
        text = f"{self.group}-{self.carc}" if self.group else f"CARC {self.carc}"
        if self.rarcs:
            text += " with " + "/".join(sorted(self.rarcs))
        if self.procedures:
            text += " on " + "/".join(self.procedures)
        return text


@dataclass(frozen=True)
class ElementMatch:
    text: str
    entry: Entry | None  # None: the file's default text

    @property
    def specific(self) -> bool:
        return self.entry is not None


@dataclass(frozen=True)
class DocumentationElements:
    path: Path
    version: int
    default: str
    entries: tuple[Entry, ...]

    def element_for(self, group: str, carc: str, rarcs: tuple[str, ...] | list[str] = (),
                    procedure: str = "") -> ElementMatch:
        """The most specific entry matching the adjustment (see the module doc)."""
        remarks = frozenset(r.strip().upper() for r in rarcs)
        best: Entry | None = None
        for entry in self.entries:
            if entry.matches(group.upper(), carc.upper(), remarks, procedure or "") and (
                    best is None or entry.specificity > best.specificity):
                best = entry
        return ElementMatch(best.text if best else self.default, best)


def parse_documentation(doc: datafiles.YamlFile,
                        tables: codes_mod.CodeTables | None = None) -> DocumentationElements:
    """Validate a read file; every error names the file, the line and the field."""
    if not isinstance(doc.data, dict):
        raise RulesError("expected a mapping at the top level", file=str(doc.path), line=1)
    model = datafiles.validate(DocumentationModel, doc, RulesError)
    tables = tables or codes_mod.tables()

    def fail(problem: str, loc: tuple) -> None:
        raise RulesError(problem, file=str(doc.path), line=doc.line_of(loc),
                         field=datafiles.field_path(loc))

    entries: list[Entry] = []
    seen: dict[tuple, int | None] = {}
    for i, m in enumerate(model.elements):
        if m.carc not in tables.carc:
            fail(f"CARC {m.carc!r} is not in the code tables", ("elements", i, "carc"))
        if m.group is not None and m.group not in tables.groups:
            fail(f"group {m.group!r} is not in the code tables", ("elements", i, "group"))
        for j, rarc in enumerate(m.rarc):
            if rarc not in tables.rarc:
                fail(f"RARC {rarc!r} is not in the code tables", ("elements", i, "rarc", j))
        procedures = tuple(p.upper() for p in m.procedure)
        key = (m.group, m.carc, frozenset(m.rarc), frozenset(procedures))
        line = doc.line_of(("elements", i))
        if key in seen:
            fail(f"the same conditions as the entry on line {seen[key]}: one of them would "
                 "never be used", ("elements", i, "carc"))
        seen[key] = line
        entries.append(Entry(m.carc, m.group, frozenset(m.rarc), procedures, m.element, line))
    return DocumentationElements(doc.path, model.version, model.default, tuple(entries))


def documentation_path() -> Path:
    """``Settings.documentation``: $CLAIMWRIGHT_DOCUMENTATION or the packaged file."""
    return Settings.from_env().documentation


def load_documentation(path: str | Path | None = None) -> DocumentationElements:
    """The documentation elements in force: re-read when the file (or the code tables) changed
    since last time (:func:`datafiles.load`)."""
    tables = codes_mod.tables()
    return datafiles.load(
        Path(path or documentation_path()),
        lambda p: parse_documentation(datafiles.read_yaml(p, RulesError), tables),
        depends=id(tables))
