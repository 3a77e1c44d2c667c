"""Checks of a parsed 835 transaction set as a whole: its SE trailer, and the balancing of its
claims and remittance, each problem carrying the segment it concerns."""

from __future__ import annotations

from decimal import Decimal

from ..balancing import check_claim, check_remittance
from ..limits import (CARC_MAX, GROUP_CODE_MAX, PATIENT_ACCOUNT_MAX, PAYER_CLAIM_ID_MAX,
                      PROCEDURE_MAX, PROVIDER_NAME_MAX, PROVIDER_NPI_MAX)
from ..models import ZERO, Claim, Problem, Remittance
from .x12_segments import Segment, parse_int


def trailer_problems(st: Segment, se: Segment | None, count: int) -> list[Problem]:
    """SE01 must count the ``count`` segments from ST to SE; SE02 must repeat ST02."""
    if se is None:
        return []
    found = []
    if parse_int(se.get(1)) != count:
        found.append(Problem(
            "x12-se-count", f"segment {se.index}: SE01 says {se.get(1)!r} segments but the "
            f"transaction set has {count} (ST to SE): segments may be missing or extra",
            segment=se.index))
    if se.get(2) != st.get(2):
        found.append(Problem(
            "x12-control-number", f"segment {se.index}: SE02 {se.get(2)!r} does not match "
            f"ST02 {st.get(2)!r}", segment=se.index))
    return found


def claim_problems(build) -> list[Problem]:
    """The balancing problems of one finished claim (``build``: the parser's claim build, with
    the segments of the CLP and of its SVCs), each with the segment concerned."""
    found = check_claim(build.claim)
    for problem in found:
        if problem.line is not None and problem.line <= len(build.lines):
            problem.segment = build.lines[problem.line - 1].segment
        else:
            problem.segment = build.segment
    return found


def payment_problems(remit: Remittance, claims_paid: Decimal,
                     bpr_segment: int | None) -> list[Problem]:
    """The remittance's own balancing (payment = claims paid - provider adjustments), from the
    sum of its claims' payments (the claims themselves may have been handed on already)."""
    # one stand-in claim carrying the sum: check_remittance's own arithmetic and message
    stand_in = Remittance(remit.format, remit.payer, remit.payee, remit.payment,
                          claims=[Claim("", "", "", ZERO, claims_paid)],
                          provider_adjustments=remit.provider_adjustments)
    found = [p for p in check_remittance(stand_in) if p.claim is None]
    for problem in found:
        problem.segment = bpr_segment
    return found


def may_not_fit(claim: Claim) -> bool:
    """Whether any value of ``claim`` that :func:`claimwright.limits.fit_to_storage` bounds is
    over its limit (a quick look, so the safety net costs next to nothing on a clean claim)."""
    provider = claim.rendering_provider
    return (len(claim.patient_account) > PATIENT_ACCOUNT_MAX
            or len(claim.payer_claim_id) > PAYER_CLAIM_ID_MAX
            or len(provider.id) > PROVIDER_NPI_MAX or len(provider.name) > PROVIDER_NAME_MAX
            or any(len(line.procedure) > PROCEDURE_MAX for line in claim.lines)
            or any(len(a.group) > GROUP_CODE_MAX or len(a.carc) > CARC_MAX
                   for adjustments in (claim.adjustments, *(ln.adjustments for ln in claim.lines))
                   for a in adjustments))

