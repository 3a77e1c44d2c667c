"""The X12 segment reader: delimiters from the ISA (or inferred from a bare GS/ST when the
envelope is missing), the text cut into numbered segments chunk by chunk, and the element-level
helpers (composites, numbers) the 835 mapping uses.

See :mod:`claimwright.parsing.x12` for the whole parser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ..errors import DocumentError
from ..types import FaultCode

#: Characters accepted as a stray component separator inside SVC01/SVC06/PLB composites when the
#: declared ISA16 does not occur there (see :func:`split_composite`).
_STRAY_COMPONENT_SEPARATORS = frozenset(">:^|\\")
_NUMBER = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_BLANKS = frozenset(" \t\r\n")  # never delimiters (str.isspace() would also refuse \x1c-\x1f)
ISA_SCAN_LIMIT = 512  # a real ISA is 106 characters; unpadded ones are shorter
#: How far into a file without its envelope an SVC is looked for (its component separator).
INFER_SCAN_LIMIT = 65536
#: The component separator of a file without its envelope and without a composite to tell it.
DEFAULT_COMPONENT = ":"


@dataclass(frozen=True)
class Separators:
    element: str
    component: str
    repetition: str | None
    segment: str
    #: "" for an ISA interchange; "ST" or "GS": the segment the file starts with (no ISA), the
    #: delimiters inferred from it (:func:`infer_separators`)
    bare: str = ""


@dataclass(slots=True)
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



def read_separators(text: str, *, source: str = "") -> Separators:
    """Read the four delimiters from the ISA segment at the start of ``text``; a file that
    starts with a bare GS or ST (its envelope missing) gets them from :func:`infer_separators`."""
    if missing_envelope(text):
        return infer_separators(text, source=source)
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
    limit = min(len(text), ISA_SCAN_LIMIT)
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


def infer_separators(text: str, *, source: str = "") -> Separators:
    """The delimiters of an 835 that starts with a bare ``GS`` or ``ST`` (no ISA to declare
    them; some clearinghouse exports): element separator = the character after the tag, segment
    terminator = what ends that first segment (the character before the next segment, ``ST``
    after a GS, ``BPR`` after an ST; CR/LF when the segments are one per line), component
    separator = the one an ``SVC01`` composite uses (``HC:99213``), else ``:``."""
    tag, element = text[:2], text[2]
    head = text[:INFER_SCAN_LIMIT]
    terminator = _first_terminator(head, tag, element)
    if terminator is None:
        raise DocumentError(f"the ISA/GS envelope is missing (the data starts with {tag}) and the "
                            f"delimiters cannot be inferred: no end of the {tag} segment found",
                            code=FaultCode.MISSING_ENVELOPE, file=source)
    component = DEFAULT_COMPONENT
    at = head.find(f"SVC{element}")
    while at >= 0:
        value = head[at + 4:at + 7]
        if at > 0 and head[at - 1] in (terminator, "\r", "\n") and len(value) == 3 \
                and value[:2].isalnum() and not value[2].isalnum() \
                and value[2] not in (element, terminator, " ", "\r", "\n"):
            component = value[2]
            break
        at = head.find(f"SVC{element}", at + 1)
    if component in (element, terminator):  # ":" is one of them: no component separator
        component = next(c for c in ":>^|" if c not in (element, terminator))
    return Separators(element, component, None, terminator, bare=tag)


def _first_terminator(head: str, tag: str, element: str) -> str | None:
    """The character that ends the first (GS or ST) segment of ``head``, or ``None``."""
    at = head.find(f"{'ST' if tag == 'GS' else 'BPR'}{element}", 3, ISA_SCAN_LIMIT)
    if at > 0:
        before = head[:at].rstrip("\r\n")
        last = before[-1:]
        if last and not last.isalnum() and last not in (element, " ", "\t"):
            return last
        if len(before) < at and last:  # only a line break: one segment a line, no terminator
            return head[len(before)]
    # otherwise: the first character that cannot be in the segment's elements
    for char in head[3:ISA_SCAN_LIMIT]:
        if not (char.isalnum() or char in (element, " ", "-", ".", "_")):
            return char if char != "\t" else None
    return None


def iter_segments(chunks: Iterable[str], seps: Separators) -> Iterator[Segment]:
    """The segments of the text given as ``chunks`` (cut anywhere), numbered from 1, ignoring
    CR/LF around terminators; only one chunk and one segment are held at a time.

    When the terminator is not itself CR or LF, every CR/LF is dropped (they are not X12 data
    characters), which also reads files wrapped at a fixed width (80-column records). Trailing
    padding (NUL, DOS end-of-file Ctrl-Z, blanks) after the last segment is ignored.
    """
    terminator, element = seps.segment, seps.element
    unwrap = terminator not in "\r\n"
    index, carry = 0, []  # carry: the text after the last terminator so far
    for chunk in chunks:
        if unwrap:
            chunk = chunk.replace("\r", "").replace("\n", "")
        if terminator not in chunk:
            carry.append(chunk)
            continue
        if carry:
            carry.append(chunk)
            chunk = "".join(carry)
        pieces = chunk.split(terminator)
        carry = [pieces.pop()]
        for piece in pieces:
            # no CR/LF left when unwrapped: only blanks before the tag to drop
            piece = piece.lstrip(" \t") if unwrap else piece.strip("\r\n").lstrip(" \t\r\n")
            if piece:
                index += 1
                yield Segment(index, piece.split(element))
    piece = "".join(carry).rstrip("\x00\x1a \t\r\n").strip("\r\n").lstrip(" \t\r\n")
    if piece:
        yield Segment(index + 1, piece.split(element))


def split_segments(text: str, seps: Separators) -> list[Segment]:
    """All the segments of ``text`` (see :func:`iter_segments`)."""
    return list(iter_segments((text,), seps))



#: A bare functional group or transaction set: the ISA (and maybe GS) envelope was dropped.
_BARE_SEGMENT = re.compile(r"(?:GS|ST)[^A-Za-z0-9 \t\r\n]")
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def missing_envelope(text: str) -> bool:
    """Whether ``text`` starts with a bare GS or ST segment (no ISA before it)."""
    return _BARE_SEGMENT.match(text) is not None


def decode(data: bytes | str, source: str) -> str:
    """The text of an 835: UTF-8 (a UTF-16 byte order mark is honoured). Bytes that are not
    UTF-8 are kept as lone surrogates (``surrogateescape``) for :mod:`.x12_elements` to flag
    element by element; the file is never reinterpreted as a whole."""
    if isinstance(data, str):
        text = data
    elif isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        if raw[:2] in _UTF16_BOMS:
            text = raw.decode("utf-16", errors="replace")  # U+FFFD: flagged per element
        else:
            text = raw.decode("utf-8", errors="surrogateescape")
    else:
        raise DocumentError(f"cannot read an 835 from {type(data).__name__}", code=FaultCode.NOT_X12,
                            file=source)
    text = text.lstrip("\ufeff \t\r\n")
    if not text or not text.strip("\x00\x1a \t\r\n"):
        raise DocumentError("empty document", code=FaultCode.EMPTY_DOCUMENT, file=source)
    if "\x00" in text[:ISA_SCAN_LIMIT]:
        raise DocumentError("binary data, not an X12 interchange", code=FaultCode.NOT_X12, file=source)
    return text


def split_composite(value: str, seps: Separators, heads: frozenset[str] | None) -> list[str]:
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


def parse_decimal(raw: str) -> Decimal | None:
    if not _NUMBER.fullmatch(raw):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid numbers
        return None


def parse_int(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else None
