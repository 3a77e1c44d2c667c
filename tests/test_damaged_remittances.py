"""Deliberately damaged remittances of every layout: each one flagged, none passes as balanced."""

from __future__ import annotations

import copy
import datetime as dt
import io
from decimal import Decimal

import pypdfium2 as pdfium
import pytest

from claimwright.errors import UnknownLayout
from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances import renderer
from fixtures.remittances.data import plan_dataset

ANCHOR = dt.date(2026, 3, 2)
LAYOUTS = ["northwind", "keystone", "clearpath"]


def _plans(payer):
    return plan_dataset(payer, seed=11, count=6, anchor=ANCHOR, anomalies=False)


def render(plan):
    """The plan's PDF in its payer's page design (keystone: the SPR-like notice)."""
    return renderer(plan)(plan)


def _parse(plan):
    pdf, _, _ = render(plan)
    return parse_pdf(pdf)


@pytest.mark.parametrize("payer", LAYOUTS)
def test_undamaged_baseline_is_clean(payer):
    for plan in _plans(payer)[:2]:
        assert _parse(plan).problems == []


@pytest.mark.parametrize("payer", LAYOUTS)
def test_missing_service_line_is_flagged(payer):
    for plan in _plans(payer):
        plan = copy.deepcopy(plan)
        claim = next(c for c in plan.remittance.claims if len(c.lines) > 1)
        del claim.lines[-1]  # the printed claim totals still include it
        assert _parse(plan).problems, plan.remittance_id


@pytest.mark.parametrize("payer", LAYOUTS)
def test_changed_amount_is_flagged(payer):
    for plan in _plans(payer):
        plan = copy.deepcopy(plan)
        line = plan.remittance.claims[-1].lines[0]
        line.paid += Decimal("0.01")
        problems = _parse(plan).problems
        assert problems and all(p.page for p in problems), plan.remittance_id


@pytest.mark.parametrize("payer", LAYOUTS)
def test_removed_page_is_flagged(payer):
    plan = _plans(payer)[1]  # every fourth remittance from the second spans several pages
    pdf, _, page_count = render(plan)
    assert page_count >= 3
    for index in range(page_count):
        doc = pdfium.PdfDocument(pdf)
        doc.del_page(index)
        buf = io.BytesIO()
        doc.save(buf)
        doc.close()
        if index == 0:  # the fingerprint may live on page 1 only: a typed error, never a guess
            try:
                parse_pdf(buf.getvalue())
            except UnknownLayout:
                pass
        remit = parse_pdf(buf.getvalue(), layout=payer)
        assert remit.problems, f"{payer}: page {index + 1} removed, nothing flagged"
