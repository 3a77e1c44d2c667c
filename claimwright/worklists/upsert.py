"""The upsert: create the workbook, or refresh the rows it knows by ``Key`` and append new ones;
read back what people wrote; rebuild the Summary sheet."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

from ..fileio import private_dir
from .cells import (_as_date, _as_decimal, finish_sheet, read_marks, row_unchanged, style_header,
                    write_marks, write_row)
from .files import (excel_owner_file, keep_backup, keep_version, locked, readable,
                    save_atomic, unsupported_features)
from .rows import (ALL_COLUMNS, SHEET_TITLE, STATUSES, SUMMARY_TITLE, Marks, WorklistError,
                   WorklistResult, WorklistRow)
from .summary import SummaryRow, normalized, read_summary, summary_grid, write_summary


class WorkbookLocked(WorklistError):
    """Someone has the workbook open in Excel (its ``~$`` owner file exists): replacing it now
    would lose their unsaved edits, or they would overwrite this run's rows when they save."""


def upsert_worklist(path: Path, rows: Iterable[WorklistRow], *, title: str = SHEET_TITLE,
                    refresh: Iterable[WorklistRow] = (), carry: dict[str, Marks] | None = None,
                    as_of: dt.date | None = None, versions: int = 0,
                    lock_wait: float = 300.0) -> WorklistResult:
    """Add or refresh ``rows`` (by key) in the worklist at ``path`` (its sheet ``title``, e.g.
    "Coding worklist"); see the package docstring.

    ``refresh`` rows update rows still in the sheet and are never added (a row a person deleted
    stays deleted). ``carry`` gives person-owned cells for rows being added (what people wrote
    in a side file). ``as_of`` dates the Summary sheet (default today). ``versions`` previous
    workbooks are kept in ``.versions/``; another run holding the workbook is waited for up to
    ``lock_wait`` seconds. Raises :class:`WorklistError` (and
    :class:`WorkbookLocked`) when the file cannot be updated safely; it is then left untouched.
    """
    path = Path(path)
    private_dir(path.parent)
    rows, warnings = _dedupe(rows)
    refreshed = {r.key: r for r in refresh}
    as_of = as_of or dt.date.today()
    with locked(path, wait=lock_wait):
        owner = excel_owner_file(path)
        if owner is not None:
            raise WorkbookLocked(f"{path.name} is open in Excel ({owner.name} exists): close it "
                                 f"(or delete {owner.name} if Excel is no longer running) so "
                                 "the next run can add its rows; it was left untouched")
        if not path.exists():
            wb = _create(title)
            lossy: list[str] = []
        else:
            lossy = unsupported_features(path)
            wb = _load(path)
        return _upsert(wb, path, title, rows, refreshed, carry or {}, warnings, lossy, as_of,
                       versions)


def _dedupe(rows: Iterable[WorklistRow]) -> tuple[list[WorklistRow], list[str]]:
    by_key: dict[str, WorklistRow] = {}
    warnings = []
    for row in rows:
        if row.key in by_key:
            warnings.append(f"row {row.key} given more than once: the last one was used")
        by_key[row.key] = row
    return list(by_key.values()), warnings


def _create(title: str):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for col, column in enumerate(ALL_COLUMNS, 1):
        style_header(ws, col, column.header)
    ws.freeze_panes = "A2"
    return wb


def _load(path: Path):
    with readable(path):
        return openpyxl.load_workbook(path)


def _upsert(wb, path: Path, title: str, rows: list[WorklistRow],
            refreshed: dict[str, WorklistRow], carry: dict[str, Marks], warnings: list[str],
            lossy: list[str], as_of: dt.date, versions: int) -> WorklistResult:
    new_file = not path.exists()
    ws = _find_sheet(wb, path, title)
    columns = _column_map(ws)
    if "key" not in columns:
        raise WorklistError(f"the worklist sheet in {path.name} has no 'Key' column, so its "
                            "rows cannot be matched; it was left untouched")
    changed = new_file
    for column in ALL_COLUMNS:
        if column.header.casefold() not in columns:
            col = ws.max_column + 1
            style_header(ws, col, column.header, column.width)
            columns[column.header.casefold()] = col
            warnings.append(f"column {column.header!r} was missing from the worklist: added as "
                            f"column {get_column_letter(col)}")
            changed = True

    existing, state, values_of, last_row = _scan(ws, columns, warnings)
    todo: dict[str, tuple[WorklistRow, bool]] = {key: (row, False)
                                                 for key, row in refreshed.items()}
    todo.update((row.key, (row, True)) for row in rows)  # rows may be added, refreshes not
    if new_file:  # a new workbook is sorted by priority; later rows are appended
        todo = dict(sorted(todo.items(), key=lambda kv: (-kv[1][0].priority,
                                                         kv[1][0].appeal_due or dt.date.max,
                                                         kv[0])))
    added = updated = unchanged = 0
    next_row = last_row + 1
    for key, (row, addable) in todo.items():
        r = existing.get(key)
        if r is None:
            if not addable:
                continue
            marks = carry.get(key) or Marks()
            marks = marks if marks.status else dataclasses.replace(marks, status=STATUSES[0])
            write_row(ws, next_row, columns, row, new=True)
            if key in carry:
                write_marks(ws, next_row, columns, marks)
            existing[key] = next_row
            next_row += 1
            added += 1
        else:
            marks = state[key][1]
            if row_unchanged(values_of[key], columns, row):
                unchanged += 1
            elif write_row(ws, r, columns, row, new=False):
                updated += 1
            else:
                unchanged += 1
        state[key] = (_summary_row(row, marks), marks)

    marks = {key: m for key, (_, m) in state.items()}
    grid = summary_grid([s for s, _ in state.values()], worklist=ws.title, as_of=as_of)
    summary_changed = read_summary(wb) != normalized(grid)
    if not (added or updated or changed or summary_changed):
        for feature in lossy:
            warnings.append(f"{path.name} contains {feature}, which this program cannot "
                            "keep; nothing changed, so the file was left untouched")
        return WorklistResult(added=0, updated=0, unchanged=unchanged, warnings=warnings,
                              marks=marks)

    backup = None
    if lossy:
        backup = keep_backup(path)
        for feature in lossy:
            warnings.append(f"{path.name} contains {feature}, which this program cannot keep: "
                            f"it is gone from the updated worklist; the original was saved as "
                            f"{backup.name}")
    finish_sheet(ws, columns, last_row=next_row - 1)
    write_summary(wb, grid, after=ws)
    wb.active = wb.sheetnames.index(ws.title)
    version = keep_version(path, versions)
    save_atomic(wb, path)
    return WorklistResult(added=added, updated=updated, unchanged=unchanged, warnings=warnings,
                          written=True, backup=backup, marks=marks, version=version)


def _summary_row(row: WorklistRow, marks: Marks) -> SummaryRow:
    return SummaryRow(row.category, row.payer, marks.status, row.amount,
                      row.denied_on or row.first_seen)


def _scan(ws, columns: dict[str, int], warnings: list[str]):
    """One pass over the data rows: key -> row number, key -> (summary facts, marks), key -> the
    row's values, and the last used row."""
    key_col = columns["key"] - 1
    pick = {name: columns[name] - 1 for name in ("category", "payer", "amount at stake",
                                                 "denied on", "first seen")}
    existing: dict[str, int] = {}
    values_of: dict[str, tuple] = {}
    state: dict[str, tuple[SummaryRow, Marks]] = {}
    last_row = 1
    for r, values in _data_rows(ws, max(columns.values())):
        last_row = r
        value = values[key_col]
        if value in (None, ""):
            continue
        key = str(value)
        if key in existing:
            warnings.append(f"key {key} appears on rows {existing[key]} and {r}: "
                            f"only row {existing[key]} is updated")
            continue
        existing[key] = r
        values_of[key] = values

        def get(name: str):
            i = pick[name]
            return values[i] if i < len(values) else None

        marks = read_marks(values, columns)
        state[key] = (SummaryRow(str(get("category") or ""), str(get("payer") or ""),
                                 marks.status, _as_decimal(get("amount at stake")) or Decimal(0),
                                 _as_date(get("denied on")) or _as_date(get("first seen"))),
                      marks)
    return existing, state, values_of, last_row


def _data_rows(ws, width: int):
    """(row number, values of columns 1..width) of every row from 2 on with a value in any
    column, in row order. Reads the sheet's stored cells: ``iter_rows`` would create a cell
    object for every empty position of the grid (a million at 50,000 rows), slowing the scan
    and bloating the saved file."""
    rows: dict[int, list] = {}
    for (r, c), cell in ws._cells.items():  # noqa: SLF001 - see the docstring
        if r < 2:
            continue
        value = cell.value
        if value is None or value == "":
            continue
        values = rows.get(r)
        if values is None:
            values = rows[r] = [None] * width
        if c <= width:
            values[c - 1] = value
    for r in sorted(rows):
        yield r, tuple(rows[r])


def _find_sheet(wb, path: Path, title: str):
    if title in wb.sheetnames:
        return wb[title]
    for ws in wb.worksheets:  # renamed by a person: the sheet whose header has a Key column
        if ws.title != SUMMARY_TITLE and any(
                str(c.value or "").strip().casefold() == "key" for c in ws[1]):
            return ws
    raise WorklistError(f"{path.name} has no {title!r} sheet (nor any sheet with a 'Key' "
                        "column); it was left untouched")


def _column_map(ws) -> dict[str, int]:
    """Header text (casefolded) -> column number; the first occurrence wins."""
    out: dict[str, int] = {}
    for cell in ws[1]:
        if cell.value not in (None, ""):
            out.setdefault(str(cell.value).strip().casefold(), cell.column)
    return out
