"""``ResultsTable``: the one reader of a portal's results table (remittances, or a status result).

Columns are found by their header text (``columns`` of the config section: ``results`` or
``status``), never by position; a required header missing is a permanent ``table-changed``
fault naming the headers seen. Rows with too few cells (spacers, summaries) are skipped. A row
that cannot be read is a ``FailedDocument`` (``bad-listing``) and the others go on — but when not
one row of a page is readable, the page changed (or the config is wrong), not the data: a
permanent ``table-changed`` fault.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from claimwright.types import FaultCode

from ..models import FailedDocument, ListedRemittance
from .page import squeeze

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from ..config import ResultsSection, StatusSection
    from ..locators import Resolved
    from .page import PortalPage


def norm(text: str) -> str:
    """Header text as compared: whitespace squeezed, case folded."""
    return squeeze(text).casefold()


def parse_amount(text: str) -> Decimal:
    """``$1,234.50`` -> 1234.50; ``(12.00)`` -> -12.00."""
    cleaned = text.strip().replace(",", "").replace("$", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    value = Decimal(cleaned.strip("()"))
    return -value if negative else value


@dataclass(frozen=True)
class Row:
    """One full row of the table: its cells' text and the row element."""

    cells: list[str]
    locator: Locator


@dataclass
class ResultsPage:
    """What one page of remittance results held: each readable row with the URLs of its links
    (by locator name), and the rows that could not be read."""

    rows: list[tuple[ListedRemittance, dict[str, str]]] = field(default_factory=list)
    failed: list[FailedDocument] = field(default_factory=list)


class ResultsTable:
    """The table of locator ``name`` on ``portal``, read as ``section`` describes."""

    def __init__(self, portal: PortalPage, section: ResultsSection | StatusSection | None = None,
                 name: str = "results_table") -> None:
        self.portal = portal
        self.section = section if section is not None else portal.config.results
        self.name = name

    def find(self) -> Resolved | None:
        """The table if it is on screen now (absent: the "no results" message shows)."""
        return self.portal.present(self.name)

    def column_index(self, table: Locator, step: str,
                     required: Iterable[str] | None = None) -> dict[str, int]:
        """Position of each configured column's header; a permanent ``table-changed`` fault
        when a ``required`` one (default: all) is missing; other missing ones are left out."""
        headers = [norm(h) for h in
                   table.locator(f"css={self.section.header_css}").all_inner_texts()]
        needed = set(self.section.columns if required is None else required)
        index: dict[str, int] = {}
        for key, header in self.section.columns.items():
            if norm(header) in headers:
                index[key] = headers.index(norm(header))
            elif key in needed:
                noun = "results table" if self.name == "results_table" else "status result"
                raise self.portal.rt.fault(f"{noun} has no column {header!r}", step=step,
                                           code=FaultCode.TABLE_CHANGED, retryable=False,
                                           headers=headers)
        return index

    def rows(self, table: Locator, index: dict[str, int]) -> list[Row]:
        """The rows with a cell for every indexed column."""
        width = max(index.values()) + 1 if index else 1
        rows = []
        for row in table.locator(f"css={self.section.row_css}").all():
            texts = row.locator(f"css={self.section.cell_css}").all_inner_texts()
            cells = [squeeze(c) for c in texts]
            if len(cells) >= width:
                rows.append(Row(cells, row))
        return rows

    def row_of(self, remittance_id: str, name: str) -> Resolved | None:
        """Locator ``name`` (e.g. a download button) in the row of ``remittance_id``."""
        table = self.find()
        if table is None:
            return None
        headers = [norm(h) for h in
                   table.locator.locator(f"css={self.section.header_css}").all_inner_texts()]
        wanted = norm(self.section.columns["remittance_id"])
        column = headers.index(wanted) if wanted in headers else 0
        for row in self.rows(table.locator, {"remittance_id": column}):
            if row.cells[column] == remittance_id:
                found = self.portal.present(name, scope=row.locator)
                if found is not None:
                    return found
        return None

    def read_remittances(self, number: int, links: tuple[str, ...], *, buttons: bool = False,
                         base: str | None = None, **context: Any) -> ResultsPage:
        """Read results page ``number`` on screen: each row's remittance and the absolute URL
        of each of its ``links`` (``buttons``: the locators need only be present; their URL is
        the page's). ``base``: the URL hrefs are relative to (default: the page's). ``context``
        is added to each failed row and to a ``table-changed`` fault."""
        portal, section = self.portal, self.section
        step = f"read-page-{number}"
        page = ResultsPage()
        table = self.find()
        if table is None:
            return page  # the "no results" message is on screen
        index = self.column_index(table.locator, step)
        for row in self.rows(table.locator, index):
            cells = row.cells
            rid = cells[index["remittance_id"]]
            urls: dict[str, str | None] = {}
            for name in links:
                found = portal.present(name, scope=row.locator)
                if buttons:
                    urls[name] = portal.url if found else None
                else:
                    href = found.locator.get_attribute("href") if found else None
                    urls[name] = portal.absolute(href, base)
            first = urls[links[0]] if not buttons else portal.url
            try:
                if not rid:
                    raise ValueError("empty remittance id")
                missing = [n.replace("_", " ") for n, url in urls.items() if url is None]
                if missing:
                    raise ValueError(f"no {' or '.join(missing)}")
                item = ListedRemittance(
                    remittance_id=rid,
                    payment_date=dt.datetime.strptime(cells[index["payment_date"]],
                                                      section.date_format).date(),
                    trace_number=cells[index["trace_number"]],
                    amount=parse_amount(cells[index["amount"]]), url=first, page=number)
                page.rows.append((item, urls))
            except (ValueError, InvalidOperation) as exc:
                page.failed.append(FailedDocument(
                    portal.config.payer, rid or f"(row on page {number})",
                    f"listing row cannot be read: {exc}", FaultCode.BAD_LISTING, first,
                    {"page": number, "cells": cells, **context}))
        if page.failed and not page.rows:
            # Not one row readable: the page changed (or the config is wrong), not the data.
            raise portal.rt.fault(f"no row of results page {number} could be read: "
                                  f"{page.failed[0].reason}", step=step,
                                  code=FaultCode.TABLE_CHANGED, retryable=False,
                                  rows=len(page.failed), locators=portal.describe(*links),
                                  **context)
        return page
