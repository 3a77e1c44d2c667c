"""Build the fillable stand-ins of Medicare's appeal request forms shipped next to this script.

Medicare accepts a redetermination (level 1) on form CMS-20027, and a reconsideration (level 2)
on form CMS-20033, or a letter with the same elements. The official PDFs cannot be downloaded
where Claimwright is built, so this script draws one-page stand-ins with the same items as
AcroForm text fields, named after the forms' items (``beneficiary_name``, ``medicare_number``,
...). Each page says, visibly, that it is modelled on the CMS form and that an admin should
replace it with the official one (docs/forms-and-documents.md says how: put the PDF, list its
fields, map them in ``forms.yaml``).

Run ``python claimwright/packets/forms/make_medicare_form.py`` to write
``medicare-redetermination.pdf`` and ``medicare-reconsideration.pdf`` beside this file; the bytes
are the same on every run (reportlab ``invariant=1``), and tests/test_forms.py checks that the
committed files are what this script makes.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.colors import Color, black
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen import canvas

HERE = Path(__file__).resolve().parent
PAGE_W, PAGE_H = letter
LEFT, RIGHT = 42.0, PAGE_W - 42.0
WIDTH = RIGHT - LEFT
GAP = 12.0
FIELD_FONT, FIELD_SIZE = "Helvetica", 10
BOX = Color(0.45, 0.45, 0.45)
NOTE = Color(0.7, 0.1, 0.1)


@dataclass(frozen=True)
class Item:
    name: str  # the AcroForm field name
    label: str
    share: float = 1.0  # of the row's width
    lines: int = 1  # > 1: a multi-line field this many lines high


@dataclass(frozen=True)
class Design:
    file: str
    title: str
    official: str  # the CMS form it stands in for
    level: str
    rows: tuple[tuple[Item, ...], ...]


def _rows(level: int) -> tuple[tuple[Item, ...], ...]:
    days = 120 if level == 1 else 180
    notice = "initial determination" if level == 1 else "redetermination"
    rows: list[tuple[Item, ...]] = [
        (Item("beneficiary_name", "1. Beneficiary's name (first, middle, last)", 0.62),
         Item("medicare_number", "2. Medicare number", 0.38)),
        (Item("item_service", "3. Item or service you wish to appeal", 0.62),
         Item("dates_of_service", "4. Date(s) the service or item was received", 0.38)),
    ]
    if level == 2:
        rows.append((Item("redetermination_date", "5. Date of the redetermination notice "
                                                  "(enclose a copy)", 0.38),
                     Item("claim_number", "Claim number (ICN) of the redetermination", 0.62)))
    rows.append((Item("late_filing_reason", f"{'5a' if level == 2 else '5'}. If you received "
                                            f"the {notice} notice more than {days} days ago, "
                                            f"your reason for not making this request "
                                            f"earlier", lines=2),))
    if level == 1:
        rows.append((Item("claim_number", "Claim number (ICN) on the notice", 0.38),
                     Item("contractor_name", "6. Name of the Medicare contractor that made "
                                             "the determination (not required)", 0.62)))
    if level == 2:
        rows.append((Item("contractor_name", "6. Name of the Medicare contractor that made the "
                                             "redetermination (not required)", 0.72),
                     Item("overpayment", "7. Overpayment? (Yes / No)", 0.28)))
    else:
        rows.append((Item("overpayment", "7. Does this appeal involve an overpayment? (for "
                                         "providers and suppliers only: Yes / No)", 0.5),
                     Item("provider_npi", "Provider NPI", 0.5)))
    decision = "initial determination" if level == 1 else "redetermination"
    rows += [
        (Item("reason", f"8. I do not agree with the {decision} of my claim / service / item "
                        f"because:", lines=11),),
        (Item("additional_information", "9. Additional information Medicare should consider",
              lines=3),),
        (Item("evidence", "10. Evidence: enclosed with this request, or what will follow "
                          "and when"),),
        (Item("requester_name", "11. Requester's name", 0.55),
         Item("requester_relationship", "12. Relationship to the beneficiary", 0.45)),
        (Item("requester_address", "13. Requester's address"),),
        (Item("requester_phone", "14. Requester's telephone number", 0.5),
         Item("requester_email", "Requester's e-mail (optional)", 0.5)),
        (Item("requester_signature", "15. Requester's signature", 0.62),
         Item("signature_date", "16. Date signed", 0.38)),
    ]
    if level == 2:
        rows.insert(-4, (Item("provider_npi", "Provider NPI"),))
    return tuple(rows)


DESIGNS = {
    1: Design("medicare-redetermination.pdf", "Medicare Redetermination Request", "CMS-20027",
              "Level 1 appeal (redetermination by the Medicare Administrative Contractor)",
              _rows(1)),
    2: Design("medicare-reconsideration.pdf", "Medicare Reconsideration Request", "CMS-20033",
              "Level 2 appeal (reconsideration by the Qualified Independent Contractor)",
              _rows(2)),
}


def build(level: int) -> bytes:
    """The PDF of the stand-in for appeal ``level`` (1 or 2)."""
    design = DESIGNS[level]
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=letter, invariant=1, pageCompression=1)
    c.setTitle(f"{design.title} (stand-in modelled on {design.official})")
    c.setAuthor("Claimwright")
    c.setSubject(f"Fillable stand-in for Medicare form {design.official}; replace it with the "
                 f"official form")
    y = PAGE_H - 46
    c.setFont("Helvetica-Bold", 16)
    c.drawString(LEFT, y, design.title)
    c.setFont("Helvetica", 9)
    c.drawRightString(RIGHT, y, f"Modelled on form {design.official}")
    y -= 14
    c.drawString(LEFT, y, design.level)
    y -= 8
    note = (f"STAND-IN FORM: this page is modelled on Medicare form {design.official} and is not "
            f"the official CMS form. An administrator should replace it with the official "
            f"{design.official} PDF (docs/forms-and-documents.md). Send the request to the "
            f"contractor named on the notice, with a copy of the notice and the evidence.")
    lines = simpleSplit(note, "Helvetica-Bold", 7.5, WIDTH - 12)
    height = 7 + 9 * len(lines)
    c.setStrokeColor(NOTE)
    c.setFillColor(NOTE)
    c.setLineWidth(0.8)
    c.rect(LEFT, y - height, WIDTH, height, stroke=1, fill=0)
    c.setFont("Helvetica-Bold", 7.5)
    for n, text in enumerate(lines):
        c.drawString(LEFT + 6, y - 11 - 9 * n, text)
    y -= height + 10
    c.setFillColor(black)
    for row in design.rows:
        y = _row(c, row, y)
    c.setFont("Helvetica", 7)
    c.setFillColor(BOX)
    c.drawString(LEFT, 28, f"Claimwright stand-in for {design.official} - made by "
                           f"claimwright/packets/forms/make_medicare_form.py")
    c.showPage()
    c.save()
    return buf.getvalue()


def _row(c: canvas.Canvas, row: tuple[Item, ...], top: float) -> float:
    """Draw one row of labelled fields from ``top`` down; the next row's top."""
    label_size, line = 7.5, FIELD_SIZE + 3.5
    widths = [WIDTH * item.share - (GAP * (len(row) - 1) / len(row)) for item in row]
    height = max(4 + line * item.lines for item in row)
    label_lines = max(len(simpleSplit(item.label, "Helvetica", label_size, w))
                      for item, w in zip(row, widths))
    box_top = top - 9 * label_lines - 2
    x = LEFT
    for item, w in zip(row, widths):
        c.setFont("Helvetica", label_size)
        c.setFillColor(black)
        for n, text in enumerate(simpleSplit(item.label, "Helvetica", label_size, w)):
            c.drawString(x, top - 8 - 9 * n, text)
        box_h = 4 + line * item.lines
        c.setStrokeColor(BOX)
        c.setLineWidth(0.6)
        c.rect(x, box_top - box_h, w, box_h, stroke=1, fill=0)
        c.acroForm.textfield(
            name=item.name, tooltip=item.label, value="", x=x, y=box_top - box_h, width=w,
            height=box_h, fontName=FIELD_FONT, fontSize=FIELD_SIZE, textColor=black,
            fillColor=None, borderColor=None, borderWidth=0, maxlen=0,
            fieldFlags="multiline" if item.lines > 1 else "")
        x += w + GAP
    return box_top - height - 7


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else HERE
    for level, design in DESIGNS.items():
        path = out / design.file
        path.write_bytes(build(level))
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
