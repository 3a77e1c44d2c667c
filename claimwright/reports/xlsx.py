"""The feedback report as a workbook (openpyxl): KPIs, Patterns (all of them), By payer,
By reason, By category (the chart's data), Appeals (the month's decisions by category and
payer). Cells are written the worklists' way (:mod:`claimwright.worklists.cells`): text is stored
as text, never as a formula, whatever it starts with; amounts as exact decimals with a currency
format; rates as percentages."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment

from ..codes import tables as code_tables
from ..worklists.cells import set_cell
from ..worklists.cells import style_header
from .feedback import NO_DATA, FeedbackReport

PERCENT = "0.0%"
POINTS = '+0.0" pts";-0.0" pts";0.0" pts"'  # a change of a rate, in percentage points
CHANGE = "+#,##0;-#,##0;0"
MONEY_CHANGE = '+"$"#,##0.00;[Red]-"$"#,##0.00;"$"0.00'


def _put(ws, row: int, col: int, value: Any, kind: str, *, change: bool = False) -> None:
    """One cell: ``kind`` text / count / money / rate; ``None`` reads "no data"."""
    cell = ws.cell(row=row, column=col)
    if value is None and kind != "text":
        set_cell(cell, NO_DATA, "text")
        cell.alignment = Alignment(horizontal="right")
        return
    if kind == "text":
        set_cell(cell, value, "text")
        return
    set_cell(cell, Decimal(value), "money" if kind == "money" else "number")
    if kind == "rate":
        cell.number_format = POINTS if change else PERCENT
    elif kind == "count":
        cell.number_format = CHANGE if change else "#,##0"
    elif change:
        cell.number_format = MONEY_CHANGE


def _sheet(wb: Workbook, title: str, columns: list[tuple[str, float]], rows: list[list],
           kinds: list[str], *, first: bool = False, wrap: tuple[int, ...] = ()):
    ws = wb.active if first else wb.create_sheet()
    ws.title = title
    for col, (header, width) in enumerate(columns, 1):
        style_header(ws, col, header, width)
    for r, row in enumerate(rows, 2):
        for col, (value, kind) in enumerate(zip(row, kinds), 1):
            _put(ws, r, col, value, kind)
            if col in wrap:
                ws.cell(row=r, column=col).alignment = Alignment(wrap_text=True,
                                                                 vertical="top")
    ws.freeze_panes = "A2"
    if rows:
        ws.auto_filter.ref = f"A1:{ws.cell(row=1, column=len(columns)).column_letter}" \
                             f"{len(rows) + 1}"
    return ws


def render_xlsx(report: FeedbackReport) -> bytes:
    m = report.month
    wb = Workbook()
    wb.properties.creator = "Claimwright"
    wb.properties.title = f"Denial feedback report {m}"

    # KPIs: the month, the previous month, the same month last year, and the changes
    ws = _sheet(wb, "KPIs", [("Measure", 36), (str(m), 14), (str(m.previous), 14),
                             (f"Change from {m.previous}", 16), (str(m.minus(12)), 14),
                             (f"Change from {m.minus(12)}", 16), ("Definition", 70)],
                [], [], first=True)
    for r, t in enumerate(report.trends(), 2):
        k = t.kpi.kind
        _put(ws, r, 1, t.kpi.name, "text")
        _put(ws, r, 2, t.current, k)
        _put(ws, r, 3, t.previous, k)
        _put(ws, r, 4, t.change_from_previous, k, change=True)
        _put(ws, r, 5, t.last_year, k)
        _put(ws, r, 6, t.change_from_last_year, k, change=True)
        _put(ws, r, 7, t.kpi.definition, "text")
        ws.cell(row=r, column=7).alignment = Alignment(wrap_text=True, vertical="top")
    note = len(report.trends()) + 3
    through = report.data_through.isoformat() if report.data_through else NO_DATA
    _put(ws, note, 1, f"Remittances paid {m.first} to {m.last}; recoveries from payments up "
                      f"to {through}; generated {report.generated_on}. No patient data.", "text")
    if report.current.undecided:
        _put(ws, note + 1, 1, f"{report.current.undecided} adjustment(s) of the month have no "
                              "decision in the ledger yet and are left out.", "text")

    # Patterns: every one of the month, most frequent first
    rows = [[n, p.key.provider_name or p.key.provider, p.key.provider_npi, p.key.procedure,
             ", ".join(p.key.modifiers), f"{p.key.group}-{p.key.carc}", ", ".join(p.key.rarcs),
             p.category, p.count, p.claims, p.lines_billed, p.denied, p.recovered, p.element.text,
             p.element.entry.conditions() + f" (line {p.element.entry.line})"
             if p.element.entry else "default (no entry)"]
            for n, p in enumerate(report.patterns, 1)]
    _sheet(wb, "Patterns", [("Rank", 7), ("Provider", 24), ("Provider NPI", 13),
                            ("Procedure", 11), ("Modifiers", 10), ("Group-CARC", 11),
                            ("RARCs", 12), ("Category", 18), ("Denials", 9), ("Claims", 9),
                            ("Lines billed", 11), ("Denied", 13), ("Recovered so far", 15),
                            ("Documentation or coding element", 70),
                            ("Element entry (documentation.yaml)", 34)],
           rows, ["count", "text", "text", "text", "text", "text", "text", "text", "count",
                  "count", "count", "money", "money", "text", "text"], wrap=(14,))

    cur = report.current
    rate_kinds = ["count", "count", "rate", "money", "money", "rate"]
    rate_cols = [("Denied claims", 13), ("Claims", 10), ("Denial rate by count", 13),
                 ("Denied", 14), ("Billed", 14), ("Denial rate by dollars", 13)]

    def rate_row(r):
        return [r.denied_count, r.total_count, r.by_count, r.denied_amount, r.billed_amount,
                r.by_dollars]

    payers = sorted(cur.by_payer.items(), key=lambda kv: (-kv[1].denied_amount, kv[0]))
    _sheet(wb, "By payer", [("Payer", 30), ("Payer ID", 12)] + rate_cols,
           [[cur.payer_names.get(pid, ""), pid] + rate_row(r) for pid, r in payers],
           ["text", "text"] + rate_kinds)
    carcs = code_tables().carc
    reasons = sorted(cur.by_reason.items(), key=lambda kv: (-kv[1].denied_amount, kv[0]))
    _sheet(wb, "By reason", [("Group-CARC", 12), ("Meaning", 50)] + rate_cols,
           [[code, carcs.meaning(code.split("-", 1)[1])] + rate_row(r) for code, r in reasons],
           ["text", "text"] + rate_kinds)

    # By category: the data of the chart (denials and dollars per month and category)
    rows = [[str(month), cat, t.count, t.denied]
            for month in report.chart_months
            for cat, t in sorted(report.figures[month].by_category.items())]
    _sheet(wb, "By category", [("Month", 10), ("Category", 24), ("Denials", 10),
                               ("Denied", 14)], rows, ["text", "text", "count", "money"])

    # Appeals: the month's decided appeals by category and payer (the appeals ledger)
    rows = [[cat, cur.payer_names.get(pid, ""), pid, t.decided, t.overturned, t.partial,
             t.upheld, t.overturn_rate, t.any_recovery_rate, t.recovered]
            for cat, pid, t in cur.appeal_rows()]
    _sheet(wb, "Appeals", [("Category", 24), ("Payer", 26), ("Payer ID", 12), ("Decided", 9),
                           ("Overturned", 11), ("Partial", 9), ("Upheld", 9),
                           ("Overturn rate", 13), ("Any recovery rate", 16), ("Recovered", 14)],
           rows, ["text", "text", "text", "count", "count", "count", "count", "rate", "rate",
                  "money"])

    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
