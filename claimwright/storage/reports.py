"""The ledger's side of the reports: what the monthly feedback report reads (read-only).

The report works from the remittances as parsed (their model JSON: every claim, line, payment
and adjustment of a month) and the decision the rules made about each adjustment (findings, by
key), plus the appeal decisions: those of the ``appeals`` table, and for a claim without appeal
records (packets from before them) the first final answer the nightly status check recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from .records import AppealRecord, FindingRecord, RemittanceRecord, StatusCheckRecord

_CHUNK = 500  # bounded IN lists at any volume


@dataclass(frozen=True)
class StoredRemittance:
    id: int                 # remittances.id
    payment_date: dt.date
    data: dict              # the parse contract JSON (claimwright.models.Remittance.from_json)


@dataclass(frozen=True)
class FindingDecision:
    """What the rules decided about one adjustment (the finding with that key)."""

    is_denial: bool
    category: str
    owner: str
    action: str


@dataclass(frozen=True)
class AppealDecision:
    """A decided appeal: a decided record of the ``appeals`` table (one per level), or, for a
    claim without appeal records, the first status check that saw its appeal decided."""

    payer: str              # portal payer
    payer_id: str
    payer_claim_id: str
    status: str             # overturned, upheld, partial (a status check: its final status)
    decided_on: dt.date     # the decision day (status check: the portal's date, else the check's)
    level: int = 1
    categories: tuple[str, ...] = ()   # the appeal's; a status check's: the claim's appeal findings
    recovered: Decimal | None = None   # None: not known (a decision only a status check saw)
    source: str = "appeals"            # "appeals" / "status check"


class ReportLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for reports."""

    def remittance_payment_dates(self) -> list[dt.date]:
        """Every payment date a stored remittance has, ascending (no date: not listed)."""
        with self.session() as s:  # type: ignore[attr-defined]
            return list(s.scalars(select(RemittanceRecord.payment_date).distinct()
                                  .where(RemittanceRecord.payment_date.is_not(None))
                                  .order_by(RemittanceRecord.payment_date)))

    def remittances_paid_from(self, start: dt.date, *,
                              batch: int = 100) -> Iterator[StoredRemittance]:
        """Stored remittances paid on ``start`` or later, by payment date then id, read
        ``batch`` at a time (a year of remittances is never held in memory at once)."""
        with self.session() as s:  # type: ignore[attr-defined]
            order = s.execute(select(RemittanceRecord.id, RemittanceRecord.payment_date)
                              .where(RemittanceRecord.payment_date >= start)
                              .order_by(RemittanceRecord.payment_date,
                                        RemittanceRecord.id)).all()
        for first in range(0, len(order), batch):
            part = order[first:first + batch]
            with self.session() as s:  # type: ignore[attr-defined]
                data = dict(s.execute(select(RemittanceRecord.id, RemittanceRecord.data)
                                      .where(RemittanceRecord.id.in_([i for i, _ in part])))
                            .all())
            for rec_id, day in part:
                yield StoredRemittance(rec_id, day, data[rec_id])

    def finding_decisions(self, keys: Iterable[str]) -> dict[str, FindingDecision]:
        """The decision stored for each finding key that the ledger has."""
        keys = list(dict.fromkeys(keys))
        out: dict[str, FindingDecision] = {}
        with self.session() as s:  # type: ignore[attr-defined]
            for first in range(0, len(keys), _CHUNK):
                for key, *decision in s.execute(
                        select(FindingRecord.key, FindingRecord.is_denial,
                               FindingRecord.category, FindingRecord.owner,
                               FindingRecord.action)
                        .where(FindingRecord.key.in_(keys[first:first + _CHUNK]))):
                    out[key] = FindingDecision(bool(decision[0]), *decision[1:])
        return out

    def appeal_decisions(self) -> list[AppealDecision]:
        """Every decided appeal, once per appeal and level (see :class:`AppealDecision`), sorted
        by decision day."""
        with self.session() as s:  # type: ignore[attr-defined]
            records = s.scalars(select(AppealRecord)).all()
            rows = s.scalars(select(StatusCheckRecord)
                             .where(StatusCheckRecord.kind == "appeal",
                                    StatusCheckRecord.final.is_(True))
                             .order_by(StatusCheckRecord.checked_on, StatusCheckRecord.id)).all()
        recorded = {(r.payer_id, r.payer_claim_id) for r in records}
        out = [AppealDecision(r.payer, r.payer_id, r.payer_claim_id, r.outcome, r.decided_on,
                              r.level, tuple(r.category_list), r.recovered)
               for r in records if r.status == "decided" and r.decided_on is not None]
        first: dict[tuple[str, str], StatusCheckRecord] = {}
        for r in rows:
            if (r.payer_id, r.payer_claim_id) not in recorded:
                first.setdefault((r.payer, r.payer_claim_id), r)
        categories = self._appeal_categories({(r.payer_id, r.payer_claim_id)
                                              for r in first.values()})
        out += [AppealDecision(r.payer, r.payer_id, r.payer_claim_id, r.status,
                               r.status_date or r.checked_on,
                               categories=categories.get((r.payer_id, r.payer_claim_id), ()),
                               source="status check") for r in first.values()]
        return sorted(out, key=lambda a: (a.decided_on, a.payer, a.payer_claim_id, a.level))

    def _appeal_categories(self, claims: set[tuple[str, str]]) -> dict[tuple[str, str],
                                                                       tuple[str, ...]]:
        """The categories of each claim's appeal findings (denials with action "appeal")."""
        found: dict[tuple[str, str], set[str]] = {}
        ids = sorted({claim for _, claim in claims})
        with self.session() as s:  # type: ignore[attr-defined]
            for first in range(0, len(ids), _CHUNK):
                for payer_id, claim, category in s.execute(
                        select(FindingRecord.payer_id, FindingRecord.payer_claim_id,
                               FindingRecord.category)
                        .where(FindingRecord.payer_claim_id.in_(ids[first:first + _CHUNK]),
                               FindingRecord.is_denial.is_(True),
                               FindingRecord.action == "appeal")):
                    if (payer_id, claim) in claims:
                        found.setdefault((payer_id, claim), set()).add(category)
        return {k: tuple(sorted(v)) for k, v in found.items()}
