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

# pdfminer's DEBUG records quote the document's text (patient names, accounts) and number in the
# hundreds of thousands per run: held at WARNING whatever the root level (docs/operations.md).
logging.getLogger("pdfminer").setLevel(logging.WARNING)


def sniff(data: bytes) -> str:
    head = data[:1024].lstrip()
    if head.startswith(b"%PDF-") or b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"ISA"):
        return "x12-835"
    raise DocumentError("not a PDF or an X12 835 file", code=FaultCode.UNKNOWN_FORMAT,
                        first_bytes=head[:16].hex())


def parse_bytes(data: bytes, *, layout: str | None = None, source: str = "") -> list[Remittance]:
    kind = sniff(data)
    if kind == "pdf":
        from .pdf import parse_pdf

        return [parse_pdf(data, layout=layout, source=source)]
    from .x12 import parse_835

    return parse_835(data, source=source)


def parse_file(path: str | Path, *, layout: str | None = None) -> list[Remittance]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read {path.name}: {exc.strerror}", file=str(path)) from exc
    return parse_bytes(data, layout=layout, source=str(path))
