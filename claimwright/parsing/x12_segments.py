"""The X12 segment reader: delimiters from the ISA, the text cut into numbered segments, and
the element-level helpers (composites, numbers) the 835 mapping uses.

See :mod:`claimwright.parsing.x12` for the whole parser.
"""

from __future__ import annotations

import re
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



def read_separators(text: str, *, source: str = "") -> Separators:
    """Read the four delimiters from the ISA segment at the start of ``text``."""
    if missing_envelope(text):
        raise DocumentError(f"the ISA/GS envelope is missing: the data starts with {text[:2]} "
                            "instead of an ISA interchange header", code=FaultCode.MISSING_ENVELOPE,
                            file=source)
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
