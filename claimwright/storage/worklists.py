"""The ledger's side of the worklists: what people wrote in them, read back by each run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from .conflicts import retry_on_conflict
from .records import WorkMarkRecord

_FIELDS = ("status", "assignee", "notes", "corrected_code", "date_worked")


class WorklistLedger:
    @retry_on_conflict
    def save_marks(self, workbook: str, marks: Mapping[str, Mapping[str, Any]],
                   read_on: dt.date) -> int:
        """Store the person-owned cells of every row of ``workbook`` (``marks``: key -> fields
        of :class:`claimwright.worklists.Marks`). A key this workbook had before that is no
        longer in it was deleted by a person: it is kept, marked ``in_workbook=False``.
        Returns how many rows changed."""
        changed = 0
        keys = list(marks)
        with self.session() as s:
            known = {rec.key: rec for rec in s.scalars(select(WorkMarkRecord).where(
                WorkMarkRecord.workbook == workbook))}
            by_key = dict(known)
            missing = [k for k in keys if k not in known]
            for start in range(0, len(missing), 500):  # rows moved from another workbook
                by_key |= {rec.key: rec for rec in s.scalars(select(WorkMarkRecord).where(
                    WorkMarkRecord.key.in_(missing[start:start + 500])))}
            for key, fields in marks.items():
                rec = by_key.get(key)
                if rec is None:
                    rec = WorkMarkRecord(key=key, workbook=workbook, read_on=read_on)
                    s.add(rec)
                before = (rec.workbook, rec.in_workbook, *(getattr(rec, f) for f in _FIELDS))
                if fields.get("status", "") != (rec.status or "") or rec.status_since is None:
                    rec.status_since = read_on
                for name in _FIELDS:
                    value = fields.get(name)
                    setattr(rec, name, value if name == "date_worked" else (value or ""))
                rec.workbook, rec.in_workbook, rec.read_on = workbook, True, read_on
                if before != (rec.workbook, rec.in_workbook,
                              *(getattr(rec, f) for f in _FIELDS)):
                    changed += 1
            for key, rec in known.items():
                if key not in marks and rec.in_workbook:
                    rec.in_workbook, rec.read_on = False, read_on
                    changed += 1
        return changed

    def marks(self, workbook: str | None = None) -> list[WorkMarkRecord]:
        with self.session() as s:
            q = select(WorkMarkRecord).order_by(WorkMarkRecord.id)
            if workbook is not None:
                q = q.where(WorkMarkRecord.workbook == workbook)
            return list(s.scalars(q))
