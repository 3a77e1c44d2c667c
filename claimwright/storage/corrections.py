"""The ledger's side of corrections (``corrections``): recorded once, never changed or deleted.

See :mod:`claimwright.corrections` for what a correction may change and how it is applied.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from .records import CorrectionRecord, RemittanceRecord, utcnow


class CorrectionLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for corrections."""

    def remittance_record(self, remittance_record_id: int) -> RemittanceRecord | None:
        with self.session() as s:  # type: ignore[attr-defined]
            return s.get(RemittanceRecord, remittance_record_id)

    def add_correction(self, *, remittance_id: int, patient_account: str, payer_claim_id: str,
                       line: int | None, changes: dict[str, str], original: dict[str, str],
                       actor: str, why: str, item_id: int | None = None,
                       at: dt.datetime | None = None) -> CorrectionRecord:
        with self.session() as s:  # type: ignore[attr-defined]
            remittance = s.get(RemittanceRecord, remittance_id)
            if remittance is None:
                raise KeyError(f"no remittance {remittance_id} in the ledger")
            rec = CorrectionRecord(remittance_id=remittance_id,
                                   document_id=remittance.document_id, item_id=item_id,
                                   patient_account=patient_account,
                                   payer_claim_id=payer_claim_id, line=line,
                                   changes=dict(changes), original=dict(original), actor=actor,
                                   at=at or utcnow(), why=why)
            s.add(rec)
            s.flush()
            return rec

    def corrections(self, *, document_id: int | None = None,
                    remittance_id: int | None = None) -> list[CorrectionRecord]:
        """Corrections (of one document or one remittance), in the order they were made."""
        with self.session() as s:  # type: ignore[attr-defined]
            q = select(CorrectionRecord).order_by(CorrectionRecord.id)
            if document_id is not None:
                q = q.where(CorrectionRecord.document_id == document_id)
            if remittance_id is not None:
                q = q.where(CorrectionRecord.remittance_id == remittance_id)
            return list(s.scalars(q))
