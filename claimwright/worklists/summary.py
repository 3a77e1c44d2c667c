"""The Summary sheet: rows and dollars of the worklist by category, payer, status and age.

Written by the program on each save of the workbook (a person's edits to this sheet are
replaced); the statuses are those saved in the workbook when the run read it, so the summary is
"as of" that run, and its title says so.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl.styles import Alignment, Font, PatternFill

from ..models import CENT, ZERO
from .rows import MONEY_FORMAT, OPEN_STATUSES, SUMMARY_TITLE

AGE_BUCKETS = ((0, 30, "0-30 days"), (31, 60, "31-60 days"), (61, 90, "61-90 days"),
               (91, 120, "91-120 days"), (121, None, "over 120 days"))
NO_DATE = "no denial date"
HEADINGS = ("Rows", "Amount at stake", "Open rows", "Open amount")

_TITLE_FONT = Font(bold=True, size=13)
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="FFD9D9D9")


@dataclass(frozen=True)
class SummaryRow:
    category: str
    payer: str
    status: str
    amount: Decimal
    denied_on: dt.date | None

    @property
    def open(self) -> bool:
        return self.status in ("",) + OPEN_STATUSES


def age_bucket(denied_on: dt.date | None, as_of: dt.date) -> str:
    if denied_on is None:
        return NO_DATE
    days = max((as_of - denied_on).days, 0)
    for low, high, label in AGE_BUCKETS:
        if days >= low and (high is None or days <= high):
            return label
    return NO_DATE


def summary_grid(rows: list[SummaryRow], *, worklist: str, as_of: dt.date) -> list[list[Any]]:
    """The Summary sheet as rows of cell values (money as Decimal)."""
    grid: list[list[Any]] = [
        [f"{worklist}: summary as of {as_of.isoformat()}"],
        [f"{len(rows)} rows. Statuses are those saved in the workbook when that run read it; "
         "open = status blank, " + " or ".join(OPEN_STATUSES) + "."],
    ]
    order_of_age = [label for _, _, label in AGE_BUCKETS] + [NO_DATE]
    tables = (
        ("Category", lambda r: r.category or "(none)", None),
        ("Payer", lambda r: r.payer or "(none)", None),
        ("Status", lambda r: r.status or "(blank)", None),
        ("Age (days since the denial)", lambda r: age_bucket(r.denied_on, as_of), order_of_age),
    )
    for heading, key_of, order in tables:
        groups: dict[str, list[SummaryRow]] = defaultdict(list)
        for r in rows:
            groups[key_of(r)].append(r)
        if order is None:  # largest amount first, then name
            names = sorted(groups, key=lambda k: (-sum((r.amount for r in groups[k]), ZERO), k))
        else:
            names = [k for k in order if k in groups]
        grid.append([])
        grid.append([heading, *HEADINGS])
        for name in names + ["Total"]:
            members = rows if name == "Total" else groups[name]
            opened = [r for r in members if r.open]
            grid.append([name, len(members), _sum(members), len(opened), _sum(opened)])
    return grid


def _sum(rows: list[SummaryRow]) -> Decimal:
    return sum((r.amount for r in rows), ZERO).quantize(CENT)


def write_summary(wb, grid: list[list[Any]], *, after) -> None:
    """Replace the Summary sheet (placed after the worklist sheet ``after``) with ``grid``."""
    if SUMMARY_TITLE in wb.sheetnames:
        del wb[SUMMARY_TITLE]
    ws = wb.create_sheet(SUMMARY_TITLE, index=wb.sheetnames.index(after.title) + 1)
    for r, values in enumerate(grid, 1):
        for c, value in enumerate(values, 1):
            cell = ws.cell(row=r, column=c)
            if isinstance(value, Decimal):
                cell.value = format(value, "f")
                cell.data_type = "n"
                cell.number_format = MONEY_FORMAT
            elif isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # never a formula: payer and category names are data
            else:
                cell.value = value
        if values and values[1:] == list(HEADINGS):
            for cell in ws[r]:
                cell.font, cell.fill = _BOLD, _HEAD_FILL
                if cell.column > 1:
                    cell.alignment = Alignment(horizontal="right")
        elif values and values[0] == "Total":
            for cell in ws[r]:
                cell.font = _BOLD
    ws["A1"].font = _TITLE_FONT
    ws.merge_cells("A2:E2")
    ws["A2"].alignment = Alignment(wrap_text=True, vertical="top")
    ws.row_dimensions[2].height = 32
    ws.column_dimensions["A"].width = 32
    for letter in "BCDE":
        ws.column_dimensions[letter].width = 15
    ws.page_setup.orientation = "portrait"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0


def read_summary(wb) -> list[list[Any]] | None:
    """The Summary sheet's values, normalized like :func:`normalized` (None when absent)."""
    if SUMMARY_TITLE not in wb.sheetnames:
        return None
    rows = [list(values) for values in wb[SUMMARY_TITLE].iter_rows(values_only=True)]
    return normalized(rows)


def normalized(grid: list[list[Any]]) -> list[list[str]]:
    """Values as comparable text (a number read back as a float equals its Decimal); trailing
    blank cells and rows dropped."""
    out = []
    for values in grid:
        texts = [_text(v) for v in values]
        while texts and texts[-1] == "":
            texts.pop()
        out.append(texts)
    while out and not out[-1]:
        out.pop()
    return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, float, Decimal)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        return str(number.quantize(CENT))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
