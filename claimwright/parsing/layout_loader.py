"""Load and validate PDF layout files into :class:`Layout` (where files are found, and which one
a name means: :mod:`claimwright.parsing.layout_catalog`).

Every file is read through :mod:`claimwright.datafiles` (re-read when it changes); a mistake
raises :class:`LayoutFileError` as ``<file>:<line>: <field path>: <what is wrong>``.
docs/layouts.md documents the schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import datafiles
from .layout import (
    CLAIM_CHECKS,
    CLAIM_FIELDS,
    CLAIM_LINE_FIELDS,
    CODE_CHECK,
    CODE_TABLES,
    DEFAULT_ADJUSTMENT,
    DEFAULT_REMARK,
    DOCUMENT_FIELDS,
    GLOSSARY_FIELDS,
    LINE_FIELDS,
    PROVIDER_FIELDS,
    REQUIRED_CLAIM,
    REQUIRED_DOCUMENT,
    SUMMARY_CHECKS,
    Column,
    Glossary,
    Layout,
    LayoutFileError,
    RowPattern,
    Section,
    Table,
)
from .layout_checks import load_checks, read_paths, verifiers

LAYOUT_DIR = Path(__file__).resolve().parent.parent / "layouts"


class _Validator:
    def __init__(self, doc: datafiles.YamlFile):
        self.path = doc.path
        self.doc = doc

    def fail(self, where: str, what: str) -> LayoutFileError:
        return LayoutFileError.at(what, file=str(self.path), line=self.doc.line_of(where),
                                  field=where)

    def mapping(self, value: Any, where: str, allowed: set[str], required: set[str] = set()
                ) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise self.fail(where, f"unknown key(s) {unknown}; allowed: {sorted(allowed)}")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(where, f"missing required key(s) {missing}")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(where, "must be a non-empty string")
        return value

    def number(self, value: Any, where: str, *, minimum: float = 0.0) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            raise self.fail(where, f"must be a number >= {minimum}")
        return float(value)

    def strings(self, value: Any, where: str, *, allow_empty: bool = True) -> list[str]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or (not value and not allow_empty):
            raise self.fail(where, "must be a list of strings" + ("" if allow_empty else
                                                                   " (at least one)"))
        return [self.string(v, f"{where}[{i}]") for i, v in enumerate(value)]

    def regex(self, value: Any, where: str, groups: set[str] | None = None,
              required_groups: set[str] = set(), code_checks: bool = False) -> re.Pattern:
        text = self.string(value, where)
        try:
            compiled = re.compile(text)
        except re.error as exc:
            raise self.fail(where, f"invalid regular expression: {exc}") from None
        names = set(compiled.groupindex)
        if groups is not None and not groups and names:
            raise self.fail(where, f"named group(s) {sorted(names)} are never read from this "
                                   "row; remove them (use (?:...) to group)")
        if groups is not None:
            bad = sorted(n for n in names - groups
                         if not (code_checks and CODE_CHECK.fullmatch(n)))
            if bad:
                raise self.fail(where, f"unknown field group(s) {bad}; allowed: {sorted(groups)}")
        missing = sorted(required_groups - names)
        if missing:
            raise self.fail(where, f"pattern must capture {missing}")
        return compiled

    def regexes(self, value: Any, where: str, groups: set[str] | None = set()
                ) -> tuple[re.Pattern, ...]:
        return tuple(self.regex(v, f"{where}[{i}]", groups)
                     for i, v in enumerate(self.strings(value, where)))

    def rows(self, value: Any, where: str, groups: set[str], code_checks: bool = False,
             ends_ok: bool = False) -> tuple[RowPattern, ...]:
        if not isinstance(value, list):
            raise self.fail(where, "must be a list")
        out = []
        for i, item in enumerate(value):
            here = f"{where}[{i}]"
            if isinstance(item, str):
                item = {"pattern": item}
            item = self.mapping(item, here, {"pattern", "ends"} if ends_ok else {"pattern"},
                                {"pattern"})
            ends = item.get("ends", False)
            if not isinstance(ends, bool):
                raise self.fail(f"{here}.ends", "must be true or false")
            pattern = self.regex(item["pattern"], f"{here}.pattern", groups,
                                 code_checks=code_checks)
            if not pattern.groupindex:
                raise self.fail(f"{here}.pattern", "must capture at least one named field")
            out.append(RowPattern(pattern, ends))
        return tuple(out)

    def table(self, value: Any, where: str, fields: set[str]) -> Table:
        value = self.mapping(value, where, {"columns", "key", "continuation"},
                             {"columns", "key"})
        raw_columns = value["columns"]
        if not isinstance(raw_columns, list) or not raw_columns:
            raise self.fail(f"{where}.columns", "must be a non-empty list")
        columns: list[Column] = []
        for i, raw in enumerate(raw_columns):
            here = f"{where}.columns[{i}]"
            raw = self.mapping(raw, here, {"field", "from", "to", "code", "pattern"},
                               {"field", "from", "to"})
            name = self.string(raw["field"], f"{here}.field")
            if name not in fields:
                raise self.fail(f"{here}.field", f"unknown field {name!r}; allowed: "
                                                 f"{sorted(fields)}")
            start = self.number(raw["from"], f"{here}.from")
            end = self.number(raw["to"], f"{here}.to")
            if end <= start:
                raise self.fail(f"{here}.to", f"must be greater than from ({start})")
            code = ""
            if name == "adjustment":
                code = self.string(raw.get("code"), f"{here}.code")
                if not re.fullmatch(r"[A-Z]{2}-[A-Z0-9]{1,4}", code):
                    raise self.fail(f"{here}.code", "must look like GROUP-CARC, e.g. PR-1")
            elif "code" in raw:
                raise self.fail(f"{here}.code", "only an 'adjustment' column takes a code")
            if columns and start < columns[-1].end:
                raise self.fail(f"{here}.from", f"overlaps the previous column (ends at "
                                                f"{columns[-1].end}); list columns left to right")
            pattern = None
            if "pattern" in raw:
                pattern = self.regex(raw["pattern"], f"{here}.pattern", {"value"}, {"value"})
            columns.append(Column(name, start, end, code, pattern))
        names = [c.field for c in columns if c.field not in ("ignore", "adjustment")]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise self.fail(f"{where}.columns", f"field(s) {dupes} appear in more than one column")
        key = self.string(value["key"], f"{where}.key")
        if key not in names:
            raise self.fail(f"{where}.key", f"{key!r} is not one of the columns {names}")
        continuation = tuple(self.strings(value.get("continuation", []),
                                          f"{where}.continuation"))
        for i, name in enumerate(continuation):
            if name not in names or name == key:
                raise self.fail(f"{where}.continuation[{i}]",
                                f"{name!r} must be a non-key column of this table")
        return Table(tuple(columns), key, continuation)

    def section(self, value: Any, where: str, *, row_groups: set[str], table_fields: set[str],
                need_start: bool, claims: bool = False, code_checks: bool = False,
                start_groups: bool = True) -> Section:
        # what a section does not read is not accepted: a summary has no table, only claim
        # rows may end a block, a provider section's start row is a heading
        allowed = {"start", "skip", "rows"} | ({"table"} if table_fields else set()) | (
            {"continued", "line_rows"} if claims else set())
        value = self.mapping(value, where, allowed, {"start"} if need_start else set())
        start = None
        if "start" in value:
            start = self.regex(value["start"], f"{where}.start",
                               row_groups if start_groups else set(), code_checks=code_checks)
        skip = self.regexes(value.get("skip", []), f"{where}.skip")
        rows = self.rows(value.get("rows", []), f"{where}.rows", row_groups, code_checks,
                         ends_ok=claims)
        line_rows = self.rows(value.get("line_rows", []), f"{where}.line_rows",
                              LINE_FIELDS - {"ignore", "adjustment"})
        table = None
        if "table" in value:
            table = self.table(value["table"], f"{where}.table", table_fields)
        continued = None
        if claims and "continued" in value:
            continued = self.regex(value["continued"], f"{where}.continued", {"patient_account"},
                                   {"patient_account"})
        if not rows and table is None and not (start is not None and start.groupindex):
            raise self.fail(where, "needs 'rows' patterns, a 'table', or both (or a 'start' "
                                   "pattern that reads fields)")
        return Section(start, skip, rows, table, continued, line_rows)

    def glossary(self, value: Any, where: str) -> Glossary:
        value = self.mapping(value, where, {"start", "skip", "headings", "table", "min_overlap",
                                            "rows"}, {"start", "headings", "table"})
        start = self.regex(value["start"], f"{where}.start", set())
        skip = self.regexes(value.get("skip", []), f"{where}.skip")
        raw = self.mapping(value["headings"], f"{where}.headings", set(CODE_TABLES))
        if not raw:
            raise self.fail(f"{where}.headings", f"name at least one code table of "
                                                 f"{list(CODE_TABLES)}")
        headings = tuple((name, self.regex(p, f"{where}.headings.{name}", set()))
                         for name, p in raw.items())
        table = self.table(value["table"], f"{where}.table", GLOSSARY_FIELDS)
        if table.key != "code":
            raise self.fail(f"{where}.table.key", "must be 'code'")
        overlap = self.number(value.get("min_overlap", 0.5), f"{where}.min_overlap")
        if overlap > 1:
            raise self.fail(f"{where}.min_overlap", "must be between 0 and 1")
        # whole-row entries ("CO-11 The diagnosis is inconsistent ..."): a new entry each
        rows = tuple(self.regex(p, f"{where}.rows[{i}]", {"code", "description"}, {"code"})
                     for i, p in enumerate(self.strings(value.get("rows", []), f"{where}.rows")))
        return Glossary(start, skip, headings, table, overlap, rows)


_TOP_KEYS = {"name", "description", "fingerprint", "text", "formats", "furniture", "ignore",
             "document", "claims", "provider_adjustments", "summary", "glossary", "codes",
             "page_numbers", "checks"}


def load_layout_file(path: str | Path) -> Layout:
    """Load and validate one layout file; :class:`LayoutFileError` says what is wrong."""
    path = Path(path)
    doc = datafiles.read_yaml(path, LayoutFileError.at)
    v = _Validator(doc)
    raw = v.mapping(doc.data, "(top level)", _TOP_KEYS,
                    {"name", "fingerprint", "document", "claims"})
    name = v.string(raw["name"], "name")
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise v.fail("name", "use lowercase letters, digits, '-' and '_'")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise v.fail("description", "must be a string")
    fingerprint = tuple(v.regex(p, f"fingerprint[{i}]", set()) for i, p in
                        enumerate(v.strings(raw["fingerprint"], "fingerprint", allow_empty=False)))

    text = v.mapping(raw.get("text", {}), "text", {"row_tolerance", "cell_gap"})
    row_tolerance = v.number(text.get("row_tolerance", 2.0), "text.row_tolerance", minimum=0.1)
    cell_gap = v.number(text.get("cell_gap", 5.0), "text.cell_gap", minimum=0.5)

    formats = v.mapping(raw.get("formats", {}), "formats", {"date"})
    date_formats = tuple(v.strings(formats.get("date", ["%m/%d/%Y"]), "formats.date",
                                   allow_empty=False))
    for i, fmt in enumerate(date_formats):
        if "%" not in fmt:
            raise v.fail(f"formats.date[{i}]", "must be a strptime format such as %m/%d/%Y")

    document = v.mapping(raw["document"], "document", {"rows", "defaults"}, {"rows"})
    document_rows = v.regexes(document["rows"], "document.rows", DOCUMENT_FIELDS)
    defaults = v.mapping(document.get("defaults", {}), "document.defaults", DOCUMENT_FIELDS)
    defaults = {k: v.string(val, f"document.defaults.{k}") for k, val in defaults.items()}
    claims = v.section(raw["claims"], "claims", row_groups=CLAIM_FIELDS | CLAIM_CHECKS,
                       table_fields=LINE_FIELDS | CLAIM_LINE_FIELDS, need_start=True,
                       claims=True, code_checks=True)
    claim_found = set(claims.start.groupindex) | {g for r in claims.rows
                                                  for g in r.regex.groupindex}
    missing = [f for f in REQUIRED_CLAIM if f not in claim_found]
    if missing:
        raise v.fail("claims", f"no claim pattern captures {missing}")
    if claims.table is None:
        raise v.fail("claims", "needs a 'table' describing the service lines")

    provider = summary = None
    if "provider_adjustments" in raw:
        provider = v.section(raw["provider_adjustments"], "provider_adjustments",
                             row_groups=PROVIDER_FIELDS - {"ignore"},
                             table_fields=PROVIDER_FIELDS, need_start=True, start_groups=False)
        if provider.table is not None and provider.table.key != "reason":
            raise v.fail("provider_adjustments.table.key", "must be 'reason'")
    if "summary" in raw:  # summary rows may also print document fields (the check amount)
        summary = v.section(raw["summary"], "summary", row_groups=SUMMARY_CHECKS | DOCUMENT_FIELDS,
                            table_fields=set(), need_start=True, code_checks=True)
    found = {g for p in document_rows for g in p.groupindex} | set(defaults)
    if summary is not None:  # the start row's groups are read too
        found |= {g for r in summary.rows for g in r.regex.groupindex} | set(
            summary.start.groupindex)
    missing = [f for f in REQUIRED_DOCUMENT if f not in found]
    if missing:
        raise v.fail("document", f"no pattern or default provides {missing}")
    glossary = v.glossary(raw["glossary"], "glossary") if "glossary" in raw else None
    page_numbers = None
    if "page_numbers" in raw:
        # "Page 2 of 5", or "Sheet 2" (no count: the sequence is still checked)
        page_numbers = v.regex(raw["page_numbers"], "page_numbers", {"number", "count"},
                               {"number"})

    codes = v.mapping(raw.get("codes", {}), "codes", {"adjustment", "remark"})
    adjustment = v.regex(codes.get("adjustment", DEFAULT_ADJUSTMENT), "codes.adjustment",
                         {"group", "carc", "amount"}, {"group", "carc", "amount"})
    remark = v.regex(codes.get("remark", DEFAULT_REMARK), "codes.remark", set())
    checks = load_checks(v, raw.get("checks", []))
    verified_by = _coverage(document_rows, claims, provider, summary, checks)

    return Layout(
        name=name, path=path, description=description, fingerprint=fingerprint,
        row_tolerance=row_tolerance, cell_gap=cell_gap, date_formats=date_formats,
        furniture=v.regexes(raw.get("furniture", []), "furniture"),
        ignore=v.regexes(raw.get("ignore", []), "ignore"),
        document_rows=document_rows, document_defaults=defaults,
        claims=claims, provider_adjustments=provider, summary=summary, glossary=glossary,
        page_numbers=page_numbers,
        adjustment=adjustment, remark=re.compile(rf"(?:{remark.pattern})\Z"),
        checks=checks, verified_by=verified_by,
    )


def _groups(patterns) -> set[str]:
    return {g for p in patterns if p is not None
            for g in getattr(p, "regex", p).groupindex}


def _coverage(document_rows, claims: Section, provider: Section | None,
              summary: Section | None, checks) -> tuple:
    """Which checks cover each number the layout reads (see :func:`layout_checks.verifiers`)."""
    claim_groups = _groups((claims.start, *claims.rows))
    line_fields = {c.field for c in claims.table.columns} | _groups(claims.line_rows)
    document = _groups(document_rows)
    totals = {g for g in claim_groups if g.startswith("check_")}
    if "patient_responsibility" in claim_groups:  # a printed one is compared with PR
        totals.add("check_patient_responsibility")
    provider_fields: set[str] = set()
    if provider is not None:
        provider_fields = _groups(provider.rows) | (
            {c.field for c in provider.table.columns} if provider.table else set())
    if summary is not None:
        found = _groups((summary.start, *summary.rows))
        document |= found
        totals |= {g for g in found if g.startswith("check_")}
    paths = read_paths(claim_groups, line_fields, document, provider_fields)
    return verifiers(paths, totals, checks)


def layout_files(directory: Path | None = None) -> list[Path]:
    """Every layout file of the search path (or of ``directory``): :mod:`.layout_catalog`."""
    from .layout_catalog import layout_files as files

    return [path for _, path in files(None if directory is None else [directory])]


def load_layouts(directory: Path | None = None) -> list[Layout]:
    """Every layout in use (``CLAIMWRIGHT_LAYOUTS_DIR``, then ``claimwright/layouts``), or every
    layout of ``directory``, validated: :func:`.layout_catalog.load_layouts`."""
    from .layout_catalog import load_layouts as load

    return load(None if directory is None else [directory])


def get_layout(name_or_path: str | Path, directory: Path | None = None) -> Layout:
    """A layout by name (``"northwind"``) or by the path of a layout file:
    :func:`.layout_catalog.get_layout`."""
    from .layout_catalog import get_layout as get

    return get(name_or_path, None if directory is None else [directory])
