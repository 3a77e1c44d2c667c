"""Owners' Excel worklists (coding, registration, clinical documentation, billing): one row per
claim line and denial reason, upserted by key.

The workbook is shared with people: they set Status / Assigned to / Notes / Corrected code /
Date worked (the person-owned columns), add their own columns, sort, filter and delete rows. An
upsert therefore

- refreshes only the system columns of rows it knows (by ``Key``, wherever the row now is) and
  never touches the person-owned columns, nor any column it does not own;
- appends new rows at the end (rows are sorted by priority only when the file is created); a
  refresh never re-adds a row a person deleted;
- reads back every row's person-owned cells (``WorklistResult.marks``) for the ledger;
- rebuilds the Summary sheet (rows and dollars by category, payer, status, age);
- does not rewrite the file at all when nothing changed;
- keeps the previous versions in ``.versions/``; refuses (``WorkbookLocked``) while Excel has the
  file open; a workbook it cannot read or write gets a side file (:mod:`.side`);
- warns, and keeps a timestamped backup, before a save that would drop workbook features
  openpyxl cannot keep (drawings, charts, pivot tables, slicers, Excel 2010+ extensions ...);
- stores untrusted text as text, never as a formula; amounts as exact decimals;
- writes atomically (temporary file + rename) under a lock, so a crash or a parallel run never
  leaves a half-written workbook.

Modules: :mod:`.rows` (row and columns), :mod:`.upsert`, :mod:`.cells`, :mod:`.summary`,
:mod:`.files`, :mod:`.side`.
"""

from .files import WorkbookBusy, unsupported_features
from .rows import (STATUSES, Marks, WorklistError, WorklistResult, WorklistRow,
                   worklist_row_from_finding)
from .side import merge_side_file, side_file, side_marks, write_side_file
from .upsert import WorkbookLocked, upsert_worklist

__all__ = ["STATUSES", "Marks", "WorkbookBusy", "WorkbookLocked", "WorklistError", "WorklistResult",
           "WorklistRow", "merge_side_file", "side_file", "side_marks", "unsupported_features",
           "upsert_worklist", "worklist_row_from_finding", "write_side_file"]
