"""One X12 835 transaction set (ST ... SE) mapped onto one canonical :class:`Remittance`.

:class:`TransactionParser` walks the segments loop by loop (header, payer, payee, claims, service
lines, summary); docs/x12-835.md says what comes from which segment. Damage becomes a
:class:`Problem` carrying the 1-based segment number.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from ..limits import PROCEDURE_MAX, PROVIDER_NAME_MAX, fit_to_storage
from ..models import (ZERO, Adjustment, Claim, Party, Payment, Problem, ProviderAdjustment,
                      Remittance, ServiceLine)
from .x12_checks import claim_problems, may_not_fit, payment_problems, trailer_problems
from .x12_elements import limited
from .x12_patient import PatientSegments
from .x12_segments import Segment, Separators, split_composite
from .x12_values import ValueReaders

FORMAT = "x12-835"

#: SVC01-1 / SVC06-1 product or service id qualifiers allowed by 005010X221A1.
SERVICE_QUALIFIERS = frozenset({"AD", "ER", "HC", "HP", "IV", "N4", "NU", "WK"})
#: Line-date qualifiers in order of preference: single-day service, period start, period end.
_LINE_DATE_QUALIFIERS = ("472", "150", "151")
_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_intern = sys.intern  # codes repeat on every claim: one string each


@dataclass
class _LineBuild:
    line: ServiceLine
    segment: int
    dates: dict[str, dt.date] = field(default_factory=dict)


@dataclass
class _ClaimBuild:
    claim: Claim
    segment: int
    dates: dict[str, dt.date] = field(default_factory=dict)
    lines: list[_LineBuild] = field(default_factory=list)
    insured_id: str = ""
    principal_diagnoses: list[str] = field(default_factory=list)  # HI ABK / BK (x12_patient)
    other_diagnoses: list[str] = field(default_factory=list)  # HI ABF / BF
    dob_segment: int | None = None  # the DMG that gave the birth date


class TransactionParser(PatientSegments, ValueReaders):
    """One ST..SE transaction set, fed segment by segment (:meth:`feed`, from the segment after
    the ST up to the one before its SE), then finished (:meth:`finish`) into one
    balanced-checked Remittance.

    Each claim is finished (dates, storage limits, balancing) as soon as the next CLP, LX or
    PLB closes it; then it is kept for the remittance, or -- with ``on_claim`` -- handed to
    ``on_claim`` and not kept, so a transaction of any size holds one claim at a time.

    Loop 2100 DMG and HI (not in the 835 guide, sent by some payers) are read by
    :class:`~.x12_patient.PatientSegments`."""

    def __init__(self, st: Segment, seps: Separators, *,
                 on_claim: Callable[[Claim], None] | None = None,
                 cache: dict | None = None) -> None:
        self.st = st
        self.seps = seps
        self.count = 1  # segments from ST on
        self.on_claim = on_claim
        self.cache = {} if cache is None else cache  # raw amount/date -> value, per file
        self.problems: list[Problem] = []
        self.payer = Party()
        self.payer_ref_id = ""  # REF*2U in the payer loop
        self.payer_n1_id = ""  # N104 of N1*PR
        self.payer_trn_id = ""  # TRN03
        self.payee = Party()
        self.payment = Payment()
        self.bpr_segment: int | None = None
        self.production_date: dt.date | None = None  # DTM*405, fallback for the payment date
        self.claims: list[Claim] = []  # finished claims (none kept with on_claim)
        self.seen_claim = False
        self.last_account: str | None = None  # the last finished claim's CLP01
        self.claims_paid = ZERO
        self.fitted: list[Problem] = []  # storage-limit problems, claim by claim
        self.balancing: list[Problem] = []  # balancing problems, claim by claim
        self.provider_adjustments: list[ProviderAdjustment] = []
        self.loop = "header"  # header, payer, payee, detail, claim, line, summary
        self.current: _ClaimBuild | None = None
        self.handlers = {name[3:]: getattr(self, name) for name in _HANDLERS}

    # -- driver --------------------------------------------------------------------------------
    def feed(self, seg: Segment) -> None:
        self.count += 1
        handler = self.handlers.get(seg.tag)
        if handler is not None:
            handler(seg)
        elif not _TAG.fullmatch(seg.tag):
            self.problem("x12-syntax", f"segment {seg.index}: {seg.tag[:8]!r} is not a "
                         "segment tag", seg)

    def finish(self, trailer: Segment | None) -> Remittance:
        """The remittance, ``trailer`` its SE (None: the transaction was cut short)."""
        st = self.st
        self.close_claim()
        if self.payment.date is None:
            self.payment.date = self.production_date
        if self.bpr_segment is None:
            self.problems.append(Problem("x12-missing-segment", f"transaction set {st.get(2)!r} "
                                         "has no BPR: the payment amount is unknown",
                                         segment=st.index))
        self.problems += trailer_problems(st, trailer, self.count + (trailer is not None))
        remit = Remittance(
            format=FORMAT,
            payer=Party(self.payer.name, self.payer_ref_id or self.payer_n1_id
                        or self.payer_trn_id),
            payee=self.payee,
            payment=self.payment,
            provider_adjustments=self.provider_adjustments,
        )
        header = fit_to_storage(remit)  # a safety net: none expected
        remit.claims = self.claims
        remit.problems = (self.problems + header + self.fitted + self.balancing
                          + payment_problems(remit, self.claims_paid, self.bpr_segment))
        return remit

    def finish_claim(self, build: _ClaimBuild) -> None:
        claim = build.claim
        if may_not_fit(claim):  # a safety net: none expected (the elements are bounded)
            self.fitted += fit_to_storage(Remittance(FORMAT, Party(), Party(), Payment(),
                                                     claims=[claim]))
        self.balancing += claim_problems(build)
        self.claims_paid += claim.paid
        self.last_account = claim.patient_account
        if self.on_claim is None:
            self.claims.append(claim)
        else:
            self.on_claim(claim)

    # -- helpers -------------------------------------------------------------------------------
    def problem(self, code: str, message: str, seg: Segment, *,
                claim: bool = True) -> None:
        account = None
        if claim and self.current is not None and self.loop in ("claim", "line"):
            account = self.current.claim.patient_account
        self.problems.append(Problem(code, message, segment=seg.index, claim=account))

    def out_of_place(self, seg: Segment, where: str) -> None:
        self.problem("x12-out-of-place", f"segment {seg.index}: {seg.tag} {where}; its data was "
                     "not used", seg, claim=False)

    def close_claim(self) -> None:
        build = self.current
        if build is None:
            return
        claim = build.claim
        if not claim.member_id and build.insured_id:
            claim.member_id = build.insured_id
        claim_date = build.dates.get("232") or build.dates.get("233")
        for lb in build.lines:
            lb.line.date_of_service = next(
                (lb.dates[q] for q in _LINE_DATE_QUALIFIERS if q in lb.dates), claim_date)
        self.close_patient(build)
        self.current = None
        self.finish_claim(build)

    def composite(self, seg: Segment, position: int, heads: frozenset[str] | None) -> list[str]:
        return split_composite(seg.get(position), self.seps, heads)

    # -- header ----------------------------------------------------------------------------------
    def on_BPR(self, seg: Segment) -> None:
        self.bpr_segment = seg.index
        self.payment.amount = self.amount(seg, 2) or ZERO
        self.payment.method = seg.get(4)
        self.payment.date = self.date(seg, 16)

    def on_DTM(self, seg: Segment) -> None:
        qualifier = seg.get(1)
        if self.loop == "header":
            if qualifier == "405":
                self.production_date = self.date(seg, 2)
        elif self.loop == "claim" and self.current is not None and qualifier in ("232", "233"):
            value = self.date(seg, 2)
            if value:
                self.current.dates[qualifier] = value
        elif self.loop == "line" and self.current is not None and self.current.lines \
                and qualifier in _LINE_DATE_QUALIFIERS:
            value = self.date(seg, 2)
            if value:
                self.current.lines[-1].dates[qualifier] = value

    def on_TRN(self, seg: Segment) -> None:
        if self.loop == "header" and not self.payment.trace_number:
            self.payment.trace_number = seg.get(2)
            self.payer_trn_id = seg.get(3)

    def on_N1(self, seg: Segment) -> None:
        role = seg.get(1)
        if role == "PR":
            self.loop = "payer"
            self.payer.name = seg.get(2)
            if seg.get(3) and seg.get(4):
                self.payer_n1_id = seg.get(4)
        elif role == "PE":
            self.loop = "payee"
            self.payee.name = seg.get(2)
            if seg.get(3) == "XX":
                self.payee.id = seg.get(4)

    def on_REF(self, seg: Segment) -> None:
        if self.loop == "payer" and seg.get(1) == "2U":
            self.payer_ref_id = seg.get(2)

    def on_LX(self, seg: Segment) -> None:
        self.close_claim()
        self.loop = "detail"

    # -- claim -----------------------------------------------------------------------------------
    def on_CLP(self, seg: Segment) -> None:
        self.close_claim()
        self.loop = "claim"
        claim = Claim(patient_account=seg.get(1), payer_claim_id=seg.get(7),
                      status_code=_intern(seg.get(2)), billed=ZERO, paid=ZERO)
        self.current = _ClaimBuild(claim, seg.index)
        self.seen_claim = True
        if not claim.patient_account:
            self.problem("x12-missing-element", f"segment {seg.index}: CLP01 (patient account) "
                         "is missing", seg)
        claim.billed = self.amount(seg, 3) or ZERO
        claim.paid = self.amount(seg, 4) or ZERO
        claim.patient_responsibility = self.amount(seg, 5, required=False) or ZERO

    def on_NM1(self, seg: Segment) -> None:
        if seg.get(1) == "82":
            self.rendering_provider(seg)
            return
        if self.current is None or self.loop not in ("claim", "line"):
            return
        entity, qualifier, ident = seg.get(1), seg.get(8), seg.get(9)
        claim = self.current.claim
        if entity == "QC":
            last, first = seg.get(3), seg.get(4)
            claim.patient_name = f"{last}, {first}" if last and first else (last or first)
            if ident and qualifier != "34":  # 34 = SSN: never a member id
                claim.member_id = ident
        elif entity == "IL" and ident and qualifier != "34":
            self.current.insured_id = ident

    def rendering_provider(self, seg: Segment) -> None:
        """Loop 2100 NM1*82: the claim's rendering provider (a person: "First Middle Last
        Suffix"; an organisation: its name). The id is kept only when NM108 is ``XX`` (an NPI,
        check digit verified); other qualifiers (BD, BS, FI, ...) are payer-assigned numbers."""
        if self.current is None or self.loop != "claim":
            self.out_of_place(seg, "(rendering provider) is not inside a claim (CLP) before its "
                              "service lines")
            return
        kind, last, first = seg.get(2), seg.get(3), seg.get(4)
        if kind == "2":
            name = last
        else:  # 1 = person (or missing): first, middle, last, suffix
            name = " ".join(p for p in (first, seg.get(5), last, seg.get(7)) if p)
        npi = ""
        if seg.get(8) == "XX":
            if self.npi(seg.get(9)):
                npi = seg.get(9)
            else:
                self.problem("x12-invalid-element", f"segment {seg.index}: NM109 "
                             f"{seg.get(9)[:20]!r} is not an NPI (10 digits with a valid check "
                             "digit) though NM108 is XX; the rendering provider's id was not "
                             "used", seg)
        name = limited(name, PROVIDER_NAME_MAX, "the rendering provider's name", seg,
                       self.problems)
        self.current.claim.rendering_provider = Party(name, npi)

    def on_MIA(self, seg: Segment) -> None:
        if self.current is None or self.loop != "claim":
            self.out_of_place(seg, "is not inside a claim (CLP)")
            return
        self.add_remarks(self.current.claim.remarks, seg, (5, 20, 21, 22, 23))

    def on_MOA(self, seg: Segment) -> None:
        if self.current is None or self.loop != "claim":
            self.out_of_place(seg, "is not inside a claim (CLP)")
            return
        self.add_remarks(self.current.claim.remarks, seg, (3, 4, 5, 6, 7))

    def add_remarks(self, into: list[str], seg: Segment, positions: tuple[int, ...]) -> None:
        for position in positions:
            code = seg.get(position)
            if code and code not in into:
                into.append(_intern(code))

    def on_CAS(self, seg: Segment) -> None:
        if self.current is None or self.loop not in ("claim", "line"):
            where = "comes before any claim (CLP)" if not self.seen_claim else \
                "is not inside a claim (CLP) or service line (SVC)"
            self.out_of_place(seg, where)
            return
        target = (self.current.lines[-1].line.adjustments if self.loop == "line"
                  else self.current.claim.adjustments)
        group = seg.get(1)
        if not group:
            self.problem("x12-missing-element", f"segment {seg.index}: CAS01 (group code) is "
                         "missing", seg)
        group = _intern(group)
        present = len(seg.elements)
        for trio in range(6):
            base = 2 + 3 * trio
            if base >= present:  # the trios after the last element are all empty
                break
            elements = seg.elements  # seg.get, inlined (CAS is the most frequent segment)
            reason = elements[base].strip(" ")
            raw_amount = elements[base + 1].strip(" ") if base + 1 < present else ""
            raw_qty = elements[base + 2].strip(" ") if base + 2 < present else ""
            if not reason and not raw_amount and not raw_qty:
                continue
            if not reason:
                self.problem("x12-missing-element", f"segment {seg.index}: CAS{base:02d} "
                             f"(reason code) is missing for the amount {raw_amount!r}", seg)
            amount = self.amount(seg, base + 1, required=False)
            if amount is None and not raw_qty:
                self.problem("x12-missing-element", f"segment {seg.index}: CAS{base + 1:02d} "
                             f"(amount) is missing for reason {reason!r}", seg)
            target.append(Adjustment(group, _intern(reason),
                                     amount if amount is not None else ZERO,
                                     self.quantity(seg, base + 2) if raw_qty else None))
        extra = [e for e in seg.elements[20:] if e.strip()]
        if extra:
            self.problem("x12-syntax", f"segment {seg.index}: CAS has more than six adjustment "
                         "trios; the extra elements were not read", seg)

    # -- service line ----------------------------------------------------------------------------
    def on_SVC(self, seg: Segment) -> None:
        if self.current is None or self.loop not in ("claim", "line"):
            self.out_of_place(seg, "is not inside a claim (CLP)")
            return
        self.loop = "line"
        parts = self.composite(seg, 1, SERVICE_QUALIFIERS)
        qualifier = parts[0] if parts else ""
        code = limited(parts[1], PROCEDURE_MAX, "SVC01-2 (procedure code)", seg,
                       self.problems) if len(parts) > 1 else ""
        modifiers = [_intern(m) for m in parts[2:6] if m]
        line = ServiceLine(date_of_service=None, procedure=_intern(code), billed=ZERO, paid=ZERO,
                           modifiers=modifiers)
        self.current.lines.append(_LineBuild(line, seg.index))
        self.current.claim.lines.append(line)
        if qualifier not in SERVICE_QUALIFIERS or not code:
            self.problem("x12-invalid-element", f"segment {seg.index}: SVC01 {seg.get(1)[:40]!r} "
                         "is not a procedure composite (qualifier and code)", seg)
        line.billed = self.amount(seg, 2) or ZERO
        line.paid = self.amount(seg, 3) or ZERO
        units = self.quantity(seg, 5)
        line.units = units if units is not None else Decimal(1)

    def on_AMT(self, seg: Segment) -> None:
        if self.loop == "line" and self.current is not None and seg.get(1) == "B6":
            self.current.lines[-1].line.allowed = self.amount(seg, 2)

    def on_LQ(self, seg: Segment) -> None:
        if self.loop == "line" and self.current is not None and seg.get(1) == "HE":
            self.add_remarks(self.current.lines[-1].line.remarks, seg, (2,))

    # -- summary ---------------------------------------------------------------------------------
    def on_PLB(self, seg: Segment) -> None:
        self.close_claim()
        self.loop = "summary"
        for pair in range(6):
            base = 3 + 2 * pair
            raw_id, raw_amount = seg.get(base), seg.get(base + 1)
            if not raw_id and not raw_amount:
                continue
            parts = self.composite(seg, base, None)
            reason = parts[0] if parts else ""
            reference = self.seps.component.join(p for p in parts[1:] if p) if parts else ""
            if not reason:
                self.problem("x12-missing-element", f"segment {seg.index}: PLB{base:02d} "
                             "(adjustment reason) is missing", seg, claim=False)
            amount = self.amount(seg, base + 1) or ZERO
            self.provider_adjustments.append(ProviderAdjustment(reason, amount, reference))
        extra = [e for e in seg.elements[15:] if e.strip()]
        if extra:
            self.problem("x12-syntax", f"segment {seg.index}: PLB has more than six adjustment "
                         "pairs; the extra elements were not read", seg, claim=False)


# ---------------------------------------------------------------------------------------------


#: the segment handlers (``on_CLP``: CLP), looked up once per transaction set
_HANDLERS = tuple(name for name in dir(TransactionParser) if name.startswith("on_")
                  and name[3:].isupper())
