"""X12 835 (005010X221A1) parser: raw bytes -> one canonical :class:`Remittance` per ST/SE.

A small hand-written segment reader (the 835 grammar needs no generic EDI engine):

1. The separators come from the ISA itself (:mod:`.x12_segments`): element separator = the
   character after ``ISA``, repetition separator = ISA11 (when it is not a letter or digit, as
   in 4010's ``U``), component separator = ISA16, segment terminator = the character after
   ISA16. CR/LF after terminators is ignored, so one-segment-per-line files and single-line
   files read the same. A file that starts at a bare ``ST`` (or ``GS``) -- some clearinghouse
   exports drop the envelope -- is read with the delimiters inferred from that segment, and
   each remittance gets an ``x12-missing-envelope`` problem saying so.
2. Segments are numbered from 1 (the ISA) across the whole file; every :class:`Problem` the
   parser raises carries that number in ``segment``.
3. Before any segment is read, :mod:`.x12_elements` checks and repairs its elements: bytes
   that are not UTF-8, control characters, elements over their X12 maximum (each a Problem).
4. Each ST*835 ... SE transaction is mapped onto the canonical model by
   :mod:`.x12_transaction` (see docs/x12-835.md for what comes from which segment), then
   balanced with :mod:`claimwright.balancing`.

The file is read as a stream (:mod:`.x12_stream`): one chunk of text, one segment and one
transaction set's objects at a time -- never the whole text, a list of all segments, nor (with
:func:`iter_835`'s ``on_claim``) more than one claim.

Damage that still leaves a readable document (missing SE, a wrong SE count, an amount that is
not a number, a CAS outside any claim) becomes a ``Problem`` on the remittance concerned;
anything that is not an X12 interchange at all (no ISA, truncated ISA, binary garbage, no 835
transaction) raises :class:`~claimwright.errors.DocumentError`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from operator import gt

from ..errors import DocumentError
from ..models import Claim, Problem, Remittance
from ..types import FaultCode
from .x12_elements import DEFAULT_MAXIMA, MAXIMA, WIDTH, element_problems, needs_scan
from .x12_segments import Segment, Separators, iter_segments, parse_int, read_separators
from .x12_stream import Source, open_text
from .x12_transaction import TransactionParser

__all__ = ["parse_835", "iter_835"]


# ---------------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------------
def parse_835(data: Source, *, source: str = "") -> list[Remittance]:
    """Parse an X12 835 interchange into one :class:`Remittance` per ST/SE transaction set.

    ``data``: the bytes or text of the file, or a path (:class:`os.PathLike`) or binary file
    to read it from in chunks. Every remittance comes back balanced-checked: ``problems`` holds
    the balancing and structural problems (each with the 1-based ``segment`` index where known).

    The cyclic garbage collector is paused meanwhile: the model is built of tens of thousands of
    objects and none of them is garbage in a cycle, so its passes over the growing model
    (20-30 % of the time, measured) find nothing.

    :raises DocumentError: when ``data`` is not a readable X12 interchange with an 835 in it.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        return list(iter_835(data, source=source))
    finally:
        if paused:
            gc.enable()


def iter_835(data: Source, *, source: str = "",
             on_claim: Callable[[Claim], None] | None = None) -> Iterator[Remittance]:
    """The remittances of :func:`parse_835`, one at a time, each as soon as the file has been
    read past it (its GE/IEA checks need the segments after its SE).

    With ``on_claim``, each finished claim (balance-checked, its problems on the remittance) is
    handed to ``on_claim`` instead of being kept: the remittances come with no ``claims``, and
    memory stays bounded by the largest claim, whatever the size of the file.

    :raises DocumentError: as :func:`parse_835`; raised when reached (remittances read before
        it were already given).
    """
    head, chunks = open_text(data, source)
    seps = read_separators(head, source=source)
    env = _Envelope(seps, source, on_claim=on_claim)
    last = None
    for seg in iter_segments(env.scanned(chunks), seps):
        env.feed(seg)
        last = seg
        while env.ready:
            yield env.ready.pop(0)
    yield from env.close(last)


# ---------------------------------------------------------------------------------------------
# envelope: ISA / GS / ST ... SE / GE / IEA
# ---------------------------------------------------------------------------------------------
class _Envelope:
    """ISA/GS/ST/SE/GE/IEA bookkeeping; feeds each ST..SE body to a :class:`TransactionParser`.

    Envelope problems (counts, stray segments) go to the remittance just before them, or to the
    first remittance when none precedes them: so a finished remittance is held back (``held``)
    until the next one is finished or the file ends, then released to ``ready``.
    """

    def __init__(self, seps: Separators, source: str, *,
                 on_claim: Callable[[Claim], None] | None = None) -> None:
        self.seps = seps
        self.source = source
        self.on_claim = on_claim
        self.scan = False  # True once a chunk holds a character element_problems looks for
        self.cache: dict = {}  # parsed amounts and dates, shared by the transaction sets
        self.held: Remittance | None = None
        self.ready: list[Remittance] = []
        self.given = 0  # remittances finished
        self.pending: list[Problem] = []
        self.txn: TransactionParser | None = None
        self.txn_problems: list[Problem] = []
        self.group_open: Segment | None = None
        self.group_sets = 0
        self.isa_open: Segment | None = None
        self.interchange_groups = 0
        if seps.bare == "GS":
            self.pending.append(Problem(
                "x12-missing-envelope", "segment 1: the file starts with GS, without the ISA "
                f"interchange header; {self.inferred()}", segment=1))

    def inferred(self) -> str:
        s = self.seps
        return (f"its delimiters were inferred (element {s.element!r}, segment {s.segment!r}, "
                f"component {s.component!r})")

    def scanned(self, chunks: Iterator[str]) -> Iterator[str]:
        """``chunks``, each looked over for characters element_problems must repair."""
        for chunk in chunks:
            if not self.scan:
                self.scan = needs_scan(chunk, self.seps)
            yield chunk

    def problem(self, seg: Segment, message: str) -> None:
        problem = Problem("x12-envelope", f"segment {seg.index}: {message}", segment=seg.index)
        (self.held.problems if self.held is not None else self.pending).append(problem)

    def finished(self, remit: Remittance) -> None:
        if self.held is not None:
            self.ready.append(self.held)
        elif self.pending:  # the first remittance
            remit.problems[:0] = self.pending
            self.pending = []
        self.held = remit
        self.given += 1

    def close(self, last: Segment | None) -> Iterator[Remittance]:
        """At the end of the file: the last transaction finished, the held remittance given."""
        self.close_transaction(None)
        if self.held is None:
            raise DocumentError("no ST*835 transaction set in the interchange",
                                code=FaultCode.NOT_835, file=self.source)
        if (self.group_open is not None or self.isa_open is not None) and last is not None:
            what = "GE and IEA" if self.group_open is not None else "IEA"
            self.held.problems.append(Problem(
                "x12-envelope", f"the interchange ends at segment {last.index} without its "
                f"{what}: the file may be truncated", segment=last.index))
        if self.pending:  # problems after the first remittance never land here; kept safe
            self.held.problems[:0] = self.pending
        yield from self.ready
        yield self.held

    def close_transaction(self, at: Segment | None) -> None:
        """Finish the open transaction; ``at`` is its SE, or what cut it short (None = EOF)."""
        txn = self.txn
        if txn is None:
            return
        trailer = at if at is not None and at.tag == "SE" else None
        remit = txn.finish(trailer)
        if trailer is None:
            # The last claim read may have lost its tail: name it so it is not trusted.
            where = f"before segment {at.index} ({at.tag})" if at else "at the end of the file"
            self.txn_problems.append(Problem(
                "x12-missing-se", f"transaction set {txn.st.get(2)!r} (segment {txn.st.index}) "
                f"has no SE {where}: it may be truncated", segment=txn.st.index,
                claim=txn.last_account))
        remit.problems[:0] = self.txn_problems
        self.txn, self.txn_problems = None, []
        self.finished(remit)

    def feed(self, seg: Segment) -> None:
        elements = seg.elements
        if not self.scan and len(elements) <= WIDTH and not any(map(
                gt, map(len, elements), MAXIMA.get(elements[0], DEFAULT_MAXIMA))):
            # the common case (element_problems' own first test, without the call): a clean
            # file, every element within its maximum
            txn = self.txn
            if txn is not None and elements[0] not in _ENVELOPE:
                handler = txn.handlers.get(elements[0])  # txn.feed, inlined
                if handler is None:
                    txn.feed(seg)
                else:
                    txn.count += 1
                    handler(seg)
            else:
                self.dispatch(seg)
            return
        found = element_problems(seg, self.seps, scan=self.scan)  # repairs before reading
        self.dispatch(seg)
        if found:  # to the transaction the segment is in (its SE: the one just closed)
            into = (self.txn_problems if self.txn is not None
                    else self.held.problems if self.held is not None else self.pending)
            into.extend(found)

    def dispatch(self, seg: Segment) -> None:
        tag = seg.tag
        if self.txn is not None and tag not in _ENVELOPE:
            self.txn.feed(seg)
        elif tag == "SE":
            if self.txn is None:
                self.problem(seg, "SE without a matching ST")
                return
            self.close_transaction(seg)
        elif tag == "ST":
            self.close_transaction(seg)
            if seg.get(1) != "835":
                raise DocumentError(
                    f"transaction set {seg.get(1)[:6]!r} at segment {seg.index} is not an 835",
                    code=FaultCode.NOT_835, file=self.source, segment=seg.index)
            self.txn = TransactionParser(seg, self.seps, on_claim=self.on_claim,
                                         cache=self.cache)
            self.group_sets += 1
            if self.group_open is None:
                self.txn_problems.append(
                    Problem("x12-missing-envelope", f"segment {seg.index}: the transaction set "
                            "has no ISA/GS envelope (the file starts with ST): "
                            f"{self.inferred()}; no interchange or group control number or "
                            "count could be checked", segment=seg.index)
                    if self.seps.bare == "ST" else
                    Problem("x12-envelope", f"segment {seg.index}: ST outside a GS/GE "
                            "functional group", segment=seg.index))
        elif tag in ("ISA", "GS", "GE", "IEA"):
            self.close_transaction(seg)
            getattr(self, f"on_{tag}")(seg)
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


_ENVELOPE = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
