"""Mark the appealed service lines on the remittance page(s) of an appeal packet.

Two steps, each usable alone:

- :func:`locate_lines` finds where a claim's service lines are printed in the source PDF and
  returns one :class:`Box` per line and page (pdfplumber coordinates: points, origin top-left).
- :func:`highlighted_pages` cuts pages out of the source PDF and draws the boxes over them: a
  translucent yellow fill (multiplied, so black text stays black and readable), a thin dark-red
  outline and a small margin label ("Appealed: line 2").

**Locating.** Only the claim's pages (``claim.pages``) are opened with pdfplumber, whose glyph
geometry (each word's top and bottom) gives the boxes; every page is closed after use. The words
are grouped into rows and cells with the layout's own tolerances
(:func:`claimwright.parsing.pdf_text.rows_of`) and fed to the parser's row interpreter
(:class:`claimwright.parsing.pdf_rows.RowReader`), watched by a small subclass that records
which rows became which claim and which service line. So a line's rows are exactly the rows the
parser read as that line -- its table row plus the continuation rows the layout attaches to it
(wrapped adjustments, remark rows), on the next page too -- and nothing is re-matched by hand.
The claim's block is the one whose start row prints its patient account and payer claim number;
its lines are then checked against the claim by date of service, procedure code and billed
amount as printed (a line that does not agree is reported missing, never guessed). The parse
contract is untouched: the reader is only observed.

A box spans the table's printed width (the layout's service-line columns, clipped to the text on
the page) with a small padding that never reaches a neighbouring row's glyphs. A claim-level box
(``line_number=None``, asked for with ``None`` in ``line_numbers``, as a claim-level
:class:`~claimwright.rules.findings.Finding` has no line) marks the claim's start row (patient,
account, claim number, status) and the rows printing its claim-level adjustments and remarks.

**Drawing** (:mod:`.overlay`). The overlay is drawn with reportlab (one page per output page, in the page's
displayed coordinates) and merged onto the cut pages with pypdf (``merge_transformed_page``, its
documented stamping path). pypdf keeps the page as it was: the original content stream's bytes
(only wrapped in ``q``/``Q``), every resource (the overlay's are added, renamed on a clash) and
the annotations. pypdfium2 alone was tried first and not kept: ``PdfPage.gen_content`` keeps the
original stream but rewrites the page's resource dictionary and drops the fonts PDFium sees no
text drawn with -- on every reportlab page that includes the ``/F1`` its content still names,
which leaves a PDF that strict readers and preflight checks reject (pdfminer warns about it).
The output is deterministic: reportlab's ``invariant`` mode, and pypdf writes no random file ID
(:func:`.merge._stable_id` is applied anyway, for a source whose trailer carries one). Rotated
pages and MediaBoxes not at the origin are mapped from pdfplumber's coordinates into user space.

Nothing here logs; errors name pages and line numbers only, never patient data.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pdfplumber
from pdfminer.psparser import PSException
from pdfplumber.utils.exceptions import MalformedPDFException, PdfminerException

from ..errors import DocumentError
from ..models import Claim
from ..parsing.layout import Layout
from ..parsing.layout_loader import get_layout
from ..parsing.pdf import detect_layout
from ..parsing.pdf_assembly import ClaimDraft, Record
from ..parsing.pdf_rows import RowReader
from ..parsing.pdf_text import PageText, Row, Word, open_document, rows_of
from ..types import FaultCode
from .merge import load_pdf
from .overlay import (HIGHLIGHT_ALPHA, HIGHLIGHT_ON_WHITE, HIGHLIGHT_RGB, OUTLINE_RGB,
                      highlighted_pages)

__all__ = ["Box", "Located", "locate_lines", "highlighted_pages", "HIGHLIGHT_RGB",
           "HIGHLIGHT_ALPHA", "HIGHLIGHT_ON_WHITE", "OUTLINE_RGB", "MAX_CLAIM_PAGES"]

# Geometry of a box around rows
PAD_X = 3.0  # pt left and right of the table's edges
PAD_Y = 1.5  # pt above and below the rows' glyphs, at most half the gap to a neighbouring row

MAX_CLAIM_PAGES = 50  # a claim printed on more pages than this is not a remittance claim


@dataclass(frozen=True)
class Box:
    """A highlight on one page: pdfplumber coordinates (points, origin at the top-left)."""

    page: int  # 1-based page of the source PDF
    x0: float
    top: float
    x1: float
    bottom: float
    line_number: int | None = None  # the claim's 1-based service line; None: claim level

    def __post_init__(self) -> None:
        if isinstance(self.page, bool) or not isinstance(self.page, int) or self.page < 1:
            raise ValueError(f"a box's page is a 1-based page number, not {self.page!r}")
        if not (self.x0 <= self.x1 and self.top <= self.bottom):
            raise ValueError(f"a box needs x0 <= x1 and top <= bottom: {self.bbox}")

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """``(x0, top, x1, bottom)``, as pdfplumber's ``page.crop`` takes it."""
        return (self.x0, self.top, self.x1, self.bottom)


@dataclass
class Located:
    """Where the requested lines are: boxes in page and reading order, and the requested line
    numbers (``None``: the claim level) that could not be found, in the order asked."""

    boxes: list[Box] = field(default_factory=list)
    missing: list[int | None] = field(default_factory=list)


# -- locating -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Geo:
    """A row as the parser reads it, with its glyphs' extent on the page."""

    page: int
    index: int  # the row's place on its page, top to bottom
    x0: float
    top: float
    x1: float
    bottom: float


class _Tracer(RowReader):
    """The parser's row interpreter, recording which rows each claim and line was read from."""

    def __init__(self, layout: Layout, geometry: dict[int, _Geo]):
        super().__init__(layout)
        self.geometry = geometry  # id(Row) -> its geometry
        self.line_rows: dict[int, list[_Geo]] = {}  # id(line Record) -> rows
        self.claim_rows: dict[int, list[_Geo]] = {}  # id(ClaimDraft) -> claim-level rows

    def line_record(self, row: Row) -> Record:
        record = super().line_record(row)
        self.line_rows[id(record)] = []
        return record

    def table_row(self, table, row: Row, new_record) -> bool:
        done = super().table_row(table, row, new_record)
        if done and table is self.layout.claims.table and self.record is not None:
            self._add(self.line_rows.get(id(self.record)), row)
        return done

    def apply(self, record: Record | None, match, row: Row, checks: list | None = None) -> None:
        super().apply(record, match, row, checks)
        if record is None:
            return
        if id(record) in self.line_rows:  # a row the layout adds to the open service line
            self._add(self.line_rows[id(record)], row)
        elif isinstance(record, ClaimDraft):
            values = match.groupdict()
            if match.re is self.layout.claims.start or values.get("adjustments") \
                    or values.get("remarks"):
                self._add(self.claim_rows.setdefault(id(record), []), row)

    def _add(self, rows: list[_Geo] | None, row: Row) -> None:
        geo = self.geometry.get(id(row))
        if rows is not None and geo is not None and geo not in rows:
            rows.append(geo)


@dataclass
class _Page:
    number: int
    rows: list[Row]
    geos: list[_Geo]
    left: float  # the table's printed edges on this page
    right: float


def locate_lines(pdf: bytes | Path, claim: Claim, line_numbers: Iterable[int | None], *,
                 layout: str | Path | Layout | None = None) -> Located:
    """Where ``claim``'s service lines ``line_numbers`` (1-based; ``None`` for the claim level)
    are printed in the source PDF ``pdf``.

    ``layout`` is the PDF layout the remittance was parsed with (``Remittance.layout``); by
    default it is detected from page 1's text as the parser does (PDFium, one page). Only
    ``claim.pages`` are opened with pdfplumber, one at a time, each closed after use.
    Lines that cannot be found (the claim is not on its pages, or its printed line does not
    agree with the claim) are listed in ``missing``; a claim without pages has every line
    missing. Raises :class:`DocumentError` for an unreadable PDF, ``UnknownLayout`` when no
    layout fits, ``ValueError`` for a line number the claim does not have or pages outside the
    PDF.
    """
    wanted = _requested(claim, line_numbers)
    pages = sorted(set(claim.pages))
    if not wanted:
        return Located()
    if not pages:
        return Located([], wanted)
    if len(pages) > MAX_CLAIM_PAGES:
        raise ValueError(f"the claim is printed on {len(pages)} pages (at most "
                         f"{MAX_CLAIM_PAGES} are read)")
    data = load_pdf(pdf)
    chosen = _layout(data, pages, layout)
    read = _read_pages(data, pages, chosen)
    geometry = {id(row): geo for page in read for row, geo in zip(page.rows, page.geos)}
    tracer = _Tracer(chosen, geometry)
    for page in read:
        for row in page.rows:
            tracer.feed(row)
    tracer.close_claim()
    draft = _claim_block(tracer.claims, claim)
    if draft is None:
        return Located([], wanted)
    edges = {page.number: page for page in read}
    boxes: list[Box] = []
    missing: list[int | None] = []
    for number in wanted:
        if number is None:
            rows = tracer.claim_rows.get(id(draft), [])
        else:
            record = _line_record(draft, claim, number)
            rows = tracer.line_rows.get(id(record), []) if record is not None else []
        if not rows:
            missing.append(number)
            continue
        boxes += _boxes(rows, edges, number)
    boxes.sort(key=lambda b: (b.page, b.top, b.x0))
    return Located(boxes, missing)


def _requested(claim: Claim, line_numbers: Iterable[int | None]) -> list[int | None]:
    wanted: list[int | None] = []
    for number in line_numbers:
        if number is not None and (isinstance(number, bool) or not isinstance(number, int)):
            raise TypeError(f"a line number must be an int or None, not "
                            f"{type(number).__name__}")
        if number is not None and not 1 <= number <= len(claim.lines):
            raise ValueError(f"the claim has no service line {number} (it has "
                             f"{len(claim.lines)})")
        if number not in wanted:
            wanted.append(number)
    return wanted


def _layout(data: bytes, pages: list[int], layout: str | Path | Layout | None) -> Layout:
    """The layout to read with (given, or detected from page 1), with the pages checked."""
    doc, _ = open_document(data)
    try:
        count = len(doc)
        outside = [p for p in pages if not 1 <= p <= count]
        if outside:
            raise ValueError(f"claim pages {outside} are outside the source PDF "
                             f"({count} pages)")
        if isinstance(layout, Layout):
            return layout
        if layout is not None:
            return get_layout(layout)
        page = doc[0]
        try:
            textpage = page.get_textpage()
            try:
                first = textpage.get_text_range()
            finally:
                textpage.close()
        finally:
            page.close()
    finally:
        doc.close()
    return detect_layout(first)


def _read_pages(data: bytes, pages: list[int], layout: Layout) -> list[_Page]:
    """Rows (as the parser groups them) with their glyph extents, of ``pages`` only."""
    out = []
    try:
        with pdfplumber.open(io.BytesIO(data), pages=pages) as plumber:
            for page in plumber.pages:
                try:
                    out.append(_page_rows(page, layout))
                finally:
                    page.close()
    except (PdfminerException, MalformedPDFException, PSException) as exc:
        raise DocumentError(f"pdfplumber cannot read the source PDF: {type(exc).__name__}",
                            code=FaultCode.CORRUPT_PDF, pages=pages) from exc
    return out


def _page_rows(page: Any, layout: Layout) -> _Page:
    extents: dict[Word, tuple[float, float]] = {}  # word -> (top, bottom)
    words = []
    for w in page.extract_words(return_chars=True):
        if not w.get("upright", True) or not w["chars"]:
            continue
        first = w["chars"][0]
        word = Word(float(w["x0"]), float(w["x1"]), float(first["matrix"][5]), w["text"])
        top, bottom = float(w["top"]), float(w["bottom"])
        old = extents.get(word)
        extents[word] = (top, bottom) if old is None else (min(old[0], top),
                                                            max(old[1], bottom))
        words.append(word)
    number = page.page_number
    rows = rows_of(PageText(number, "", words), layout.row_tolerance, layout.cell_gap)
    by_y = sorted(words, key=lambda w: w.y)
    ys = [w.y for w in by_y]
    geos = []
    for index, row in enumerate(rows):  # a row holds the words up to row_tolerance below it
        lo = bisect.bisect_left(ys, row.y - layout.row_tolerance)
        hi = bisect.bisect_right(ys, row.y)
        members = by_y[lo:hi]
        geos.append(_Geo(number, index, min(w.x0 for w in members),
                         min(extents[w][0] for w in members), max(w.x1 for w in members),
                         max(extents[w][1] for w in members)))
    left = min((g.x0 for g in geos), default=0.0)
    right = max((g.x1 for g in geos), default=float(page.width))
    table = layout.claims.table
    if table is not None:  # the table's columns, where the page prints text
        left = max(left, min(c.start for c in table.columns))
        right = min(right, max(c.end for c in table.columns))
    return _Page(number, rows, geos, left, right)


def _claim_block(drafts: list[ClaimDraft], claim: Claim) -> ClaimDraft | None:
    """The block printing ``claim``: its account and claim number, best its lines too."""
    def same_claim(d: ClaimDraft) -> bool:
        v = d.values
        for name, own in (("patient_account", claim.patient_account),
                          ("payer_claim_id", claim.payer_claim_id)):
            if name in v and v[name] != own:
                return False
        return bool(v.get("patient_account") or v.get("payer_claim_id"))

    candidates = [d for d in drafts if same_claim(d)]
    for d in candidates:  # the one printing exactly the claim's lines, else the first
        if len(d.lines) == len(claim.lines) and all(
                _agrees(rec, claim, n) for n, rec in enumerate(d.lines, start=1)):
            return d
    return candidates[0] if candidates else None


def _agrees(record: Record, claim: Claim, number: int) -> bool:
    line = claim.lines[number - 1]
    v = record.values
    return (v.get("date_of_service") == line.date_of_service
            and v.get("procedure") == line.procedure and v.get("billed") == line.billed)


def _line_record(draft: ClaimDraft, claim: Claim, number: int) -> Record | None:
    """The printed line ``number``: at its place if it agrees, else the one agreeing line."""
    if number <= len(draft.lines) and _agrees(draft.lines[number - 1], claim, number):
        return draft.lines[number - 1]
    agreeing = [r for r in draft.lines if _agrees(r, claim, number)]
    return agreeing[0] if len(agreeing) == 1 else None


def _boxes(rows: list[_Geo], pages: dict[int, _Page], number: int | None) -> list[Box]:
    """One box per run of consecutive rows on a page."""
    out = []
    ordered = sorted(rows, key=lambda g: (g.page, g.index))
    run: list[_Geo] = []
    for geo in ordered + [None]:  # type: ignore[list-item]
        if run and (geo is None or geo.page != run[-1].page or geo.index != run[-1].index + 1):
            out.append(_box(run, pages[run[0].page], number))
            run = []
        if geo is not None:
            run.append(geo)
    return out


def _box(run: list[_Geo], page: _Page, number: int | None) -> Box:
    top = min(g.top for g in run)
    bottom = max(g.bottom for g in run)
    above = [g.bottom for g in page.geos if g.index < run[0].index and g.bottom <= top]
    below = [g.top for g in page.geos if g.index > run[-1].index and g.top >= bottom]
    pad_top = min(PAD_Y, (top - max(above)) / 2 * 0.9) if above else PAD_Y
    pad_bottom = min(PAD_Y, (min(below) - bottom) / 2 * 0.9) if below else PAD_Y
    return Box(page.number, round(page.left - PAD_X, 2), round(top - pad_top, 2),
               round(page.right + PAD_X, 2), round(bottom + pad_bottom, 2), number)


# -- drawing --------------------------------------------------------------------------------
