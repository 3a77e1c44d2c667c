"""The row interpreter of the PDF parser: rows of a page -> records, driven by the layout.

A small state machine reads the rows: document fields, then claim blocks (start row, service
line table with continuation rows, claim-level rows, totals), provider-level adjustments, the
summary and the glossary. A row inside a block that the layout cannot interpret becomes a
``Problem``: nothing is silently dropped. :class:`~.pdf_assembly.Assembly` then builds the
remittance.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from ..models import Adjustment, Problem, Remittance, add_diagnoses, is_npi, money
from .glossary import GlossaryEntry
from .layout import CLAIM_LINE_FIELDS, COUNT_FIELDS, MONEY_FIELDS, Column, Layout, Section, Table
from .pdf_assembly import Assembly, ClaimDraft, Record
from .pdf_text import PageText, Row, rows_of

_SPLIT = re.compile(r"[\s,:\-]+")
_MAX_ROW_TEXT = 160  # characters of an unrecognized row quoted in its problem


class RowReader(Assembly):
    def __init__(self, layout: Layout):
        self.layout = layout
        self.state = "preamble"
        self.document = Record()
        self.claims: list[ClaimDraft] = []
        self.claim: ClaimDraft | None = None
        self.record: Record | None = None  # the table record continuation rows extend
        self.provider: list[Record] = []
        self.summary_checks: list[tuple[str, Any, int]] = []
        self.problems: list[Problem] = []
        self.glossary: list[GlossaryEntry] = []
        self.glossary_records: list[tuple[str, Record]] = []
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
            self.claim = ClaimDraft(page=row.page)
            self.claims.append(self.claim)
            self.claim.pages.add(row.page)
            self.state = "claim"
            self.apply(self.claim, match, row)
            return
        for name, section in (("provider", lay.provider_adjustments), ("summary", lay.summary),
                              ("glossary", lay.glossary)):
            start = section.start.search(text) if section is not None else None
            if start:
                self.close_claim()
                self.state = name
                self.record = None
                if name == "summary":  # the start row may print totals too
                    self.apply(self.document, start, row, checks=self.summary_checks)
                elif name == "glossary":  # ... or name the first code table
                    self.glossary_heading(text)
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

    def line_record(self, row: Row) -> Record:
        assert self.claim is not None
        record = Record(page=row.page)
        self.claim.lines.append(record)
        return record

    def close_claim(self) -> None:
        if self.claim is not None:
            self.state = "between"
        self.claim = None
        self.record = None

    # -- provider adjustments and summary ------------------------------------------------------

    def provider_record(self, row: Row) -> Record:
        record = Record(page=row.page)
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
        if self.glossary_heading(row.text):
            return
        for pattern in glossary.rows:  # an entry on one row: "CO-11 The diagnosis is ..."
            match = pattern.search(row.text)
            if match and self.glossary_table is not None:
                self.record = self.glossary_record(row)
                self.apply(self.record, match, row)
                return
        if self.glossary_table is not None and self.table_row(glossary.table, row,
                                                              self.glossary_record):
            return
        self.unrecognized(row)

    def glossary_heading(self, text: str) -> bool:
        assert self.layout.glossary is not None
        for name, pattern in self.layout.glossary.headings:
            if pattern.search(text):
                self.glossary_table = name
                self.record = None
                return True
        return False

    def glossary_record(self, row: Row) -> Record:
        record = Record(page=row.page)
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
            if column.field in CLAIM_LINE_FIELDS and self.claim is not None:
                # a claim field printed on each line: the claim's (different values conflict)
                self.set_value(self.claim, column.field, value, row)
                continue
            self.set_value(record, column.field, value, row)
        self.record = record
        return True

    # -- values -------------------------------------------------------------------------------

    def apply(self, record: Record | None, match: re.Match, row: Row,
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

    def set_value(self, record: Record, name: str, text: str, row: Row) -> None:
        if name == "adjustments":
            record.adjustments.extend(self.adjustments(text, row))
        elif name == "remarks":
            record.remarks.extend(self.remarks(text, row))
        elif name == "description":  # glossary text, wrapped over several rows
            old = record.values.get("description", "")
            record.values["description"] = f"{old} {text.strip()}".strip()
        elif name == "diagnoses":  # ICD-10-CM codes, on one row or several: each once, in order
            for bad in add_diagnoses(record.values.setdefault("diagnoses", []), text):
                self.problem("layout-bad-value", f"diagnoses: {bad[:20]!r} is not an ICD-10-CM "
                             "code (a letter, a digit, then 1-5 letters or digits)", row)
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
                if name == "patient_responsibility" and isinstance(record, ClaimDraft):
                    # a printed patient responsibility must be the claim's PR adjustments
                    record.checks.append(("check_patient_responsibility", value, row.page))

    def store(self, record: Record, name: str, value: Any, row: Row) -> None:
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
            if name in MONEY_FIELDS or name.startswith("check_code_"):
                return money(text)
            if name in COUNT_FIELDS:
                return int(text.replace(",", ""))
            if name in ("date_of_service", "payment_date", "patient_dob"):
                return self.date(text)
            if name == "units":
                units = Decimal(text.replace(",", ""))
                if not units.is_finite():
                    raise ValueError(text)
                return units
        except (ValueError, InvalidOperation):  # a birth date is never quoted
            shown = "the printed date" if name == "patient_dob" else repr(text[:40])
            self.problem("layout-bad-value", f"{name}: cannot read {shown}", row)
            return None
        if name == "rendering_provider_npi" and not is_npi(text):
            self.problem("layout-bad-value", f"{name}: {text[:40]!r} is not an NPI (10 digits "
                         "with a valid check digit)", row)
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
