"""Denial rate, by count and by dollars, overall and by reason, payer and procedure.

Definitions (the same ones docs/rules.md gives the users):

- A claim is **denied** when at least one of its adjustments (claim- or line-level) is a denial
  adjustment: the rules decided ``is_denial`` and the amount is above zero. Cost sharing (PR-1/2/3),
  contractual write-downs (CO-45), sequestration (CO-253), prior-payer effects (OA-23),
  capitation (CO-24) and multiple-procedure reductions (CO-59) are not denials.
- **Denial rate by count** = denied claims / claims.
- **Denial rate by dollars** = denied amount / billed amount, where the denied amount is the sum
  of the denial adjustments' amounts and the billed amount is the sum of the claims' billed
  charges.
- Reversals (claim status 22) are left out of both sides: they undo an earlier claim that was
  already counted.
- **By reason** (group-CARC): claims with at least one denial adjustment for that reason / all
  claims; that reason's denied dollars / all billed dollars. A claim denied for two reasons counts
  under both, so the reason rates can add up to more than the overall rate.
- **By payer**: the payer's denied claims / the payer's claims; denied / billed dollars.
- **By procedure**: service lines with that procedure code that carry a denial adjustment / all
  lines with that code; denied dollars on those lines / their billed dollars. Claim-level
  denials are not attributed to a procedure.

Rates are Decimals rounded to 4 places (0.1234 = 12.34%).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Iterable

from .balancing import REVERSAL
from .models import Claim, Remittance
from .rules.findings import Finding

ZERO = Decimal("0.00")
RATE_PLACES = Decimal("0.0001")


def _rate(numerator: Decimal | int, denominator: Decimal | int) -> Decimal:
    if not denominator:
        return Decimal(0).quantize(RATE_PLACES)
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATE_PLACES,
                                                                 rounding=ROUND_HALF_UP)


@dataclass
class Rate:
    key: str
    denied_count: int = 0
    total_count: int = 0
    denied_amount: Decimal = ZERO
    billed_amount: Decimal = ZERO

    @property
    def by_count(self) -> Decimal:
        return _rate(self.denied_count, self.total_count)

    @property
    def by_dollars(self) -> Decimal:
        return _rate(self.denied_amount, self.billed_amount)

    def to_json(self) -> dict:
        return {"key": self.key, "denied_count": self.denied_count,
                "total_count": self.total_count, "rate_by_count": str(self.by_count),
                "denied_amount": str(self.denied_amount),
                "billed_amount": str(self.billed_amount),
                "rate_by_dollars": str(self.by_dollars)}


@dataclass
class DenialRates:
    overall: Rate
    by_reason: dict[str, Rate] = field(default_factory=dict)
    by_payer: dict[str, Rate] = field(default_factory=dict)
    by_procedure: dict[str, Rate] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"overall": self.overall.to_json(),
                "by_reason": [r.to_json() for r in self.by_reason.values()],
                "by_payer": [r.to_json() for r in self.by_payer.values()],
                "by_procedure": [r.to_json() for r in self.by_procedure.values()]}


def is_denial_adjustment(finding: Finding) -> bool:
    return finding.decision.is_denial and finding.adjustment.amount > 0


def denial_rates(remits: Iterable[Remittance], findings: Iterable[Finding] | None = None, *,
                 as_of: dt.date | None = None) -> DenialRates:
    """Denial rates of a batch. ``findings`` defaults to categorizing every remittance."""
    remits = list(remits)
    if findings is None:
        from .rules.engine import categorize_remittance

        findings = [f for r in remits for f in categorize_remittance(r, as_of=as_of)]
    by_claim: dict[int, list[Finding]] = defaultdict(list)
    for f in findings:
        by_claim[id(f.claim)].append(f)

    overall = Rate("all claims")
    reasons: dict[str, Rate] = {}
    payers: dict[str, Rate] = {}
    procedures: dict[str, Rate] = {}
    claims: list[tuple[Remittance, Claim]] = [(r, c) for r in remits for c in r.claims
                                              if c.status_code != REVERSAL]
    for remit, claim in claims:
        denials = [f for f in by_claim.get(id(claim), []) if is_denial_adjustment(f)]
        denied_amount = sum((f.adjustment.amount for f in denials), ZERO)
        payer_key = remit.payer.id or remit.payer.name or "(unknown payer)"
        payer = payers.setdefault(payer_key, Rate(payer_key))
        for rate in (overall, payer):
            rate.total_count += 1
            rate.billed_amount += claim.billed
            if denials:
                rate.denied_count += 1
                rate.denied_amount += denied_amount
        for code in sorted({f.adjustment.code for f in denials}):
            reasons.setdefault(code, Rate(code)).denied_count += 1
        for f in denials:
            reasons[f.adjustment.code].denied_amount += f.adjustment.amount
        for number, line in enumerate(claim.lines, start=1):
            proc = procedures.setdefault(line.procedure, Rate(line.procedure))
            proc.total_count += 1
            proc.billed_amount += line.billed
            line_denials = [f for f in denials if f.line is line]
            if line_denials:
                proc.denied_count += 1
                proc.denied_amount += sum((f.adjustment.amount for f in line_denials), ZERO)
    for rate in reasons.values():
        rate.total_count = overall.total_count
        rate.billed_amount = overall.billed_amount

    def ordered(rates: dict[str, Rate]) -> dict[str, Rate]:
        items = sorted(rates.values(), key=lambda r: (-r.denied_amount, -r.denied_count, r.key))
        return {r.key: r for r in items}

    return DenialRates(overall, ordered(reasons), ordered(payers), ordered(procedures))
