"""A 500-page remittance parses field-exact in one pass; 10,000 tiny objects give a typed error.

No wall-clock assertions here (a busy CI machine is not a failure): the work is bounded by
construction -- every page is read exactly once -- and benchmarks/large_remittance.py times
both cases.
"""

from __future__ import annotations

import copy
import datetime as dt
import io

import pytest
from reportlab.pdfgen import canvas

from claimwright.balancing import check_remittance
from claimwright.errors import UnknownLayout
from claimwright.parsing import pdf_rows as pdf_module  # where the row interpreter calls rows_of
from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances import shown_truth
from fixtures.remittances.data import plan_dataset
from fixtures.remittances.render_northwind import render


def large_remittance(min_claims: int = 4300):
    """A ~540-page remittance (PDF bytes, truth JSON, page count)."""
    plan = plan_dataset("clearpath", seed=5, count=2, anchor=dt.date(2026, 3, 2),
                        anomalies=False)[1]
    template = plan.remittance.claims
    claims = []
    while len(claims) < min_claims:
        for claim in template:
            c = copy.deepcopy(claim)
            c.patient_account = f"CR{len(claims):07d}"
            claims.append(c)
    remit = plan.remittance
    remit.claims = claims
    remit.payment.amount = (sum((c.paid for c in claims), remit.payment.amount * 0)
                            - sum((p.amount for p in remit.provider_adjustments),
                                  remit.payment.amount * 0))
    pdf, pages, page_count = render(plan)
    for claim, claim_pages in zip(remit.claims, pages):
        claim.pages = claim_pages
    remit.problems = check_remittance(remit)
    return pdf, shown_truth(plan, remit.to_json()), page_count


def tiny_objects_pdf(count: int = 10_000) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(792, 612), invariant=1)
    c.setFont("Helvetica", 2)
    for i in range(count):
        x, y = 10 + (i % 200) * 3.8, 20 + (i // 200) * 11.5
        c.drawString(x, y, "x")
        c.rect(x, y, 0.5, 0.5)
    c.showPage()
    c.save()
    return buf.getvalue()


def test_500_page_remittance_parses_exactly_reading_each_page_once(monkeypatch):
    pdf, truth, page_count = large_remittance()
    assert page_count >= 500
    calls = []
    original = pdf_module.rows_of

    def counting_rows_of(page, *args):
        calls.append(page.number)
        return original(page, *args)

    monkeypatch.setattr(pdf_module, "rows_of", counting_rows_of)
    parsed = parse_pdf(pdf)
    assert parsed.to_json() == truth
    assert calls == list(range(1, page_count + 1))  # one pass: every page once, in order


def test_ten_thousand_tiny_objects_give_a_typed_error_or_problems():
    data = tiny_objects_pdf()
    with pytest.raises(UnknownLayout):
        parse_pdf(data)
    forced = parse_pdf(data, layout="keystone")
    assert forced.problems and not forced.claims
