"""The ledger's side of the appeal's life (``appeals`` table): one record per appeal and level.

    prepared ──record_sent──▶ sent ──record_decision──▶ decided (overturned / upheld / partial)
        └───────────────record_decision───────────────────▲

- :meth:`AppealLedger.prepare_appeal` is the packet stage's call: it inserts the record, or
  refreshes the packet fields of a known one (path, inputs hash, completeness, missing
  documents, categories, denied amount, due date). It never touches the status.
- :meth:`~AppealLedger.record_sent` (the team, ``claimwright appeals sent``, or the status check
  when the portal shows an appeal nobody recorded) and :meth:`~AppealLedger.record_decision`
  (the status check, or ``claimwright appeals decided``) move the status forward, never back: a
  decided appeal stays decided. The same values twice change nothing (``updated_at`` included).
- :meth:`~AppealLedger.propose_next_level`: an upheld appeal's next level, a new "prepared"
  record with no packet yet (the packet stage builds it) and its own due date
  (:mod:`claimwright.appeals.levels`).

Unknown keys raise :class:`UnknownAppeal` (a ``KeyError``); a value or transition an appeal
cannot take raises :class:`AppealUpdateError` (a ``ValueError``). Both read as one sentence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select

from .conflicts import retry_on_conflict
from .records import AppealRecord, RemittanceRecord, utcnow

STATUSES = ("prepared", "sent", "decided")
OPEN_STATUSES = ("prepared", "sent")
OUTCOMES = ("overturned", "upheld", "partial")
CHANNELS = ("portal", "fax", "mail")
CENT = Decimal("0.01")


class UnknownAppeal(KeyError):
    """No appeal with that key in the ledger."""

    def __str__(self) -> str:
        return str(self.args[0])


class AppealUpdateError(ValueError):
    """A value or a transition the appeal cannot take."""


def appeal_key(payer_id: str, payer_claim_id: str, level: int) -> str:
    """``<payer id>:<payer claim id>:L<level>``, the record's natural key."""
    return f"{payer_id}:{payer_claim_id}:L{level}"


def _money(value: Any, what: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise AppealUpdateError(f"{what} must be a Decimal or decimal text, not {value!r}")
    try:
        amount = Decimal(str(value).strip().replace(",", "").removeprefix("$"))
    except (InvalidOperation, ValueError):
        raise AppealUpdateError(f"{what} is not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise AppealUpdateError(f"{what} must be an amount of 0 or more, not {value!r}")
    return amount.quantize(CENT)


def _day(value: Any, what: str, *, optional: bool = False) -> dt.date | None:
    if value is None and optional:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise AppealUpdateError(f"{what} must be a date, not {value!r}")
    return value


def _categories(value: str | Iterable[str]) -> str:
    parts = value.split(";") if isinstance(value, str) else list(value)
    return "; ".join(sorted({str(p).strip() for p in parts if str(p).strip()}))


def _assign(rec: AppealRecord, values: dict[str, Any]) -> bool:
    """Set the fields that differ; True (and ``updated_at`` now) when any did."""
    changed = False
    for name, value in values.items():
        if getattr(rec, name) != value:
            setattr(rec, name, value)
            changed = True
    if changed:
        rec.updated_at = utcnow()
    return changed


class AppealLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for appeals (see the module doc)."""

    def _appeal_for_update(self, s, key: str) -> AppealRecord:
        rec = s.scalar(select(AppealRecord).where(AppealRecord.key == key))
        if rec is None:
            raise UnknownAppeal(f"no appeal {key!r} in the ledger (keys are "
                                "<payer id>:<payer claim id>:L<level>)")
        return rec

    @retry_on_conflict
    def prepare_appeal(self, *, payer: str, payer_id: str, payer_claim_id: str,
                       patient_account: str, level: int, categories: str | Iterable[str],
                       denied_amount: Decimal, denial_date: dt.date | None,
                       appeal_due: dt.date | None, packet_path: str, inputs_hash: str,
                       complete: bool, missing: Iterable[str], prepared_on: dt.date,
                       previous_key: str = "") -> AppealRecord:
        """Record the appeal's packet: a new record "prepared", or the packet fields of a known
        one refreshed (its status, dates sent and decided stay). Idempotent."""
        if not isinstance(level, int) or isinstance(level, bool) or level < 1:
            raise AppealUpdateError(f"level must be a whole number from 1, not {level!r}")
        if not str(payer_id).strip() or not str(payer_claim_id).strip():
            raise AppealUpdateError("an appeal needs its payer id and payer claim id")
        packet = {"packet_path": str(packet_path or ""), "inputs_hash": str(inputs_hash or ""),
                  "complete": bool(complete), "missing": list(dict.fromkeys(missing or ())),
                  "categories": _categories(categories),
                  "denied_amount": _money(denied_amount, "denied_amount"),
                  "appeal_due": _day(appeal_due, "appeal_due", optional=True)}
        _day(denial_date, "denial_date", optional=True)
        _day(prepared_on, "prepared_on")
        key = appeal_key(payer_id, payer_claim_id, level)
        with self.session() as s:  # type: ignore[attr-defined]
            rec = s.scalar(select(AppealRecord).where(AppealRecord.key == key))
            if rec is None:
                rec = AppealRecord(key=key, payer=payer, payer_id=payer_id,
                                   payer_claim_id=payer_claim_id,
                                   patient_account=patient_account or "", level=level,
                                   status="prepared", outcome="", denial_date=denial_date,
                                   prepared_on=prepared_on, channel="", sent_by="",
                                   previous_key=previous_key or "", updated_at=utcnow(),
                                   **packet)
                s.add(rec)
                s.flush()
                return rec
            if previous_key and not rec.previous_key:
                packet["previous_key"] = previous_key
            _assign(rec, packet)
            return rec

    def appeal(self, key: str) -> AppealRecord | None:
        with self.session() as s:  # type: ignore[attr-defined]
            return s.scalar(select(AppealRecord).where(AppealRecord.key == key))

    def appeals(self, *, payer: str | None = None, status: str | None = None,
                level: int | None = None) -> list[AppealRecord]:
        """Appeal records, sorted by key; ``payer`` is the portal payer."""
        q = select(AppealRecord).order_by(AppealRecord.key)
        if payer is not None:
            q = q.where(AppealRecord.payer == payer)
        if status is not None:
            q = q.where(AppealRecord.status == status)
        if level is not None:
            q = q.where(AppealRecord.level == level)
        with self.session() as s:  # type: ignore[attr-defined]
            return list(s.scalars(q))

    def claim_appeals(self, payer_claim_id: str, *, payer_id: str | None = None,
                      level: int | None = None) -> list[AppealRecord]:
        """The appeals of one payer claim number (every payer and level unless narrowed)."""
        q = select(AppealRecord).where(AppealRecord.payer_claim_id == payer_claim_id)
        if payer_id is not None:
            q = q.where(AppealRecord.payer_id == payer_id)
        if level is not None:
            q = q.where(AppealRecord.level == level)
        with self.session() as s:  # type: ignore[attr-defined]
            return list(s.scalars(q.order_by(AppealRecord.key)))

    def open_appeals(self, payer: str) -> list[AppealRecord]:
        """Appeals of portal ``payer`` not decided yet: the highest open level of each claim."""
        best: dict[tuple[str, str], AppealRecord] = {}
        for rec in self.appeals(payer=payer):
            if rec.status in OPEN_STATUSES:
                known = best.get((rec.payer_id, rec.payer_claim_id))
                if known is None or rec.level > known.level:
                    best[(rec.payer_id, rec.payer_claim_id)] = rec
        return sorted(best.values(), key=lambda r: r.key)

    def record_sent(self, key: str, *, sent_on: dt.date, channel: str, by: str = "") -> bool:
        """Record when and how the appeal was sent; True if it changed anything. A decided
        appeal stays decided (its sent date and channel may still be filled in or corrected);
        ``by`` empty keeps who was recorded before."""
        if channel not in CHANNELS:
            raise AppealUpdateError(f"channel must be one of {', '.join(CHANNELS)}, "
                                    f"not {channel!r}")
        _day(sent_on, "sent_on")
        with self.session() as s:  # type: ignore[attr-defined]
            rec = self._appeal_for_update(s, key)
            if rec.decided_on is not None and sent_on > rec.decided_on:
                raise AppealUpdateError(f"{key} was decided on {rec.decided_on}: it cannot have "
                                        f"been sent after that ({sent_on})")
            if rec.denial_date is not None and sent_on < rec.denial_date:
                raise AppealUpdateError(f"{key} was denied on {rec.denial_date}: it cannot have "
                                        f"been sent before that ({sent_on})")
            values: dict[str, Any] = {"sent_on": sent_on, "channel": channel,
                                      "status": "decided" if rec.status == "decided" else "sent"}
            if by.strip():
                values["sent_by"] = by.strip()[:128]
            return _assign(rec, values)

    def record_decision(self, key: str, *, outcome: str, decided_on: dt.date,
                        recovered: Decimal | None = None) -> AppealRecord:
        """Record the payer's decision. Recovered: overturned, the denied amount unless given
        (at most the denied amount); upheld, 0; partial, required, above 0 and below the denied
        amount. The same values twice change nothing; other values correct the decision."""
        if outcome not in OUTCOMES:
            raise AppealUpdateError(f"outcome must be one of {', '.join(OUTCOMES)}, "
                                    f"not {outcome!r}")
        _day(decided_on, "decided_on")
        with self.session() as s:  # type: ignore[attr-defined]
            rec = self._appeal_for_update(s, key)
            if rec.sent_on is not None and decided_on < rec.sent_on:
                raise AppealUpdateError(f"{key} was sent on {rec.sent_on}: it cannot have been "
                                        f"decided before that ({decided_on})")
            denied = rec.denied_amount
            amount = None if recovered is None else _money(recovered, "recovered")
            if outcome == "overturned":
                amount = denied if amount is None else amount
                if amount > denied:
                    raise AppealUpdateError(f"recovered {amount} is more than the denied "
                                            f"{denied} of {key}")
            elif outcome == "upheld":
                if amount:
                    raise AppealUpdateError(f"an upheld appeal recovers nothing, not {amount}")
                amount = Decimal("0.00")
            elif amount is None:
                raise AppealUpdateError(f"a partial decision needs the amount recovered "
                                        f"(above 0 and below the denied {denied})")
            elif not Decimal(0) < amount < denied:
                raise AppealUpdateError(f"a partial decision recovers more than 0 and less "
                                        f"than the denied {denied} of {key}, not {amount}")
            _assign(rec, {"status": "decided", "outcome": outcome, "decided_on": decided_on,
                          "recovered": amount})
            return rec

    @retry_on_conflict
    def propose_next_level(self, key: str, *, on: dt.date) -> AppealRecord | None:
        """The next level of an upheld appeal: created "prepared" without a packet (the packet
        stage builds it) with its own due date, or the one proposed before; None when the payer
        has no further level Claimwright follows."""
        from ..appeals.levels import MAX_LEVEL, next_level_due

        _day(on, "on")
        with self.session() as s:  # type: ignore[attr-defined]
            rec = self._appeal_for_update(s, key)
            if rec.status != "decided" or rec.outcome != "upheld":
                raise AppealUpdateError(f"{key} is {rec.outcome or rec.status}: only an upheld "
                                        "appeal has a next level")
            next_key = appeal_key(rec.payer_id, rec.payer_claim_id, rec.level + 1)
            known = s.scalar(select(AppealRecord).where(AppealRecord.key == next_key))
            if known is not None:
                return known
            if rec.level >= MAX_LEVEL:
                return None
            due = next_level_due(rec.payer_id, self._payer_name(s, rec.payer_id), rec.level,
                                 rec.decided_on)
            if due is None:
                return None
            new = AppealRecord(
                key=next_key, payer=rec.payer, payer_id=rec.payer_id,
                payer_claim_id=rec.payer_claim_id, patient_account=rec.patient_account,
                level=rec.level + 1, status="prepared", outcome="", categories=rec.categories,
                denied_amount=rec.denied_amount, denial_date=rec.denial_date, appeal_due=due,
                prepared_on=on, channel="", packet_path="", inputs_hash="", complete=False,
                missing=[], previous_key=key, sent_by="", updated_at=utcnow())
            s.add(new)
            s.flush()
            return new

    def payer_name(self, payer_id: str) -> str:
        """The payer's name on its latest stored remittance ("" if none): deadlines entries
        match by name too (e.g. ``*MEDICARE*``)."""
        with self.session() as s:  # type: ignore[attr-defined]
            return self._payer_name(s, payer_id)

    @staticmethod
    def _payer_name(s, payer_id: str) -> str:
        data = s.scalar(select(RemittanceRecord.data).where(RemittanceRecord.payer_id == payer_id)
                        .order_by(RemittanceRecord.id.desc()).limit(1))
        return str(((data or {}).get("payer") or {}).get("name") or "")
