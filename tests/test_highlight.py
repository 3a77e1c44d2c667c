"""Appealed lines marked on the remittance pages: located where the parser read them, drawn over
the original page (still text, still readable), deterministic, typed errors."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pdfplumber
import pypdfium2 as pdfium
import pytest
from PIL import Image
from reportlab.pdfgen import canvas

from claimwright.errors import DocumentError
from claimwright.models import Claim, Remittance
from claimwright.packets import highlight
from claimwright.packets.highlight import (
    HIGHLIGHT_ON_WHITE,
    OUTLINE_RGB,
    Box,
    highlighted_pages,
    locate_lines,
)
from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances import plan_dataset, render_plan
from fixtures.remittances import render_northwind, render_spr
from rendering import colour_share, pdf_to_pngs

ANCHOR = dt.date(2026, 5, 4)
SCALE = 2.0
AMOUNT = {"northwind": render_northwind.fmt_amount, "clearpath": render_northwind.fmt_amount,
          "keystone": render_spr.fmt_amount}


def _remittance(payer: str, seed: int, count: int, index: int) -> tuple[bytes, Remittance]:
    plan = plan_dataset(payer, seed=seed, count=count, anchor=ANCHOR, anomalies=False)[index]
    pdf, _, _ = render_plan(plan)
    remit = parse_pdf(pdf)
    assert remit.balanced, remit.problems
    return pdf, remit


@pytest.fixture(scope="module")
def big():
    """Per payer, its first multi-page remittance (25+ claims, 5-8 pages)."""
    return {payer: _remittance(payer, 7, 2, 1) for payer in AMOUNT}


def denied(claim: Claim) -> list[int]:
    return [k for k, ln in enumerate(claim.lines, start=1) if ln.paid == 0 and ln.billed > 0]


def pick(remit: Remittance, kind: str) -> tuple[Claim, list[int | None]]:
    """A claim of ``kind`` and the lines to mark (``None``: the claim level)."""
    claims = remit.claims
    if kind == "multi-line":  # one page, several lines, some denied, some not
        claim = next(c for c in claims if len(c.pages) == 1 and len(c.lines) >= 2
                     and 0 < len(denied(c)) < len(c.lines))
        return claim, denied(claim)
    if kind == "two-pages":
        claim = next(c for c in claims if len(c.pages) == 2 and denied(c))
        return claim, denied(claim)
    if kind == "claim-denied":  # status 4: the whole claim, every line and the claim level
        claim = next(c for c in claims if c.status_code == "4")
        return claim, [*range(1, len(claim.lines) + 1), None]
    if kind == "claim-adjustment":  # adjusted at claim level
        claim = next(c for c in claims if c.adjustments)
        return claim, [None]
    raise AssertionError(kind)


def box_texts(pdf: bytes, boxes: list[Box]) -> list[str]:
    """The text pdfplumber finds inside each box (any glyph touching it counts)."""
    out = []
    with pdfplumber.open(io.BytesIO(pdf), pages=sorted({b.page for b in boxes})) as doc:
        pages = {p.page_number: p for p in doc.pages}
        for box in boxes:
            out.append(pages[box.page].crop(box.bbox).extract_text())
        for page in pages.values():
            page.close()
    return out


def tokens(text: str) -> list[set[str]]:
    return [set(row.split()) for row in text.splitlines()]


def check_boxes(payer: str, pdf: bytes, remit: Remittance, claim: Claim,
                wanted: list[int | None]) -> list[Box]:
    """Every wanted line located; each line's text, and no other line's, inside its boxes."""
    located = locate_lines(pdf, claim, wanted, layout=remit.layout)
    assert located.missing == []
    assert {b.line_number for b in located.boxes} == set(wanted)
    assert all(b.page in claim.pages for b in located.boxes)
    fmt = AMOUNT[payer]
    on_pages = [c for c in remit.claims if set(c.pages) & set(claim.pages)]
    texts = box_texts(pdf, located.boxes)
    for number in wanted:
        mine = [t for b, t in zip(located.boxes, texts) if b.line_number == number]
        if number is None:  # the claim's header row, and its claim-level adjustments
            joined = "\n".join(mine)
            assert claim.patient_account in joined and claim.payer_claim_id in joined
            for adj in claim.adjustments:
                assert re.search(rf"{adj.code}\s+{re.escape(fmt(adj.amount))}", joined), adj
            forbidden = [(ln.procedure, fmt(ln.billed)) for c in on_pages for ln in c.lines]
        else:
            line = claim.lines[number - 1]
            first = tokens(mine[0])[0]  # the line's own row opens its first box
            assert {line.procedure, fmt(line.billed)} <= first, (number, mine)
            own = (line.procedure, fmt(line.billed))
            forbidden = [(ln.procedure, fmt(ln.billed)) for c in on_pages for ln in c.lines
                         if (ln.procedure, fmt(ln.billed)) != own]
        for text in mine:
            for row in tokens(text):
                hit = [pair for pair in forbidden if set(pair) <= row]
                assert not hit, f"line {number}'s box shows another line: {hit}"
    return located.boxes


@pytest.mark.parametrize("kind", ["multi-line", "two-pages", "claim-denied",
                                  "claim-adjustment"])
@pytest.mark.parametrize("payer", ["northwind", "clearpath", "keystone"])
def test_lines_are_located_where_printed(big, payer, kind):
    pdf, remit = big[payer]
    claim, wanted = pick(remit, kind)
    boxes = check_boxes(payer, pdf, remit, claim, wanted)
    if kind == "two-pages":
        assert len(claim.pages) == 2
    left, right = min(b.x0 for b in boxes), max(b.x1 for b in boxes)
    assert all((b.x0, b.x1) == (left, right) for b in boxes)  # the table's full width
    assert right - left > 600


@pytest.mark.parametrize("payer, seed, count, index", [
    ("northwind", 3, 8, 1),  # a line's wrapped adjustments go on to the next page (generator 7)
    ("keystone", 42, 2, 1),  # a denied line's remark row goes on to the next page
])
def test_a_line_continued_on_the_next_page_is_marked_on_both(payer, seed, count, index):
    pdf, remit = _remittance(payer, seed, count, index)
    fmt = AMOUNT[payer]
    split = []
    for claim in (c for c in remit.claims if len(c.pages) == 2):
        located = locate_lines(pdf, claim, range(1, len(claim.lines) + 1))
        assert located.missing == []
        for number in range(1, len(claim.lines) + 1):
            boxes = [b for b in located.boxes if b.line_number == number]
            if len({b.page for b in boxes}) == 2:
                split.append((claim, number, boxes))
    assert split, "the fixture has a service line broken across two pages"
    for claim, number, boxes in split:
        line = claim.lines[number - 1]
        assert [b.page for b in boxes] == claim.pages
        head, tail = box_texts(pdf, boxes)
        assert {line.procedure, fmt(line.billed)} <= tokens(head)[0]
        # the next page's box holds only the rest of this line: its adjustments and remarks
        own = {a.code for a in line.adjustments} | {fmt(a.amount) for a in line.adjustments} \
            | set(line.remarks) | {"REM:"}
        assert tail.split() and set(tail.split()) <= own, tail
        check_boxes(payer, pdf, remit, claim, [number])


def _render(pdf: bytes, tmp_path: Path, name: str) -> list[Image.Image]:
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    return [Image.open(p).convert("RGB")
            for p in pdf_to_pngs(path, tmp_path / name, scale=SCALE, crop=False)]


def _share(image: Image.Image, bbox, rgb, tmp_path: Path, tolerance: int = 10) -> float:
    x0, top, x1, bottom = (round(v * SCALE) for v in bbox)
    path = tmp_path / "region.png"
    image.crop((x0, top, x1, bottom)).save(path)
    return colour_share(path, rgb, tolerance)


def _words(pdf: bytes) -> list[Counter]:
    out = []
    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        for page in doc.pages:
            out.append(Counter(w["text"] for w in page.extract_words()))
            page.close()
    return out


@pytest.mark.parametrize("payer", ["northwind", "keystone"])
def test_highlighted_pages_draw_over_the_original(big, payer, tmp_path):
    pdf, remit = big[payer]
    claim, wanted = pick(remit, "claim-denied")
    if len(claim.pages) == 1:
        claim, wanted = pick(remit, "two-pages")
    located = locate_lines(pdf, claim, wanted)
    assert located.missing == []
    out = highlighted_pages(pdf, claim.pages, located.boxes)
    assert highlighted_pages(pdf, claim.pages, located.boxes) == out  # same bytes
    assert highlighted_pages(Path(_save(tmp_path, pdf)), claim.pages, located.boxes) == out

    doc = pdfium.PdfDocument(out)
    try:
        assert len(doc) == len(claim.pages)
    finally:
        doc.close()
    # the pages are still text: every word of the source page, plus one label per box
    source = _words(pdf)
    for number, words in zip(claim.pages, _words(out)):
        assert not source[number - 1] - words
        added = words - source[number - 1]
        on_page = [b for b in located.boxes if b.page == number]
        assert added["Appealed:"] == len(on_page)
        for box in on_page:
            assert added["claim" if box.line_number is None else str(box.line_number)] >= 1
    # the boxes are there, over the text, and nowhere else
    images = _render(out, tmp_path, "out")
    for box in located.boxes:
        image = images[claim.pages.index(box.page)]
        inner = (box.x0 + 2, box.top + 1.2, box.x1 - 2, box.bottom - 1.2)
        assert _share(image, inner, HIGHLIGHT_ON_WHITE, tmp_path) > 0.4
        assert _share(image, inner, (0, 0, 0), tmp_path, tolerance=60) > 0.005  # black text
        edge = (box.x0 - 0.5, box.top - 0.5, box.x1 + 0.5, box.top + 0.5)
        assert _share(image, edge, tuple(round(255 * c) for c in OUTLINE_RGB), tmp_path,
                      tolerance=40) > 0.3
    for image, number in zip(images, claim.pages):  # above the page's first box: no yellow
        tops = [b.top for b in located.boxes if b.page == number]
        above = (0, 0, image.width / SCALE, min(tops) - 12 if tops else image.height / SCALE)
        assert _share(image, above, HIGHLIGHT_ON_WHITE, tmp_path) == 0
        assert _share(image, above, (0, 0, 0), tmp_path, tolerance=60) > 0.001  # but text


def _save(tmp_path: Path, pdf: bytes) -> Path:
    path = tmp_path / "source.pdf"
    path.write_bytes(pdf)
    return path


def test_pages_without_boxes_are_cut_unmarked(big, tmp_path):
    pdf, remit = big["northwind"]
    claim, wanted = pick(remit, "multi-line")
    located = locate_lines(pdf, claim, wanted)
    other = next(p for p in (1, 2, 3) if p not in claim.pages)
    out = highlighted_pages(pdf, [other, claim.pages[0]], located.boxes)
    images = _render(out, tmp_path, "mixed")
    whole = (0, 0, images[0].width / SCALE, images[0].height / SCALE)
    assert _share(images[0], whole, HIGHLIGHT_ON_WHITE, tmp_path) == 0
    assert _share(images[1], whole, HIGHLIGHT_ON_WHITE, tmp_path) > 0.005
    assert _words(out)[0] == _words(pdf)[other - 1]


def test_a_claim_not_on_its_page_is_all_missing(big):
    pdf, remit = big["northwind"]
    claim, wanted = pick(remit, "claim-denied")
    elsewhere = next(p for p in range(1, 6) if p not in claim.pages)
    moved = replace(copy.deepcopy(claim), pages=[elsewhere])
    located = locate_lines(pdf, moved, wanted)
    assert located.boxes == [] and located.missing == wanted
    # no pages at all; a claim number the page does not print
    assert locate_lines(pdf, replace(claim, pages=[]), [1]).missing == [1]
    renamed = replace(copy.deepcopy(claim), payer_claim_id="0000000000000")
    assert locate_lines(pdf, renamed, wanted).missing == wanted
    # a line the page prints differently from the claim (billed) is not guessed
    changed = copy.deepcopy(claim)
    changed.lines[0].billed += 1
    located = locate_lines(pdf, changed, wanted)
    assert located.missing == [1]
    assert {b.line_number for b in located.boxes} == set(wanted) - {1}
    assert locate_lines(pdf, claim, []).boxes == []


def test_only_the_claims_pages_are_read_and_closed(big, monkeypatch):
    pdf, remit = big["keystone"]
    claim, wanted = pick(remit, "two-pages")
    events = []
    real_rows = highlight._page_rows
    real_close = pdfplumber.page.Page.close

    def page_rows(page, layout):
        events.append(("read", page.page_number))
        return real_rows(page, layout)

    def close(page):
        events.append(("close", page.page_number))
        return real_close(page)

    monkeypatch.setattr(highlight, "_page_rows", page_rows)
    monkeypatch.setattr(pdfplumber.page.Page, "close", close)
    assert locate_lines(pdf, claim, wanted, layout="keystone").missing == []
    # each page closed once read, before the next is opened (pdfplumber closes them again)
    expected = [(event, n) for n in claim.pages for event in ("read", "close")]
    assert events[:len(expected)] == expected
    assert {n for _, n in events} == set(claim.pages)


def test_bad_input_gives_typed_errors(big):
    pdf, remit = big["clearpath"]
    claim, _ = pick(remit, "multi-line")
    with pytest.raises(ValueError, match="no service line 9"):
        locate_lines(pdf, claim, [9])
    with pytest.raises(TypeError):
        locate_lines(pdf, claim, ["1"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="outside the source PDF"):
        locate_lines(pdf, replace(claim, pages=[99]), [1])
    with pytest.raises(DocumentError):
        locate_lines(b"not a pdf at all", claim, [1])
    with pytest.raises(DocumentError):
        locate_lines(Path("/nonexistent/remittance.pdf"), claim, [1])
    with pytest.raises(ValueError, match="outside the source PDF"):
        highlighted_pages(pdf, [0], [])
    with pytest.raises(ValueError, match="no pages"):
        highlighted_pages(pdf, [], [])
    with pytest.raises(DocumentError):
        highlighted_pages(b"%PDF-1.4 garbage", [1], [])
    with pytest.raises(ValueError, match="more than once"):
        highlighted_pages(pdf, [1, 1], [])
    with pytest.raises(ValueError, match="1-based"):
        Box(0, 10, 10, 20, 20, 1)
    with pytest.raises(ValueError, match="x0 <= x1"):
        Box(1, 30, 10, 20, 20, 1)


def _forwards(text: str) -> str:
    """pdfplumber reads upside-down text backwards."""
    return text[::-1] if text[::-1] in ("DENIEDLINE", "OTHERLINE") else text


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_boxes_land_on_their_words_on_rotated_and_shifted_pages(rotation, tmp_path):
    """A box taken from pdfplumber's view of a page whose MediaBox is not at the origin and
    which displays rotated is drawn on that word as displayed."""
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(900, 900), invariant=1)
    c.setFont("Helvetica", 14)
    c.drawString(300, 420, "DENIEDLINE")
    c.drawString(300, 250, "OTHERLINE")
    c.showPage()
    c.save()
    doc = pdfium.PdfDocument(buf.getvalue())
    page = doc[0]
    page.set_mediabox(100, 150, 712, 942)
    page.set_rotation(rotation)
    page.close()
    shifted = io.BytesIO()
    doc.save(shifted)
    doc.close()
    source = shifted.getvalue()
    with pdfplumber.open(io.BytesIO(source)) as plumber:
        page = plumber.pages[0]
        words = {_forwards(w["text"]): w for w in page.extract_words()}
        bbox = page.bbox
        page.close()
    word = words["DENIEDLINE"]
    box = Box(1, word["x0"] - 2, word["top"] - 2, word["x1"] + 2, word["bottom"] + 2, 1)
    out = highlighted_pages(source, [1], [box])
    [image] = _render(out, tmp_path, f"rot{rotation}")
    dx, dtop = bbox[0], bbox[1]
    inner = (box.x0 - dx + 1, box.top - dtop + 1, box.x1 - dx - 1, box.bottom - dtop - 1)
    assert _share(image, inner, HIGHLIGHT_ON_WHITE, tmp_path) > 0.3
    other = words["OTHERLINE"]
    region = (other["x0"] - dx, other["top"] - dtop, other["x1"] - dx, other["bottom"] - dtop)
    assert _share(image, region, HIGHLIGHT_ON_WHITE, tmp_path) == 0
    with pdfplumber.open(io.BytesIO(out)) as plumber:
        page = plumber.pages[0]
        again = {_forwards(w["text"]): w for w in page.extract_words()}
        page.close()
    assert again["DENIEDLINE"]["x0"] == pytest.approx(word["x0"], abs=0.01)
    assert "Appealed:" in again
