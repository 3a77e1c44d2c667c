"""X12 835 (005010X221A1) parser: raw bytes -> one canonical :class:`Remittance` per ST/SE.

A small hand-written segment reader (the 835 grammar needs no generic EDI engine):

1. The separators come from the ISA itself (:mod:`.x12_segments`): element separator = the
   character after ``ISA``, repetition separator = ISA11 (when it is not a letter or digit, as
   in 4010's ``U``), component separator = ISA16, segment terminator = the character after
   ISA16. CR/LF after terminators is ignored, so one-segment-per-line files and single-line
   files read the same.
2. Segments are numbered from 1 (the ISA) across the whole file; every :class:`Problem` the
   parser raises carries that number in ``segment``.
3. Before any segment is read, :mod:`.x12_elements` checks and repairs its elements: bytes
   that are not UTF-8, control characters, elements over their X12 maximum (each a Problem).
4. Each ST*835 ... SE transaction is mapped onto the canonical model by
   :mod:`.x12_transaction` (see docs/x12-835.md for what comes from which segment), then
   balanced with :mod:`claimwright.balancing`.

Damage that still leaves a readable document (missing SE, a wrong SE count, an amount that is
not a number, a CAS outside any claim) becomes a ``Problem`` on the remittance concerned;
anything that is not an X12 interchange at all (no ISA, truncated ISA, binary garbage, no 835
transaction) raises :class:`~claimwright.errors.DocumentError`.
"""

from __future__ import annotations

from ..errors import DocumentError
from ..models import Problem, Remittance
from ..types import FaultCode
from .x12_elements import element_problems, needs_scan
from .x12_segments import Segment, Separators, decode, parse_int, read_separators, split_segments
from .x12_transaction import TransactionParser

__all__ = ["parse_835"]


# ---------------------------------------------------------------------------------------------
# public entry point
# ---------------------------------------------------------------------------------------------
def parse_835(data: bytes | str, *, source: str = "") -> list[Remittance]:
    """Parse an X12 835 interchange into one :class:`Remittance` per ST/SE transaction set.

    Every remittance comes back balanced-checked: ``problems`` holds the balancing and
    structural problems (each with the 1-based ``segment`` index where known).

    :raises DocumentError: when ``data`` is not a readable X12 interchange with an 835 in it.
    """
    text = decode(data, source)
    seps = read_separators(text, source=source)
    segments = split_segments(text, seps)
    return _parse_interchange(segments, seps, source, scan=needs_scan(text, seps))



# ---------------------------------------------------------------------------------------------
# envelope: ISA / GS / ST ... SE / GE / IEA
# ---------------------------------------------------------------------------------------------
def _parse_interchange(segments: list[Segment], seps: Separators,
                       source: str, *, scan: bool = True) -> list[Remittance]:
    env = _Envelope(seps, scan=scan)
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
    """ISA/GS/ST/SE/GE/IEA bookkeeping; hands each ST..SE body to :class:`TransactionParser`.

    Envelope problems (counts, stray segments) go to the remittance just before them, or to the
    first remittance when none precedes them.
    """

    def __init__(self, seps: Separators, *, scan: bool = True) -> None:
        self.seps = seps
        self.scan = scan  # False: the file holds no character element_problems looks for
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
        remit = TransactionParser(txn, self.seps, trailer).parse()
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
        found = element_problems(seg, self.seps, scan=self.scan)  # repairs before reading
        self.dispatch(seg, source)
        if found:  # to the transaction the segment is in (its SE: the one just closed)
            into = (self.txn_problems if self.txn is not None
                    else self.remittances[-1].problems if self.remittances else self.pending)
            into.extend(found)

    def dispatch(self, seg: Segment, source: str) -> None:
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
        elif parse_int(seg.get(1)) != self.group_sets:
            self.problem(seg, f"GE01 says {seg.get(1)[:10]!r} transaction sets but the group "
                         f"holds {self.group_sets}")
        self.group_open = None

    def on_IEA(self, seg: Segment) -> None:
        if self.group_open is not None:
            self.problem(seg, "IEA before the group's GE")
            self.group_open = None
        if self.isa_open is None:
            self.problem(seg, "IEA without a matching ISA")
        elif parse_int(seg.get(1)) != self.interchange_groups:
            self.problem(seg, f"IEA01 says {seg.get(1)[:10]!r} functional groups but the "
                         f"interchange holds {self.interchange_groups}")
        self.isa_open = None
