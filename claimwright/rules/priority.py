"""Priority: one 0-100 score so worklists and packets start with what matters most.

    priority = W_d x D + W_r x R + W_u x U          (weights from rules.yaml, adding up to 100)

D, dollars at stake, log-scaled so a $5,000 denial outranks a $50 one without drowning
everything else:  D = min(1, ln(1 + amount) / ln(1 + full_scale)).

R, recovery likelihood: the share of denials of the decision's category usually recovered
(``priority.recovery_likelihood`` in rules.yaml), or the value learned from the practice's own
appeal outcomes for the denial's payer and category when enough were decided
(:mod:`claimwright.appeals.learning`; passed in as ``likelihood``). Past the payer's deadline
(appeal_due before ``as_of``) R is multiplied by ``overdue_recovery_factor``: a late appeal is
usually dismissed, so an overdue item still scores full urgency but ranks below an equally large
item that can still be won.

U, urgency from the days left to the internal target (80% of the window):
U = 1 when the target is today or passed, 0 when it is ``urgency_horizon_days`` or more away, linear
in between. Unknown due date (no denial date): U = 0.5.

Non-denials score 0. The result is a Decimal with one decimal place.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal

from .findings import Finding

ONE = Decimal(1)
TENTH = Decimal("0.1")


def dollars_component(amount: Decimal, full_scale: Decimal) -> Decimal:
    if amount <= 0:
        return Decimal(0)
    ratio = math.log1p(float(amount)) / math.log1p(float(full_scale))  # a ratio, not money
    return min(ONE, Decimal(str(round(ratio, 6))))


def urgency_component(target: dt.date | None, as_of: dt.date, horizon_days: int) -> Decimal:
    if target is None:
        return Decimal("0.5")
    days_left = (target - as_of).days
    if days_left <= 0:
        return ONE
    if days_left >= horizon_days:
        return Decimal(0)
    return ONE - Decimal(days_left) / Decimal(horizon_days)


def table_likelihood(category: str, config) -> Decimal:
    """The table's recovery likelihood of ``category`` (``unknown``'s for a category not in it)."""
    return config.recovery_likelihood.get(category, config.recovery_likelihood.get(
        "unknown", Decimal("0.5")))


def score_parts(amount: Decimal, category: str, target: dt.date | None, due: dt.date | None,
                config, *, as_of: dt.date, likelihood: Decimal | None = None
                ) -> dict[str, Decimal]:
    d = dollars_component(amount, config.dollars_full_scale)
    r = table_likelihood(category, config) if likelihood is None else likelihood
    if due is not None and due < as_of:
        r = r * config.overdue_recovery_factor
    u = urgency_component(target, as_of, config.urgency_horizon_days)
    w = config.weights
    return {"dollars": w["dollars"] * d, "recovery": w["recovery"] * r,
            "urgency": w["urgency"] * u}


def score(finding: Finding, config, *, as_of: dt.date) -> Decimal:
    """The finding's priority, 0-100 (0 for non-denials)."""
    if not finding.decision.is_denial:
        return Decimal(0)
    return score_denial(finding.adjustment.amount, finding.decision.category,
                        finding.internal_target, finding.appeal_due, config, as_of=as_of)


def score_denial(amount: Decimal, category: str, target: dt.date | None, due: dt.date | None,
                 config, *, as_of: dt.date, likelihood: Decimal | None = None) -> Decimal:
    """A denial's priority, 0-100, from what the ledger keeps of it (priority changes with
    ``as_of``: it is recomputed every run, never kept from the day the denial was found).
    ``likelihood``: the recovery likelihood to use instead of the table's (a learned one)."""
    total = sum(score_parts(amount, category, target, due, config, as_of=as_of,
                            likelihood=likelihood).values(), Decimal(0))
    return max(Decimal(0), min(Decimal(100), total)).quantize(TENTH, rounding=ROUND_HALF_UP)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Highest priority first; ties by earliest due date, then by the finding's stable key."""
    return sorted(findings, key=lambda f: (-f.priority, f.appeal_due or dt.date.max, f.key))
