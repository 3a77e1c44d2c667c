"""The upsert: create the workbook, or refresh the rows it knows by ``Key`` and append new ones."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter

from .cells import finish_sheet, style_header, write_row
from .files import keep_backup, locked, save_atomic, unsupported_features
from .rows import (CODER_COLUMNS, SHEET_TITLE, SYSTEM_COLUMNS, WorklistError, WorklistResult,
                   WorklistRow)


def upsert_worklist(path: Path, rows: list[WorklistRow], *,
                    title: str = SHEET_TITLE) -> WorklistResult:
    """Add or refresh ``rows`` (by key) in the worklist at ``path`` (its sheet ``title``, e.g.
    "Coding worklist"); see the package docstring."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, warnings = _dedupe(rows)
    with locked(path):
        if not path.exists():
            _create(path, rows, title)
            return WorklistResult(added=len(rows), updated=0, unchanged=0, warnings=warnings,
                                  written=True)
        return _update(path, rows, warnings, title)


def _dedupe(rows: list[WorklistRow]) -> tuple[list[WorklistRow], list[str]]:
    by_key: dict[str, WorklistRow] = {}
    warnings = []
    for row in rows:
        if row.key in by_key:
            warnings.append(f"row {row.key} given more than once: the last one was used")
        by_key[row.key] = row
    return list(by_key.values()), warnings


def _create(path: Path, rows: list[WorklistRow], title: str) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    headers = [c.header for c in SYSTEM_COLUMNS] + [h for h, _ in CODER_COLUMNS]
    for col, header in enumerate(headers, 1):
        style_header(ws, col, header)
    ws.freeze_panes = "A2"
    columns = _column_map(ws)
    ordered = sorted(rows, key=lambda r: (-r.priority, r.appeal_due or dt.date.max, r.key))
    for n, row in enumerate(ordered, 2):
        write_row(ws, n, columns, row, new=True)
    finish_sheet(ws, columns, last_row=len(ordered) + 1)
    save_atomic(wb, path)


def _update(path: Path, rows: list[WorklistRow], warnings: list[str],
            title: str) -> WorklistResult:
    lossy = unsupported_features(path)
    lock_file = path.with_name(f"~${path.name}")
    if lock_file.exists():
        warnings.append(f"{path.name} appears to be open in Excel ({lock_file.name} exists): "
                        "edits not yet saved there will conflict with this update")
    try:
        wb = openpyxl.load_workbook(path)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise WorklistError(f"{path} cannot be read as an xlsx workbook ({exc}); "
                            "it was left untouched") from exc
    ws = _find_sheet(wb, path, title)
    columns = _column_map(ws)
    if "key" not in columns:
        raise WorklistError(f"the worklist sheet in {path} has no 'Key' column, so its rows "
                            "cannot be matched; it was left untouched")
    changed = False
    for header, width in [(c.header, c.width) for c in SYSTEM_COLUMNS] + list(CODER_COLUMNS):
        if header.casefold() not in columns:
            col = ws.max_column + 1
            style_header(ws, col, header, width)
            columns[header.casefold()] = col
            warnings.append(f"column {header!r} was missing from the worklist: re-added as "
                            f"column {get_column_letter(col)}")
            changed = True

    key_col = columns["key"]
    existing: dict[str, int] = {}
    last_row = _last_used_row(ws)
    for r in range(2, last_row + 1):
        value = ws.cell(row=r, column=key_col).value
        if value in (None, ""):
            continue
        key = str(value)
        if key in existing:
            warnings.append(f"key {key} appears on rows {existing[key]} and {r}: "
                            f"only row {existing[key]} is updated")
            continue
        existing[key] = r

    added = updated = unchanged = 0
    next_row = last_row + 1
    for row in rows:
        r = existing.get(row.key)
        if r is None:
            write_row(ws, next_row, columns, row, new=True)
            existing[row.key] = next_row
            next_row += 1
            added += 1
        elif write_row(ws, r, columns, row, new=False):
            updated += 1
        else:
            unchanged += 1

    if not (added or updated or changed):
        for feature in lossy:
            warnings.append(f"{path.name} contains {feature}, which this program cannot "
                            "keep; nothing changed, so the file was left untouched")
        return WorklistResult(added=0, updated=0, unchanged=unchanged, warnings=warnings)

    backup = None
    if lossy:
        backup = keep_backup(path)
        for feature in lossy:
            warnings.append(f"{path.name} contains {feature}, which this program cannot keep: "
                            f"it is gone from the updated worklist; the original was saved as "
                            f"{backup.name}")
    finish_sheet(ws, columns, last_row=next_row - 1)
    save_atomic(wb, path)
    return WorklistResult(added=added, updated=updated, unchanged=unchanged, warnings=warnings,
                          written=True, backup=backup)


def _find_sheet(wb, path: Path, title: str):
    if title in wb.sheetnames:
        return wb[title]
    for ws in wb.worksheets:  # renamed by a coder: the sheet whose header has a Key column
        if any(str(c.value or "").strip().casefold() == "key" for c in ws[1]):
            return ws
    raise WorklistError(f"{path} has no {title!r} sheet (nor any sheet with a 'Key' "
                        "column); it was left untouched")


def _column_map(ws) -> dict[str, int]:
    """Header text (casefolded) -> column number; the first occurrence wins."""
    out: dict[str, int] = {}
    for cell in ws[1]:
        if cell.value not in (None, ""):
            out.setdefault(str(cell.value).strip().casefold(), cell.column)
    return out


def _last_used_row(ws) -> int:
    for r in range(ws.max_row, 1, -1):
        if any(v not in (None, "") for v in next(ws.iter_rows(min_row=r, max_row=r,
                                                               values_only=True))):
            return r
    return 1
