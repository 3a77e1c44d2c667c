"""Element-level checks of every X12 segment before the 835 mapping reads it.

Three kinds of hostile or damaged element become a :class:`Problem` naming the segment and the
element (never quoting the value, which may be PHI), and the element is made safe in place:

- ``x12-encoding``: bytes that are not UTF-8. :func:`claimwright.parsing.x12_segments.decode`
  reads a file as UTF-8; an invalid byte survives as a lone surrogate (``surrogateescape``), and
  here each such byte is read as Latin-1 *in that element only*, flagged. Valid UTF-8 elsewhere
  in the file is never reinterpreted.
- ``x12-control-character``: NUL, the other C0 controls and DEL inside an element (the declared
  component and repetition separators excepted; CR/LF between segments never reach here).
- ``element-too-long``: an element longer than :data:`ELEMENT_MAX`, the 005010X221A1 maximum or
  the model's own storage limit when that is smaller (``claimwright/storage/records.py``). The
  element is truncated to the maximum, so storage never fails on it. Values composed from
  several elements (the rendering provider's name) or cut from a composite (SVC01-2) are held
  to the model's limits (:mod:`claimwright.limits`) where they are built.
"""

from __future__ import annotations

import re
from functools import lru_cache
from operator import gt

from ..limits import PAYER_ID_MAX
from ..models import Problem
from .x12_segments import Segment, Separators

#: Maximum length of each element the parser reads, by (segment tag, element position):
#: the 005010X221A1 maximum, or a smaller model/storage limit (noted).
ELEMENT_MAX: dict[tuple[str, int], int] = {
    ("ST", 1): 3, ("ST", 2): 9, ("SE", 1): 10, ("SE", 2): 9,
    ("GS", 6): 9, ("GE", 1): 6, ("GE", 2): 9, ("IEA", 1): 5, ("IEA", 2): 9,
    ("BPR", 1): 1, ("BPR", 2): 18, ("BPR", 3): 1, ("BPR", 4): 3, ("BPR", 16): 8,
    ("TRN", 1): 2, ("TRN", 2): 50, ("TRN", 3): 10, ("TRN", 4): 50,
    ("DTM", 1): 3, ("DTM", 2): 8,
    ("N1", 1): 3, ("N1", 2): 60, ("N1", 3): 2,
    ("N1", 4): PAYER_ID_MAX,  # X12: 80; more than the model stores
    ("REF", 1): 3, ("REF", 2): 50,
    ("LX", 1): 6,
    ("CLP", 1): 38, ("CLP", 2): 2, ("CLP", 3): 18, ("CLP", 4): 18, ("CLP", 5): 18,
    ("CLP", 6): 2, ("CLP", 7): 50, ("CLP", 8): 2, ("CLP", 9): 1,
    ("NM1", 1): 3, ("NM1", 2): 1, ("NM1", 3): 60, ("NM1", 4): 35, ("NM1", 5): 25,
    ("NM1", 7): 10, ("NM1", 8): 2, ("NM1", 9): 80,
    ("MIA", 5): 50, ("MIA", 20): 50, ("MIA", 21): 50, ("MIA", 22): 50, ("MIA", 23): 50,
    ("MOA", 3): 50, ("MOA", 4): 50, ("MOA", 5): 50, ("MOA", 6): 50, ("MOA", 7): 50,
    ("CAS", 1): 2,
    **{("CAS", 2 + 3 * i): 5 for i in range(6)},       # reason codes
    **{("CAS", 3 + 3 * i): 18 for i in range(6)},      # amounts
    **{("CAS", 4 + 3 * i): 15 for i in range(6)},      # quantities
    # SVC01 / SVC06 composites: qualifier 2, code 48, four modifiers 2, description 80,
    # code 48 again, with 7 separators
    ("SVC", 1): 193, ("SVC", 2): 18, ("SVC", 3): 18, ("SVC", 4): 48, ("SVC", 5): 15,
    ("SVC", 6): 193, ("SVC", 7): 15,
    ("AMT", 1): 3, ("AMT", 2): 18, ("LQ", 1): 3, ("LQ", 2): 50,
    ("PLB", 1): 50, ("PLB", 2): 8,
    **{("PLB", 3 + 2 * i): 53 for i in range(6)},      # C042: reason 2 + reference 50
    **{("PLB", 4 + 2 * i): 18 for i in range(6)},      # amounts
    ("DMG", 1): 3, ("DMG", 2): 35,
    **{("HI", i): 64 for i in range(1, 13)},           # C022: qualifier 3 + code 30 + ...
}
#: Any element not in the table (an element the parser does not read) is still bounded.
DEFAULT_MAX = 264

#: ELEMENT_MAX by tag, position by position (DEFAULT_MAX elsewhere), for a check in C.
WIDTH = 64
MAXIMA: dict[str, tuple[int, ...]] = {
    tag: tuple(ELEMENT_MAX.get((tag, i), DEFAULT_MAX) for i in range(WIDTH))
    for tag in {t for t, _ in ELEMENT_MAX}}
DEFAULT_MAXIMA = (DEFAULT_MAX,) * WIDTH

_SURROGATES = re.compile("[\udc80-\udcff]")
_REPLACEMENT = "\ufffd"  # what a UTF-16 file's undecodable bytes became
_CONTROLS = re.compile("[\x00-\x1f\x7f]")


def needs_scan(text: str, seps: Separators) -> bool:
    """Whether ``text`` holds any character :func:`element_problems` must look for (one pass
    over the file, or over each chunk of it; a clean file then costs only the length checks)."""
    return _suspicious(seps).search(text) is not None


@lru_cache(maxsize=16)
def _suspicious(seps: Separators) -> re.Pattern:
    allowed = {seps.element, seps.component, seps.repetition, seps.segment, "\r", "\n"}
    controls = "".join(re.escape(chr(c)) for c in (*range(0x20), 0x7F) if chr(c) not in allowed)
    return re.compile(f"[{controls}\udc80-\udcff{_REPLACEMENT}]")


def element_problems(seg: Segment, seps: Separators, *, scan: bool = True) -> list[Problem]:
    """Check and repair ``seg``'s elements in place; one problem per damaged element.
    ``scan=False`` (the file is known clean: :func:`needs_scan`) checks the lengths only."""
    elements = seg.elements
    if not scan and len(elements) <= WIDTH and not any(map(gt, map(len, elements), MAXIMA.get(
            elements[0], DEFAULT_MAXIMA))):
        return []  # the common case: a clean file, every element within its maximum
    found: list[Problem] = []
    allowed = {seps.component, seps.repetition} - {None}
    tag = seg.elements[0][:3] if seg.elements else ""
    tag = tag if tag.isascii() and tag.isalnum() else "?"
    for position, value in enumerate(seg.elements):
        limit = ELEMENT_MAX.get((tag, position), DEFAULT_MAX)
        if not scan and len(value) <= limit:
            continue
        name = f"{tag}{position:02d}" if position else "the segment tag"
        if scan and _SURROGATES.search(value):
            value = _SURROGATES.sub(lambda m: chr(ord(m.group()) - 0xDC00), value)
            found.append(_problem("x12-encoding", seg, f"{name} holds bytes that are not UTF-8; "
                                  "they were read as Latin-1: check the value"))
        elif scan and _REPLACEMENT in value:
            found.append(_problem("x12-encoding", seg, f"{name} holds bytes that could not be "
                                  "decoded (U+FFFD): check the value"))
        controls = {c for c in _CONTROLS.findall(value) if c not in allowed} if scan else ()
        if controls:
            codes = ", ".join(f"U+{ord(c):04X}" for c in sorted(controls))
            found.append(_problem("x12-control-character", seg, f"{name} holds control "
                                  f"characters ({codes}), which are not X12 data"))
        if len(value) > limit:
            found.append(_problem("element-too-long", seg, f"{name} has {len(value)} "
                                  f"characters, more than its maximum of {limit}; it was cut "
                                  f"to {limit}"))
            value = value[:limit]
        seg.elements[position] = value
    return found


def limited(value: str, limit: int, what: str, seg: Segment, into: list[Problem]) -> str:
    """``value`` cut to ``limit`` characters; an ``element-too-long`` problem when it was."""
    if len(value) <= limit:
        return value
    into.append(_problem("element-too-long", seg, f"{what} has {len(value)} characters, more "
                         f"than the {limit} the model stores; it was cut to {limit}"))
    return value[:limit]


def _problem(code: str, seg: Segment, message: str) -> Problem:
    return Problem(code, f"segment {seg.index}: {message}", segment=seg.index)
