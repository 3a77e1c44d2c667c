"""The records a PDF parse fills, and their assembly into a checked canonical remittance.

:class:`Assembly` is the second half of :class:`claimwright.parsing.pdf_rows.RowReader`: once
every row is read, it turns the records into claims, lines and provider adjustments, compares the
totals the document prints with the parsed amounts and appends the balancing problems. It uses the
reader's state (``layout``, ``document``, ``claims``, ``provider``, ``summary_checks``,
``glossary_records``, ``problems``) and its ``problem`` / ``convert`` methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..balancing import check_remittance
from ..limits import fit_to_storage
from ..models import (ZERO, Adjustment, Claim, Party, Payment, Problem, ProviderAdjustment,
                      Remittance, ServiceLine)
from .glossary import GlossaryEntry, check_glossary
from .layout import CODE_CHECK
from .layout_checks import run_checks, unverified


@dataclass
class Record:
    """A table record or a claim/document under construction."""

    values: dict[str, Any] = field(default_factory=dict)
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    page: int | None = None
    fixed: list[Adjustment] = field(default_factory=list)  # read from fixed-code columns


@dataclass
class ClaimDraft(Record):
    lines: list[Record] = field(default_factory=list)
    pages: set[int] = field(default_factory=set)
    checks: list[tuple[str, Any, int]] = field(default_factory=list)  # (name, value, page)


class Assembly:
    """Records -> :class:`Remittance`, with the printed totals checked (a mixin of the reader)."""

    def page_number(self, rows: list, number: int, count: int) -> bool:
        """Compare the printed "page i of N" (or "Sheet i": no count) with the page's place;
        False after a problem."""
        assert self.layout.page_numbers is not None
        for row in rows:
            match = self.layout.page_numbers.search(row.text)
            if match is None:
                continue
            printed = int(match["number"])
            total = int(match["count"]) if match.groupdict().get("count") else None
            if printed == number and total in (None, count):
                return True
            shown = f"page {printed}" + (f" of {total}" if total is not None else "")
            self.problem("layout-page-sequence",
                         f"page {number} of the {count} in the file is printed as {shown}: "
                         "pages are missing, extra or out of order", row)
            return False
        return True  # no number printed (an unreadable page is reported on its own)

    def finish(self) -> Remittance:
        lay = self.layout
        doc = dict(lay.document_defaults)
        doc.update({k: v for k, v in self.document.values.items() if v is not None})
        for name in ("payer_name", "payee_name", "payment_amount"):
            if doc.get(name) in (None, ""):
                self.problem("layout-missing-field", f"the document shows no {name}", page=1)
        amount = doc.get("payment_amount")
        if isinstance(amount, str):  # a default from the layout file
            amount = self.convert("payment_amount", amount, None)
        date = doc.get("payment_date")
        if isinstance(date, str):
            date = self.convert("payment_date", date, None)
        claims = [self.build_claim(d) for d in self.claims]
        provider = [self.build_provider(r) for r in self.provider]
        remit = Remittance(
            format="pdf",
            payer=Party(doc.get("payer_name", ""), doc.get("payer_id", "")),
            payee=Party(doc.get("payee_name", ""), doc.get("payee_npi", "")),
            payment=Payment(doc.get("payment_method", ""), doc.get("payment_trace_number", ""),
                            date, amount if amount is not None else ZERO),
            claims=claims,
            provider_adjustments=provider,
            layout=lay.name,
        )
        if not claims and not provider:
            self.problem("layout-no-claims",
                         f"layout {lay.name} matched but no claim or provider adjustment was read",
                         page=1)
        self.summary_problems(remit)
        self.glossary = [GlossaryEntry(table, rec.values.get("code", ""),
                                       rec.values.get("description", ""), rec.page or 0)
                         for table, rec in self.glossary_records]
        if lay.glossary is not None:
            self.problems += check_glossary(self.glossary, min_overlap=lay.glossary.min_overlap)
        declared, ran = run_checks(remit, lay.checks)
        remit.problems = (self.problems + fit_to_storage(remit) + check_remittance(remit)
                          + declared)
        ran |= {name for d in self.claims for name, _, _ in d.checks}
        ran |= {name for name, _, _ in self.summary_checks}
        remit.unverified = unverified(lay.verified_by, ran)
        return remit

    def build_claim(self, draft: ClaimDraft) -> Claim:
        v = draft.values
        account = v.get("patient_account", "")
        for name in ("patient_account", "status_code", "billed", "paid"):
            if v.get(name) in (None, ""):
                self.problem("layout-missing-field", f"claim {account or '?'} shows no {name}",
                             page=draft.page, claim=account or None)
        lines = []
        for number, rec in enumerate(draft.lines, start=1):
            lv = rec.values
            for name in ("procedure", "billed", "paid"):
                if lv.get(name) in (None, ""):
                    self.problem("layout-missing-field",
                                 f"claim {account} line {number} shows no {name}",
                                 page=rec.page, claim=account or None, line=number)
            lines.append(ServiceLine(
                date_of_service=lv.get("date_of_service"),
                procedure=lv.get("procedure", ""),
                billed=lv.get("billed", ZERO),
                paid=lv.get("paid", ZERO),
                modifiers=lv.get("modifiers", []),
                units=lv.get("units", Decimal(1)),
                allowed=lv.get("allowed"),
                adjustments=rec.adjustments,
                remarks=rec.remarks,
            ))
        claim = Claim(
            patient_account=account,
            payer_claim_id=v.get("payer_claim_id", ""),
            status_code=v.get("status_code", ""),
            billed=v.get("billed", ZERO),
            paid=v.get("paid", ZERO),
            patient_name=v.get("patient_name", ""),
            member_id=v.get("member_id", ""),
            adjustments=draft.adjustments,
            remarks=draft.remarks,
            lines=lines,
            pages=sorted(draft.pages),
            rendering_provider=Party(v.get("rendering_provider_name", ""),
                                     v.get("rendering_provider_npi", "")),
            patient_dob=v.get("patient_dob"),
            diagnoses=v.get("diagnoses", []),
        )
        if claim.patient_dob and claim.dates_of_service and \
                claim.patient_dob > claim.dates_of_service[0]:
            claim.patient_dob = None
            self.problem("layout-bad-value", f"claim {account}: the printed date of birth is "
                         "after the first date of service; it was not used", page=draft.page,
                         claim=account or None)
        pr = sum((a.amount for a in claim.all_adjustments if a.group == "PR"), ZERO)
        claim.patient_responsibility = v.get("patient_responsibility", pr)
        fixed = {id(a) for rec in draft.lines for a in rec.fixed}
        computed = {
            "check_adjusted_listed": sum((a.amount for a in claim.all_adjustments
                                          if id(a) not in fixed), ZERO),
            "check_adjusted": sum((a.amount for a in claim.all_adjustments), ZERO),
            "check_allowed": sum((ln.allowed or ZERO for ln in lines), ZERO),
            "check_lines_billed": sum((ln.billed for ln in lines), ZERO),
            "check_lines_paid": sum((ln.paid for ln in lines), ZERO),
            "check_line_count": len(lines),
            "check_patient_responsibility": pr,
        }
        for name, printed, page in draft.checks:
            if name not in computed:  # check_code_<GROUP>_<CARC>
                computed[name] = _code_sum(name, claim.all_adjustments)
            self.compare(name, printed, computed[name], page, claim=account or None,
                         what=f"claim {account}")
        self.listed[id(claim)] = computed["check_adjusted_listed"]
        return claim

    def build_provider(self, rec: Record) -> ProviderAdjustment:
        v = rec.values
        for name in ("reason", "amount"):
            if v.get(name) in (None, ""):
                self.problem("layout-missing-field", f"a provider adjustment shows no {name}",
                             page=rec.page)
        return ProviderAdjustment(v.get("reason", ""), v.get("amount", ZERO),
                                  v.get("reference", ""))

    def summary_problems(self, remit: Remittance) -> None:
        computed = {
            "check_claim_count": len(remit.claims),
            "check_claims_billed": sum((c.billed for c in remit.claims), ZERO),
            "check_claims_paid": sum((c.paid for c in remit.claims), ZERO),
            "check_provider_adjusted": sum((p.amount for p in remit.provider_adjustments), ZERO),
            "check_payment_amount": remit.payment.amount,
            "check_claims_patient_resp": sum((c.patient_responsibility for c in remit.claims),
                                             ZERO),
            "check_claims_allowed": sum((ln.allowed or ZERO for c in remit.claims
                                         for ln in c.lines), ZERO),
            "check_adjusted_listed": sum((self.listed.get(id(c), ZERO) for c in remit.claims),
                                         ZERO),
        }
        every = [a for c in remit.claims for a in c.all_adjustments]
        for name, printed, page in self.summary_checks:
            if name not in computed:  # check_code_<GROUP>_<CARC>
                computed[name] = _code_sum(name, every)
            self.compare(name, printed, computed[name], page, claim=None, what="the remittance")

    def compare(self, name: str, printed: Any, computed: Any, page: int, *, claim: str | None,
                what: str) -> None:
        if printed == computed:
            return
        label = name.removeprefix("check_").replace("_", " ")
        money_values = isinstance(printed, Decimal)
        self.problems.append(Problem(
            "layout-total-mismatch",
            f"{what}: the printed {label} is {printed} but the parsed amounts give {computed}",
            page=page, claim=claim,
            expected=printed if money_values else None,
            actual=computed if money_values else None))



def _code_sum(name: str, adjustments) -> Decimal:
    """The value of a ``check_code_<GROUP>_<CARC>`` check: that code's amounts summed."""
    match = CODE_CHECK.fullmatch(name)
    assert match is not None, name
    return sum((a.amount for a in adjustments
                if a.group == match["group"] and a.carc == match["carc"]), ZERO)
