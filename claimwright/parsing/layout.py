"""PDF remittance layouts as data: what a layout file (``claimwright/layouts/*.yaml``) says.

A layout says how to recognize a payer's PDF (``fingerprint``), which rows are page furniture,
where the remittance fields are, how a claim block starts, continues and ends, where the
service-line columns sit on the page, and how provider-level adjustments and totals are printed.
The engine in :mod:`claimwright.parsing.pdf` is generic; nothing here is payer-specific.
docs/layouts.md documents the schema with an example.

Row text convention: a row is a list of cells (runs of words closer than ``text.cell_gap``
points); its text joins the cells with a TAB and the words of a cell with one space. Patterns are
Python regular expressions searched in that text; their named groups name the fields they fill.

:mod:`claimwright.parsing.layout_loader` loads and validates the files into these types.
Validation is strict (unknown keys are typos, regexes must compile, every named group must be a
field of the scope it fills, a group on a row whose groups are not read is an error); errors
name the file, the line, the field path and what is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import datafiles
from ..errors import SystemFault
from ..types import FaultCode

# Fields each scope may fill from a pattern's named groups or a table column.
DOCUMENT_FIELDS = {"payer_name", "payer_id", "payee_name", "payee_npi", "payment_method",
                   "payment_trace_number", "payment_date", "payment_amount"}
# what a field's text is read as: an amount, a count (else text, a date, ...)
MONEY_FIELDS = {"billed", "paid", "allowed", "patient_responsibility", "payment_amount",
                 "amount", "adjustment", "check_adjusted", "check_allowed", "check_lines_billed",
                 "check_lines_paid", "check_patient_responsibility", "check_claims_billed",
                 "check_claims_paid", "check_provider_adjusted", "check_payment_amount",
                 "check_claims_patient_resp", "check_claims_allowed", "check_adjusted_listed"}
COUNT_FIELDS = {"check_line_count", "check_claim_count"}
CLAIM_FIELDS = {"patient_name", "member_id", "patient_account", "payer_claim_id", "status_code",
                "billed", "paid", "patient_responsibility", "adjustments", "remarks",
                "rendering_provider_name", "rendering_provider_npi", "patient_dob", "diagnoses"}
# Claim fields a service-line column may print instead (the SPR's PERF PROV: the rendering
# provider's NPI on every line): they fill the claim, and every line must print the same value.
CLAIM_LINE_FIELDS = {"rendering_provider_name", "rendering_provider_npi"}
CLAIM_CHECKS = {"check_adjusted", "check_allowed", "check_lines_billed", "check_lines_paid",
                "check_line_count", "check_patient_responsibility", "check_adjusted_listed"}
LINE_FIELDS = {"date_of_service", "procedure", "modifiers", "units", "billed", "allowed", "paid",
               "adjustments", "remarks", "adjustment", "ignore"}
PROVIDER_FIELDS = {"reason", "reference", "amount", "ignore"}
SUMMARY_CHECKS = {"check_claim_count", "check_claims_billed", "check_claims_paid",
                  "check_provider_adjusted", "check_payment_amount", "check_claims_patient_resp",
                  "check_claims_allowed", "check_adjusted_listed"}
# claim and summary checks may also name one adjustment code: the sum of its amounts, e.g.
# check_code_PR_1 (a "DEDUCT" total); in a claim, over its lines and claim level; in the
# summary, over every claim
CODE_CHECK = re.compile(r"check_code_(?P<group>[A-Z]{2})_(?P<carc>[A-Z0-9]{1,4})")
GLOSSARY_FIELDS = {"code", "description", "ignore"}
CODE_TABLES = ("groups", "carc", "rarc", "claim_status", "plb")
REQUIRED_DOCUMENT = ("payer_name", "payee_name", "payment_amount")
REQUIRED_CLAIM = ("patient_account", "status_code", "billed", "paid")

DEFAULT_ADJUSTMENT = r"(?P<group>[A-Z]{2})-(?P<carc>[A-Z0-9]{1,4})\s+(?P<amount>-?[\d,]*\.\d{2}-?)"
DEFAULT_REMARK = r"[A-Z]{1,2}\d{1,4}"


class LayoutFileError(SystemFault):
    """A layout file is missing or invalid: a deployment problem, never retried."""

    code = FaultCode.LAYOUT_FILE_INVALID

    def __init__(self, message: str, **context: Any) -> None:
        super().__init__(message, retryable=False, **context)

    @classmethod
    def at(cls, problem: str, *, file: str, line: int | None = None,
           field: str = "") -> LayoutFileError:
        """``name:line: field: problem`` (the :mod:`claimwright.datafiles` error factory)."""
        return cls(datafiles.located(problem, file=file, line=line, field=field), file=file,
                   line=line, field=field)


@dataclass(frozen=True)
class Column:
    field: str
    start: float  # x range [start, end) in points from the page's left edge; a cell belongs
    end: float  # to the column holding the middle of the cell
    code: str = ""  # for field "adjustment": the fixed "GROUP-CARC" this amount column holds
    pattern: re.Pattern | None = None  # the cell must match; its group "value" is the value


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    key: str  # a row whose key column is filled starts a new record
    continuation: tuple[str, ...] = ()  # columns that may wrap onto following rows

    def column_for(self, x_middle: float) -> Column | None:
        for col in self.columns:
            if col.start <= x_middle < col.end:
                return col
        return None


@dataclass(frozen=True)
class RowPattern:
    regex: re.Pattern
    ends: bool = False  # the row closes the block it belongs to (e.g. claim totals)


@dataclass(frozen=True)
class Section:
    start: re.Pattern | None
    skip: tuple[re.Pattern, ...] = ()
    rows: tuple[RowPattern, ...] = ()
    table: Table | None = None
    continued: re.Pattern | None = None  # claims only: a claim resumed on a later page
    line_rows: tuple[RowPattern, ...] = ()  # claims only: rows adding to the open service line


@dataclass(frozen=True)
class Glossary:
    """A glossary page: code tables' headings, then ``code | description`` rows (wrapping)."""

    start: re.Pattern
    skip: tuple[re.Pattern, ...]
    headings: tuple[tuple[str, re.Pattern], ...]  # (code table name, heading row pattern)
    table: Table
    min_overlap: float  # below this share of common words a description is "clearly different"
    rows: tuple[re.Pattern, ...] = ()  # whole-row entries ("CO-11 text"): groups code, description


@dataclass(frozen=True)
class Layout:
    name: str
    path: Path
    description: str
    fingerprint: tuple[re.Pattern, ...]
    row_tolerance: float
    cell_gap: float
    date_formats: tuple[str, ...]
    furniture: tuple[re.Pattern, ...]
    ignore: tuple[re.Pattern, ...]
    document_rows: tuple[re.Pattern, ...]
    document_defaults: dict[str, str]
    claims: Section
    provider_adjustments: Section | None
    summary: Section | None
    glossary: Glossary | None
    page_numbers: re.Pattern | None  # a row printing "page <number> [of <count>]"
    adjustment: re.Pattern
    remark: re.Pattern
    checks: tuple = ()  # declared checks (:class:`~.layout_checks.Check`)
    # each number the layout reads (``lines[].allowed``) -> the names of the checks covering it
    verified_by: tuple[tuple[str, frozenset[str]], ...] = ()

    def matches(self, first_page_text: str) -> bool:
        """Whether every fingerprint pattern occurs in page 1 (whitespace collapsed)."""
        return all(p.search(first_page_text) for p in self.fingerprint)
