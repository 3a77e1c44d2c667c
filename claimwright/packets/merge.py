"""PDF assembly of a packet: the letter followed by the remittance page(s) imported from the
source PDF (pypdfium2), with a content-derived file ID so the bytes are deterministic."""

from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path

import pypdfium2 as pdfium

from ..errors import DocumentError
from ..models import Claim


def source_pages(claim: Claim, source_pdf: Path | bytes | None) -> list[int]:
    if source_pdf is None or not claim.pages:
        return []
    return sorted(set(claim.pages))


def load_pdf(source: Path | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the source remittance PDF: {exc}",
                            file=str(source)) from exc


def page_count(data: bytes) -> int:
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf)
    finally:
        pdf.close()


def merge_parts(parts: list[tuple[bytes, list[int] | None]]) -> bytes:
    """One PDF of ``parts`` in order: each (pdf bytes, its 1-based pages to take, or None for
    every page), with a stable file ID."""
    (first, first_pages), rest = parts[0], parts[1:]
    dest = pdfium.PdfDocument(first)
    try:
        if first_pages is not None:
            raise ValueError("the first part of a packet is taken whole")
        for data, pages in rest:
            try:
                src = pdfium.PdfDocument(data)
            except pdfium.PdfiumError as exc:
                raise DocumentError(f"cannot open a PDF of the packet: {exc}") from exc
            try:
                if pages is not None:
                    bad = [p for p in pages if not 1 <= p <= len(src)]
                    if bad:
                        raise ValueError(f"claim pages {bad} are outside the source PDF "
                                         f"({len(src)} pages)")
                dest.import_pages(src, None if pages is None else [p - 1 for p in pages])
            finally:
                src.close()
        buffer = io.BytesIO()
        dest.save(buffer)
    finally:
        dest.close()
    return _stable_id(buffer.getvalue())


def merge_pdfs(letter: bytes, remittance: bytes, pages: list[int]) -> bytes:
    """The letter followed by ``pages`` (1-based) of ``remittance``, with a stable file ID."""
    return merge_parts([(letter, None), (remittance, pages)])


_ID_RE = re.compile(rb"/ID\s*\[\s*<([0-9A-Fa-f]{32})>\s*<([0-9A-Fa-f]{32})>\s*\]")


def _stable_id(pdf: bytes) -> bytes:
    """PDFium writes a random second file identifier on every save; replace both identifiers
    (same length, so offsets stay valid) with a hash of the rest of the file."""
    matches = list(_ID_RE.finditer(pdf))
    if not matches:
        return pdf
    m = matches[-1]

    def with_id(value: bytes) -> bytes:
        return pdf[:m.start(1)] + value + pdf[m.end(1):m.start(2)] + value + pdf[m.end(2):]

    digest = hashlib.sha256(with_id(b"0" * 32)).hexdigest()[:32].upper().encode()
    return with_id(digest)
