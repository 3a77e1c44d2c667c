"""Writing the feedback report: ``reports/feedback-YYYY-MM.xlsx`` and ``.pdf`` plus the chart
images beside them (``-categories.png``, ``-patterns.png``), each written atomically and
owner-only through the output store (:mod:`claimwright.output_store`)."""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path

from ..output_store import store_at
from ..rules.documentation import load_documentation
from ..settings import Settings
from ..storage import Ledger
from .charts import category_chart, patterns_chart
from .feedback import FeedbackReport, build_feedback
from .months import Month
from .pdf import render_pdf
from .xlsx import render_xlsx


@dataclass(frozen=True)
class FeedbackFiles:
    report: FeedbackReport
    xlsx: Path
    pdf: Path
    charts: dict[str, Path]  # "categories", "patterns"

    @property
    def paths(self) -> list[Path]:
        return [self.xlsx, self.pdf, *self.charts.values()]


def write_feedback_report(settings: Settings, ledger: Ledger, month: Month, *,
                          today: dt.date | None = None) -> FeedbackFiles:
    """Build the report of ``month`` from the ledger and write its files (see module doc)."""
    report = build_feedback(ledger, month, documentation=load_documentation(
        settings.documentation), rework_cost=settings.rework_cost, today=today)
    store, key = store_at(settings.feedback_report(str(month), ".xlsx"), settings)
    folder = key.rsplit("/", 1)[0] if "/" in key else ""
    store.sweep(folder)  # what a killed run half-wrote

    def put(path: Path, data: bytes) -> None:
        store.put_bytes(f"{folder}/{path.name}" if folder else path.name, data)

    images = {"categories": category_chart(report), "patterns": patterns_chart(report)}
    charts = {}
    for name, png in images.items():
        charts[name] = settings.feedback_report(str(month), f"-{name}.png")
        put(charts[name], png)
    xlsx = settings.feedback_report(str(month), ".xlsx")
    put(xlsx, render_xlsx(report))
    pdf = settings.feedback_report(str(month), ".pdf")
    put(pdf, render_pdf(report, images))
    return FeedbackFiles(report, xlsx, pdf, charts)


def pdf_page_png(pdf: bytes, page: int = 0, scale: float = 1.5) -> bytes:
    """One page of a PDF rendered to PNG (PDFium): the tests look at it, docs/ shows it."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        image = doc[page].render(scale=scale).to_pil()
    finally:
        doc.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
