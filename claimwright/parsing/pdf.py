"""PDF remittance advice -> canonical :class:`~claimwright.models.Remittance`.

The engine is generic: everything payer-specific lives in a layout file
(``claimwright/layouts/*.yaml`` and the folders of ``CLAIMWRIGHT_LAYOUTS_DIR``, see
:mod:`claimwright.parsing.layout_catalog` and docs/layouts.md).

1. Open the PDF with PDFium; unreadable input (empty, not a PDF, truncated, damaged, encrypted,
   no text layer) raises :class:`~claimwright.errors.DocumentError`.
2. Pick the layout: the one named by ``layout=``, else the single layout whose fingerprint
   matches page 1. No match (or more than one) raises :class:`~claimwright.errors.UnknownLayout`.
3. Words -> rows -> cells (:mod:`claimwright.parsing.pdf_text`); page furniture is dropped.
4. A small state machine (:mod:`claimwright.parsing.pdf_rows`) reads the rows: document
   fields, then claim blocks (start row, service line table with continuation rows, claim-level
   rows, totals), provider-level adjustments and the summary. A row inside a block that the layout cannot interpret becomes a ``Problem``,
   as does a printed total that disagrees with the parsed amounts: nothing is silently dropped.
5. :mod:`claimwright.parsing.pdf_assembly` builds the remittance and checks printed totals;
   balancing (:func:`claimwright.balancing.check_remittance`) appends its problems.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium

from ..errors import DocumentError, UnknownLayout
from ..models import Remittance
from ..types import FaultCode
from .glossary import GlossaryEntry
from .layout import Layout
from .layout_loader import get_layout, load_layouts
from .pdf_rows import RowReader
from .pdf_text import PageText, open_document, page_words, plain_text

__all__ = ["parse_pdf", "parse_pdf_details", "PdfParse", "detect_layout", "extract_pages"]


def extract_pages(data: bytes | str | Path, *, source: str = "") -> list[PageText]:
    """Positioned words of every page (raises DocumentError for unreadable documents)."""
    doc, _ = open_document(data, source)
    pages: list[PageText] = []
    try:
        for index in range(len(doc)):
            try:
                pages.append(page_words(doc, index))
            except pdfium.PdfiumError as exc:
                raise DocumentError(f"page {index + 1} cannot be read: {exc}",
                                    code=FaultCode.CORRUPT_PDF, file=source, page=index + 1) from exc
    finally:
        doc.close()
    if not any(p.words for p in pages):
        raise DocumentError("the PDF has no text layer (image-only or blank pages); it needs "
                            "OCR or a person", code=FaultCode.NO_TEXT, file=source, pages=len(pages))
    return pages


def detect_layout(first_page_text: str, *, source: str = "",
                  layouts: list[Layout] | None = None) -> Layout:
    """The one layout whose fingerprint matches page 1; never a guess."""
    layouts = load_layouts() if layouts is None else layouts
    text = plain_text(first_page_text)
    matches = [lay for lay in layouts if lay.matches(text)]
    if len(matches) == 1:
        return matches[0]
    known = [lay.name for lay in layouts]
    if not matches:
        raise UnknownLayout(f"no PDF layout matches this document (known layouts: {known})",
                            file=source, known=known)
    names = [m.name for m in matches]
    raise UnknownLayout(f"several PDF layouts match this document: {names}; fingerprints must "
                        "be made more specific", file=source, candidates=names)


@dataclass
class PdfParse:
    """A PDF parse with what the canonical model does not hold: the glossary as printed."""

    remittance: Remittance
    glossary: list[GlossaryEntry]


def parse_pdf_details(data: bytes | str | Path, *, layout: str | None = None,
                      source: str = "") -> PdfParse:
    """Like :func:`parse_pdf`, also returning the glossary entries read from the document."""
    if isinstance(data, (str, Path)) and not source:
        source = str(data)
    pages = extract_pages(data, source=source)
    chosen = get_layout(layout) if layout else detect_layout(pages[0].text, source=source)
    reader = RowReader(chosen)
    remittance = reader.read(pages)
    return PdfParse(remittance, reader.glossary)


def parse_pdf(data: bytes | str | Path, *, layout: str | None = None,
              source: str = "") -> Remittance:
    """Parse one PDF remittance advice (bytes or a path) into a canonical remittance.

    ``layout`` names a layout (or a layout file path) to use instead of detection. The result
    has ``format="pdf"``, ``layout`` set, claim ``pages`` filled, and ``problems`` holding layout
    problems (unrecognized rows, bad values, totals that disagree) followed by balancing
    problems.
    """
    return parse_pdf_details(data, layout=layout, source=source).remittance
