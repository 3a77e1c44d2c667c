"""X12 835 (005010X221A1) parser: raw bytes -> one canonical :class:`Remittance` per ST/SE.

A small hand-written segment reader (the 835 grammar needs no generic EDI engine):

1. The separators come from the ISA itself: element separator = the character after ``ISA``,
   repetition separator = ISA11 (when it is not a letter or digit, as in 4010's ``U``),
   component separator = ISA16, segment terminator = the character after ISA16. CR/LF after
   terminators is ignored, so one-segment-per-line files and single-line files read the same.
2. Segments are numbered from 1 (the ISA) across the whole file; every :class:`Problem` the
   parser raises carries that number in ``segment``.
3. Each ST*835 ... SE transaction is mapped onto the canonical model (see docs/x12-835.md for
   what comes from which segment), then balanced with :mod:`claimwright.balancing`.

Damage that still leaves a readable document (missing SE, a wrong SE count, an amount that is
not a number, a CAS outside any claim) becomes a ``Problem`` on the remittance concerned;
anything that is not an X12 interchange at all (no ISA, truncated ISA, binary garbage, no 835
transaction) raises :class:`~claimwright.errors.DocumentError`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..balancing import check_claim, check_remittance
from ..errors import DocumentError
from ..models import (
    ZERO,
    Adjustment,
    Claim,
    Party,
    Payment,
    Problem,
    ProviderAdjustment,
    Remittance,
    ServiceLine,
    money,
)
from ..types import FaultCode

FORMAT = "x12-835"

#: SVC01-1 / SVC06-1 product or service id qualifiers allowed by 005010X221A1.
SERVICE_QUALIFIERS = frozenset({"AD", "ER", "HC", "HP", "IV", "N4", "NU", "WK"})
#: Characters accepted as a stray component separator inside SVC01/SVC06/PLB composites when the
#: declared ISA16 does not occur there (see :func:`_composite`).
_STRAY_COMPONENT_SEPARATORS = frozenset(">:^|\\")
#: Line-date qualifiers in order of preference: single-day service, period start, period end.
_LINE_DATE_QUALIFIERS = ("472", "150", "151")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_DATE = re.compile(r"[0-9]{8}")
_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_BLANKS = frozenset(" \t\r\n")  # never delimiters (str.isspace() would also refuse \x1c-\x1f)
_ISA_SCAN_LIMIT = 512  # a real ISA is 106 characters; unpadded ones are shorter


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    repetition: str | None
    segment: str


@dataclass
class Segment:
    index: int  # 1-based position in the file (ISA = 1)
    elements: list[str]  # elements[0] is the segment tag

    @property
    def tag(self) -> str:
        return self.elements[0]

    def get(self, position: int) -> str:
        """Element ``position`` (1-based, as in "CLP04"), stripped; "" when absent."""
        if 0 < position < len(self.elements):
            return self.elements[position].strip(" ")
        return ""


# ---------------------------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------------------------
def parse_835(data: bytes | str, *, source: str = "") -> list[Remittance]:
    """Parse an X12 835 interchange into one :class:`Remittance` per ST/SE transaction set.

    Every remittance comes back balanced-checked: ``problems`` holds the balancing and
    structural problems (each with the 1-based ``segment`` index where known).

    :raises DocumentError: when ``data`` is not a readable X12 interchange with an 835 in it.
    """
    text = _decode(data, source)
    seps = read_separators(text, source=source)
    segments = split_segments(text, seps)
    return _parse_interchange(segments, seps, source)


def read_separators(text: str, *, source: str = "") -> Separators:
    """Read the four delimiters from the ISA segment at the start of ``text``."""
    if not text.startswith("ISA"):
        raise DocumentError("not an X12 interchange: the data does not start with an ISA segment",
                            code=FaultCode.NOT_X12, file=source)
    if len(text) < 4:
        raise DocumentError("truncated X12 interchange: the ISA segment is cut short",
                            code=FaultCode.NOT_X12, file=source)
    element = text[3]
    if element.isalnum() or element in _BLANKS:
        raise DocumentError(f"malformed ISA segment: {element!r} cannot be the element separator",
                            code=FaultCode.NOT_X12, file=source)
    # ISA has exactly 16 elements; ISA16 is one character, followed by the segment terminator.
    count, pos = 0, 3
    limit = min(len(text), _ISA_SCAN_LIMIT)
    while pos < limit:
        if text[pos] == element:
            count += 1
            if count == 16:
                break
        pos += 1
    if count < 16:
        raise DocumentError("truncated or malformed ISA segment: fewer than 16 elements",
                            code=FaultCode.NOT_X12, file=source)
    if pos + 2 >= len(text):
        raise DocumentError("truncated ISA segment: no segment terminator after ISA16",
                            code=FaultCode.NOT_X12, file=source)
    component, terminator = text[pos + 1], text[pos + 2]
    isa = text[: pos + 1].split(element)
    if (component.isalnum() or component in _BLANKS or component == element
            or terminator.isalnum() or terminator == " " or terminator in (element, component)):
        raise DocumentError("malformed ISA segment: ISA16 and the segment terminator must be "
                            "distinct delimiters", code=FaultCode.NOT_X12, file=source)
    version = isa[12].strip()
    if not (version.isascii() and version.isdigit()):
        raise DocumentError(f"malformed ISA segment: ISA12 version {version[:10]!r} is not numeric",
                            code=FaultCode.NOT_X12, file=source)
    # ISA11 is the repetition separator from 4010's successor on; in 4010 it is a code ("U").
    repetition: str | None = isa[11] if len(isa[11]) == 1 else None
    if repetition is not None and (repetition.isalnum() or repetition in _BLANKS
                                   or repetition in (element, component, terminator)):
        repetition = None
    return Separators(element, component, repetition, terminator)


def split_segments(text: str, seps: Separators) -> list[Segment]:
    """Split ``text`` into segments, numbered from 1, ignoring CR/LF around terminators.

    When the terminator is not itself CR or LF, every CR/LF is dropped (they are not X12 data
    characters), which also reads files wrapped at a fixed width (80-column records). Trailing
    padding (NUL, DOS end-of-file Ctrl-Z, blanks) after the last segment is ignored.
    """
    if seps.segment not in "\r\n":
        text = text.replace("\r", "").replace("\n", "")
    text = text.rstrip("\x00\x1a \t\r\n")
    out: list[Segment] = []
    for piece in text.split(seps.segment):
        piece = piece.strip("\r\n").lstrip(" \t\r\n")
        if not piece:
            continue
        out.append(Segment(len(out) + 1, piece.split(seps.element)))
    return out


# ---------------------------------------------------------------------------------------------
# envelope: ISA / GS / ST ... SE / GE / IEA
# ---------------------------------------------------------------------------------------------
def _decode(data: bytes | str, source: str) -> str:
    if isinstance(data, str):
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    else:
        raise DocumentError(f"cannot read an 835 from {type(data).__name__}", code=FaultCode.NOT_X12,
                            file=source)
    text = text.lstrip("\ufeff \t\r\n")
    if not text:
        raise DocumentError("empty document", code=FaultCode.NOT_X12, file=source)
    if "\x00" in text[:_ISA_SCAN_LIMIT]:
        raise DocumentError("binary data, not an X12 interchange", code=FaultCode.NOT_X12, file=source)
    return text


def _parse_interchange(segments: list[Segment], seps: Separators,
                       source: str) -> list[Remittance]:
    env = _Envelope(seps)
    for seg in segments:
        env.feed(seg, source)
    env.close_transaction(None)
    if not env.remittances:
        raise DocumentError("no ST*835 transaction set in the interchange", code=FaultCode.NOT_835,
                            file=source)
    if env.group_open is not None or env.isa_open is not None:
        last = segments[-1].index
        what = "GE and IEA" if env.group_open is not None else "IEA"
        env.remittances[-1].problems.append(Problem(
            "x12-envelope", f"the interchange ends at segment {last} without its {what}: the file "
            "may be truncated", segment=last))
    if env.pending:
        env.remittances[0].problems[:0] = env.pending
    return env.remittances


class _Envelope:
    """ISA/GS/ST/SE/GE/IEA bookkeeping; hands each ST..SE body to :class:`_TransactionParser`.

    Envelope problems (counts, stray segments) go to the remittance just before them, or to the
    first remittance when none precedes them.
    """

    def __init__(self, seps: Separators) -> None:
        self.seps = seps
        self.remittances: list[Remittance] = []
        self.pending: list[Problem] = []
        self.txn: list[Segment] | None = None
        self.txn_problems: list[Problem] = []
        self.group_open: Segment | None = None
        self.group_sets = 0
        self.isa_open: Segment | None = None
        self.interchange_groups = 0

    def problem(self, seg: Segment, message: str) -> None:
        problem = Problem("x12-envelope", f"segment {seg.index}: {message}", segment=seg.index)
        (self.remittances[-1].problems if self.remittances else self.pending).append(problem)

    def close_transaction(self, at: Segment | None) -> None:
        """Finish the open transaction; ``at`` is its SE, or what cut it short (None = EOF)."""
        txn = self.txn
        if txn is None:
            return
        trailer = at if at is not None and at.tag == "SE" else None
        remit = _TransactionParser(txn, self.seps, trailer).parse()
        if trailer is None:
            # The last claim read may have lost its tail: name it so it is not trusted.
            where = f"before segment {at.index} ({at.tag})" if at else "at the end of the file"
            last = remit.claims[-1].patient_account if remit.claims else None
            self.txn_problems.append(Problem(
                "x12-missing-se", f"transaction set {txn[0].get(2)!r} (segment {txn[0].index}) "
                f"has no SE {where}: it may be truncated", segment=txn[0].index, claim=last))
        remit.problems[:0] = self.txn_problems
        self.remittances.append(remit)
        self.txn, self.txn_problems = None, []

    def feed(self, seg: Segment, source: str) -> None:
        tag = seg.tag
        if tag == "SE":
            if self.txn is None:
                self.problem(seg, "SE without a matching ST")
                return
            self.txn.append(seg)
            self.close_transaction(seg)
        elif tag == "ST":
            self.close_transaction(seg)
            if seg.get(1) != "835":
                raise DocumentError(
                    f"transaction set {seg.get(1)[:6]!r} at segment {seg.index} is not an 835",
                    code=FaultCode.NOT_835, file=source, segment=seg.index)
            self.txn = [seg]
            self.group_sets += 1
            if self.group_open is None:
                self.txn_problems.append(Problem(
                    "x12-envelope", f"segment {seg.index}: ST outside a GS/GE functional group",
                    segment=seg.index))
        elif tag in ("ISA", "GS", "GE", "IEA"):
            self.close_transaction(seg)
            getattr(self, f"on_{tag}")(seg)
        elif self.txn is not None:
            self.txn.append(seg)
        else:
            self.problem(seg, f"{tag[:3]!r} lies outside any ST/SE transaction set and was not "
                         "read")

    def on_ISA(self, seg: Segment) -> None:
        if self.isa_open is not None and self.isa_open is not seg:
            self.problem(seg, "ISA before the previous interchange's IEA")
        self.isa_open, self.interchange_groups = seg, 0

    def on_GS(self, seg: Segment) -> None:
        if self.group_open is not None:
            self.problem(seg, "GS before the previous group's GE")
        self.group_open, self.group_sets = seg, 0
        self.interchange_groups += 1

    def on_GE(self, seg: Segment) -> None:
        if self.group_open is None:
            self.problem(seg, "GE without a matching GS")
        elif _int(seg.get(1)) != self.group_sets:
            self.problem(seg, f"GE01 says {seg.get(1)[:10]!r} transaction sets but the group "
                         f"holds {self.group_sets}")
        self.group_open = None

    def on_IEA(self, seg: Segment) -> None:
        if self.group_open is not None:
            self.problem(seg, "IEA before the group's GE")
            self.group_open = None
        if self.isa_open is None:
            self.problem(seg, "IEA without a matching ISA")
        elif _int(seg.get(1)) != self.interchange_groups:
            self.problem(seg, f"IEA01 says {seg.get(1)[:10]!r} functional groups but the "
                         f"interchange holds {self.interchange_groups}")
        self.isa_open = None


# ---------------------------------------------------------------------------------------------
# one transaction set -> one Remittance
# ---------------------------------------------------------------------------------------------
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


class _TransactionParser:
    def __init__(self, segments: list[Segment], seps: Separators,
                 trailer: Segment | None) -> None:
        self.segments = segments
        self.seps = seps
        self.trailer = trailer
        self.problems: list[Problem] = []
        self.payer = Party()
        self.payer_ref_id = ""  # REF*2U in the payer loop
        self.payer_n1_id = ""  # N104 of N1*PR
        self.payer_trn_id = ""  # TRN03
        self.payee = Party()
        self.payment = Payment()
        self.bpr_segment: int | None = None
        self.production_date: dt.date | None = None  # DTM*405, fallback for the payment date
        self.claims: list[_ClaimBuild] = []
        self.provider_adjustments: list[ProviderAdjustment] = []
        self.loop = "header"  # header, payer, payee, detail, claim, line, summary
        self.current: _ClaimBuild | None = None

    # -- driver --------------------------------------------------------------------------------
    def parse(self) -> Remittance:
        st = self.segments[0]
        for seg in self.segments[1:]:
            if seg is self.trailer:
                break
            if not _TAG.fullmatch(seg.tag):
                self.problem("x12-syntax", f"segment {seg.index}: {seg.tag[:8]!r} is not a "
                             "segment tag", seg)
                continue
            handler = getattr(self, f"on_{seg.tag}", None)
            if handler is not None:
                handler(seg)
        self.close_claim()
        if self.payment.date is None:
            self.payment.date = self.production_date
        if self.bpr_segment is None:
            self.problems.append(Problem("x12-missing-segment", f"transaction set {st.get(2)!r} "
                                         "has no BPR: the payment amount is unknown",
                                         segment=st.index))
        self.check_trailer(st)
        remit = Remittance(
            format=FORMAT,
            payer=Party(self.payer.name, self.payer_ref_id or self.payer_n1_id
                        or self.payer_trn_id),
            payee=self.payee,
            payment=self.payment,
            claims=[c.claim for c in self.claims],
            provider_adjustments=self.provider_adjustments,
        )
        remit.problems = self.problems + self.balance(remit)
        return remit

    def check_trailer(self, st: Segment) -> None:
        se = self.trailer
        if se is None:
            return
        count = len(self.segments)
        if _int(se.get(1)) != count:
            self.problems.append(Problem(
                "x12-se-count", f"segment {se.index}: SE01 says {se.get(1)!r} segments but the "
                f"transaction set has {count} (ST to SE): segments may be missing or extra",
                segment=se.index))
        if se.get(2) != st.get(2):
            self.problems.append(Problem(
                "x12-control-number", f"segment {se.index}: SE02 {se.get(2)!r} does not match "
                f"ST02 {st.get(2)!r}", segment=se.index))

    def balance(self, remit: Remittance) -> list[Problem]:
        """Balancing problems with the segment of the CLP (claim) or SVC (line) concerned."""
        found: list[Problem] = []
        for build in self.claims:
            for problem in check_claim(build.claim):
                if problem.line is not None and problem.line <= len(build.lines):
                    problem.segment = build.lines[problem.line - 1].segment
                else:
                    problem.segment = build.segment
                found.append(problem)
        for problem in check_remittance(remit):
            if problem.claim is None:  # claim problems were attributed above
                problem.segment = self.bpr_segment
                found.append(problem)
        return found

    # -- helpers -------------------------------------------------------------------------------
    def problem(self, code: str, message: str, seg: Segment, *,
                claim: bool = True) -> None:
        account = None
        if claim and self.current is not None and self.loop in ("claim", "line"):
            account = self.current.claim.patient_account
        self.problems.append(Problem(code, message, segment=seg.index, claim=account))

    def amount(self, seg: Segment, position: int, *, required: bool = True) -> Decimal | None:
        raw = seg.get(position)
        name = f"{seg.tag}{position:02d}"
        if raw == "":
            if required:
                self.problem("x12-invalid-amount", f"segment {seg.index}: {name} (an amount) is "
                             "missing", seg)
                return ZERO
            return None
        value = _decimal(raw) if len(raw) <= 18 else None
        if value is None or value != value.quantize(Decimal("0.01")):
            self.problem("x12-invalid-amount", f"segment {seg.index}: {name} {raw[:20]!r} is not "
                         "an amount in dollars and cents", seg)
            return ZERO if required else None
        return money(value)

    def quantity(self, seg: Segment, position: int) -> Decimal | None:
        raw = seg.get(position)
        if raw == "":
            return None
        value = _decimal(raw) if len(raw) <= 18 else None
        if value is None:
            self.problem("x12-invalid-quantity", f"segment {seg.index}: {seg.tag}{position:02d} "
                         f"{raw[:20]!r} is not a number", seg)
        return value

    def date(self, seg: Segment, position: int) -> dt.date | None:
        raw = seg.get(position)
        if raw == "":
            return None
        try:
            if not _DATE.fullmatch(raw):
                raise ValueError(raw)
            return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        except ValueError:
            self.problem("x12-invalid-date", f"segment {seg.index}: {seg.tag}{position:02d} "
                         f"{raw[:20]!r} is not a CCYYMMDD date", seg)
            return None

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
        self.current = None

    def composite(self, seg: Segment, position: int, heads: frozenset[str] | None) -> list[str]:
        return _composite(seg.get(position), self.seps, heads)

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
                      status_code=seg.get(2), billed=ZERO, paid=ZERO)
        self.current = _ClaimBuild(claim, seg.index)
        self.claims.append(self.current)
        if not claim.patient_account:
            self.problem("x12-missing-element", f"segment {seg.index}: CLP01 (patient account) "
                         "is missing", seg)
        claim.billed = self.amount(seg, 3) or ZERO
        claim.paid = self.amount(seg, 4) or ZERO
        claim.patient_responsibility = self.amount(seg, 5, required=False) or ZERO

    def on_NM1(self, seg: Segment) -> None:
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
                into.append(code)

    def on_CAS(self, seg: Segment) -> None:
        if self.current is None or self.loop not in ("claim", "line"):
            where = "comes before any claim (CLP)" if not self.claims else \
                "is not inside a claim (CLP) or service line (SVC)"
            self.out_of_place(seg, where)
            return
        target = (self.current.lines[-1].line.adjustments if self.loop == "line"
                  else self.current.claim.adjustments)
        group = seg.get(1)
        if not group:
            self.problem("x12-missing-element", f"segment {seg.index}: CAS01 (group code) is "
                         "missing", seg)
        for trio in range(6):
            base = 2 + 3 * trio
            reason = seg.get(base)
            raw_amount, raw_qty = seg.get(base + 1), seg.get(base + 2)
            if not reason and not raw_amount and not raw_qty:
                continue
            if not reason:
                self.problem("x12-missing-element", f"segment {seg.index}: CAS{base:02d} "
                             f"(reason code) is missing for the amount {raw_amount!r}", seg)
            amount = self.amount(seg, base + 1, required=False)
            if amount is None and not raw_qty:
                self.problem("x12-missing-element", f"segment {seg.index}: CAS{base + 1:02d} "
                             f"(amount) is missing for reason {reason!r}", seg)
            target.append(Adjustment(group, reason, amount if amount is not None else ZERO,
                                     self.quantity(seg, base + 2)))
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
        code = parts[1] if len(parts) > 1 else ""
        modifiers = [m for m in parts[2:6] if m]
        line = ServiceLine(date_of_service=None, procedure=code, billed=ZERO, paid=ZERO,
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
# small pure helpers
# ---------------------------------------------------------------------------------------------
def _composite(value: str, seps: Separators, heads: frozenset[str] | None) -> list[str]:
    """Split a composite element into its components.

    Tolerance for a common sender mistake (seen in public sample files): the composite uses a
    different component separator from the one declared in ISA16, e.g. ``HC>99213>25`` under
    ``ISA16 = ':'``. When the declared separator does not occur, the value starts with a known
    head (a service qualifier, or for PLB any two-character reason code) and the very next
    character is one of ``> : ^ | \\`` (never '-', '.', '/' or a space, which appear in data),
    that character is used instead. Anything else is returned as a single component.
    """
    if not value:
        return []
    if seps.component in value:
        return [p.strip(" ") for p in value.split(seps.component)]
    if len(value) > 3 and value[2] in _STRAY_COMPONENT_SEPARATORS \
            and value[2] not in (seps.element, seps.segment) \
            and (value[:2] in heads if heads is not None else value[:2].isalnum()):
        return [p.strip(" ") for p in value.split(value[2])]
    return [value]


def _decimal(raw: str) -> Decimal | None:
    if not _NUMBER.fullmatch(raw):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def _int(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None
