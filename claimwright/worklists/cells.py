"""Cells of the worklist: values written as text, dates or exact decimals (never formulas), the
header and the sheet finish (widths, filters, status drop-down, deadline highlighting)."""

from __future__ import annotations

import contextlib
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..models import CENT
from .rows import (ALL_COLUMNS, DATE_FORMAT, MONEY_FORMAT, OPEN_STATUSES, PERSON_COLUMNS,
                   STATUSES, SYSTEM_COLUMNS, Marks, WorklistRow)


# what Excel (or LibreOffice, or a CSV export opened later) could take as the start of a formula
_INJECTION_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n")
_MAX_CELL = 32767
_KEEP_ON_UPDATE = {"first_seen"}  # system columns set once, when the row is added

_HEADER_FONT = Font(bold=True)
_SYSTEM_FILL = PatternFill("solid", fgColor="FFD9D9D9")
_PERSON_FILL = PatternFill("solid", fgColor="FFFFF2CC")
_PERSON_HEADERS = {c.header for c in PERSON_COLUMNS}
# deadline highlighting of open rows (blank status, or one of OPEN_STATUSES)
OVERDUE_FILL = PatternFill("solid", fgColor="FFF4B6B6", bgColor="FFF4B6B6")  # light red
DUE_SOON_FILL = PatternFill("solid", fgColor="FFFFE08A", bgColor="FFFFE08A")  # amber
DUE_SOON_DAYS = 7


def row_unchanged(values: tuple, columns: dict[str, int], row: WorklistRow) -> bool:
    """True when the sheet row read as ``values`` already holds ``row``'s system cells (the
    cheap check before :func:`write_row`: no cell objects touched)."""
    for col in SYSTEM_COLUMNS:
        i = columns[col.header.casefold()] - 1
        current = values[i] if i < len(values) else None
        if col.attr in _KEEP_ON_UPDATE and current not in (None, ""):
            continue
        if not _same(current, getattr(row, col.attr), col.kind):
            return False
    return True


def write_row(ws, r: int, columns: dict[str, int], row: WorklistRow, *, new: bool) -> bool:
    """Write the system columns of ``row`` at sheet row ``r``; True when a cell changed."""
    changed = False
    for col in SYSTEM_COLUMNS:
        cell = ws.cell(row=r, column=columns[col.header.casefold()])
        if not new and col.attr in _KEEP_ON_UPDATE and cell.value not in (None, ""):
            continue
        value = getattr(row, col.attr)
        if not new and _same(cell.value, value, col.kind):
            continue
        set_cell(cell, value, col.kind)
        changed = True
    if new:
        status = ws.cell(row=r, column=columns["status"])
        set_cell(status, STATUSES[0], "text")
    return changed


def set_cell(cell, value: Any, kind: str) -> None:
    if kind in ("text", "list"):
        text = _clean_text(", ".join(value) if kind == "list" else value)
        cell.value = text or None
        if text:
            cell.data_type = "s"  # never a formula, whatever the text starts with
            cell.quotePrefix = text.startswith(_INJECTION_PREFIXES)  # stays text when edited
    elif kind == "date":
        cell.value = value
        cell.number_format = DATE_FORMAT
    else:  # money / number
        _set_decimal(cell, value)
        cell.number_format = MONEY_FORMAT if kind == "money" else "General"


def _set_decimal(cell, value: Decimal | None) -> None:
    """Store an exact decimal: openpyxl would write a Decimal through "%.16g" of a float
    (Decimal("0.07") becomes 0.07000000000000001), so the cell gets its decimal text."""
    if value is None:
        cell.value = None
        return
    cell.value = format(Decimal(value), "f")
    cell.data_type = "n"


def _clean_text(value: Any) -> str:
    text = "" if value is None else str(value)
    # XML reads a stored CR back as LF: store LF, so what is read back equals what was written
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return ILLEGAL_CHARACTERS_RE.sub("", text)[:_MAX_CELL]


def _same(current: Any, value: Any, kind: str) -> bool:
    if kind in ("text", "list"):
        wanted = _clean_text(", ".join(value) if kind == "list" else value)
        return ("" if current is None else str(current)) == wanted
    if kind == "date":
        return _as_date(current) == value
    return _as_decimal(current) == (None if value is None else Decimal(value))


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return dt.date.fromisoformat(value.strip())
    return None


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:  # repr of a float is its shortest round-trip form: 0.07, never 0.0700000000000001
        return Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        return None


def style_header(ws, col: int, header: str, width: float | None = None) -> None:
    cell = ws.cell(row=1, column=col, value=header)
    cell.data_type = "s"
    cell.font = _HEADER_FONT
    cell.fill = _PERSON_FILL if header in _PERSON_HEADERS else _SYSTEM_FILL
    cell.alignment = Alignment(vertical="top", wrap_text=True)
    widths = {c.header: c.width for c in ALL_COLUMNS}
    ws.column_dimensions[get_column_letter(col)].width = width or widths.get(header, 14)
    kind = {c.header: c.kind for c in ALL_COLUMNS}.get(header)
    if kind == "date":  # a date a person types in gets the same format as the bot's dates
        ws.column_dimensions[get_column_letter(col)].number_format = DATE_FORMAT


def read_marks(values: tuple, columns: dict[str, int]) -> Marks:
    """The person-owned cells of one row (``values`` from ``iter_rows(values_only=True)``)."""
    out: dict[str, Any] = {}
    for col in PERSON_COLUMNS:
        c = columns.get(col.header.casefold())
        value = values[c - 1] if c is not None and c <= len(values) else None
        if col.kind == "date":
            out[col.attr] = _as_date(value)
        else:
            out[col.attr] = "" if value is None else _clean_text(value).strip()
    return Marks(**out)


def write_marks(ws, r: int, columns: dict[str, int], marks: Marks) -> None:
    """Set a new row's person-owned cells (carried over from a side file)."""
    for col in PERSON_COLUMNS:
        value = getattr(marks, col.attr)
        if value not in (None, ""):
            set_cell(ws.cell(row=r, column=columns[col.header.casefold()]), value, col.kind)


def finish_sheet(ws, columns: dict[str, int], *, last_row: int) -> None:
    """Filter over the data, the Status list, deadline highlighting, exact decimals in the
    amount columns."""
    ws.auto_filter.ref = f"A1:{get_column_letter(ws.max_column)}{max(last_row, 2)}"
    highlight_deadlines(ws, columns)
    # printed: landscape, one page wide, the header on every page
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows = "1:1"
    ws.row_dimensions[1].height = 30  # two-line headers
    status_col = get_column_letter(columns["status"])
    first = f"{status_col}2"
    if not any(dv.type == "list" and first in dv for dv in ws.data_validations.dataValidation):
        dv = DataValidation(type="list", formula1='"' + ",".join(STATUSES) + '"',
                            allow_blank=True, showErrorMessage=True, errorStyle="stop",
                            errorTitle="Status", error="Choose a status from the list.")
        dv.add(f"{status_col}2:{status_col}1048576")
        ws.add_data_validation(dv)
    # Amounts openpyxl read back as floats would be written through "%.16g": keep them exact.
    for col in SYSTEM_COLUMNS:
        if col.kind not in ("money", "number"):
            continue
        c = columns[col.header.casefold()]
        for (cell,) in ws.iter_rows(min_row=2, max_row=max(last_row, 2), min_col=c, max_col=c):
            value = cell.value
            if isinstance(value, float) and "%.16g" % value != repr(value):
                _set_decimal(cell, _as_decimal(value).quantize(CENT)
                             if col.kind == "money" else _as_decimal(value))


def highlight_deadlines(ws, columns: dict[str, int]) -> None:
    """Open rows whose appeal is overdue (light red) or due within 7 days (amber), computed by the
    spreadsheet from TODAY(), so the colours are right on the day a person opens the file.

    The two rules are the program's: they are replaced on each save (their columns may have
    moved); any rule a person added is kept."""
    due = get_column_letter(columns["appeal due"])
    status = get_column_letter(columns["status"])
    still_open = ",".join([f'${status}2=""'] + [f'${status}2="{s}"' for s in OPEN_STATUSES])
    wanted = [
        (f"AND(ISNUMBER(${due}2),${due}2<TODAY(),OR({still_open}))", OVERDUE_FILL),
        (f"AND(ISNUMBER(${due}2),${due}2>=TODAY(),${due}2<=TODAY()+{DUE_SOON_DAYS},"
         f"OR({still_open}))", DUE_SOON_FILL),
    ]
    cf = ws.conditional_formatting
    for key, rules in list(cf._cf_rules.items()):
        kept = [rule for rule in rules if not _is_deadline_rule(rule)]
        if kept:
            cf._cf_rules[key] = kept
        else:
            del cf._cf_rules[key]
    area = f"A2:{get_column_letter(max(ws.max_column, max(columns.values())))}1048576"
    for formula, fill in wanted:
        cf.add(area, FormulaRule(formula=[formula], fill=fill, stopIfTrue=True))


def _is_deadline_rule(rule) -> bool:
    return any("TODAY()" in f and "ISNUMBER(" in f for f in (rule.formula or []))
