"""The feedback report as a PDF (reportlab, landscape letter): the measures and their trend, the
top denial patterns with the documentation or coding element each points to, the charts, the
rates by payer and by reason, and the definitions. Deterministic (``invariant=1``)."""

from __future__ import annotations

import io

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from ..codes import tables as code_tables
from ..packets.render import GRID, styles
from ..packets.text import PdfText
from .feedback import (CODING_CATEGORIES, KPIS, NO_DATA, FeedbackReport, show, show_change)

PAGE = landscape(LETTER)
MARGIN = 0.6 * inch
WIDTH = PAGE[0] - 2 * MARGIN
TOP_RATES = 15  # rows of the by-payer and by-reason tables


def _style() -> dict[str, ParagraphStyle]:
    st = styles()
    st["h1"] = ParagraphStyle("h1", parent=st["title"], fontSize=17, leading=21, spaceAfter=4)
    st["note"] = ParagraphStyle("note", parent=st["small"], textColor=colors.HexColor("#444444"),
                                spaceAfter=6)
    return st


def render_pdf(report: FeedbackReport, charts: dict[str, bytes]) -> bytes:
    st = _style()
    text = PdfText()
    esc = text.esc
    m = report.month
    cur = report.current

    def cell(value, style="cell"):
        return Paragraph(esc(value), st[style])

    def table(rows, widths, *, header_rows=1, extra=()):
        t = Table(rows, colWidths=widths, repeatRows=header_rows, hAlign="LEFT")
        t.setStyle(TableStyle(GRID + list(extra)))
        return t

    through = report.data_through.isoformat() if report.data_through else NO_DATA
    story: list = [
        Paragraph(esc(f"Denial feedback report: {m.first:%B %Y}"), st["h1"]),
        Paragraph(esc(f"For clinical leadership. Denials on remittances paid {m.first} to "
                      f"{m.last}; recoveries counted from payments up to {through}. "
                      f"Generated {report.generated_on}. No patient, member or account is "
                      "named: the report is about patterns."), st["note"]),
    ]
    if not cur.has_data:
        story.append(Paragraph(esc(f"No remittance paid in {m} is in the ledger: every figure "
                                   "of the month reads 'no data'."), st["body"]))
    if cur.undecided:
        story.append(Paragraph(esc(f"{cur.undecided} adjustment(s) of the month have no "
                                   "decision in the ledger yet (their outputs stage has not "
                                   "run) and are left out."), st["note"]))

    # at a glance -------------------------------------------------------------------------
    if cur.has_data:
        prev = report.previous
        versus = (f" ({show_change('rate', cur.denial_rate_by_count - prev.denial_rate_by_count)}"
                  f" from {m.previous})" if prev.has_data else "")
        appeals = (f"{cur.appeals_decided} appeal(s) decided, {cur.appeals_overturned} "
                   f"overturned" if cur.appeals_decided else "no appeal decided")
        story.append(Paragraph(esc(
            f"At a glance: {show('rate', cur.denial_rate_by_count)} of claims denied{versus}, "
            f"{show('rate', cur.denial_rate_by_dollars)} of billed dollars; "
            f"{show('money', cur.denied)} denied, {show('money', cur.recovered)} recovered so "
            f"far; {appeals}; estimated rework cost {show('money', cur.rework_cost)}."),
            st["body"]))

    # the patterns ------------------------------------------------------------------------
    story.append(Paragraph(esc(f"Top denial patterns of {m} (most frequent first)"),
                           st["h2"]))
    top = report.top_patterns
    if top:
        head = [cell(h, "head") for h in ("#", "Provider", "Service", "Reason", "Category")]
        head += [cell(h, "head_r") for h in ("Denials", "Lines", "Denied", "Recovered")]
        head.append(cell("What the note or the coding must show", "head"))
        rows = [head]
        for n, p in enumerate(top, 1):
            rows.append([cell(str(n)), cell(p.key.provider), cell(p.key.service),
                         cell(p.key.reason), cell(p.category), cell(str(p.count), "cell_r"),
                         cell("" if p.lines_billed is None else str(p.lines_billed), "cell_r"),
                         cell(show("money", p.denied), "cell_r"),
                         cell(show("money", p.recovered), "cell_r"), cell(p.element.text)])
        widths = [0.25, 1.35, 0.72, 0.8, 1.15, 0.55, 0.45, 0.75, 0.75]
        widths = [w * inch for w in widths]
        widths.append(WIDTH - sum(widths))
        story += [table(rows, widths),
                  Paragraph(esc("Lines: the month's service lines of that provider with that "
                                "procedure and modifiers. All patterns are in the workbook."),
                            st["note"])]
    else:
        story.append(Paragraph("No denials this month.", st["body"]))

    # the measures ------------------------------------------------------------------------
    head = [cell("Measure", "head"), cell(str(m), "head_r"), cell(str(m.previous), "head_r"),
            cell("Change", "head_r"), cell(str(m.minus(12)), "head_r"), cell("Change", "head_r")]
    rows = [head]
    for t in report.trends():
        k = t.kpi.kind
        rows.append([cell(t.kpi.name), cell(show(k, t.current), "cell_r"),
                     cell(show(k, t.previous), "cell_r"),
                     cell(show_change(k, t.change_from_previous), "cell_r"),
                     cell(show(k, t.last_year), "cell_r"),
                     cell(show_change(k, t.change_from_last_year), "cell_r")])
    widths = [2.7 * inch] + [1.05 * inch] * 5
    story += [CondPageBreak(4.0 * inch), Paragraph("Key measures", st["h2"]),
              table(rows, widths), Spacer(1, 8)]

    # the charts --------------------------------------------------------------------------
    for name in ("categories", "patterns"):
        png = charts.get(name)
        if png:
            image = Image(io.BytesIO(png))
            scale = min(WIDTH / image.imageWidth, 3.35 * inch / image.imageHeight)
            image.drawWidth, image.drawHeight = image.imageWidth * scale, \
                image.imageHeight * scale
            image.hAlign = "LEFT"
            story += [CondPageBreak(image.drawHeight + 12), image, Spacer(1, 6)]

    # rates by payer and by reason --------------------------------------------------------
    story.append(CondPageBreak(2.5 * inch))
    def rates(title, items, header, name_of, meaning_of=None):
        head = [cell(header, "head")] + ([cell("Meaning", "head")] if meaning_of else [])
        head += [cell(h, "head_r") for h in ("Denied claims", "Claims", "Rate by count",
                                             "Denied", "Billed", "Rate by dollars")]
        rows = [head]
        for key, r in items[:TOP_RATES]:
            rows.append([cell(name_of(key))] + ([cell(meaning_of(key))] if meaning_of else [])
                        + [cell(f"{r.denied_count:,}", "cell_r"),
                           cell(f"{r.total_count:,}", "cell_r"),
                           cell(show("rate", r.by_count), "cell_r"),
                           cell(show("money", r.denied_amount), "cell_r"),
                           cell(show("money", r.billed_amount), "cell_r"),
                           cell(show("rate", r.by_dollars), "cell_r")])
        widths = ([1.2 * inch, 3.5 * inch] if meaning_of else [4.7 * inch]) + [0.85 * inch] * 6
        more = len(items) - TOP_RATES
        return [Paragraph(esc(title), st["h2"]), table(rows, widths)] + (
            [Paragraph(esc(f"{more} more in the workbook."), st["note"])] if more > 0 else [])

    payers = sorted(cur.by_payer.items(), key=lambda kv: (-kv[1].denied_amount, kv[0]))
    reasons = sorted(cur.by_reason.items(), key=lambda kv: (-kv[1].denied_amount, kv[0]))
    carcs = code_tables().carc
    story += rates(f"Denial rate by payer, {m}", payers, "Payer", cur.payer_label)
    story += [Spacer(1, 8)] + rates(
        f"Denial rate by reason (group-CARC), {m}", reasons, "Reason", str,
        lambda code: carcs.meaning(code.split("-", 1)[1]))

    # appeals -----------------------------------------------------------------------------
    story += [Spacer(1, 8)] + _appeals(cur, cell, table, st, esc)

    # definitions -------------------------------------------------------------------------
    block = [Paragraph("Definitions", st["h2"])]
    for line in (
            "A month holds the remittances paid in it. A denial is an adjustment the rules "
            "decided is one, with an amount above zero: cost sharing (PR-1/2/3), contractual "
            "write-downs (CO-45), sequestration (CO-253) and prior-payer amounts (OA-23) are "
            "not denials. Reversals (claim status 22) are left out.",
            "A pattern is rendering provider x procedure (with modifiers) x reason (group-CARC "
            "with its remark codes); the element it points to comes from documentation.yaml.",
            f"Coding-related: the categories {', '.join(CODING_CATEGORIES)}.",
            "Recovered so far: what later remittances of the same payer paid on the same "
            "service (payer claim number, date of service, procedure; the whole claim for a "
            "claim-level denial), net of reversals, at most the denied amount. An overturned "
            "appeal without a payment recovers nothing yet.",
            "Appeals: one per appeal and level, in the month of the decision. Overturn rate = "
            "fully overturned / decided; any recovery = (overturned + partial) / decided; "
            "recovered = as recorded on the appeal (the portal's notes or the team's record). "
            "An appeal counts toward each of its denial categories."):
        block.append(Paragraph(esc(line), st["small"]))
    block.append(Spacer(1, 4))
    for k in KPIS:
        block.append(Paragraph(f"<b>{esc(k.name)}</b>: {esc(k.definition)}", st["small"]))
    story += [Spacer(1, 8), KeepTogether(block)]

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=0.55 * inch, bottomMargin=0.7 * inch,
                            title=f"Denial feedback report {m}", author="Claimwright",
                            creator="Claimwright", invariant=1)

    def footer(canvas, document):
        canvas.saveState()
        canvas.setFont("Helvetica", 7.5)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(MARGIN, 0.45 * inch,
                          f"Claimwright | denial feedback report {m} | no patient data")
        canvas.drawRightString(PAGE[0] - MARGIN, 0.45 * inch, f"Page {document.page}")
        canvas.restoreState()

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _appeals(cur, cell, table, st, esc) -> list:
    """The month's decided appeals by category and payer (the appeals ledger)."""
    title = Paragraph(esc(f"Appeals decided in {cur.month}, by category and payer"), st["h2"])
    rows = cur.appeal_rows()
    if not rows:
        return [title, Paragraph("No appeal was decided this month.", st["body"])]
    head = [cell("Category", "head"), cell("Payer", "head")]
    head += [cell(h, "head_r") for h in ("Decided", "Overturned", "Partial", "Upheld",
                                         "Overturn rate", "Any recovery", "Recovered")]
    body = [[cell(category), cell(cur.payer_label(pid)), cell(f"{t.decided:,}", "cell_r"),
             cell(f"{t.overturned:,}", "cell_r"), cell(f"{t.partial:,}", "cell_r"),
             cell(f"{t.upheld:,}", "cell_r"), cell(show("rate", t.overturn_rate), "cell_r"),
             cell(show("rate", t.any_recovery_rate), "cell_r"),
             cell(show("money", t.recovered), "cell_r")] for category, pid, t in rows]
    widths = [1.7 * inch, 2.2 * inch] + [0.7 * inch] * 4 + [0.95 * inch] * 3
    return [CondPageBreak(1.5 * inch), title, table([head] + body, widths)]
