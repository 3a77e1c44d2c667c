"""The canonical remittance model: one shape for PDF remittance advice and X12 835 files.

remittance -> claims -> service lines -> adjustments (group, CARC, amount) + remark codes.

Money is always ``Decimal`` (quantized to cents when serialized), dates are ``datetime.date``.
``Remittance.to_json()`` produces the stable parse contract printed by ``claimwright parse``;
``Remittance.from_json()`` reads it back (ground-truth files, the ledger).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value: Any) -> Decimal:
    """Parse an amount into a cent-quantized Decimal.

    Accepts Decimal, int, and strings such as ``"1,234.50"``, ``"-12.00"``, ``"12.00-"`` (trailing
    minus, common on paper remittances) and ``"(12.00)"``. Floats are refused: money never passes
    through binary floating point.
    """
    if isinstance(value, Decimal):
        return value.quantize(CENT)
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"money must not be {type(value).__name__}: {value!r}")
    if isinstance(value, int):
        return Decimal(value).quantize(CENT)
    text = str(value).strip().replace(",", "").replace("$", "")
    negative = False
    if text.endswith("-"):
        negative, text = True, text[:-1]
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return (-amount if negative else amount).quantize(CENT)


def is_npi(value: str) -> bool:
    """Whether ``value`` is a well-formed NPI: 10 digits whose last is the Luhn check digit of
    the first nine under the ``80840`` prefix (the NPI standard's check)."""
    if not isinstance(value, str) or len(value) != 10 or not value.isascii() \
            or not value.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed("80840" + value)):
        digit = int(ch)
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


#: An ICD-10-CM code as printed without the dot: a letter, a digit, then 1-5 letters or digits
#: ("E119", "I10", "Z0000", "S83241A"). The format only: whether the code exists on a given date
#: is the code set's business, not the parser's.
ICD10CM = re.compile(r"[A-Z][0-9][A-Z0-9]{1,5}")
_DIAGNOSIS_SEPARATORS = re.compile(r"[\s,;]+")


def diagnosis_code(text: str) -> str | None:
    """``text`` as a diagnosis code of the model (upper case, no dot: ``"e11.9"`` gives
    ``"E119"``), or ``None`` when it is not shaped like an ICD-10-CM code."""
    code = text.strip().upper()
    if len(code) > 4 and code[3] == ".":  # the dot printed after the category ("E11.9")
        code = code[:3] + code[4:]
    return code if ICD10CM.fullmatch(code) else None


def add_diagnoses(into: list[str], codes: str | list[str]) -> list[str]:
    """Append the diagnosis codes in ``codes`` (a list, or text separated by spaces, commas or
    semicolons) to ``into``, normalized, in order, each once; return the tokens that are not
    ICD-10-CM codes (for the caller's problem or error: nothing malformed is kept)."""
    tokens = _DIAGNOSIS_SEPARATORS.split(codes) if isinstance(codes, str) else codes
    bad = []
    for token in (t for t in tokens if t and t.strip()):
        code = diagnosis_code(token)
        if code is None:
            bad.append(token)
        elif code not in into:
            into.append(code)
    return bad


def fmt_money(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


def parse_date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def fmt_date(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass
class Adjustment:
    group: str  # CO, PR, OA, PI (CR pre-5010; unknown groups are kept and flagged)
    carc: str  # claim adjustment reason code, e.g. "45", "A1", "P12"
    amount: Decimal
    quantity: Decimal | None = None

    @property
    def code(self) -> str:
        return f"{self.group}-{self.carc}"

    def to_json(self) -> dict:
        out = {"group": self.group, "carc": self.carc, "amount": fmt_money(self.amount)}
        if self.quantity is not None:
            out["quantity"] = format(self.quantity, "f")
        return out

    @classmethod
    def from_json(cls, d: dict) -> Adjustment:
        qty = d.get("quantity")
        return cls(d["group"], str(d["carc"]), money(d["amount"]),
                   Decimal(str(qty)) if qty not in (None, "") else None)


@dataclass
class ServiceLine:
    date_of_service: dt.date | None
    procedure: str
    billed: Decimal
    paid: Decimal
    modifiers: list[str] = field(default_factory=list)
    units: Decimal = Decimal(1)
    allowed: Decimal | None = None
    adjustments: list[Adjustment] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)

    @property
    def adjusted(self) -> Decimal:
        return sum((a.amount for a in self.adjustments), ZERO)

    def to_json(self) -> dict:
        return {
            "date_of_service": fmt_date(self.date_of_service),
            "procedure": self.procedure,
            "modifiers": list(self.modifiers),
            "units": _fmt_units(self.units),
            "billed": fmt_money(self.billed),
            "allowed": fmt_money(self.allowed),
            "paid": fmt_money(self.paid),
            "adjustments": [a.to_json() for a in self.adjustments],
            "remarks": list(self.remarks),
        }

    @classmethod
    def from_json(cls, d: dict) -> ServiceLine:
        return cls(
            date_of_service=parse_date(d.get("date_of_service")),
            procedure=d["procedure"],
            modifiers=list(d.get("modifiers") or []),
            units=Decimal(str(d.get("units") or "1")),
            billed=money(d["billed"]),
            allowed=money(d["allowed"]) if d.get("allowed") not in (None, "") else None,
            paid=money(d["paid"]),
            adjustments=[Adjustment.from_json(a) for a in d.get("adjustments") or []],
            remarks=list(d.get("remarks") or []),
        )


@dataclass
class Claim:
    patient_account: str  # CLP01
    payer_claim_id: str  # CLP07 / ICN
    status_code: str  # CLP02: 1, 2, 3, 4, 19, 20, 21, 22, 23, 25
    billed: Decimal
    paid: Decimal
    patient_responsibility: Decimal = ZERO
    patient_name: str = ""
    member_id: str = ""
    adjustments: list[Adjustment] = field(default_factory=list)  # claim-level
    remarks: list[str] = field(default_factory=list)  # claim-level (MOA/MIA, claim REM)
    lines: list[ServiceLine] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)  # 1-based pages of the source PDF showing it
    # the clinician who rendered the service (835 loop 2100 NM1*82; the SPR's PERF PROV):
    # name and NPI; empty when the remittance does not say
    rendering_provider: Party = field(default_factory=lambda: Party())
    # the patient's date of birth (835 loop 2100 DMG, a portal PDF's claim header, the
    # practice's claim export); None when unknown
    patient_dob: dt.date | None = None
    # ICD-10-CM codes without the dot, principal first, each once (835 HI, a portal PDF, the
    # claim export); empty when unknown
    diagnoses: list[str] = field(default_factory=list)

    @property
    def all_adjustments(self) -> list[Adjustment]:
        return list(self.adjustments) + [a for ln in self.lines for a in ln.adjustments]

    @property
    def dates_of_service(self) -> list[dt.date]:
        return sorted({ln.date_of_service for ln in self.lines if ln.date_of_service})

    def to_json(self) -> dict:
        out = {
            "patient_account": self.patient_account,
            "payer_claim_id": self.payer_claim_id,
            "status_code": self.status_code,
            "patient_name": self.patient_name,
            "member_id": self.member_id,
            "billed": fmt_money(self.billed),
            "paid": fmt_money(self.paid),
            "patient_responsibility": fmt_money(self.patient_responsibility),
            "adjustments": [a.to_json() for a in self.adjustments],
            "remarks": list(self.remarks),
            "lines": [ln.to_json() for ln in self.lines],
        }
        if self.pages:
            out["pages"] = list(self.pages)
        if self.rendering_provider.name or self.rendering_provider.id:
            out["rendering_provider"] = {"name": self.rendering_provider.name,
                                         "id": self.rendering_provider.id}
        if self.patient_dob is not None:  # new keys only when set: older JSON stays as it was
            out["patient_dob"] = fmt_date(self.patient_dob)
        if self.diagnoses:
            out["diagnoses"] = list(self.diagnoses)
        return out

    @classmethod
    def from_json(cls, d: dict) -> Claim:
        provider = d.get("rendering_provider") or {}
        return cls(
            patient_account=d["patient_account"],
            payer_claim_id=d["payer_claim_id"],
            status_code=str(d["status_code"]),
            patient_name=d.get("patient_name") or "",
            member_id=d.get("member_id") or "",
            billed=money(d["billed"]),
            paid=money(d["paid"]),
            patient_responsibility=money(d.get("patient_responsibility") or "0"),
            adjustments=[Adjustment.from_json(a) for a in d.get("adjustments") or []],
            remarks=list(d.get("remarks") or []),
            lines=[ServiceLine.from_json(x) for x in d.get("lines") or []],
            pages=list(d.get("pages") or []),
            rendering_provider=Party(provider.get("name") or "", provider.get("id") or ""),
            patient_dob=parse_date(d.get("patient_dob")),
            diagnoses=list(d.get("diagnoses") or []),
        )


@dataclass
class ProviderAdjustment:
    reason: str  # PLB reason code, e.g. "WO" (overpayment recovery), "L6" (interest), "FB"
    amount: Decimal  # positive reduces the payment, negative increases it (835 PLB sign)
    reference: str = ""

    def to_json(self) -> dict:
        out = {"reason": self.reason, "amount": fmt_money(self.amount)}
        if self.reference:
            out["reference"] = self.reference
        return out

    @classmethod
    def from_json(cls, d: dict) -> ProviderAdjustment:
        return cls(d["reason"], money(d["amount"]), d.get("reference") or "")


@dataclass
class Party:
    name: str = ""
    id: str = ""  # payer id for the payer, NPI for the payee and a rendering provider


@dataclass
class Payment:
    method: str = ""  # CHK, ACH, NON, BOP, FWT
    trace_number: str = ""  # check or EFT trace number
    date: dt.date | None = None
    amount: Decimal = ZERO

    def to_json(self) -> dict:
        return {"method": self.method, "trace_number": self.trace_number,
                "date": fmt_date(self.date), "amount": fmt_money(self.amount)}


@dataclass
class Problem:
    """Something that stops a parse from being trusted: each one becomes a review item."""

    code: str  # e.g. "line-unbalanced", "claim-unbalanced", "remittance-unbalanced", "unreadable"
    message: str
    page: int | None = None  # 1-based PDF page, when known
    segment: int | None = None  # 1-based segment index in an 835, when known
    claim: str | None = None  # patient account of the claim concerned
    line: int | None = None  # 1-based service-line number within the claim
    expected: Decimal | None = None
    actual: Decimal | None = None

    def to_json(self) -> dict:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        for key in ("page", "segment", "claim", "line"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.expected is not None:
            out["expected"] = fmt_money(self.expected)
        if self.actual is not None:
            out["actual"] = fmt_money(self.actual)
        return out

    @classmethod
    def from_json(cls, d: dict) -> Problem:
        return cls(
            code=d["code"], message=d["message"], page=d.get("page"), segment=d.get("segment"),
            claim=d.get("claim"), line=d.get("line"),
            expected=money(d["expected"]) if d.get("expected") is not None else None,
            actual=money(d["actual"]) if d.get("actual") is not None else None,
        )


@dataclass
class Remittance:
    format: str  # "pdf" or "x12-835"
    payer: Party
    payee: Party
    payment: Payment
    claims: list[Claim] = field(default_factory=list)
    provider_adjustments: list[ProviderAdjustment] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    layout: str = ""  # name of the PDF layout used (empty for 835)
    # the numbers read that no check covers ("lines[].units"): a reader knows they were not
    # cross-checked (PDF layouts; see claimwright.parsing.layout_checks)
    unverified: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        out = {
            "format": self.format,
            "payer": {"name": self.payer.name, "id": self.payer.id},
            "payee": {"name": self.payee.name, "npi": self.payee.id},
            "payment": self.payment.to_json(),
            "claims": [c.to_json() for c in self.claims],
            "provider_adjustments": [p.to_json() for p in self.provider_adjustments],
            "balanced": self.balanced,
            "problems": [p.to_json() for p in self.problems],
        }
        if self.layout:
            out["layout"] = self.layout
        if self.unverified:  # only when some number is: an 835's JSON stays as it was
            out["unverified"] = list(self.unverified)
        return out

    @classmethod
    def from_json(cls, d: dict) -> Remittance:
        pay = d.get("payment") or {}
        return cls(
            format=d["format"],
            payer=Party(d["payer"].get("name", ""), d["payer"].get("id", "")),
            payee=Party(d["payee"].get("name", ""), d["payee"].get("npi", "")),
            payment=Payment(pay.get("method", ""), pay.get("trace_number", ""),
                            parse_date(pay.get("date")), money(pay.get("amount") or "0")),
            claims=[Claim.from_json(c) for c in d.get("claims") or []],
            provider_adjustments=[ProviderAdjustment.from_json(p)
                                  for p in d.get("provider_adjustments") or []],
            problems=[Problem.from_json(p) for p in d.get("problems") or []],
            layout=d.get("layout") or "",
            unverified=list(d.get("unverified") or []),
        )


def _fmt_units(units: Decimal) -> str:
    """Units as a plain number string: "1", "2", "1.5"."""
    text = format(units.normalize(), "f")
    return text
