"""A 500-page remittance parses field-exact in bounded time (one pass, no quadratic work)."""

from __future__ import annotations

import copy
import datetime as dt
import time

from claimwright.balancing import check_remittance
from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances.data import plan_dataset
from fixtures.remittances.render_northwind import render


def test_500_page_remittance_parses_exactly_in_bounded_time():
    plan = plan_dataset("clearpath", seed=5, count=2, anchor=dt.date(2026, 3, 2),
                        anomalies=False)[1]
    template = plan.remittance.claims
    claims = []
    while len(claims) < 4300:
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
    assert page_count >= 500
    for claim, claim_pages in zip(remit.claims, pages):
        claim.pages = claim_pages
    remit.problems = check_remittance(remit)
    start = time.perf_counter()
    parsed = parse_pdf(pdf)
    elapsed = time.perf_counter() - start
    assert parsed.to_json() == remit.to_json()
    assert elapsed < 20, f"{page_count} pages took {elapsed:.1f} s"


def test_ten_thousand_tiny_objects_give_a_typed_error_or_problems_quickly():
    import io

    import pytest
    from reportlab.pdfgen import canvas

    from claimwright.errors import UnknownLayout

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(792, 612), invariant=1)
    c.setFont("Helvetica", 2)
    for i in range(10_000):
        x, y = 10 + (i % 200) * 3.8, 20 + (i // 200) * 11.5
        c.drawString(x, y, "x")
        c.rect(x, y, 0.5, 0.5)
    c.showPage()
    c.save()
    start = time.perf_counter()
    with pytest.raises(UnknownLayout):
        parse_pdf(buf.getvalue())
    forced = parse_pdf(buf.getvalue(), layout="keystone")
    assert forced.problems
    assert time.perf_counter() - start < 10
