"""Two renditions of one remittance — the 835 file and the PDF — checked against each other.

Some portals (Medicare contractors) offer both. The 835 is the record the pipeline works from: it
is exact, machine-written and has no layout to misread. The PDF is what a person and an appeal
packet show. :func:`reconcile` compares the two claim by claim (status, rendering provider) and
money field by money field; every difference is a ``Problem`` (code ``renditions-disagree``), so
the pipeline opens a review item instead of trusting either silently. Where they agree, each 835
claim takes the PDF pages that show it, for the packet.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from .models import Claim, Problem, Remittance

CODE = "renditions-disagree"


def _claims(remits: Iterable[Remittance]) -> dict[str, list[Claim]]:
    out: dict[str, list[Claim]] = {}
    for remit in remits:
        for claim in remit.claims:
            out.setdefault(claim.payer_claim_id, []).append(claim)
    return out


def _totals(remits: Iterable[Remittance]) -> tuple[Decimal, int]:
    remits = list(remits)
    return sum((r.payment.amount for r in remits), Decimal(0)), sum(len(r.claims) for r in remits)


def _money_fields(claim: Claim) -> dict[str, Decimal]:
    fields = {"billed": claim.billed, "paid": claim.paid,
              "patient responsibility": claim.patient_responsibility}
    fields["adjustments"] = sum((a.amount for a in claim.adjustments), Decimal(0)) + sum(
        (a.amount for line in claim.lines for a in line.adjustments), Decimal(0))
    return fields


def _provider_fields(ours: Claim, theirs: Claim) -> list[tuple[str, str, str]]:
    """The rendering provider's NPI and name where both renditions print one and they differ
    (names compared without case and spacing; a PDF that prints no name, as the SPR, says less
    but does not disagree)."""
    out = []
    a, b = ours.rendering_provider, theirs.rendering_provider
    if a.id and b.id and a.id != b.id:
        out.append(("NPI", a.id, b.id))
    if a.name and b.name and " ".join(a.name.upper().split()) != " ".join(b.name.upper().split()):
        out.append(("name", a.name, b.name))
    return out


def reconcile(record: list[Remittance], pdf: list[Remittance]) -> list[Problem]:
    """Compare the 835 ``record`` with the ``pdf`` parse of the same remittance.

    Returns the disagreements (empty when they agree) plus the PDF's own problems (prefixed
    "PDF copy:"), and, as a side effect, copies the PDF's ``pages`` onto the matching 835 claims.
    """
    problems: list[Problem] = []
    paid_record, count_record = _totals(record)
    paid_pdf, count_pdf = _totals(pdf)
    if paid_record != paid_pdf:
        problems.append(Problem(CODE, f"payment amount: 835 says {paid_record}, PDF says "
                                      f"{paid_pdf}", expected=paid_record, actual=paid_pdf))
    if count_record != count_pdf:
        problems.append(Problem(CODE, f"claim count: 835 has {count_record}, PDF shows "
                                      f"{count_pdf}"))
    on_pdf = _claims(pdf)
    for claim_id, claims in _claims(record).items():
        shown = on_pdf.pop(claim_id, [])
        if len(shown) != len(claims):
            problems.append(Problem(CODE, f"claim {claim_id}: {len(claims)} in the 835, "
                                          f"{len(shown)} on the PDF", claim=claims[0].patient_account))
            continue
        for ours, theirs in zip(claims, shown):
            if ours.status_code != theirs.status_code:
                problems.append(Problem(CODE, f"claim {claim_id}: status {ours.status_code} in "
                                              f"the 835, {theirs.status_code} on the PDF",
                                        claim=ours.patient_account, page=_first(theirs.pages)))
            for what, mine, shown in _provider_fields(ours, theirs):
                problems.append(Problem(CODE, f"claim {claim_id}: rendering provider {what} "
                                              f"{mine!r} in the 835, {shown!r} on the PDF",
                                        claim=ours.patient_account, page=_first(theirs.pages)))
            for name, value in _money_fields(ours).items():
                other = _money_fields(theirs)[name]
                if value != other:
                    problems.append(Problem(CODE, f"claim {claim_id}: {name} {value} in the 835, "
                                                  f"{other} on the PDF", claim=ours.patient_account,
                                            page=_first(theirs.pages), expected=value,
                                            actual=other))
            if len(ours.lines) != len(theirs.lines):
                problems.append(Problem(CODE, f"claim {claim_id}: {len(ours.lines)} service "
                                              f"lines in the 835, {len(theirs.lines)} on the PDF",
                                        claim=ours.patient_account, page=_first(theirs.pages)))
            ours.pages = list(theirs.pages)
    for claim_id, claims in on_pdf.items():
        problems.append(Problem(CODE, f"claim {claim_id} is on the PDF but not in the 835",
                                claim=claims[0].patient_account, page=_first(claims[0].pages)))
    # What the PDF's own checks found (a glossary at odds with the code table, a missing page,
    # an amount that does not add up on paper) matters too: the PDF is what people read.
    for remit in pdf:
        for problem in remit.problems:
            problems.append(Problem(problem.code, f"PDF copy: {problem.message}", page=problem.page,
                                    claim=problem.claim, line=problem.line,
                                    expected=problem.expected, actual=problem.actual))
    return problems


def _first(pages: list[int]) -> int | None:
    return pages[0] if pages else None
