"""The model's own length limits: the ledger's column sizes (``claimwright/storage/records.py``)
for the values a parsed remittance carries into storage.

A value longer than its limit never reaches the database: :func:`fit_to_storage` cuts it and
returns an ``element-too-long`` :class:`~claimwright.models.Problem` (the value is not quoted:
it may be PHI), so the document is unverified and storage never fails. The X12 parser applies
the same limits element by element (``claimwright/parsing/x12_elements.py``); the PDF parser
calls :func:`fit_to_storage` on what it built.
"""

from __future__ import annotations

from .models import Problem, Remittance

PATIENT_ACCOUNT_MAX = 64  # FindingRecord.patient_account String(64)
PAYER_CLAIM_ID_MAX = 64  # FindingRecord.payer_claim_id String(64)
PAYER_ID_MAX = 64  # RemittanceRecord.payer_id, FindingRecord.payer_id String(64)
TRACE_NUMBER_MAX = 64  # RemittanceRecord.trace_number String(64)
PROCEDURE_MAX = 32  # FindingRecord.procedure String(32)
PROVIDER_NPI_MAX = 16  # FindingRecord.provider_npi String(16)
PROVIDER_NAME_MAX = 128  # FindingRecord.provider_name String(128)
GROUP_CODE_MAX = 4  # FindingRecord.group_code String(4)
CARC_MAX = 8  # FindingRecord.carc String(8)


def fit_to_storage(remit: Remittance) -> list[Problem]:
    """Cut every stored value of ``remit`` that is over its limit; one problem per value cut."""
    found: list[Problem] = []

    def fit(owner, attr: str, limit: int, what: str, claim: str | None = None,
            line: int | None = None, page: int | None = None) -> None:
        value = getattr(owner, attr)
        if isinstance(value, str) and len(value) > limit:
            setattr(owner, attr, value[:limit])
            found.append(Problem("element-too-long", f"{what} has {len(value)} characters, more "
                                 f"than the {limit} stored; it was cut to {limit}", page=page,
                                 claim=claim, line=line))

    fit(remit.payer, "id", PAYER_ID_MAX, "the payer id")
    fit(remit.payment, "trace_number", TRACE_NUMBER_MAX, "the payment trace number")
    for claim in remit.claims:
        page = claim.pages[0] if claim.pages else None
        fit(claim, "patient_account", PATIENT_ACCOUNT_MAX, "a claim's patient account", page=page)
        account = claim.patient_account or None
        fit(claim, "payer_claim_id", PAYER_CLAIM_ID_MAX, "the payer claim id", account, page=page)
        fit(claim.rendering_provider, "id", PROVIDER_NPI_MAX, "the rendering provider's id",
            account, page=page)
        fit(claim.rendering_provider, "name", PROVIDER_NAME_MAX, "the rendering provider's name",
            account, page=page)
        adjustments = [(None, a) for a in claim.adjustments]
        for number, line in enumerate(claim.lines, start=1):
            fit(line, "procedure", PROCEDURE_MAX, f"line {number}'s procedure", account, number,
                page)
            adjustments += [(number, a) for a in line.adjustments]
        for number, adjustment in adjustments:
            fit(adjustment, "group", GROUP_CODE_MAX, "an adjustment group code", account, number,
                page)
            fit(adjustment, "carc", CARC_MAX, "an adjustment reason code", account, number, page)
    return found
