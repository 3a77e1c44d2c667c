"""Parsing entry point: sniff the bytes, pick the parser, return canonical remittances.

``parse_file(path)`` returns a list because one X12 file may hold several ST/SE transactions;
a PDF always gives exactly one remittance.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import DocumentError
from ..models import Remittance
from ..types import FaultCode
from .x12_segments import missing_envelope

# pdfminer's DEBUG records quote the document's text (patient names, accounts) and number in the
# hundreds of thousands per run: held at WARNING whatever the root level (docs/operations.md).
logging.getLogger("pdfminer").setLevel(logging.WARNING)

#: how much of a file is read to tell a PDF from an 835 before choosing how to read the rest
SNIFF_BYTES = 1 << 16


def sniff(data: bytes, source: str = "") -> str:
    """``"pdf"`` or ``"x12-835"``; an empty file, or one that is neither, is a DocumentError.

    An 835 may start with a UTF-8 or UTF-16 byte order mark; one starting with a bare GS or ST
    segment is an 835 whose envelope is missing (the X12 parser says so)."""
    if not data.strip(b"\x00\x1a \t\r\n"):
        raise DocumentError("the document is empty", code=FaultCode.EMPTY_DOCUMENT,
                            file=source)
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        head = head.decode("utf-16", errors="replace").encode("utf-8", errors="replace")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"ISA") or missing_envelope(head.decode("latin-1")):
        return "x12-835"
    raise DocumentError("not a PDF or an X12 835 file", code=FaultCode.UNKNOWN_FORMAT,
                        file=source, first_bytes=head[:16].hex())


def parse_bytes(data: bytes, *, layout: str | None = None, source: str = "") -> list[Remittance]:
    kind = sniff(data, source)
    if kind == "pdf":
        from .pdf import parse_pdf

        return [parse_pdf(data, layout=layout, source=source)]
    from .x12 import parse_835

    return parse_835(data, source=source)


def parse_file(path: str | Path, *, layout: str | None = None) -> list[Remittance]:
    """The remittances of the file at ``path``. An 835 larger than :data:`SNIFF_BYTES` is read
    from the disk chunk by chunk (:func:`claimwright.parsing.x12.parse_835`), never whole."""
    path = Path(path)
    try:
        with path.open("rb") as stream:
            head = stream.read(SNIFF_BYTES)
            if len(head) == SNIFF_BYTES and head.strip(b"\x00\x1a \t\r\n") \
                    and sniff(head, str(path)) == "x12-835":
                from .x12 import parse_835

                return parse_835(path, source=str(path))
            data = head + stream.read()
    except OSError as exc:
        raise DocumentError(f"cannot read {path.name}: {exc.strerror}", file=str(path)) from exc
    return parse_bytes(data, layout=layout, source=str(path))
