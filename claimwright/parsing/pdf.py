"""PDF remittance advice -> canonical :class:`~claimwright.models.Remittance`.

The engine is generic: everything payer-specific lives in a layout file
(``claimwright/layouts/<name>.yaml``, see :mod:`claimwright.parsing.layout` and docs/layouts.md).

1. Open the PDF with PDFium; unreadable input (empty, not a PDF, truncated, damaged, encrypted,
   no text layer) raises :class:`~claimwright.errors.DocumentError`.
2. Pick the layout: the one named by ``layout=``, else the single layout whose fingerprint
   matches page 1. No match (or more than one) raises :class:`~claimwright.errors.UnknownLayout`.
3. Words -> rows -> cells (:mod:`claimwright.parsing.pdf_text`); page furniture is dropped.
4. A small state machine reads the rows: document fields, then claim blocks (start row, service
   line table with continuation rows, claim-level rows, totals), provider-level adjustments and
   the summary. A row inside a block that the layout cannot interpret becomes a ``Problem``,
   as does a printed total that disagrees with the parsed amounts: nothing is silently dropped.
5. Balancing (:func:`claimwright.balancing.check_remittance`) appends its problems.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from ..balancing import check_remittance
from ..errors import DocumentError, UnknownLayout
from ..models import (
    ZERO,
    Adjustment,
    Claim,
    Party,
    Payment,
    Problem,
    ProviderAdjustment,
    Remittance,
    ServiceLine,
    money,
)
from .glossary import GlossaryEntry, check_glossary
from .layout import CODE_CHECK, Column, Layout, Section, Table, get_layout, load_layouts
from .pdf_text import PageText, Row, open_document, page_words, plain_text, rows_of
from ..types import FaultCode

__all__ = ["parse_pdf", "parse_pdf_details", "PdfParse", "detect_layout", "extract_pages"]

_MONEY_FIELDS = {"billed", "paid", "allowed", "patient_responsibility", "payment_amount",
                 "amount", "adjustment", "check_adjusted", "check_allowed", "check_lines_billed",
                 "check_lines_paid", "check_patient_responsibility", "check_claims_billed",
                 "check_claims_paid", "check_provider_adjusted", "check_payment_amount",
                 "check_claims_patient_resp", "check_claims_allowed", "check_adjusted_listed"}
_COUNT_FIELDS = {"check_line_count", "check_claim_count"}
_SPLIT = re.compile(r"[\s,:\-]+")
_MAX_ROW_TEXT = 160  # characters of an unrecognized row quoted in its problem


def extract_pages(data: bytes | str | Path, *, source: str = "") -> list[PageText]:
    """Positioned words of every page (raises DocumentError for unreadable documents)."""
    doc, _ = open_document(data, source)
    pages: list[PageText] = []
    try:
        for index in range(len(doc)):
            try:
                pages.append(page_words(doc, index))
            except pdfium.PdfiumError as exc:
                raise DocumentError(f"page {index + 1} cannot be read: {exc}",
                                    code=FaultCode.CORRUPT_PDF, file=source, page=index + 1) from exc
    finally:
        doc.close()
    if not any(p.words for p in pages):
        raise DocumentError("the PDF has no text layer (image-only or blank pages); it needs "
                            "OCR or a person", code=FaultCode.NO_TEXT, file=source, pages=len(pages))
    return pages


def detect_layout(first_page_text: str, *, source: str = "",
                  layouts: list[Layout] | None = None) -> Layout:
    """The one layout whose fingerprint matches page 1; never a guess."""
    layouts = load_layouts() if layouts is None else layouts
    text = plain_text(first_page_text)
    matches = [lay for lay in layouts if lay.matches(text)]
    if len(matches) == 1:
        return matches[0]
    known = [lay.name for lay in layouts]
    if not matches:
        raise UnknownLayout(f"no PDF layout matches this document (known layouts: {known})",
                            file=source, known=known)
    names = [m.name for m in matches]
    raise UnknownLayout(f"several PDF layouts match this document: {names}; fingerprints must "
                        "be made more specific", file=source, candidates=names)


@dataclass
class PdfParse:
    """A PDF parse with what the canonical model does not hold: the glossary as printed."""

    remittance: Remittance
    glossary: list[GlossaryEntry]


def parse_pdf_details(data: bytes | str | Path, *, layout: str | None = None,
                      source: str = "") -> PdfParse:
    """Like :func:`parse_pdf`, also returning the glossary entries read from the document."""
    if isinstance(data, (str, Path)) and not source:
        source = str(data)
    pages = extract_pages(data, source=source)
    chosen = get_layout(layout) if layout else detect_layout(pages[0].text, source=source)
    reader = _Reader(chosen)
    remittance = reader.read(pages)
    return PdfParse(remittance, reader.glossary)


def parse_pdf(data: bytes | str | Path, *, layout: str | None = None,
              source: str = "") -> Remittance:
    """Parse one PDF remittance advice (bytes or a path) into a canonical remittance.

    ``layout`` names a layout (or a layout file path) to use instead of detection. The result
    has ``format="pdf"``, ``layout`` set, claim ``pages`` filled, and ``problems`` holding layout
    problems (unrecognized rows, bad values, totals that disagree) followed by balancing
    problems.
    """
    return parse_pdf_details(data, layout=layout, source=source).remittance


# --------------------------------------------------------------------------------------------
# the row interpreter


@dataclass
class _Record:
    """A table record or a claim/document under construction."""

    values: dict[str, Any] = field(default_factory=dict)
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    page: int | None = None
    fixed: list[Adjustment] = field(default_factory=list)  # read from fixed-code columns


@dataclass
class _ClaimDraft(_Record):
    lines: list[_Record] = field(default_factory=list)
    pages: set[int] = field(default_factory=set)
    checks: list[tuple[str, Any, int]] = field(default_factory=list)  # (name, value, page)


class _Reader:
    def __init__(self, layout: Layout):
        self.layout = layout
        self.state = "preamble"
        self.document = _Record()
        self.claims: list[_ClaimDraft] = []
        self.claim: _ClaimDraft | None = None
        self.record: _Record | None = None  # the table record continuation rows extend
        self.provider: list[_Record] = []
        self.summary_checks: list[tuple[str, Any, int]] = []
        self.problems: list[Problem] = []
        self.glossary: list[GlossaryEntry] = []
        self.glossary_records: list[tuple[str, _Record]] = []
        self.glossary_table: str | None = None  # code table named by the last heading
        self.listed: dict[int, Decimal] = {}  # id(claim) -> adjustments not in fixed columns

    # -- entry --------------------------------------------------------------------------------

    def read(self, pages: list[PageText]) -> Remittance:
        lay = self.layout
        numbering = True
        for page in pages:
            if not page.words:  # others have text: this one was scanned, blanked or damaged
                self.problem("unreadable", f"page {page.number} has no text layer; whatever it "
                             "shows is missing from this parse", page=page.number)
            rows = rows_of(page, lay.row_tolerance, lay.cell_gap)
            if numbering and lay.page_numbers is not None:
                numbering = self.page_number(rows, page.number, len(pages))
            for row in rows:
                self.feed(row)
        self.close_claim()
        return self.finish()

    def page_number(self, rows: list[Row], number: int, count: int) -> bool:
        """Compare the printed "page i of N" with the page's place; False after a problem."""
        assert self.layout.page_numbers is not None
        for row in rows:
            match = self.layout.page_numbers.search(row.text)
            if match is None:
                continue
            printed, total = int(match["number"]), int(match["count"])
            if (printed, total) == (number, count):
                return True
            self.problem("layout-page-sequence",
                         f"page {number} of the {count} in the file is printed as page "
                         f"{printed} of {total}: pages are missing, extra or out of order",
                         row)
            return False
        return True  # no number printed (an unreadable page is reported on its own)

    def feed(self, row: Row) -> None:
        lay = self.layout
        text = row.text
        if any(p.search(text) for p in lay.furniture):
            self.document_fields(row)  # page headers may carry document fields
            return
        if any(p.search(text) for p in lay.ignore):
            return
        match = lay.claims.start.search(text)
        if match:
            self.close_claim()
            self.claim = _ClaimDraft(page=row.page)
            self.claims.append(self.claim)
            self.claim.pages.add(row.page)
            self.state = "claim"
            self.apply(self.claim, match, row)
            return
        for name, section in (("provider", lay.provider_adjustments), ("summary", lay.summary),
                              ("glossary", lay.glossary)):
            if section is not None and section.start.search(text):
                self.close_claim()
                self.state = name
                self.record = None
                return
        if self.state == "preamble":
            self.document_fields(row)  # free text before the first claim: fields or nothing
        elif self.state in ("claim", "between"):
            self.claim_row(row)
        elif self.state == "provider":
            self.section_row(row, lay.provider_adjustments, self.provider_record)
        elif self.state == "glossary":
            self.glossary_row(row)
        else:
            self.section_row(row, lay.summary, None)

    # -- document -----------------------------------------------------------------------------

    def document_fields(self, row: Row) -> None:
        for pattern in self.layout.document_rows:
            match = pattern.search(row.text)
            if match:
                self.apply(self.document, match, row)

    # -- claims -------------------------------------------------------------------------------

    def claim_row(self, row: Row) -> None:
        section = self.layout.claims
        text = row.text
        if any(p.search(text) for p in section.skip):
            return
        claim = self.claim
        if section.continued is not None:
            match = section.continued.search(text)
            if match:
                account = match.group("patient_account")
                if self.state != "claim" or claim is None:
                    self.problem("layout-continuation-mismatch",
                                 f"a 'continued' row for account {account} follows no open claim",
                                 row, claim=account)
                elif account != claim.values.get("patient_account"):
                    self.problem("layout-continuation-mismatch",
                                 f"continued row names account {account} but the open claim is "
                                 f"{claim.values.get('patient_account')}", row, claim=account)
                else:
                    claim.pages.add(row.page)
                return
        if self.state == "claim" and claim is not None:
            for pattern in section.rows:
                match = pattern.regex.search(text)
                if match:
                    claim.pages.add(row.page)
                    self.apply(claim, match, row)
                    self.record = None
                    if pattern.ends:
                        self.close_claim()
                    return
            for pattern in section.line_rows:
                match = pattern.regex.search(text)
                if match:
                    claim.pages.add(row.page)
                    if self.record is None or not claim.lines or self.record is not \
                            claim.lines[-1]:
                        self.problem("layout-unrecognized-row", "a service-line row follows no "
                                     f"service line: {text.replace(chr(9), ' | ')[:120]}", row)
                    else:
                        self.apply(self.record, match, row)
                    return
            if section.table is not None and self.table_row(section.table, row,
                                                            self.line_record):
                claim.pages.add(row.page)
                return
        self.unrecognized(row)

    def line_record(self, row: Row) -> _Record:
        assert self.claim is not None
        record = _Record(page=row.page)
        self.claim.lines.append(record)
        return record

    def close_claim(self) -> None:
        if self.claim is not None:
            self.state = "between"
        self.claim = None
        self.record = None

    # -- provider adjustments and summary ------------------------------------------------------

    def provider_record(self, row: Row) -> _Record:
        record = _Record(page=row.page)
        self.provider.append(record)
        return record

    def section_row(self, row: Row, section: Section | None, new_record) -> None:
        assert section is not None
        if any(p.search(row.text) for p in section.skip):
            return
        for pattern in section.rows:
            match = pattern.regex.search(row.text)
            if match:
                if new_record is None:  # summary: checks, and document fields it prints
                    self.apply(self.document, match, row, checks=self.summary_checks)
                else:
                    self.apply(new_record(row), match, row)
                self.record = None
                return
        if section.table is not None and new_record is not None and self.table_row(
                section.table, row, new_record):
            return
        self.unrecognized(row)

    # -- glossary -----------------------------------------------------------------------------

    def glossary_row(self, row: Row) -> None:
        glossary = self.layout.glossary
        assert glossary is not None
        if any(p.search(row.text) for p in glossary.skip):
            return
        for name, pattern in glossary.headings:
            if pattern.search(row.text):
                self.glossary_table = name
                self.record = None
                return
        if self.glossary_table is not None and self.table_row(glossary.table, row,
                                                              self.glossary_record):
            return
        self.unrecognized(row)

    def glossary_record(self, row: Row) -> _Record:
        record = _Record(page=row.page)
        self.glossary_records.append((self.glossary_table or "", record))
        return record

    # -- tables -------------------------------------------------------------------------------

    def table_row(self, table: Table, row: Row, new_record) -> bool:
        """Read ``row`` as a table row; False if it is not one."""
        by_column: dict[Column, list[str]] = {}
        for cell in row.cells:
            column = table.column_for(cell.middle)
            if column is None:
                return False
            by_column.setdefault(column, []).append(cell.text)
        fields = {c.field for c in by_column}
        if table.key in fields:
            record = new_record(row)
        elif self.record is not None and fields <= set(table.continuation):
            record = self.record
        else:
            return False
        for column, texts in by_column.items():
            if column.field == "ignore":
                continue
            value = " ".join(texts)
            if column.pattern is not None:
                match = column.pattern.search(value)
                if match is None:
                    self.problem("layout-bad-value", f"{column.field}: {value[:40]!r} is not "
                                 "printed as the layout expects", row)
                    continue
                value = match.group("value")
            if column.field == "adjustment":
                amount = self.convert("adjustment", value, row)
                if amount:
                    group, carc = column.code.split("-", 1)
                    adjustment = Adjustment(group, carc, amount)
                    record.adjustments.append(adjustment)
                    record.fixed.append(adjustment)
                continue
            self.set_value(record, column.field, value, row)
        self.record = record
        return True

    # -- values -------------------------------------------------------------------------------

    def apply(self, record: _Record | None, match: re.Match, row: Row,
              checks: list | None = None) -> None:
        for name, text in match.groupdict().items():
            if text is None:
                continue
            if name.startswith("check_"):
                value = self.convert(name, text, row)
                if value is not None:
                    target = checks if checks is not None else record.checks  # type: ignore
                    target.append((name, value, row.page))
            elif record is not None:
                self.set_value(record, name, text, row)

    def set_value(self, record: _Record, name: str, text: str, row: Row) -> None:
        if name == "adjustments":
            record.adjustments.extend(self.adjustments(text, row))
        elif name == "remarks":
            record.remarks.extend(self.remarks(text, row))
        elif name == "description":  # glossary text, wrapped over several rows
            old = record.values.get("description", "")
            record.values["description"] = f"{old} {text.strip()}".strip()
        elif name == "modifiers":
            record.values.setdefault("modifiers", []).extend(t for t in _SPLIT.split(text) if t)
        elif name == "procedure":
            tokens = [t for t in _SPLIT.split(text) if t]
            if tokens:
                self.store(record, "procedure", tokens[0], row)
                record.values.setdefault("modifiers", [])[:0] = tokens[1:]
        else:
            value = self.convert(name, text, row)
            if value is not None:
                self.store(record, name, value, row)
                if name == "patient_responsibility" and isinstance(record, _ClaimDraft):
                    # a printed patient responsibility must be the claim's PR adjustments
                    record.checks.append(("check_patient_responsibility", value, row.page))

    def store(self, record: _Record, name: str, value: Any, row: Row) -> None:
        old = record.values.get(name)
        if old is not None and old != value:
            self.problem("layout-conflicting-value",
                         f"{name} is printed twice with different values ({old} and {value})",
                         row)
            return
        record.values[name] = value

    def convert(self, name: str, text: str, row: Row | None) -> Any:
        text = text.strip()
        try:
            if name in _MONEY_FIELDS or name.startswith("check_code_"):
                return money(text)
            if name in _COUNT_FIELDS:
                return int(text.replace(",", ""))
            if name in ("date_of_service", "payment_date"):
                return self.date(text)
            if name == "units":
                units = Decimal(text.replace(",", ""))
                if not units.is_finite():
                    raise ValueError(text)
                return units
        except (ValueError, InvalidOperation):
            self.problem("layout-bad-value", f"{name}: cannot read {text[:40]!r}", row)
            return None
        return text

    def date(self, text: str) -> dt.date:
        for fmt in self.layout.date_formats:
            try:
                return dt.datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        raise ValueError(text)

    def adjustments(self, text: str, row: Row) -> list[Adjustment]:
        out = []
        for m in self.layout.adjustment.finditer(text):
            try:
                out.append(Adjustment(m.group("group"), m.group("carc"), money(m.group("amount"))))
            except ValueError:
                self.problem("layout-bad-value", f"adjustment {m.group(0)!r}", row)
        leftover = self.layout.adjustment.sub(" ", text).strip()
        if leftover:
            self.problem("layout-bad-value",
                         f"adjustment text not understood: {leftover[:60]!r}", row)
        return out

    def remarks(self, text: str, row: Row) -> list[str]:
        out = []
        for token in (t for t in re.split(r"[\s,;]+", text) if t):
            if self.layout.remark.match(token):
                out.append(token)
            else:
                self.problem("layout-bad-value", f"not a remark code: {token[:20]!r}", row)
        return out

    # -- problems -----------------------------------------------------------------------------

    def problem(self, code: str, message: str, row: Row | None = None, *,
                claim: str | None = None, line: int | None = None, expected=None,
                actual=None, page: int | None = None) -> None:
        if claim is None and self.claim is not None:
            claim = self.claim.values.get("patient_account")
        if row is not None and page is None:
            page = row.page
        self.problems.append(Problem(code, message, page=page, claim=claim, line=line,
                                     expected=expected, actual=actual))

    def unrecognized(self, row: Row) -> None:
        where = {"claim": "inside a claim", "between": "between claims",
                 "provider": "in the provider adjustments",
                 "summary": "in the summary", "glossary": "in the glossary"}.get(self.state, "")
        text = row.text.replace("\t", " | ")
        if len(text) > _MAX_ROW_TEXT:
            text = text[:_MAX_ROW_TEXT] + "..."
        self.problem("layout-unrecognized-row",
                     f"layout {self.layout.name} cannot interpret a row {where}: {text}", row)

    # -- assembly -----------------------------------------------------------------------------

    def finish(self) -> Remittance:
        lay = self.layout
        doc = dict(lay.document_defaults)
        doc.update({k: v for k, v in self.document.values.items() if v is not None})
        for name in ("payer_name", "payee_name", "payment_amount"):
            if doc.get(name) in (None, ""):
                self.problem("layout-missing-field", f"the document shows no {name}", page=1)
        amount = doc.get("payment_amount")
        if isinstance(amount, str):  # a default from the layout file
            amount = self.convert("payment_amount", amount, None)
        date = doc.get("payment_date")
        if isinstance(date, str):
            date = self.convert("payment_date", date, None)
        claims = [self.build_claim(d) for d in self.claims]
        provider = [self.build_provider(r) for r in self.provider]
        remit = Remittance(
            format="pdf",
            payer=Party(doc.get("payer_name", ""), doc.get("payer_id", "")),
            payee=Party(doc.get("payee_name", ""), doc.get("payee_npi", "")),
            payment=Payment(doc.get("payment_method", ""), doc.get("payment_trace_number", ""),
                            date, amount if amount is not None else ZERO),
            claims=claims,
            provider_adjustments=provider,
            layout=lay.name,
        )
        if not claims and not provider:
            self.problem("layout-no-claims",
                         f"layout {lay.name} matched but no claim or provider adjustment was read",
                         page=1)
        self.summary_problems(remit)
        self.glossary = [GlossaryEntry(table, rec.values.get("code", ""),
                                       rec.values.get("description", ""), rec.page or 0)
                         for table, rec in self.glossary_records]
        if lay.glossary is not None:
            self.problems += check_glossary(self.glossary, min_overlap=lay.glossary.min_overlap)
        remit.problems = self.problems + check_remittance(remit)
        return remit

    def build_claim(self, draft: _ClaimDraft) -> Claim:
        v = draft.values
        account = v.get("patient_account", "")
        for name in ("patient_account", "status_code", "billed", "paid"):
            if v.get(name) in (None, ""):
                self.problem("layout-missing-field", f"claim {account or '?'} shows no {name}",
                             page=draft.page, claim=account or None)
        lines = []
        for number, rec in enumerate(draft.lines, start=1):
            lv = rec.values
            for name in ("procedure", "billed", "paid"):
                if lv.get(name) in (None, ""):
                    self.problem("layout-missing-field",
                                 f"claim {account} line {number} shows no {name}",
                                 page=rec.page, claim=account or None, line=number)
            lines.append(ServiceLine(
                date_of_service=lv.get("date_of_service"),
                procedure=lv.get("procedure", ""),
                billed=lv.get("billed", ZERO),
                paid=lv.get("paid", ZERO),
                modifiers=lv.get("modifiers", []),
                units=lv.get("units", Decimal(1)),
                allowed=lv.get("allowed"),
                adjustments=rec.adjustments,
                remarks=rec.remarks,
            ))
        claim = Claim(
            patient_account=account,
            payer_claim_id=v.get("payer_claim_id", ""),
            status_code=v.get("status_code", ""),
            billed=v.get("billed", ZERO),
            paid=v.get("paid", ZERO),
            patient_name=v.get("patient_name", ""),
            member_id=v.get("member_id", ""),
            adjustments=draft.adjustments,
            remarks=draft.remarks,
            lines=lines,
            pages=sorted(draft.pages),
        )
        pr = sum((a.amount for a in claim.all_adjustments if a.group == "PR"), ZERO)
        claim.patient_responsibility = v.get("patient_responsibility", pr)
        fixed = {id(a) for rec in draft.lines for a in rec.fixed}
        computed = {
            "check_adjusted_listed": sum((a.amount for a in claim.all_adjustments
                                          if id(a) not in fixed), ZERO),
            "check_adjusted": sum((a.amount for a in claim.all_adjustments), ZERO),
            "check_allowed": sum((ln.allowed or ZERO for ln in lines), ZERO),
            "check_lines_billed": sum((ln.billed for ln in lines), ZERO),
            "check_lines_paid": sum((ln.paid for ln in lines), ZERO),
            "check_line_count": len(lines),
            "check_patient_responsibility": pr,
        }
        for name, printed, page in draft.checks:
            if name not in computed:  # check_code_<GROUP>_<CARC>
                computed[name] = _code_sum(name, claim.all_adjustments)
            self.compare(name, printed, computed[name], page, claim=account or None,
                         what=f"claim {account}")
        self.listed[id(claim)] = computed["check_adjusted_listed"]
        return claim

    def build_provider(self, rec: _Record) -> ProviderAdjustment:
        v = rec.values
        for name in ("reason", "amount"):
            if v.get(name) in (None, ""):
                self.problem("layout-missing-field", f"a provider adjustment shows no {name}",
                             page=rec.page)
        return ProviderAdjustment(v.get("reason", ""), v.get("amount", ZERO),
                                  v.get("reference", ""))

    def summary_problems(self, remit: Remittance) -> None:
        computed = {
            "check_claim_count": len(remit.claims),
            "check_claims_billed": sum((c.billed for c in remit.claims), ZERO),
            "check_claims_paid": sum((c.paid for c in remit.claims), ZERO),
            "check_provider_adjusted": sum((p.amount for p in remit.provider_adjustments), ZERO),
            "check_payment_amount": remit.payment.amount,
            "check_claims_patient_resp": sum((c.patient_responsibility for c in remit.claims),
                                             ZERO),
            "check_claims_allowed": sum((ln.allowed or ZERO for c in remit.claims
                                         for ln in c.lines), ZERO),
            "check_adjusted_listed": sum((self.listed.get(id(c), ZERO) for c in remit.claims),
                                         ZERO),
        }
        every = [a for c in remit.claims for a in c.all_adjustments]
        for name, printed, page in self.summary_checks:
            if name not in computed:  # check_code_<GROUP>_<CARC>
                computed[name] = _code_sum(name, every)
            self.compare(name, printed, computed[name], page, claim=None, what="the remittance")

    def compare(self, name: str, printed: Any, computed: Any, page: int, *, claim: str | None,
                what: str) -> None:
        if printed == computed:
            return
        label = name.removeprefix("check_").replace("_", " ")
        money_values = isinstance(printed, Decimal)
        self.problems.append(Problem(
            "layout-total-mismatch",
            f"{what}: the printed {label} is {printed} but the parsed amounts give {computed}",
            page=page, claim=claim,
            expected=printed if money_values else None,
            actual=computed if money_values else None))


def _code_sum(name: str, adjustments) -> Decimal:
    """The value of a ``check_code_<GROUP>_<CARC>`` check: that code's amounts summed."""
    match = CODE_CHECK.fullmatch(name)
    assert match is not None, name
    return sum((a.amount for a in adjustments
                if a.group == match["group"] and a.carc == match["carc"]), ZERO)
