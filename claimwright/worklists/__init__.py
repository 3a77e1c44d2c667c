"""Owners' Excel worklists (coding, registration, clinical documentation, billing): one row per
claim line and denial reason, upserted by key.

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

Modules: :mod:`.rows` (row and columns), :mod:`.upsert`, :mod:`.cells`, :mod:`.files`.
"""

from .files import unsupported_features
from .rows import STATUSES, WorklistError, WorklistResult, WorklistRow, worklist_row_from_finding
from .upsert import upsert_worklist

__all__ = ["STATUSES", "WorklistError", "WorklistResult", "WorklistRow", "unsupported_features",
           "upsert_worklist", "worklist_row_from_finding"]
