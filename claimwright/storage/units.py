"""The ledger's side of the units of work: states and leases in ``work_units``.

Taking a unit is a compare-and-set on its row (same owner and state as just read), so two runs
never hold one unit, on SQLite or PostgreSQL alike. The mechanism that uses this is
``claimwright.units``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..types import UnitState
from .records import WorkUnitRecord, utcnow

class UnitLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for ``work_units``."""

    def add_unit(self, kind: str, key: str, *, payer: str = "",
                 data: dict[str, Any] | None = None) -> bool:
        """Add a pending unit; False when it exists already (in any state)."""
        try:
            with self.session() as s:  # type: ignore[attr-defined]
                if s.scalar(select(WorkUnitRecord.id).where(WorkUnitRecord.kind == kind,
                                                            WorkUnitRecord.key == key)):
                    return False
                s.add(WorkUnitRecord(kind=kind, key=key, payer=payer, state=UnitState.PENDING,
                                     data=data or {}))
            return True
        except IntegrityError:  # another run added it between the check and the insert
            return False

    def unit(self, kind: str, key: str) -> WorkUnitRecord | None:
        with self.session() as s:  # type: ignore[attr-defined]
            return s.scalar(select(WorkUnitRecord).where(WorkUnitRecord.kind == kind,
                                                         WorkUnitRecord.key == key))

    def units(self, kind: str | None = None, *, payer: str | None = None,
              states: Iterable[str] | None = None) -> list[WorkUnitRecord]:
        with self.session() as s:  # type: ignore[attr-defined]
            q = select(WorkUnitRecord).order_by(WorkUnitRecord.id)
            if kind:
                q = q.where(WorkUnitRecord.kind == kind)
            if payer:
                q = q.where(WorkUnitRecord.payer == payer)
            if states is not None:
                q = q.where(WorkUnitRecord.state.in_([str(x) for x in states]))
            return list(s.scalars(q))

    def take_unit(self, current: WorkUnitRecord, owner: str, *, lease_until: dt.datetime,
                  now: dt.datetime) -> WorkUnitRecord | None:
        """Lease the unit read as ``current`` to ``owner`` until ``lease_until``, if nobody
        changed it since (compare-and-set on state, owner and attempts); the record, or None
        when another run got there first. Whether it may be taken is the caller's call
        (``claimwright.units.takeable``)."""
        with self.session() as s:  # type: ignore[attr-defined]
            taken = s.execute(
                update(WorkUnitRecord)
                .where(WorkUnitRecord.id == current.id, WorkUnitRecord.state == current.state,
                       WorkUnitRecord.owner == current.owner,
                       WorkUnitRecord.attempts == current.attempts)
                .values(state=UnitState.IN_PROGRESS, owner=owner, lease_expires_at=lease_until,
                        attempts=current.attempts + 1, updated_at=now)).rowcount
        return self.unit(current.kind, current.key) if taken == 1 else None

    def renew_unit(self, kind: str, key: str, owner: str, lease_until: dt.datetime) -> bool:
        """Extend ``owner``'s lease; False when the unit is no longer ``owner``'s."""
        return self._update_leased(kind, key, owner, lease_expires_at=lease_until)

    def note_unit(self, kind: str, key: str, owner: str, data: dict[str, Any]) -> bool:
        """Replace the unit's ``data`` while ``owner`` holds it (what the next run needs to
        know, e.g. what it last read)."""
        return self._update_leased(kind, key, owner, data=data)

    def release_unit(self, kind: str, key: str, owner: str, state: UnitState, *,
                     error_code: str = "", review_key: str = "",
                     reset_attempts: bool = False) -> bool:
        """End ``owner``'s lease with ``state``; False when the lease had been taken over."""
        values: dict[str, Any] = {"state": state, "lease_expires_at": None,
                                  "error_code": error_code, "review_key": review_key}
        if reset_attempts:
            values["attempts"] = 0
        return self._update_leased(kind, key, owner, **values)

    def _update_leased(self, kind: str, key: str, owner: str, **values: Any) -> bool:
        """Update the unit while ``owner`` holds its lease; False when it does not."""
        with self.session() as s:  # type: ignore[attr-defined]
            return s.execute(
                update(WorkUnitRecord)
                .where(WorkUnitRecord.kind == kind, WorkUnitRecord.key == key,
                       WorkUnitRecord.owner == owner,
                       WorkUnitRecord.state == UnitState.IN_PROGRESS)
                .values(**values, updated_at=utcnow())).rowcount == 1

    def reset_unit(self, kind: str, key: str, *, done: bool = False) -> bool:
        """Put a failed unit back to pending with its attempts cleared (a person's retry);
        with ``done``, a done unit as well (its outputs to be made again, e.g. after a code
        was categorized). A unit in progress is never reset."""
        states = [UnitState.PENDING, UnitState.FAILED_SYSTEM, UnitState.FAILED_BUSINESS]
        if done:
            states.append(UnitState.DONE)
        with self.session() as s:  # type: ignore[attr-defined]
            return s.execute(
                update(WorkUnitRecord)
                .where(WorkUnitRecord.kind == kind, WorkUnitRecord.key == key,
                       WorkUnitRecord.state.in_(states))
                .values(state=UnitState.PENDING, attempts=0, error_code="",
                        updated_at=utcnow())).rowcount == 1
