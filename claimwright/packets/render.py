"""The packet's own pages, drawn with reportlab: the cover letter and, for a remittance that came
as an X12 835, the "remittance excerpt" listing the claim exactly as received."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import (
    CondPageBreak,
    HRFlowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ..models import Claim, Remittance
from ..rules.findings import Finding
from .config import Practice
from .text import PdfText, dos_text, finding_dates, iso, plain_amount, procedure_text, usd

PAGE_WIDTH = LETTER[0] - 1.5 * inch  # 0.75 inch margins
_FONT, _BOLD = "Helvetica", "Helvetica-Bold"


def styles() -> dict[str, ParagraphStyle]:
    """The paragraph styles of Claimwright's PDFs (packets here, the reports in
    ``claimwright/reports/pdf.py``)."""
    base = ParagraphStyle("body", fontName=_FONT, fontSize=10, leading=13, spaceAfter=7)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8.5, leading=10.5, spaceAfter=0),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5, spaceAfter=0),
        "cell_r": ParagraphStyle("cell_r", parent=base, fontSize=8.5, leading=10.5, spaceAfter=0,
                                 alignment=TA_RIGHT),
        "head": ParagraphStyle("head", parent=base, fontName=_BOLD, fontSize=8.5, leading=10.5,
                               spaceAfter=0),
        "head_r": ParagraphStyle("head_r", parent=base, fontName=_BOLD, fontSize=8.5,
                                 leading=10.5, spaceAfter=0, alignment=TA_RIGHT),
        "h2": ParagraphStyle("h2", parent=base, fontName=_BOLD, fontSize=10.5, spaceBefore=4,
                             spaceAfter=4),
        "title": ParagraphStyle("title", parent=base, fontName=_BOLD, fontSize=14, leading=17,
                                spaceAfter=2),
        "letterhead": ParagraphStyle("letterhead", parent=base, fontSize=9, leading=11.5,
                                     spaceAfter=4),
    }


#: the table style of Claimwright's PDFs: thin grid, shaded header row
GRID = [
    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9a9a9a")),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def _doc(buffer: io.BytesIO, title: str, author: str, footer: str, text: PdfText):
    doc = SimpleDocTemplate(buffer, pagesize=LETTER, leftMargin=0.75 * inch,
                            rightMargin=0.75 * inch, topMargin=0.7 * inch,
                            bottomMargin=0.8 * inch, title=text(title), author=text(author),
                            creator="Claimwright", invariant=1)
    footer = text(footer)

    def draw_footer(canvas, document):
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(0.75 * inch, 0.5 * inch, footer)
        canvas.drawRightString(LETTER[0] - 0.75 * inch, 0.5 * inch, f"Page {document.page}")
        canvas.restoreState()

    return doc, draw_footer


def _build(doc, story, on_page) -> None:
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)


def render_letter_pdf(letter, text: PdfText) -> bytes:
    """The cover letter of ``letter`` (a :class:`~.builder.LetterInputs`)."""
    st = styles()
    esc = text.esc
    remit, claim, findings, practice = letter.remit, letter.claim, letter.findings, letter.practice
    context = letter.context
    payer_name = context["payer_name"]

    def letterhead():
        contact = " | ".join(x for x in (
            f"Phone {practice.phone}", f"Fax {practice.fax}" if practice.fax else "",
            practice.email) if x)
        ids = " | ".join(x for x in (f"NPI {practice.npi}" if practice.npi else "",
                                     f"TIN {practice.tax_id}" if practice.tax_id else "") if x)
        lines = [esc(x) for x in (*practice.address, contact, ids) if x]
        out = [Paragraph(esc(practice.name), st["title"]),
               Paragraph("<br/>".join(lines), st["letterhead"]),
               HRFlowable(width="100%", thickness=0.8, color=colors.HexColor("#333333"),
                          spaceBefore=2, spaceAfter=10)]
        if letter.missing:
            out.insert(0, incomplete_banner(letter.missing, st, esc))
        return out

    def recipient():
        address = practice.payer_addresses.get(remit.payer.id) or ("Attn: Appeals department",)
        lines = [f"<b>{esc(payer_name)}</b>", *(esc(x) for x in address)]
        if remit.payer.id:
            lines.append(f"Payer ID: {esc(remit.payer.id)}")
        return [Paragraph("<br/>".join(lines), st["body"])]

    def re_block():
        rows = [
            ("Patient", claim.patient_name), ("Date of birth", context["patient_dob"]),
            ("Member ID", claim.member_id), ("Patient account", claim.patient_account),
            ("Payer claim number", claim.payer_claim_id),
            ("Date(s) of service", context["dates_of_service"]),
            ("Diagnosis codes", context["diagnoses"]),
            ("Rendering provider", context["rendering_provider"]),
            ("Total billed", context["total_billed"]),
            ("Denied amount", context["denied_amount"]),
            ("Denial (remittance) date", context["denial_date"]),
            ("Appeal level", context["level_name"]),
            ("Appeal due date", context["appeal_due"] or "not determined"),
        ]
        if remit.payment.trace_number:
            rows.append(("Check / EFT trace number", remit.payment.trace_number))
        data = [[Paragraph(f"<b>{esc(k)}</b>", st["cell"]), Paragraph(esc(v), st["cell"])]
                for k, v in rows if v]
        table = Table(data, colWidths=[1.9 * inch, PAGE_WIDTH - 1.9 * inch], hAlign="LEFT")
        table.setStyle(TableStyle([
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ("LINEBEFORE", (0, 0), (0, -1), 2, colors.HexColor("#333333")),
            ("LEFTPADDING", (0, 0), (0, -1), 6)]))
        return [Paragraph("<b>RE:</b>", st["body"]), table, Spacer(1, 10)]

    def denied_lines():
        head = [Paragraph(x, st["head"]) for x in ("Line", "Date of service", "Procedure")]
        head += [Paragraph(x, st["head_r"]) for x in ("Billed", "Denied")]
        head += [Paragraph("Reason (adjustment and remark codes)", st["head"])]
        data = [head]
        for f in findings:
            line = f.line
            billed = line.billed if line is not None else claim.billed
            dos = dos_text(finding_dates(f))
            reason = [f"<b>{esc(f.adjustment.code)}</b> {esc(f.carc_meaning)}".strip()]
            for code in f.remarks:
                meaning = f.rarc_meanings.get(code, "")
                reason.append(f"<b>{esc(code)}</b> {esc(meaning)}".strip())
            data.append([
                Paragraph(str(f.line_number) if f.line_number else "claim", st["cell"]),
                Paragraph(esc(dos), st["cell"]),
                Paragraph(esc(procedure_text(line)), st["cell"]),
                Paragraph(usd(billed), st["cell_r"]),
                Paragraph(usd(f.adjustment.amount), st["cell_r"]),
                Paragraph("<br/>".join(reason), st["cell"]),
            ])
        data.append([Paragraph("<b>Total denied</b>", st["cell"]), "", "", "",
                     Paragraph(f"<b>{esc(context['denied_amount'])}</b>", st["cell_r"]), ""])
        widths = [0.45 * inch, 0.95 * inch, 0.95 * inch, 0.8 * inch, 0.8 * inch]
        widths.append(PAGE_WIDTH - sum(widths))
        table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle(GRID + [("SPAN", (0, -1), (3, -1))]))
        return [table, Spacer(1, 10)]

    def arguments():
        out = []
        many = len(letter.arguments) > 1
        for label, argument, action in letter.arguments:
            heading = f"Why the denial should be reversed: {esc(label)}" if many else \
                "Why the denial should be reversed"
            out.append(KeepTogether([
                Paragraph(heading, st["h2"]), Paragraph(argument, st["body"]),
                Paragraph("<b>Action requested:</b> " + action, st["body"]),
            ]))
        return out

    def enclosure_list():
        items = [Paragraph(f"{i}. {esc(label)}", st["body"])
                 for i, label in enumerate(letter.enclosures, 1)]
        return [CondPageBreak(1.2 * inch), Paragraph("Enclosures", st["h2"]), *items,
                Paragraph("The attachment index at the end of this packet gives the pages of "
                          "each enclosure and the argument it supports.", st["small"])]

    def signature():
        lines = [esc(practice.signer_name)]
        lines += [esc(x) for x in (practice.signer_title, practice.name) if x]
        lines += [esc(x) for x in (practice.contact_phone, practice.contact_email) if x]
        return [Spacer(1, 24), Paragraph("<br/>".join(lines), st["body"])]

    blocks = {"letterhead": letterhead, "recipient": recipient, "re": re_block,
              "denied_lines": denied_lines, "arguments": arguments,
              "enclosures": enclosure_list, "signature": signature}
    story: list = []
    for kind, value in letter.parts:
        story += blocks[value]() if kind == "block" else [Paragraph(value, st["body"])]

    buffer = io.BytesIO()
    doc, footer = _doc(buffer, f"Appeal, payer claim {claim.payer_claim_id}", practice.name,
                       f"{practice.name} | {context['level_name']} | payer claim "
                       f"{claim.payer_claim_id}", text)
    _build(doc, story, footer)
    return buffer.getvalue()


def incomplete_banner(missing: list[str], st, esc) -> Table:
    """The red box an incomplete packet carries on its cover and its index."""
    body = Paragraph("<b>INCOMPLETE: do not send yet.</b> Missing: "
                     + "; ".join(esc(m) for m in missing)
                     + ". Add the document(s) to the documents folder; the next run completes "
                     "this packet.", st["cell"])
    table = Table([[body]], colWidths=[PAGE_WIDTH], hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 1.2, colors.HexColor("#b00020")),
        ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fde7ea")),
        ("LEFTPADDING", (0, 0), (-1, -1), 6), ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 5)]))
    return table


def render_index_pdf(letter, enclosures, text: PdfText) -> bytes:
    """The attachment index: each enclosure, its pages in the packet, the argument it supports,
    and whether it is attached."""
    st = styles()
    esc = text.esc
    claim = letter.claim
    story: list = [Paragraph("Attachment index", st["title"]),
                   Paragraph(f"Appeal of payer claim {esc(claim.payer_claim_id)} "
                             f"({esc(letter.context['level_name'])}), "
                             f"{esc(letter.context['letter_date'])}.", st["body"])]
    if letter.missing:
        story += [incomplete_banner(letter.missing, st, esc), Spacer(1, 8)]
    head = [Paragraph(h, st["head"]) for h in ("#", "Enclosure", "Pages", "Supports", "Status")]
    data = [head]
    style = list(GRID)
    for n, enc in enumerate(enclosures, 1):
        status = "MISSING" if enc.missing else "attached"
        data.append([Paragraph(str(n), st["cell"]),
                     Paragraph(esc(enc.label) + (f"<br/><i>{esc(enc.title)}</i>"
                                                  if enc.title else ""), st["cell"]),
                     Paragraph(esc(enc.page_range), st["cell"]),
                     Paragraph(esc(enc.supports), st["cell"]),
                     Paragraph(f"<b>{status}</b>" if enc.missing else status, st["cell"])])
        if enc.missing:
            style.append(("BACKGROUND", (0, n), (-1, n), colors.HexColor("#fde7ea")))
    widths = [0.3 * inch, 2.9 * inch, 0.75 * inch]
    widths += [PAGE_WIDTH - sum(widths) - 0.75 * inch, 0.75 * inch]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    story.append(table)
    buffer = io.BytesIO()
    doc, footer = _doc(buffer, f"Attachment index, payer claim {claim.payer_claim_id}",
                       letter.practice.name,
                       f"Attachment index | payer claim {claim.payer_claim_id}", text)
    _build(doc, story, footer)
    return buffer.getvalue()


def render_excerpt_pdf(remit: Remittance, claim: Claim, findings: list[Finding],
                    practice: Practice, text: PdfText) -> bytes:
    """The claim exactly as received: every line, adjustment and remark, amounts as sent."""
    st = styles()
    esc = text.esc
    source = ("the electronic remittance advice (X12 835)" if remit.format == "x12-835"
              else "the payer's remittance advice (as parsed; the original page is not attached)")
    pay = remit.payment
    story: list = [
        Paragraph("Remittance excerpt", st["title"]),
        Paragraph(f"Reproduced from {esc(source)}, showing claim "
                  f"{esc(claim.payer_claim_id)} as received. Shaded lines are the ones appealed.",
                  st["body"]),
    ]

    def kv_table(rows):
        data = [[Paragraph(f"<b>{esc(k)}</b>", st["cell"]), Paragraph(esc(v), st["cell"])]
                for k, v in rows]
        table = Table(data, colWidths=[1.9 * inch, PAGE_WIDTH - 1.9 * inch], hAlign="LEFT")
        table.setStyle(TableStyle(GRID[:1] + GRID[2:]))
        return table

    story += [Paragraph("Remittance", st["h2"]), kv_table([
        ("Payer", f"{remit.payer.name} (ID {remit.payer.id})" if remit.payer.id
         else remit.payer.name),
        ("Payee", f"{remit.payee.name} (NPI {remit.payee.id})" if remit.payee.id
         else remit.payee.name),
        ("Payment method", pay.method), ("Check / EFT trace number", pay.trace_number),
        ("Payment date", iso(pay.date)), ("Payment amount", plain_amount(pay.amount)),
    ])]
    story += [Paragraph("Claim", st["h2"]), kv_table([
        ("Patient account (CLP01)", claim.patient_account),
        ("Payer claim number (CLP07)", claim.payer_claim_id),
        ("Claim status (CLP02)", claim.status_code),
        ("Patient", claim.patient_name), ("Member ID", claim.member_id),
        ("Billed", plain_amount(claim.billed)), ("Paid", plain_amount(claim.paid)),
        ("Patient responsibility", plain_amount(claim.patient_responsibility)),
        ("Claim adjustments", "; ".join(_adj_text(a) for a in claim.adjustments) or "none"),
        ("Claim remarks", ", ".join(claim.remarks) or "none"),
    ])]

    heads = ["#", "Date of service", "Procedure", "Mod.", "Units", "Billed", "Allowed",
             "Paid", "Adjustments", "Remarks"]
    right = {"Units", "Billed", "Allowed", "Paid"}  # "Mod." = modifiers
    data = [[Paragraph(h, st["head_r" if h in right else "head"]) for h in heads]]
    for n, line in enumerate(claim.lines, 1):
        data.append([
            Paragraph(str(n), st["cell"]), Paragraph(iso(line.date_of_service), st["cell"]),
            Paragraph(esc(line.procedure), st["cell"]),
            Paragraph(esc(", ".join(line.modifiers)), st["cell"]),
            Paragraph(esc(format(line.units.normalize(), "f")), st["cell_r"]),
            Paragraph(plain_amount(line.billed), st["cell_r"]),
            Paragraph(plain_amount(line.allowed), st["cell_r"]),
            Paragraph(plain_amount(line.paid), st["cell_r"]),
            Paragraph("<br/>".join(esc(_adj_text(a)) for a in line.adjustments), st["cell"]),
            Paragraph(esc(", ".join(line.remarks)), st["cell"]),
        ])
    widths = [0.25, 0.8, 0.78, 0.5, 0.4, 0.63, 0.63, 0.63, 1.05]
    widths = [w * inch for w in widths]
    widths.append(PAGE_WIDTH - sum(widths))
    appealed = sorted({f.line_number for f in findings if f.line_number})
    style = list(GRID) + [("BACKGROUND", (0, n), (-1, n), colors.HexColor("#fff2b3"))
                           for n in appealed]
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(style))
    story += [Paragraph("Service lines", st["h2"]), table]

    buffer = io.BytesIO()
    doc, footer = _doc(buffer, f"Remittance excerpt, payer claim {claim.payer_claim_id}",
                       practice.name, f"Remittance excerpt | payer claim {claim.payer_claim_id}",
                       text)
    _build(doc, story, footer)
    return buffer.getvalue()


def _adj_text(adj) -> str:
    text = f"{adj.code} {plain_amount(adj.amount)}"
    if adj.quantity is not None:
        text += f" (qty {format(adj.quantity.normalize(), 'f')})"
    return text
