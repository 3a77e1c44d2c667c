"""The coders' Excel worklist: one row per claim line and denial reason, upserted by key.

The workbook is shared with people: coders set Status / Assigned to / Notes, add their own
columns, sort and filter. An upsert therefore

- refreshes only the system columns of rows it knows (by ``Key``) and never touches the coder
  columns, nor any column it does not own;
- appends new rows at the end (rows are sorted by priority only when the file is created);
- does not rewrite the file at all when nothing changed;
- warns, and keeps a timestamped backup, before a save that would drop workbook features
  openpyxl cannot keep (drawings, charts, pivot tables, slicers, Excel 2010+ extensions ...);
- stores untrusted text as text, never as a formula; amounts as exact decimals;
- writes atomically (temporary file + rename) under a lock, so a crash or a parallel run never
  leaves a half-written workbook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from .rules.findings import Finding
from .models import CENT

SHEET_TITLE = "Coding worklist"
STATUSES = ("New", "In progress", "Corrected", "Resubmitted", "Done")
MONEY_FORMAT = '"$"#,##0.00;[Red]-"$"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd"
_INJECTION_PREFIXES = ("=", "+", "-", "@")
_MAX_CELL = 32767


class WorklistError(ValueError):
    """The worklist file cannot be updated safely (not an xlsx, no worklist sheet ...)."""


@dataclass(frozen=True)
class WorklistRow:
    key: str  # Finding.key: payer:payer claim id:line:group-CARC
    payer: str
    payer_claim_id: str
    patient_account: str
    date_of_service: dt.date | None
    procedure: str
    modifiers: tuple[str, ...]
    adjustment: str  # group-CARC, e.g. "CO-97"
    rarcs: tuple[str, ...]
    reason: str  # in words: CARC meaning, then RARC meanings
    category: str
    owner: str
    action: str  # recommended action
    amount: Decimal  # amount at stake
    appeal_due: dt.date | None
    priority: Decimal
    first_seen: dt.date


@dataclass
class WorklistResult:
    added: int
    updated: int
    unchanged: int
    warnings: list[str] = field(default_factory=list)
    written: bool = False  # False when the file was left untouched
    backup: Path | None = None  # copy of the original, kept before a lossy save


@dataclass(frozen=True)
class _Column:
    header: str
    attr: str
    width: float
    kind: str  # text | list | date | money | number


SYSTEM_COLUMNS = (
    _Column("Key", "key", 34, "text"),
    _Column("Payer", "payer", 22, "text"),
    _Column("Payer claim #", "payer_claim_id", 18, "text"),
    _Column("Patient account", "patient_account", 16, "text"),
    _Column("Date of service", "date_of_service", 13, "date"),
    _Column("Procedure", "procedure", 11, "text"),
    _Column("Modifiers", "modifiers", 10, "list"),
    _Column("Group-CARC", "adjustment", 11, "text"),
    _Column("RARCs", "rarcs", 12, "list"),
    _Column("Reason", "reason", 55, "text"),
    _Column("Category", "category", 18, "text"),
    _Column("Owner", "owner", 14, "text"),
    _Column("Recommended action", "action", 26, "text"),
    _Column("Amount at stake", "amount", 15, "money"),
    _Column("Appeal due", "appeal_due", 12, "date"),
    _Column("Priority", "priority", 9, "number"),
    _Column("First seen", "first_seen", 12, "date"),
)
CODER_COLUMNS = (("Status", 14), ("Assigned to", 16), ("Notes", 45))
_KEEP_ON_UPDATE = {"first_seen"}  # system columns set once, when the row is added

_HEADER_FONT = Font(bold=True)
_SYSTEM_FILL = PatternFill("solid", fgColor="FFD9D9D9")
_CODER_FILL = PatternFill("solid", fgColor="FFFFF2CC")


def worklist_row_from_finding(finding: Finding, *, first_seen: dt.date) -> WorklistRow:
    line, decision = finding.line, finding.decision
    dos = line.date_of_service if line is not None else None
    if dos is None and finding.claim.dates_of_service:
        dos = finding.claim.dates_of_service[0]
    reason = [finding.carc_meaning or f"CARC {finding.adjustment.carc}"]
    reason += [f"{code}: {finding.rarc_meanings[code]}" for code in finding.remarks
               if finding.rarc_meanings.get(code)]
    action = decision.action + (f" (if {decision.condition})" if decision.condition else "")
    return WorklistRow(
        key=finding.key,
        payer=finding.payer_name or finding.payer_id,
        payer_claim_id=finding.claim.payer_claim_id,
        patient_account=finding.claim.patient_account,
        date_of_service=dos,
        procedure=line.procedure if line is not None else "",
        modifiers=tuple(line.modifiers) if line is not None else (),
        adjustment=finding.adjustment.code,
        rarcs=tuple(finding.remarks),
        reason="; ".join(reason),
        category=decision.category,
        owner=decision.owner,
        action=action,
        amount=finding.adjustment.amount,
        appeal_due=finding.appeal_due,
        priority=finding.priority,
        first_seen=first_seen,
    )


# ---------------------------------------------------------------------------------------------
# upsert


def upsert_coding_worklist(path: Path, rows: list[WorklistRow]) -> WorklistResult:
    """Add or refresh ``rows`` (by key) in the worklist at ``path``; see the module docstring."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows, warnings = _dedupe(rows)
    with _locked(path):
        if not path.exists():
            _create(path, rows)
            return WorklistResult(added=len(rows), updated=0, unchanged=0, warnings=warnings,
                                  written=True)
        return _update(path, rows, warnings)


def _dedupe(rows: list[WorklistRow]) -> tuple[list[WorklistRow], list[str]]:
    by_key: dict[str, WorklistRow] = {}
    warnings = []
    for row in rows:
        if row.key in by_key:
            warnings.append(f"row {row.key} given more than once: the last one was used")
        by_key[row.key] = row
    return list(by_key.values()), warnings


def _create(path: Path, rows: list[WorklistRow]) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET_TITLE
    headers = [c.header for c in SYSTEM_COLUMNS] + [h for h, _ in CODER_COLUMNS]
    for col, header in enumerate(headers, 1):
        _style_header(ws, col, header)
    ws.freeze_panes = "A2"
    columns = _column_map(ws)
    ordered = sorted(rows, key=lambda r: (-r.priority, r.appeal_due or dt.date.max, r.key))
    for n, row in enumerate(ordered, 2):
        _write_row(ws, n, columns, row, new=True)
    _finish(ws, columns, last_row=len(ordered) + 1)
    _save_atomic(wb, path)


def _update(path: Path, rows: list[WorklistRow], warnings: list[str]) -> WorklistResult:
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
    ws = _find_sheet(wb, path)
    columns = _column_map(ws)
    if "key" not in columns:
        raise WorklistError(f"the worklist sheet in {path} has no 'Key' column, so its rows "
                            "cannot be matched; it was left untouched")
    changed = False
    for header, width in [(c.header, c.width) for c in SYSTEM_COLUMNS] + list(CODER_COLUMNS):
        if header.casefold() not in columns:
            col = ws.max_column + 1
            _style_header(ws, col, header, width)
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
            _write_row(ws, next_row, columns, row, new=True)
            existing[row.key] = next_row
            next_row += 1
            added += 1
        elif _write_row(ws, r, columns, row, new=False):
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
        backup = _backup(path)
        for feature in lossy:
            warnings.append(f"{path.name} contains {feature}, which this program cannot keep: "
                            f"it is gone from the updated worklist; the original was saved as "
                            f"{backup.name}")
    _finish(ws, columns, last_row=next_row - 1)
    _save_atomic(wb, path)
    return WorklistResult(added=added, updated=updated, unchanged=unchanged, warnings=warnings,
                          written=True, backup=backup)


def _find_sheet(wb, path: Path):
    if SHEET_TITLE in wb.sheetnames:
        return wb[SHEET_TITLE]
    for ws in wb.worksheets:  # renamed by a coder: the sheet whose header has a Key column
        if any(str(c.value or "").strip().casefold() == "key" for c in ws[1]):
            return ws
    raise WorklistError(f"{path} has no {SHEET_TITLE!r} sheet (nor any sheet with a 'Key' "
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


def _write_row(ws, r: int, columns: dict[str, int], row: WorklistRow, *, new: bool) -> bool:
    """Write the system columns of ``row`` at sheet row ``r``; True when a cell changed."""
    changed = False
    for col in SYSTEM_COLUMNS:
        cell = ws.cell(row=r, column=columns[col.header.casefold()])
        if not new and col.attr in _KEEP_ON_UPDATE and cell.value not in (None, ""):
            continue
        value = getattr(row, col.attr)
        if not new and _same(cell.value, value, col.kind):
            continue
        _set_cell(cell, value, col.kind)
        changed = True
    if new:
        status = ws.cell(row=r, column=columns["status"])
        _set_cell(status, STATUSES[0], "text")
    return changed


def _set_cell(cell, value: Any, kind: str) -> None:
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


def _style_header(ws, col: int, header: str, width: float | None = None) -> None:
    cell = ws.cell(row=1, column=col, value=header)
    cell.data_type = "s"
    cell.font = _HEADER_FONT
    cell.fill = _CODER_FILL if header in dict(CODER_COLUMNS) else _SYSTEM_FILL
    cell.alignment = Alignment(vertical="top", wrap_text=True)
    widths = {c.header: c.width for c in SYSTEM_COLUMNS} | dict(CODER_COLUMNS)
    ws.column_dimensions[get_column_letter(col)].width = width or widths.get(header, 14)


def _finish(ws, columns: dict[str, int], *, last_row: int) -> None:
    """Filter over the data, the Status list, exact decimals in the amount columns."""
    ws.auto_filter.ref = f"A1:{get_column_letter(ws.max_column)}{max(last_row, 2)}"
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
        for r in range(2, last_row + 1):
            cell = ws.cell(row=r, column=c)
            if isinstance(cell.value, float):
                _set_decimal(cell, _as_decimal(cell.value).quantize(CENT)
                             if col.kind == "money" else _as_decimal(cell.value))


# ---------------------------------------------------------------------------------------------
# features openpyxl drops


_PART_FEATURES = (
    ("xl/drawings/", "drawings (shapes, text boxes, pictures or charts)"),
    ("xl/charts/", "charts"),
    ("xl/pivotTables/", "pivot tables"),
    ("xl/pivotCache/", "pivot tables"),
    ("xl/slicers/", "slicers"),
    ("xl/slicerCaches/", "slicers"),
    ("xl/timelines/", "timelines"),
    ("xl/threadedComments/", "threaded comments (replies are lost; the first note stays)"),
    ("xl/vbaProject.bin", "macros (VBA)"),
    ("xl/ctrlProps/", "form controls"),
    ("xl/activeX/", "ActiveX controls"),
    ("xl/embeddings/", "embedded objects"),
    ("xl/queryTables/", "data queries"),
    ("xl/connections.xml", "data connections"),
    ("xl/model/", "a data model"),
    ("xl/richData/", "pictures in cells or linked data types"),
)
_EXT_FEATURES = (
    ("x14:conditionalFormatting", "newer conditional formatting (data bars, icon sets, or "
                                  "rules that refer to other sheets)"),
    ("x14:dataValidation", "data validation lists that refer to other sheets"),
    ("x14:sparklineGroup", "sparklines"),
    ("x14:slicerList", "slicers"),
    ("timelineRefs", "timelines"),
)


def unsupported_features(path: Path) -> list[str]:
    """Features of the workbook at ``path`` that an openpyxl load+save would drop."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            sheets = [n for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)]
            sheet_xml = [zf.read(n).decode("utf-8", "replace") for n in sheets]
    except zipfile.BadZipFile as exc:
        raise WorklistError(f"{path} is not an xlsx workbook ({exc}); it was left "
                            "untouched") from exc
    found: list[str] = []

    def add(feature: str) -> None:
        if feature not in found:
            found.append(feature)

    for prefix, feature in _PART_FEATURES:
        if any(n.startswith(prefix) for n in names):
            add(feature)
    for xml in sheet_xml:
        ext = xml[xml.find("<extLst"):] if "<extLst" in xml else ""
        if not ext:
            continue
        known = False
        for marker, feature in _EXT_FEATURES:
            if marker in ext:
                add(feature)
                known = True
        if not known:
            add("Excel extension data in a sheet (extLst)")
    return found


# ---------------------------------------------------------------------------------------------
# files


def _backup(path: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 2
    while target.exists():
        target = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")
        n += 1
    shutil.copy2(path, target)
    return target


def _save_atomic(wb, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".xlsx.tmp")
    os.close(fd)
    try:
        wb.save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if path.exists():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One writer at a time (parallel payer runs share the worklist)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory lock available
        yield
        return
    lock_path = path.with_name(f".{path.name}.lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
