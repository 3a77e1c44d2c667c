"""Balancing: the parser's self-checks (see docs/ and shared domain notes).

- line:       billed - sum(line adjustments) = line paid
- claim:      billed - sum(claim and line adjustments) = claim paid
- remittance: payment amount = sum(claim paid) - sum(provider-level adjustments)
- reversal:   a claim with status 22 (reversal of a previous payment) carries the original's
              amounts negated: a positive charge or payment, on the claim or a line, is a
              ``reversal-sign`` problem even when the arithmetic adds up

Every mismatch becomes a :class:`~claimwright.models.Problem`; nothing is ever silently accepted.
"""

from __future__ import annotations

from .models import ZERO, Claim, Problem, Remittance

REVERSAL = "22"  # CLP02: reversal of a previous payment
#: every problem code of this module (what a correction recomputes)
BALANCING_CODES = frozenset({"line-unbalanced", "claim-unbalanced", "claim-lines-mismatch",
                             "remittance-unbalanced", "reversal-sign"})


def check_claim(claim: Claim, page: int | None = None) -> list[Problem]:
    problems: list[Problem] = []
    where = page if page is not None else (claim.pages[0] if claim.pages else None)
    for number, line in enumerate(claim.lines, start=1):
        expected = line.billed - line.adjusted
        if expected != line.paid:
            problems.append(Problem(
                "line-unbalanced",
                f"claim {claim.patient_account} line {number} ({line.procedure}): billed "
                f"{line.billed} - adjustments {line.adjusted} = {expected}, but paid {line.paid}",
                page=where, claim=claim.patient_account, line=number,
                expected=expected, actual=line.paid))
    adjusted = sum((a.amount for a in claim.all_adjustments), ZERO)
    expected = claim.billed - adjusted
    if expected != claim.paid:
        problems.append(Problem(
            "claim-unbalanced",
            f"claim {claim.patient_account}: billed {claim.billed} - adjustments {adjusted} = "
            f"{expected}, but paid {claim.paid}",
            page=where, claim=claim.patient_account, expected=expected, actual=claim.paid))
    if claim.lines:
        line_billed = sum((ln.billed for ln in claim.lines), ZERO)
        if line_billed != claim.billed:
            problems.append(Problem(
                "claim-lines-mismatch",
                f"claim {claim.patient_account}: lines bill {line_billed} but the claim bills "
                f"{claim.billed}",
                page=where, claim=claim.patient_account, expected=claim.billed, actual=line_billed))
    problems.extend(reversal_problems(claim, where))
    return problems


def reversal_problems(claim: Claim, page: int | None = None) -> list[Problem]:
    """A reversal (status 22) whose charge or payment is positive: the sign is wrong."""
    if claim.status_code != REVERSAL:
        return []
    amounts = [("charge", None, claim.billed), ("payment", None, claim.paid)]
    for number, line in enumerate(claim.lines, start=1):
        amounts += [("charge", number, line.billed), ("payment", number, line.paid)]
    problems = []
    for what, number, amount in amounts:
        if amount > ZERO:
            where = f" line {number}" if number else ""
            problems.append(Problem(
                "reversal-sign", f"claim {claim.patient_account}{where}: a reversal (status 22) "
                f"must carry the negated {what}, but it is {amount}", page=page,
                claim=claim.patient_account, line=number, actual=amount))
    return problems


def check_remittance(remit: Remittance) -> list[Problem]:
    """All balancing problems of a remittance (does not modify it)."""
    problems: list[Problem] = []
    for claim in remit.claims:
        problems.extend(check_claim(claim))
    claims_paid = sum((c.paid for c in remit.claims), ZERO)
    provider = sum((p.amount for p in remit.provider_adjustments), ZERO)
    expected = claims_paid - provider
    if expected != remit.payment.amount:
        problems.append(Problem(
            "remittance-unbalanced",
            f"claims paid {claims_paid} - provider adjustments {provider} = {expected}, but the "
            f"payment is {remit.payment.amount}",
            expected=expected, actual=remit.payment.amount))
    return problems


def balance(remit: Remittance) -> Remittance:
    """Append the balancing problems to ``remit.problems`` and return it."""
    remit.problems.extend(check_remittance(remit))
    return remit
