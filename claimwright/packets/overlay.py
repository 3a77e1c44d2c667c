"""Draw the boxes :func:`.highlight.locate_lines` found over pages cut from the source PDF: a
translucent yellow fill (multiplied, so black text stays black), a thin dark-red outline and a
small margin label ("Appealed: line 2"). See :mod:`.highlight` for why pypdf merges the
overlay; the output is deterministic."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pypdf import PdfReader, PdfWriter, Transformation
from pypdf.errors import PyPdfError
from reportlab.lib.colors import Color
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen import canvas

from ..errors import DocumentError
from ..types import FaultCode
from ..parsing.pdf_text import open_document
from .merge import _stable_id, load_pdf

if TYPE_CHECKING:
    from .highlight import Box

# Drawing: a highlighter yellow multiplied over the page (white turns yellow, black stays black)
HIGHLIGHT_RGB = (1.0, 0.87, 0.0)
HIGHLIGHT_ALPHA = 0.45
# the fill's colour over a white page, 0-255 (what a rendering shows inside a box)
HIGHLIGHT_ON_WHITE = tuple(round(255 * (1 - HIGHLIGHT_ALPHA + HIGHLIGHT_ALPHA * c))
                           for c in HIGHLIGHT_RGB)
OUTLINE_RGB = (0.55, 0.0, 0.0)
OUTLINE_WIDTH = 0.75
LABEL_FONT = "Helvetica-Bold"
LABEL_SIZES = (6.0, 5.5, 5.0, 4.5)  # tried in turn until the label fits the margin
LABEL_GAP = 2.5  # pt between a box and its label
EDGE = 1.5  # pt the label keeps from the page edge


def highlighted_pages(pdf: bytes | Path, pages: list[int], boxes: Iterable[Box], *,
                      label: str = "Appealed") -> bytes:
    """A new PDF of ``pages`` (1-based, in the order given, each once) of ``pdf``, each with
    the ``boxes`` of that page drawn over its content and labelled ``"<label>: line N"`` (or
    ``": claim"``). Boxes of pages not listed are not drawn. Deterministic: the same input gives
    the same bytes."""
    pages = list(pages)
    if not pages:
        raise ValueError("no pages to cut from the source PDF")
    if len(set(pages)) != len(pages):
        raise ValueError(f"pages {pages} list a page more than once")
    by_page: dict[int, list[Box]] = {}
    for box in boxes:
        by_page.setdefault(box.page, []).append(box)
    data = load_pdf(pdf)
    count = _page_count(data)  # the parser's checks: typed errors for unreadable PDFs
    bad = [p for p in pages if not 1 <= p <= count]
    if bad:
        raise ValueError(f"pages {bad} are outside the source PDF ({count} pages)")
    try:
        reader = PdfReader(io.BytesIO(data))
        writer = PdfWriter()
        geometry = [_page_geometry(reader.pages[p - 1]) for p in pages]
        overlay = PdfReader(io.BytesIO(_overlay(geometry, [by_page.get(p, []) for p in pages], label)))
        for index, (geo, number) in enumerate(zip(geometry, pages)):
            page = writer.add_page(reader.pages[number - 1])
            if by_page.get(number):
                page.merge_transformed_page(overlay.pages[index], Transformation(geo.matrix))
        buffer = io.BytesIO()
        writer.write(buffer)
    except PyPdfError as exc:
        raise DocumentError(f"pypdf cannot cut pages from the source PDF: {type(exc).__name__}",
                            code=FaultCode.CORRUPT_PDF) from exc
    return _stable_id(buffer.getvalue())


def _page_count(data: bytes) -> int:
    doc, _ = open_document(data)
    try:
        return len(doc)
    finally:
        doc.close()


@dataclass(frozen=True)
class _Geometry:
    """A page's MediaBox (user space, normalized) and rotation, and pdfplumber's view of it."""

    mediabox: tuple[float, float, float, float]
    rotation: int

    @property
    def display(self) -> tuple[float, float, float, float]:
        """pdfplumber's page bbox ``(x0, top, x1, bottom)`` (see pdfplumber.page.Page)."""
        x0, y0, x1, y1 = self.mediabox
        if self.rotation in (90, 270):
            x0, y0, x1, y1 = y0, x0, y1, x1
        height = y1 - y0
        return (x0, height - y1, x1, height - y0)

    def to_user(self, x: float, top: float) -> tuple[float, float]:
        """A pdfplumber point -> PDF user space (pdfminer's page matrix, undone)."""
        x0, y0, x1, y1 = self.mediabox
        if self.rotation == 90:
            return (top + 2 * x0, x)
        if self.rotation == 180:
            return (x0 + x1 - x, top + 2 * y0)
        if self.rotation == 270:
            return (x1 - x0 - top, y0 + y1 - x)
        return (x, (y1 - y0) - top)

    @property
    def matrix(self) -> tuple[float, float, float, float, float, float]:
        """The overlay page (drawn in displayed coordinates: y up, origin at the displayed
        bottom-left) -> the page's user space, as a PDF matrix ``(a, b, c, d, e, f)``."""
        dx0, _, _, dbottom = self.display

        def user(cx: float, cy: float) -> tuple[float, float]:
            return self.to_user(cx + dx0, dbottom - cy)

        ox, oy = user(0, 0)
        ax, ay = user(1, 0)
        bx, by = user(0, 1)
        return (ax - ox, ay - oy, bx - ox, by - oy, ox, oy)


def _page_geometry(page: Any) -> _Geometry:
    box = page.mediabox
    left, bottom, right, top = (float(v) for v in (box.left, box.bottom, box.right, box.top))
    return _Geometry((min(left, right), min(bottom, top), max(left, right), max(bottom, top)),
                     int(page.rotation) % 360)


def _overlay(geometry: list[_Geometry], boxes: list[list[Box]], label: str) -> bytes:
    """One reportlab page per output page, in displayed coordinates (y up, origin at the
    displayed bottom-left)."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1, pageCompression=1)
    c.setTitle("Claimwright appeal highlights")
    for geo, page_boxes in zip(geometry, boxes):
        dx0, dtop, dx1, dbottom = geo.display
        width, height = dx1 - dx0, dbottom - dtop
        c.setPageSize((width, height))
        for box in sorted(page_boxes, key=lambda b: (b.top, b.x0)):
            _draw_box(c, box, dx0, dbottom, width, label)
        c.showPage()
    c.save()
    return buf.getvalue()


def _draw_box(c: canvas.Canvas, box: Box, dx0: float, dbottom: float, width: float,
              label: str) -> None:
    x0, x1 = box.x0 - dx0, box.x1 - dx0
    y_top, y_bottom = dbottom - box.top, dbottom - box.bottom
    c.saveState()
    c.setFillColor(Color(*HIGHLIGHT_RGB))
    c.setFillAlpha(HIGHLIGHT_ALPHA)
    c.setBlendMode("Multiply")
    c.rect(x0, y_bottom, x1 - x0, y_top - y_bottom, stroke=0, fill=1)
    c.restoreState()
    c.saveState()
    c.setStrokeColor(Color(*OUTLINE_RGB))
    c.setLineWidth(OUTLINE_WIDTH)
    c.rect(x0, y_bottom, x1 - x0, y_top - y_bottom, stroke=1, fill=0)
    c.setFillColor(Color(*OUTLINE_RGB))
    text = f"{label}: claim" if box.line_number is None else f"{label}: line {box.line_number}"
    _draw_label(c, text, x0, x1, y_top, width)
    c.restoreState()


def _draw_label(c: canvas.Canvas, label: str, x0: float, x1: float, y_top: float,
                width: float) -> None:
    """In the wider margin beside the box, top-aligned with it; smaller, or on two rows, when
    the margin is narrow; inside the box at its right end when even that does not fit (never
    cut off by the page edge)."""
    right = width - EDGE - (x1 + LABEL_GAP)
    left = x0 - LABEL_GAP - EDGE
    side, room = ("right", right) if right >= left else ("left", left)
    head, _, tail = label.partition(": ")
    for parts in ([label], [head + ":", tail]):
        for size in LABEL_SIZES:
            if max(stringWidth(p, LABEL_FONT, size) for p in parts) <= room:
                break
        else:
            continue
        break
    else:  # inside the box, right-aligned: the end of a row is mostly blank (remarks)
        parts, size, side = [label], LABEL_SIZES[0], "inside"
    c.setFont(LABEL_FONT, size)
    for k, part in enumerate(parts):
        y = y_top - size * (0.8 + 1.05 * k)
        if side == "right":
            c.drawString(x1 + LABEL_GAP, y, part)
        elif side == "inside":
            c.drawRightString(x1 - LABEL_GAP, y - 0.5, part)
        else:
            c.drawRightString(x0 - LABEL_GAP, y, part)
