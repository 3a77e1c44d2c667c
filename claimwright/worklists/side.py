"""The side file: where a run puts the rows it could not add to a workbook that could not be
read or was open in Excel, so people can work them at once; the next run that can write the
workbook adds those rows to it, with whatever people wrote in the side file, and retires it.

The ledger stays the source of truth (the rows wait there, see ``pipeline.outputs``): the side
file is a readable copy, never the only one.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import openpyxl

from ..output_store import store_at
from .cells import read_marks
from .files import VERSIONS_DIR, readable, sibling_key, version_path
from .rows import Marks, WorklistError, WorklistResult, WorklistRow
from .upsert import upsert_worklist

SIDE_SUFFIX = ".waiting"
log = logging.getLogger(__name__)


def side_file(path: Path) -> Path:
    """``coding-worklist.xlsx`` -> ``coding-worklist.waiting.xlsx``."""
    path = Path(path)
    return path.with_name(f"{path.stem}{SIDE_SUFFIX}{path.suffix}")


def write_side_file(path: Path, rows: list[WorklistRow], *, title: str,
                    as_of: dt.date | None = None) -> WorklistResult:
    """Add ``rows`` (the ones waiting for the workbook at ``path``) to its side file."""
    return upsert_worklist(side_file(path), rows, title=title, as_of=as_of)


def side_marks(path: Path) -> dict[str, Marks]:
    """What people wrote in the side file of the workbook at ``path`` (by key; rows with no
    person-owned cells but the initial status are left out). Empty when there is none or it
    cannot be read."""
    side = side_file(path)
    if not side.exists():
        return {}
    try:
        with readable(side):
            return _marks_of(side)
    except WorklistError as exc:  # its rows wait in the ledger; the file is kept when retired
        log.warning("worklist %s: side file not read: %s", side.name, exc)
        return {}


def _marks_of(side: Path) -> dict[str, Marks]:
    wb = openpyxl.load_workbook(side, read_only=True)  # its sheets are read as they are iterated
    try:
        out: dict[str, Marks] = {}
        for ws in wb.worksheets:
            rows = ws.iter_rows(values_only=True)
            header = next(rows, ())
            columns: dict[str, int] = {}
            for i, value in enumerate(header, 1):
                if value not in (None, ""):
                    columns.setdefault(str(value).strip().casefold(), i)
            if "key" not in columns:
                continue
            for values in rows:
                key = values[columns["key"] - 1] if len(values) >= columns["key"] else None
                if key in (None, ""):
                    continue
                marks = read_marks(values, columns)
                if not (marks.blank or marks == Marks(status="New")):
                    out.setdefault(str(key), marks)
        return out
    finally:
        wb.close()


def merge_side_file(path: Path) -> Path | None:
    """Retire the side file once its rows are in the workbook: it moves to ``.versions/``
    (nothing a person wrote is deleted). Returns where it went."""
    side = side_file(path)
    if not side.exists():
        return None
    target = version_path(side, "merged-")
    store, key = store_at(side)
    store.move(key, sibling_key(key, f"{VERSIONS_DIR}/{target.name}"))
    return target


__all__ = ["SIDE_SUFFIX", "WorklistError", "merge_side_file", "side_file", "side_marks",
           "write_side_file"]
