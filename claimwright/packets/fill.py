"""What a packet's letter and form are filled from: the variables of the letter templates
(``letters/base.txt`` lists them), of each category's argument, and of a payer's form
(:data:`.forms.CONTEXT_KEYS`)."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from ..models import ZERO
from ..rules.findings import Finding
from .text import PdfText, dos_text, finding_dates, iso, procedure_text, usd


def letter_context(remit, claim, findings, practice, text, denied, appeal_due, as_of, level,
                   previous_decision) -> dict[str, Any]:
    """The letter's variables (cleaned text; the templates escape them)."""
    denial_dates = sorted({f.denial_date for f in findings if f.denial_date})
    if not denial_dates and remit.payment.date:
        denial_dates = [remit.payment.date]
    provider = claim.rendering_provider
    provider_text = " ".join(x for x in (provider.name, f"(NPI {provider.id})" if provider.id
                                         else "") if x)
    dates = [d for f in findings for d in finding_dates(f)]
    return {
        "letter_date": as_of.isoformat(), "level": level.number, "level_name": text(level.name),
        "request_phrase": text(level.phrase), "previous_decision": text(previous_decision),
        "payer_name": text(remit.payer.name or findings[0].payer_name or remit.payer.id),
        "payer_id": text(remit.payer.id), "practice_name": text(practice.name),
        "patient_name": text(claim.patient_name),
        "patient_dob": iso(getattr(claim, "patient_dob", None)),
        "member_id": text(claim.member_id), "patient_account": text(claim.patient_account),
        "payer_claim_id": text(claim.payer_claim_id),
        "dates_of_service": dos_text(dates or claim.dates_of_service),
        "procedures": ", ".join(dict.fromkeys(text(procedure_text(f.line)) for f in findings)),
        "diagnoses": ", ".join(text(d) for d in getattr(claim, "diagnoses", []) or []),
        "rendering_provider": text(provider_text),
        "codes": _codes(findings, text),
        "total_billed": usd(claim.billed), "denied_amount": usd(denied),
        "denial_date": ", ".join(d.isoformat() for d in denial_dates) or "(date not shown)",
        "appeal_due": iso(appeal_due), "contact_name": text(practice.contact_name),
        "contact_phone": text(practice.contact_phone),
        "contact_email": text(practice.contact_email),
    }


def _codes(findings: list[Finding], text: PdfText) -> str:
    codes = [text(f.adjustment.code) for f in findings]
    codes += [text(r) for f in findings for r in f.remarks]
    return ", ".join(dict.fromkeys(codes))


def category_context(context: dict[str, Any], findings: list[Finding],
                      text: PdfText) -> dict[str, Any]:
    return {**context,
            "codes": ", ".join(dict.fromkeys(text(f.adjustment.code) for f in findings)),
            "procedures": ", ".join(dict.fromkeys(text(procedure_text(f.line))
                                                  for f in findings)),
            "dates_of_service": dos_text([d for f in findings for d in finding_dates(f)]),
            "denied_amount": usd(sum((f.adjustment.amount for f in findings), ZERO))}


def form_context(context: dict[str, Any], letter,  # a builder.LetterInputs
                  decided_on: dt.date | None) -> dict[str, Any]:
    """The values a payer's form is filled from (plain text, no markup)."""
    practice = letter.practice
    reason = " ".join(_plain(f"{argument} Action requested: {action}")
                      for _, argument, action in letter.arguments)
    keys = ("patient_name", "patient_dob", "member_id", "patient_account", "payer_name",
            "payer_id", "payer_claim_id", "dates_of_service", "procedures", "diagnoses",
            "denial_date", "denied_amount", "codes", "level", "level_name", "practice_name",
            "letter_date")
    out = {k: context[k] for k in keys}
    out.update(billed=context["total_billed"], reason=reason,
               practice_address=", ".join(practice.address),
               practice_phone=practice.phone, practice_npi=practice.npi,
               signer_name=practice.signer_name, signer_title=practice.signer_title,
               decision_date=iso(decided_on) or context["denial_date"])
    return out


def _plain(markup: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())
