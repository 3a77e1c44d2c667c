"""Denial findings: every adjustment of a remittance with the decision the rules made about it.

The data shapes live here; the logic (code tables, rules.yaml, deadlines, priority) lives in
``claimwright.codes`` and ``claimwright.rules``; ``categorize_remittance`` ties them together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from .models import Adjustment, Claim, Remittance, ServiceLine


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
    deadline_basis: str = ""  # which window produced appeal_due (payer, level, days, source)

    @property
    def key(self) -> str:
        """Stable identity of this finding across reruns."""
        return (f"{self.payer_id}:{self.claim.payer_claim_id}:{self.line_number or 0}:"
                f"{self.adjustment.group}-{self.adjustment.carc}")


def categorize_remittance(remit: Remittance, *, as_of: dt.date | None = None) -> list[Finding]:
    """Every adjustment of ``remit`` with its decision, due dates and priority."""
    from .rules.engine import categorize_remittance as _categorize

    return _categorize(remit, as_of=as_of)
