"""Appeal packets: one PDF per appealable denied claim, for the appeals team.

A packet is the cover letter (reportlab platypus, wording from the data files next to this
module) followed by the remittance page(s) showing the denial: imported from the source PDF with
pypdfium2, or, for a remittance that came as an X12 835 file, a rendered "remittance excerpt"
listing the claim exactly as received. Output is deterministic: the same inputs and ``as_of``
give byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
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

from ..rules.findings import Finding
from ..errors import DocumentError
from ..fileio import write_atomic
from ..models import ZERO, Claim, Remittance, ServiceLine
from .config import (
    LetterText,
    Practice,
    load_letter_text,
    load_practice,
    render_letter,
    render_string,
)

PAGE_WIDTH = LETTER[0] - 1.5 * inch  # 0.75 inch margins
_FONT, _BOLD = "Helvetica", "Helvetica-Bold"


@dataclass(frozen=True)
class PacketInfo:
    path: Path
    pages: int
    sha256: str
    claim_id: str  # payer claim number
    denied_amount: Decimal
    appeal_due: dt.date | None  # earliest appeal due date of the findings
    payer_id: str = ""
    letter_pages: int = 0
    remittance_pages: int = 0
    enclosures: tuple[str, ...] = ()  # as listed in the letter; only the remittance is attached
    warnings: tuple[str, ...] = ()  # things the appeals team should check before sending

    @property
    def key(self) -> str:
        """Natural key in the ledger: (payer, payer claim id)."""
        return f"{self.payer_id}:{self.claim_id}"


def packet_filename(payer_id: str, payer_claim_id: str) -> str:
    """``appeal-<payer>-<claim>.pdf``, safe as a file name on any system.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``; when that (or
    truncation) changed anything, a short hash of the original pair is appended so two different
    claims never share a file name.
    """
    def part(value: str) -> tuple[str, bool]:
        raw = str(value or "")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._-")[:80] or "none"
        return safe, safe != raw

    payer, changed_payer = part(payer_id)
    claim, changed_claim = part(payer_claim_id)
    name = f"appeal-{payer}-{claim}"
    if changed_payer or changed_claim:
        digest = hashlib.sha256(f"{payer_id}\x1f{payer_claim_id}".encode()).hexdigest()[:10]
        name += f"-{digest}"
    return name + ".pdf"


# ---------------------------------------------------------------------------------------------
# building


def build_appeal_packet(remit: Remittance, claim: Claim, findings: list[Finding], out_path: Path,
                        *, source_pdf: Path | bytes | None = None, as_of: dt.date | None = None,
                        practice: Practice | None = None) -> PacketInfo:
    """Write the appeal packet for ``claim`` (its denial ``findings``) to ``out_path``.

    ``source_pdf`` is the remittance PDF the claim was parsed from; its ``claim.pages`` are
    copied into the packet. Without it (835 remittances) a remittance excerpt page is rendered.
    ``as_of`` is the letter date (default today). Raises ``ValueError`` when the findings do not
    belong to the claim or are not denials, ``DocumentError`` when the source PDF is unreadable.
    """
    _check_inputs(remit, claim, findings)
    practice = practice or load_practice()
    texts = load_letter_text()
    as_of = as_of or dt.date.today()
    findings = sorted(findings, key=lambda f: (f.line_number or 0, f.adjustment.group,
                                               f.adjustment.carc))
    text = _Text()
    denied = sum((f.adjustment.amount for f in findings), ZERO)
    dues = [f.appeal_due for f in findings if f.appeal_due]
    appeal_due = min(dues) if dues else None
    warnings: list[str] = []
    if appeal_due is None:
        warnings.append("no appeal due date was determined: check the payer's appeal window")
    elif appeal_due < as_of:
        warnings.append(f"the appeal due date {appeal_due.isoformat()} is before the letter date "
                        f"{as_of.isoformat()}")

    categories = _categories(findings, texts, warnings)
    enclosure_keys = ["remittance"]
    for cat, _ in categories:
        enclosure_keys += [e for e in cat.enclosures if e not in enclosure_keys]
    enclosures = tuple(texts.enclosure_labels[k] for k in enclosure_keys)

    letter = _render_letter(remit, claim, findings, practice, texts, categories, enclosures,
                            denied, appeal_due, as_of, text)
    letter_pages = _page_count(letter)

    pages = _source_pages(claim, source_pdf)
    if pages:
        remittance_part, remittance_pages = _load_pdf(source_pdf), pages
    else:
        if source_pdf is not None:
            warnings.append("the claim has no page numbers in the source PDF: a remittance "
                            "excerpt was rendered instead of copying the pages")
        remittance_part = _render_excerpt(remit, claim, findings, practice, text)
        remittance_pages = list(range(1, _page_count(remittance_part) + 1))
    data = _merge(letter, remittance_part, remittance_pages)

    if text.transliterated:
        warnings.append("some names or text had characters the letter font cannot print; they "
                        "were transliterated: check the spelling against the claim")
    out_path = Path(out_path)
    write_atomic(out_path, data, skip_if_same=True)
    return PacketInfo(
        path=out_path, pages=letter_pages + len(remittance_pages),
        sha256=hashlib.sha256(data).hexdigest(), claim_id=claim.payer_claim_id,
        denied_amount=denied, appeal_due=appeal_due, payer_id=remit.payer.id,
        letter_pages=letter_pages, remittance_pages=len(remittance_pages),
        enclosures=enclosures, warnings=tuple(warnings))


def _check_inputs(remit: Remittance, claim: Claim, findings: list[Finding]) -> None:
    if not findings:
        raise ValueError(f"no findings for claim {claim.payer_claim_id}: nothing to appeal")
    if not any(c is claim or c == claim for c in remit.claims):
        raise ValueError(f"claim {claim.payer_claim_id} is not in the remittance")
    seen = set()
    for f in findings:
        fc = f.claim
        if fc is not claim and (fc.payer_claim_id, fc.patient_account) != (
                claim.payer_claim_id, claim.patient_account):
            raise ValueError(f"finding {f.key} belongs to claim {fc.payer_claim_id}, "
                             f"not {claim.payer_claim_id}")
        if remit.payer.id and f.payer_id and f.payer_id != remit.payer.id:
            raise ValueError(f"finding {f.key} is for payer {f.payer_id}, "
                             f"the remittance is from {remit.payer.id}")
        if not f.decision.is_denial:
            raise ValueError(f"finding {f.key} is not a denial: it has no place in an appeal")
        if f.line_number is None:
            if f.adjustment not in claim.adjustments:
                raise ValueError(f"finding {f.key}: adjustment not among the claim's adjustments")
        else:
            if not 1 <= f.line_number <= len(claim.lines):
                raise ValueError(f"finding {f.key}: claim has no service line {f.line_number}")
            if f.adjustment not in claim.lines[f.line_number - 1].adjustments:
                raise ValueError(f"finding {f.key}: adjustment not on service line "
                                 f"{f.line_number}")
        if f.key in seen:
            raise ValueError(f"finding {f.key} given twice")
        seen.add(f.key)


def _categories(findings: list[Finding], texts: LetterText, warnings: list[str]):
    """[(CategoryText, findings)] in order of first appearance; one argument per category."""
    grouped: dict[str, tuple[Any, list[Finding]]] = {}
    for f in findings:
        cat, found = texts.category(f.decision.category)
        if not found:
            message = (f"no argument text for category {f.decision.category!r}: the generic "
                       f"wording was used; review it before sending")
            if message not in warnings:
                warnings.append(message)
        grouped.setdefault(cat.key, (cat, []))[1].append(f)
    return list(grouped.values())


# ---------------------------------------------------------------------------------------------
# text helpers


class _Text:
    """Cleans data for the PDF: control characters out, whitespace collapsed, characters the
    standard PDF fonts cannot print transliterated (and remembered, for a warning)."""

    def __init__(self) -> None:
        self.transliterated = False

    def __call__(self, value: Any) -> str:
        text = "" if value is None else str(value)
        text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
                       for ch in text)
        text = " ".join(text.split())
        out = []
        for ch in text:
            if _printable(ch):
                out.append(ch)
                continue
            self.transliterated = True
            plain = "".join(c for c in unicodedata.normalize("NFKD", ch)
                            if _printable(c) and not unicodedata.combining(c))
            out.append(plain or "?")
        return "".join(out)

    def esc(self, value: Any) -> str:
        """Cleaned and escaped for reportlab paragraph markup."""
        return (self(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&quot;"))


def _printable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def usd(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _plain_amount(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


def _iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def _dos_text(dates: list[dt.date]) -> str:
    dates = sorted(set(d for d in dates if d))
    if not dates:
        return "the date(s) of service"
    if len(dates) == 1:
        return dates[0].isoformat()
    return f"{dates[0].isoformat()} to {dates[-1].isoformat()}"


def _procedure(line: ServiceLine | None) -> str:
    if line is None:
        return "claim level"
    return "-".join([line.procedure, *line.modifiers])


def _finding_dates(f: Finding) -> list[dt.date]:
    if f.line is not None and f.line.date_of_service:
        return [f.line.date_of_service]
    return list(f.claim.dates_of_service)


# ---------------------------------------------------------------------------------------------
# reportlab


def _styles() -> dict[str, ParagraphStyle]:
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


_GRID = [
    ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#9a9a9a")),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ("TOPPADDING", (0, 0), (-1, -1), 2),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def _doc(buffer: io.BytesIO, title: str, author: str, footer: str, text: _Text):
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


def _render_letter(remit, claim, findings, practice, texts, categories, enclosures, denied,
                   appeal_due, as_of, text: _Text) -> bytes:
    st = _styles()
    esc = text.esc
    denial_dates = sorted({f.denial_date for f in findings if f.denial_date})
    if not denial_dates and remit.payment.date:
        denial_dates = [remit.payment.date]
    denial_date = ", ".join(d.isoformat() for d in denial_dates) or "(date not shown)"
    payer_name = remit.payer.name or findings[0].payer_name or remit.payer.id
    context = {
        "letter_date": as_of.isoformat(), "appeal_level": text(texts.appeal_level),
        "request_phrase": text(texts.request_phrase), "payer_name": text(payer_name),
        "payer_id": text(remit.payer.id), "practice_name": text(practice.name),
        "patient_name": text(claim.patient_name), "member_id": text(claim.member_id),
        "patient_account": text(claim.patient_account),
        "payer_claim_id": text(claim.payer_claim_id),
        "dates_of_service": _dos_text(claim.dates_of_service), "total_billed": usd(claim.billed),
        "denied_amount": usd(denied), "denial_date": denial_date,
        "appeal_due": _iso(appeal_due), "contact_name": text(practice.contact_name),
        "contact_phone": text(practice.contact_phone),
        "contact_email": text(practice.contact_email),
    }

    def letterhead():
        contact = " | ".join(x for x in (
            f"Phone {practice.phone}", f"Fax {practice.fax}" if practice.fax else "",
            practice.email) if x)
        ids = " | ".join(x for x in (f"NPI {practice.npi}" if practice.npi else "",
                                     f"TIN {practice.tax_id}" if practice.tax_id else "") if x)
        lines = [esc(x) for x in (*practice.address, contact, ids) if x]
        return [Paragraph(esc(practice.name), st["title"]),
                Paragraph("<br/>".join(lines), st["letterhead"]),
                HRFlowable(width="100%", thickness=0.8, color=colors.HexColor("#333333"),
                           spaceBefore=2, spaceAfter=10)]

    def recipient():
        address = practice.payer_addresses.get(remit.payer.id) or ("Attn: Appeals department",)
        lines = [f"<b>{esc(payer_name)}</b>", *(esc(x) for x in address)]
        if remit.payer.id:
            lines.append(f"Payer ID: {esc(remit.payer.id)}")
        return [Paragraph("<br/>".join(lines), st["body"])]

    def re_block():
        rows = [
            ("Patient", claim.patient_name), ("Member ID", claim.member_id),
            ("Patient account", claim.patient_account),
            ("Payer claim number", claim.payer_claim_id),
            ("Date(s) of service", _dos_text(claim.dates_of_service)),
            ("Total billed", usd(claim.billed)), ("Denied amount", usd(denied)),
            ("Denial (remittance) date", denial_date),
            ("Appeal due date", _iso(appeal_due) or "not determined"),
        ]
        if remit.payment.trace_number:
            rows.append(("Check / EFT trace number", remit.payment.trace_number))
        data = [[Paragraph(f"<b>{esc(k)}</b>", st["cell"]), Paragraph(esc(v), st["cell"])]
                for k, v in rows]
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
            dos = _dos_text(_finding_dates(f))
            reason = [f"<b>{esc(f.adjustment.code)}</b> {esc(f.carc_meaning)}".strip()]
            for code in f.remarks:
                meaning = f.rarc_meanings.get(code, "")
                reason.append(f"<b>{esc(code)}</b> {esc(meaning)}".strip())
            data.append([
                Paragraph(str(f.line_number) if f.line_number else "claim", st["cell"]),
                Paragraph(esc(dos), st["cell"]),
                Paragraph(esc(_procedure(line)), st["cell"]),
                Paragraph(usd(billed), st["cell_r"]),
                Paragraph(usd(f.adjustment.amount), st["cell_r"]),
                Paragraph("<br/>".join(reason), st["cell"]),
            ])
        data.append([Paragraph("<b>Total denied</b>", st["cell"]), "", "", "",
                     Paragraph(f"<b>{usd(denied)}</b>", st["cell_r"]), ""])
        widths = [0.45 * inch, 0.95 * inch, 0.95 * inch, 0.8 * inch, 0.8 * inch]
        widths.append(PAGE_WIDTH - sum(widths))
        table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
        table.setStyle(TableStyle(_GRID + [("SPAN", (0, -1), (3, -1))]))
        return [table, Spacer(1, 10)]

    def arguments():
        out = []
        for cat, cat_findings in categories:
            lines = [f.line for f in cat_findings]
            ctx = dict(context)
            ctx.update({
                "codes": ", ".join(dict.fromkeys(text(f.adjustment.code) for f in cat_findings)),
                "procedures": ", ".join(dict.fromkeys(text(_procedure(x)) for x in lines)),
                "dates_of_service": _dos_text([d for f in cat_findings
                                               for d in _finding_dates(f)]),
                "denied_amount": usd(sum((f.adjustment.amount for f in cat_findings), ZERO)),
            })
            heading = "Why the denial should be reversed" if len(categories) == 1 else \
                f"Why the denial should be reversed: {esc(cat.label)}"
            out.append(KeepTogether([
                Paragraph(heading, st["h2"]),
                Paragraph(render_string(cat.argument, ctx), st["body"]),
                Paragraph("<b>Action requested:</b> " + render_string(cat.action, ctx),
                          st["body"]),
            ]))
        return out

    def enclosure_list():
        items = [Paragraph(f"{i}. {esc(label)}", st["body"])
                 for i, label in enumerate(enclosures, 1)]
        return [CondPageBreak(1.2 * inch), Paragraph("Enclosures", st["h2"]), *items]

    def signature():
        lines = [esc(practice.signer_name)]
        lines += [esc(x) for x in (practice.signer_title, practice.name) if x]
        lines += [esc(x) for x in (practice.contact_phone, practice.contact_email) if x]
        return [Spacer(1, 24), Paragraph("<br/>".join(lines), st["body"])]

    blocks = {"letterhead": letterhead, "recipient": recipient, "re": re_block,
              "denied_lines": denied_lines, "arguments": arguments,
              "enclosures": enclosure_list, "signature": signature}
    story: list = []
    for kind, value in render_letter(context):
        story += blocks[value]() if kind == "block" else [Paragraph(value, st["body"])]

    buffer = io.BytesIO()
    doc, footer = _doc(buffer, f"Appeal, payer claim {claim.payer_claim_id}", practice.name,
                       f"{practice.name} | {texts.appeal_level} | payer claim "
                       f"{claim.payer_claim_id}", text)
    _build(doc, story, footer)
    return buffer.getvalue()


def _render_excerpt(remit: Remittance, claim: Claim, findings: list[Finding],
                    practice: Practice, text: _Text) -> bytes:
    """The claim exactly as received: every line, adjustment and remark, amounts as sent."""
    st = _styles()
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
        table.setStyle(TableStyle(_GRID[:1] + _GRID[2:]))
        return table

    story += [Paragraph("Remittance", st["h2"]), kv_table([
        ("Payer", f"{remit.payer.name} (ID {remit.payer.id})" if remit.payer.id
         else remit.payer.name),
        ("Payee", f"{remit.payee.name} (NPI {remit.payee.id})" if remit.payee.id
         else remit.payee.name),
        ("Payment method", pay.method), ("Check / EFT trace number", pay.trace_number),
        ("Payment date", _iso(pay.date)), ("Payment amount", _plain_amount(pay.amount)),
    ])]
    story += [Paragraph("Claim", st["h2"]), kv_table([
        ("Patient account (CLP01)", claim.patient_account),
        ("Payer claim number (CLP07)", claim.payer_claim_id),
        ("Claim status (CLP02)", claim.status_code),
        ("Patient", claim.patient_name), ("Member ID", claim.member_id),
        ("Billed", _plain_amount(claim.billed)), ("Paid", _plain_amount(claim.paid)),
        ("Patient responsibility", _plain_amount(claim.patient_responsibility)),
        ("Claim adjustments", "; ".join(_adj_text(a) for a in claim.adjustments) or "none"),
        ("Claim remarks", ", ".join(claim.remarks) or "none"),
    ])]

    heads = ["#", "Date of service", "Procedure", "Mod.", "Units", "Billed", "Allowed",
             "Paid", "Adjustments", "Remarks"]
    right = {"Units", "Billed", "Allowed", "Paid"}  # "Mod." = modifiers
    data = [[Paragraph(h, st["head_r" if h in right else "head"]) for h in heads]]
    for n, line in enumerate(claim.lines, 1):
        data.append([
            Paragraph(str(n), st["cell"]), Paragraph(_iso(line.date_of_service), st["cell"]),
            Paragraph(esc(line.procedure), st["cell"]),
            Paragraph(esc(", ".join(line.modifiers)), st["cell"]),
            Paragraph(esc(format(line.units.normalize(), "f")), st["cell_r"]),
            Paragraph(_plain_amount(line.billed), st["cell_r"]),
            Paragraph(_plain_amount(line.allowed), st["cell_r"]),
            Paragraph(_plain_amount(line.paid), st["cell_r"]),
            Paragraph("<br/>".join(esc(_adj_text(a)) for a in line.adjustments), st["cell"]),
            Paragraph(esc(", ".join(line.remarks)), st["cell"]),
        ])
    widths = [0.25, 0.8, 0.78, 0.5, 0.4, 0.63, 0.63, 0.63, 1.05]
    widths = [w * inch for w in widths]
    widths.append(PAGE_WIDTH - sum(widths))
    appealed = sorted({f.line_number for f in findings if f.line_number})
    style = list(_GRID) + [("BACKGROUND", (0, n), (-1, n), colors.HexColor("#fff2b3"))
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
    text = f"{adj.code} {_plain_amount(adj.amount)}"
    if adj.quantity is not None:
        text += f" (qty {format(adj.quantity.normalize(), 'f')})"
    return text


# ---------------------------------------------------------------------------------------------
# PDF assembly


def _source_pages(claim: Claim, source_pdf: Path | bytes | None) -> list[int]:
    if source_pdf is None or not claim.pages:
        return []
    return sorted(set(claim.pages))


def _load_pdf(source: Path | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise DocumentError(f"cannot read the source remittance PDF: {exc}",
                            file=str(source)) from exc


def _page_count(data: bytes) -> int:
    pdf = pdfium.PdfDocument(data)
    try:
        return len(pdf)
    finally:
        pdf.close()


def _merge(letter: bytes, remittance: bytes, pages: list[int]) -> bytes:
    """The letter followed by ``pages`` (1-based) of ``remittance``, with a stable file ID."""
    dest = pdfium.PdfDocument(letter)
    try:
        try:
            src = pdfium.PdfDocument(remittance)
        except pdfium.PdfiumError as exc:
            raise DocumentError(f"cannot open the source remittance PDF: {exc}") from exc
        try:
            bad = [p for p in pages if not 1 <= p <= len(src)]
            if bad:
                raise ValueError(f"claim pages {bad} are outside the source PDF "
                                 f"({len(src)} pages)")
            dest.import_pages(src, [p - 1 for p in pages])
        finally:
            src.close()
        buffer = io.BytesIO()
        dest.save(buffer)
    finally:
        dest.close()
    return _stable_id(buffer.getvalue())


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
