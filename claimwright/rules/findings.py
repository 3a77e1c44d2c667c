"""Denial findings: every adjustment of a remittance with the decision the rules made about it.

The data shapes only; ``claimwright.rules.engine.categorize_remittance`` makes them (code tables,
rules.yaml, deadlines, priority). ``Finding.to_row()`` is the flat form the ledger stores,
``Finding.to_json()`` the same keys as JSON text (what ``claimwright categorize --json`` prints).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..models import Adjustment, Claim, ServiceLine, fmt_date


@dataclass
class Decision:
    is_denial: bool
    category: str  # e.g. "coding/bundling", "medical necessity", ..., "unknown"
    owner: str  # "coding", "registration", "clinical documentation", "billing", "payer"
    action: str  # "appeal", "corrected claim", "new claim", "records response", ...
    appealable: str  # "yes" | "no" | "conditional"
    condition: str = ""  # when appealable == "conditional": the condition
    rule_id: str = ""  # id of the rule in rules.yaml that made this decision
    known: bool = True  # False when a group/CARC/RARC is not in the code tables
    unknown_codes: list[str] = field(default_factory=list)
    why: str = ""  # the rule's one-sentence explanation
    overrides: list[str] = field(default_factory=list)  # ids of overrides applied after rule_id
    retired_codes: list[str] = field(default_factory=list)  # known codes not valid on that date


def finding_key(payer_id: str, payer_claim_id: str, line_number: int | None,
                adjustment: Adjustment) -> str:
    """``payer id:payer claim #:line (0 = claim level):group-CARC``, the ledger's finding key."""
    return f"{payer_id}:{payer_claim_id}:{line_number or 0}:{adjustment.group}-{adjustment.carc}"


@dataclass
class Finding:
    """One adjustment (claim- or line-level) of one claim, with its decision."""

    payer_id: str
    payer_name: str
    claim: Claim
    line_number: int | None  # 1-based service line; None for a claim-level adjustment
    line: ServiceLine | None
    adjustment: Adjustment
    remarks: list[str]  # RARCs that apply (line remarks first, then claim remarks)
    decision: Decision
    carc_meaning: str = ""
    rarc_meanings: dict[str, str] = field(default_factory=dict)
    denial_date: dt.date | None = None  # the remittance's payment date
    appeal_due: dt.date | None = None
    internal_target: dt.date | None = None  # 80% of the appeal window
    priority: Decimal = Decimal(0)  # 0-100, higher first
    prioritized_on: dt.date | None = None  # the day ``priority`` was computed for
    deadline_basis: str = ""  # which window produced appeal_due (payer, level, days, source)

    @property
    def key(self) -> str:
        """Stable identity of this finding across reruns."""
        return finding_key(self.payer_id, self.claim.payer_claim_id, self.line_number,
                           self.adjustment)

    def to_row(self) -> dict[str, Any]:
        """The finding's one flat form, typed (Decimal, date): exactly the ledger's columns
        (``storage.FindingRecord``), so ``FindingRecord(**finding.to_row())`` stores it."""
        d = self.decision
        return {
            "key": self.key, "payer_id": self.payer_id,
            "payer_claim_id": self.claim.payer_claim_id,
            "patient_account": self.claim.patient_account, "line_number": self.line_number,
            "procedure": self.line.procedure if self.line else "",
            "modifiers": list(self.line.modifiers) if self.line else [],
            "provider_npi": self.claim.rendering_provider.id,
            "provider_name": self.claim.rendering_provider.name,
            "billed": self.line.billed if self.line else self.claim.billed,
            "denial_date": self.denial_date,
            "group_code": self.adjustment.group, "carc": self.adjustment.carc,
            "rarcs": list(self.remarks), "amount": self.adjustment.amount,
            "is_denial": d.is_denial, "category": d.category, "owner": d.owner,
            "action": d.action, "appealable": d.appealable, "rule_id": d.rule_id,
            "appeal_due": self.appeal_due, "internal_target": self.internal_target,
            "priority": self.priority, "prioritized_on": self.prioritized_on,
        }

    def to_json(self) -> dict[str, Any]:
        """:meth:`to_row` as JSON text values (money "12.00", dates ISO), plus the explanation
        the ledger does not keep (condition, overrides, unknown and retired codes, denial date,
        internal target, deadline basis). Same keys, same meaning: one form, two encodings."""
        d = self.decision
        row = {k: _json_value(v) for k, v in self.to_row().items()}
        return {**row, "condition": d.condition, "overrides": list(d.overrides),
                "known": d.known, "unknown_codes": list(d.unknown_codes),
                "retired_codes": list(d.retired_codes),
                "denial_date": fmt_date(self.denial_date),
                "deadline_basis": self.deadline_basis}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
