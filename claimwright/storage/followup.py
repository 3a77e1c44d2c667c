"""The ledger's side of the nightly claim and appeal status check (``status_checks`` table).

Which appeals are open comes from the ``appeals`` table (:mod:`.appeals`): each claim's highest
level not decided yet ("prepared" or "sent": people may send an appeal without recording it).
Transition: a packet recorded only in ``outputs`` (kind "packet", written before the packet
stage recorded appeals) and with no appeal record stays followed as before, until a final check
of its appeal; once the packet stage records every packet with ``prepare_appeal`` this rule
finds nothing and can go.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select

from .conflicts import retry_on_conflict
from .records import (AppealRecord, Document, FindingRecord, OutputRecord, RemittanceRecord,
                      StatusCheckRecord, utcnow)

NOTES_MAX = 500


@dataclass(frozen=True, order=True)
class OpenItem:
    """A claim or appeal the status check follows up on. An appeal with a record in the
    ``appeals`` table carries its key, level and the day it was prepared (not compared)."""

    kind: str               # "claim" / "appeal"
    payer_claim_id: str
    payer: str              # portal payer
    payer_id: str           # payer id on the remittance
    appeal_key: str = field(default="", compare=False)
    level: int = field(default=0, compare=False)           # 0: no appeal record
    since: dt.date | None = field(default=None, compare=False)  # the record's prepared_on


@dataclass(frozen=True)
class StatusAnswer:
    """What one status check found, as the follow-up rules read it."""

    status: str             # normalized status (claimwright.rules.followup)
    portal_status: str
    status_date: dt.date | None
    notes: str
    final: bool
    needs_action: bool
    owner: str
    next_follow_up: dt.date | None


class FollowUpLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for status checks."""

    def open_followups(self, payer: str) -> list[OpenItem]:
        """Open claims and appeals of ``payer``, sorted: denied claims without a final status,
        and appeals not decided yet (the module doc; a claim found paid closes its appeal
        too: nothing left to appeal)."""
        with self.session() as s:  # type: ignore[attr-defined]
            denied = s.execute(
                select(FindingRecord.payer_id, FindingRecord.payer_claim_id).distinct()
                .join(RemittanceRecord, FindingRecord.remittance_id == RemittanceRecord.id)
                .join(Document, RemittanceRecord.document_id == Document.id)
                .where(Document.payer == payer, FindingRecord.is_denial.is_(True))).all()
            packets = set(s.scalars(select(OutputRecord.key)
                                    .where(OutputRecord.kind == "packet")))
            recorded = {f"{pid}:{claim}" for pid, claim in s.execute(
                select(AppealRecord.payer_id, AppealRecord.payer_claim_id).distinct())}
            final = set(s.execute(
                select(StatusCheckRecord.kind, StatusCheckRecord.payer_claim_id)
                .where(StatusCheckRecord.payer == payer,
                       StatusCheckRecord.final.is_(True))).all())
        items: set[OpenItem] = set()
        for payer_id, claim_id in denied:
            if ("claim", claim_id) not in final:
                items.add(OpenItem("claim", claim_id, payer, payer_id))
            key = f"{payer_id}:{claim_id}"
            if key in packets and key not in recorded and ("appeal", claim_id) not in final \
                    and ("claim", claim_id) not in final:  # a packet from before appeal records
                items.add(OpenItem("appeal", claim_id, payer, payer_id))
        for rec in self.open_appeals(payer):  # type: ignore[attr-defined]
            if ("claim", rec.payer_claim_id) not in final:
                items.add(OpenItem("appeal", rec.payer_claim_id, payer, rec.payer_id,
                                   appeal_key=rec.key, level=rec.level, since=rec.prepared_on))
        return sorted(items)

    def latest_checks(self, payer: str) -> dict[tuple[str, str], StatusCheckRecord]:
        """The most recent check of each (kind, payer claim id) of ``payer``."""
        with self.session() as s:  # type: ignore[attr-defined]
            rows = s.scalars(select(StatusCheckRecord).where(StatusCheckRecord.payer == payer)
                             .order_by(StatusCheckRecord.checked_on, StatusCheckRecord.id)).all()
        return {(r.kind, r.payer_claim_id): r for r in rows}

    @retry_on_conflict
    def record_status_check(self, item: OpenItem, answer: StatusAnswer, *,
                            checked_on: dt.date) -> bool:
        """Store one check (one row per item and day; a same-day repeat updates it); True if
        new."""
        with self.session() as s:  # type: ignore[attr-defined]
            rec = s.scalar(select(StatusCheckRecord).where(
                StatusCheckRecord.payer == item.payer, StatusCheckRecord.kind == item.kind,
                StatusCheckRecord.payer_claim_id == item.payer_claim_id,
                StatusCheckRecord.checked_on == checked_on))
            created = rec is None
            if rec is None:
                rec = StatusCheckRecord(payer=item.payer, kind=item.kind,
                                        payer_claim_id=item.payer_claim_id, checked_on=checked_on)
                s.add(rec)
            rec.payer_id = item.payer_id
            rec.status = answer.status
            rec.portal_status = answer.portal_status[:200]
            rec.status_date = answer.status_date
            rec.notes = answer.notes[:NOTES_MAX]
            rec.final = answer.final
            rec.needs_action = answer.needs_action
            rec.owner = answer.owner
            rec.next_follow_up = answer.next_follow_up
            rec.checked_at = utcnow()
            return created
