"""Property tests of the PDF parser's promise: parsed exactly, or flagged -- never silently wrong.

1. Any generated remittance of any layout (random payer, seed, position, anomalies) parses
   field-equal to its ground truth.
2. Random byte damage to a remittance PDF gives a typed error, the exact parse, or a parse with
   problems -- never a different parse without problems.
3. One changed digit in any printed amount (line, claim total, provider adjustment, summary,
   payment) is always flagged.

Bounded: few examples, no deadline, derandomized (the same examples on every run).
"""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimwright.errors import DocumentError, UnknownLayout
from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances import render_northwind, render_plan, render_spr
from fixtures.remittances.data import plan_dataset

ANCHOR = dt.date(2026, 4, 1)
PAYERS = ["northwind", "keystone", "clearpath"]
AMOUNT = re.compile(r"\d[\d,]*\.\d\d")
BOUNDED = settings(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _plan(payer: str, seed: int, index: int, anomalies: bool):
    plans = plan_dataset(payer, seed=seed, count=index + 1, anchor=ANCHOR, anomalies=anomalies)
    return plans[-1] if anomalies else plans[index]


@settings(BOUNDED, max_examples=8)
@given(payer=st.sampled_from(PAYERS), seed=st.integers(0, 10**6), index=st.sampled_from([0, 2, 3]),
       anomalies=st.booleans())
def test_random_plans_render_and_parse_to_the_truth(payer, seed, index, anomalies):
    plan = _plan(payer, seed, index, anomalies)
    pdf, truth, _ = render_plan(plan)
    assert parse_pdf(pdf).to_json() == truth


@pytest.fixture(scope="module")
def rendered():
    """One multi-page remittance per layout: PDF bytes and ground truth."""
    out = {}
    for payer in PAYERS:
        pdf, truth, _ = render_plan(_plan(payer, 5, 1, False))  # index 1: 25+ claims
        out[payer] = (pdf, truth)
    return out


@settings(BOUNDED, max_examples=20)
@given(payer=st.sampled_from(PAYERS), data=st.data())
def test_random_byte_damage_is_an_error_or_flagged_never_silently_wrong(rendered, payer, data):
    pdf, truth = rendered[payer]
    blob = bytearray(pdf)
    for _ in range(data.draw(st.integers(1, 12), label="flips")):
        pos = data.draw(st.integers(0, len(blob) - 1), label="position")
        blob[pos] = data.draw(st.integers(0, 255), label="byte")
    try:
        remit = parse_pdf(bytes(blob), layout=payer)
    except (DocumentError, UnknownLayout):
        return
    assert remit.to_json() == truth or remit.problems


# --- one changed amount digit ----------------------------------------------------------------


def _change_digit(text: str, which: int, digit_pick: int, new_digit: int) -> tuple[str, bool]:
    """``text`` with one digit of its ``which``-th amount replaced (if it has that many)."""
    matches = list(AMOUNT.finditer(text))
    if which >= len(matches):
        return text, False
    m = matches[which]
    digits = [i for i in range(m.start(), m.end()) if text[i].isdigit()]
    pos = digits[digit_pick % len(digits)]
    new = str(new_digit) if str(new_digit) != text[pos] else str((new_digit + 1) % 10)
    return text[:pos] + new + text[pos + 1:], True


def _spr_texts(pages):
    """Every text of an SPR page plan that can print an amount, in page order."""
    return (row for page in pages for row in page.rows)


def _portal_texts(pages):
    return (cell for rows in pages for row in rows for cell in row.cells)


def _tamper(monkeypatch, module, texts, target: int, digit_pick: int,
            new_digit: int) -> list[bool]:
    """Make ``module.paginate`` change one digit of the ``target``-th printed amount."""
    done = [False]
    original = module.paginate

    def paginate(*args):
        pages = original(*args)
        seen = 0
        for item in texts(pages):
            count = len(AMOUNT.findall(item.text))
            if not done[0] and seen <= target < seen + count:
                item.text, done[0] = _change_digit(item.text, target - seen, digit_pick,
                                                   new_digit)
            seen += count
        return pages

    monkeypatch.setattr(module, "paginate", paginate)
    return done


@settings(BOUNDED, max_examples=20, suppress_health_check=[HealthCheck.too_slow,
                                                            HealthCheck.function_scoped_fixture])
@given(payer=st.sampled_from(PAYERS), seed=st.integers(0, 10**4), target=st.integers(0, 400),
       digit_pick=st.integers(0, 8), new_digit=st.integers(0, 9))
def test_one_changed_amount_digit_is_always_flagged(monkeypatch, payer, seed, target, digit_pick,
                                                    new_digit):
    plan = _plan(payer, seed, 0, False)
    with monkeypatch.context() as patch:
        module, texts = ((render_spr, _spr_texts) if payer == "keystone"
                         else (render_northwind, _portal_texts))
        done = _tamper(patch, module, texts, target, digit_pick, new_digit)
        pdf, truth, _ = render_plan(copy.deepcopy(plan))
    if not done[0]:  # fewer amounts than ``target``: nothing changed, so it must read exactly
        assert parse_pdf(pdf).to_json() == truth
        return
    remit = parse_pdf(pdf)
    assert remit.problems, f"{payer} seed {seed}: amount {target} changed, nothing flagged"
