"""Checks as data in a layout file, what stays unverified, and the layout engine gaps of issue 15:
groups on a section's start row, page numbers without a page count, group-prefixed glossary
codes, and groups or keys a section would ignore refused with their line."""

from __future__ import annotations

import copy
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from claimwright.models import Remittance
from claimwright.parsing import parse_file
from claimwright.parsing.glossary import GlossaryEntry, check_glossary
from claimwright.parsing.layout import LayoutFileError
from claimwright.parsing.layout_loader import LAYOUT_DIR, load_layout_file
from claimwright.parsing.pdf import parse_pdf, parse_pdf_details
from claimwright.parsing.pdf_rows import RowReader
from claimwright.parsing.pdf_text import Cell, Row
from fixtures.remittances import render_spr, renderer
from fixtures.remittances.data import plan_dataset
from printed_numbers import printed_numbers, render_altered

ANCHOR = dt.date(2026, 3, 2)
LAYOUTS = ["northwind", "keystone", "clearpath"]
X12_DIR = Path(__file__).parent / "data" / "x12-835"


def _plans(payer, count=3):
    return plan_dataset(payer, seed=11, count=count, anchor=ANCHOR, anomalies=False)


def _render(plan) -> bytes:
    return renderer(plan)(copy.deepcopy(plan))[0]


def variant(tmp_path: Path, base: str, name: str, *changes: tuple[str, str]) -> Path:
    """A copy of a packaged layout named ``name``, with ``(old, new)`` text replacements."""
    text = (LAYOUT_DIR / f"{base}.yaml").read_text()
    text = text.replace(f"name: {base}", f"name: {name}", 1)
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


# -- declared checks and unverified numbers ---------------------------------------------------

@pytest.mark.parametrize("payer", LAYOUTS)
def test_a_changed_allowed_amount_on_a_line_is_a_problem(payer):
    """The renderers print claim (and summary) allowed totals from the lines, so a changed line
    allowed comes with matching totals: only the declared line check can see it."""
    plan = copy.deepcopy(_plans(payer)[0])
    claim_index, claim = next((i, c) for i, c in enumerate(plan.remittance.claims)
                              if any(ln.allowed for ln in c.lines))
    number, line = next((n, ln) for n, ln in enumerate(claim.lines, start=1) if ln.allowed)
    printed = line.allowed
    line.allowed += Decimal("1.00")
    remit = parse_pdf(_render(plan), layout=payer)
    assert [p.code for p in remit.problems] == ["layout-check-failed"]
    (problem,) = remit.problems
    assert (problem.claim, problem.line) == (claim.patient_account, number)
    assert (problem.expected, problem.actual) == (printed, printed + 1)
    assert problem.page and "line allowed" in problem.message
    assert not remit.balanced and remit.to_json()["balanced"] is False
    assert remit.to_json()["problems"][0]["expected"] == str(printed)


@pytest.mark.parametrize("payer", LAYOUTS)
def test_the_numbers_no_check_covers_are_listed_and_round_trip(payer):
    remit = parse_pdf(_render(_plans(payer)[0]), layout=payer)
    assert remit.problems == [] and remit.balanced
    assert remit.unverified == ["lines[].units"]
    data = remit.to_json()
    assert data["unverified"] == ["lines[].units"]
    assert Remittance.from_json(data) == remit


def test_an_835_lists_nothing_unverified():
    (remit, *_) = parse_file(sorted(X12_DIR.glob("*.835"))[0])
    assert remit.unverified == [] and "unverified" not in remit.to_json()


def test_a_check_that_cannot_run_leaves_its_numbers_unverified(tmp_path):
    """Without the claim totals' allowed and the line check, nothing covers a line's allowed."""
    path = variant(tmp_path, "northwind", "nwnoallowed",
                   (r"Allowed: (?P<check_allowed>-?[\d,]+\.\d\d)", r"Allowed: -?[\d,]+\.\d\d"),
                   ("  - name: line allowed\n    each: line\n    equal: allowed\n"
                    "    sum: [billed, -adjustments except PR OA-23 CO-253]\n", "  []\n"))
    layout = load_layout_file(path)
    assert dict(layout.verified_by)["lines[].allowed"] == frozenset()
    remit = parse_pdf(_render(_plans("northwind")[0]), layout=str(path))
    assert remit.problems == []
    assert remit.unverified == ["lines[].allowed", "lines[].units"]


# -- engine gaps ------------------------------------------------------------------------------

def test_summary_totals_printed_on_the_start_row_are_checked(tmp_path):
    path = variant(tmp_path, "northwind", "nwstart",
                   ("summary:\n  start: '^REMITTANCE SUMMARY$'\n  rows:\n    - '^Claims:",
                    "summary:\n  start: '^Claims:"),
                   ("furniture:", "ignore:\n  - '^REMITTANCE SUMMARY$'\n\nfurniture:"))
    plan = _plans("northwind")[0]
    pdf, numbers = printed_numbers(plan)
    assert parse_pdf(pdf, layout=str(path)).problems == []
    summary = [i for i, (text, _) in enumerate(numbers)
               if re.match(r"(Claims|Total Billed|Total Claim Paid|Provider Adjustments):", text)]
    assert len(summary) == 4
    for index in summary:  # claims count, total billed, total paid, provider adjustments
        remit = parse_pdf(render_altered(plan, index), layout=str(path))
        assert [p.code for p in remit.problems] == ["layout-total-mismatch"], numbers[index]


def test_page_numbers_without_a_count_still_check_the_sequence(tmp_path):
    path = variant(tmp_path, "northwind", "nwsheet",
                   (r"Page (?P<number>\d+) of (?P<count>\d+)$'", r"Page (?P<number>\d+) of \d+$'"))
    plan = _plans("northwind", 6)[1]  # several pages
    pdf = _render(plan)
    assert parse_pdf(pdf, layout=str(path)).problems == []
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) >= 3
    doc.del_page(1)
    buf = io.BytesIO()
    doc.save(buf)
    doc.close()
    codes = [p.code for p in parse_pdf(buf.getvalue(), layout=str(path)).problems]
    assert "layout-page-sequence" in codes


def test_glossary_reason_codes_written_with_their_group():
    meaning = "The diagnosis is inconsistent with the procedure."
    ok = check_glossary([GlossaryEntry("carc", "CO-11", meaning, 4)])
    assert ok == []
    (bad,) = check_glossary([GlossaryEntry("carc", "ZZ-11", meaning, 4)])
    assert bad.code == "glossary-unknown-code" and "'ZZ'" in bad.message and bad.page == 4
    (unknown,) = check_glossary([GlossaryEntry("carc", "CO-Z98", meaning, 4)])
    assert unknown.code == "glossary-unknown-code"


def test_a_printed_glossary_of_group_prefixed_codes_is_read_and_checked():
    plan = copy.deepcopy(_plans("keystone")[0])
    entries = [(t, f"CO-{c}" if t == "carc" else c, d)
               for t, c, d in render_spr.glossary_entries(plan.remittance)]
    assert any(t == "carc" for t, _, _ in entries)
    pdf, _, _ = render_spr.render(plan, glossary=entries)
    details = parse_pdf_details(pdf, layout="keystone")
    assert details.remittance.problems == []
    assert any(e.code.startswith("CO-") for e in details.glossary)


def test_glossary_entries_on_one_row_after_a_heading_on_the_start_row(tmp_path):
    """A glossary whose start row is also the reason-code heading, its entries one cell each
    ("CO-11 The diagnosis ..."), a long description wrapping onto the next row."""
    path = variant(tmp_path, "keystone", "ksrows",
                   ("  start: '^GLOSSARY: GROUP, REASON, MOA, REMARK AND ADJUSTMENT CODES$'",
                    "  start: '^GLOSSARY: (CLAIM ADJUSTMENT REASON CODES|GROUP, REASON, MOA, "
                    "REMARK AND ADJUSTMENT CODES)$'"),
                   ("    carc: '^CLAIM ADJUSTMENT REASON CODES$'",
                    "    carc: 'CLAIM ADJUSTMENT REASON CODES$'"),
                   ("  min_overlap: 0.5", "  rows: ['^(?P<code>[A-Z]{2}-[A-Z0-9]{1,4}) "
                                          "(?P<description>.+)$']\n  min_overlap: 0.5"))
    layout = load_layout_file(path)
    assert len(layout.glossary.rows) == 1
    reader = RowReader(layout)
    y = [700.0]

    def row(*cells: tuple[float, str]) -> Row:
        y[0] -= 10
        return Row(3, y[0], tuple(Cell(x, x + 5 * len(t), t) for x, t in cells),
                   "\t".join(t for _, t in cells))

    for r in (row((36, "GLOSSARY: CLAIM ADJUSTMENT REASON CODES")),
              row((36, "CO-11 The diagnosis is inconsistent with the")),
              row((80, "procedure.")),
              row((36, "PR-1 Deductible Amount"))):
        reader.feed(r)
    assert reader.problems == []
    assert [(t, r.values) for t, r in reader.glossary_records] == [
        ("carc", {"code": "CO-11",
                  "description": "The diagnosis is inconsistent with the procedure."}),
        ("carc", {"code": "PR-1", "description": "Deductible Amount"})]


# -- what a section would ignore is refused, with its line --------------------------------------

REFUSED = [
    ("provider start reads nothing", ("start: '^PROVIDER LEVEL ADJUSTMENTS$'",
                                      "start: '^PROVIDER LEVEL (?P<reason>ADJUSTMENTS)$'"),
     "provider_adjustments.start", "never read"),
    ("furniture reads nothing", (r"  - '^NORTHWIND HEALTH PLAN\tPROVIDER",
                                 r"  - '^(?P<payer_name>NORTHWIND HEALTH PLAN)\tPROVIDER"),
     "furniture[0]", "never read"),
    ("skip reads nothing", (r"    - '^Service Date\tProc",
                            r"    - '^(?P<billed>Service) Date\tProc"),
     "claims.skip[0]", "never read"),
    ("only claim rows end", ("    - '^Claims: (?P<check_claim_count>\\d+)",
                             "    - ends: true\n"
                             "      pattern: '^Claims: (?P<check_claim_count>\\d+)"),
     "summary.rows[0]", "unknown key(s) ['ends']"),
    ("a check names a number", ("sum: [billed, -adjustments except PR OA-23 CO-253]",
                                "sum: [billed, -adjusted]"),
     "checks[0].sum[1]", "is not a number of a line"),
    ("a check's scope", ("    each: line", "    each: page"), "checks[0].each", "must be one of"),
    ("a check's keys", ("    each: line", "    each: line\n    when: always"), "checks[0]",
     "unknown key(s) ['when']", "  - name: line allowed"),
]


@pytest.mark.parametrize("case", REFUSED, ids=[c[0] for c in REFUSED])
def test_what_a_section_would_ignore_is_a_validation_error_with_its_line(tmp_path, case):
    _, change, field, what, *marker = case
    path = variant(tmp_path, "northwind", "nwbad", change)
    text = path.read_text()
    line = text[:text.index((marker or [change[1]])[0])].count("\n") + 1
    with pytest.raises(LayoutFileError) as caught:
        load_layout_file(path)
    message = str(caught.value)
    assert field in message and what in message, message
    number = int(re.search(r"nwbad\.yaml:(\d+):", message).group(1))
    assert number in (line, line + 1), (line, message)  # the key's line or its value's


# -- corrections run the declared checks again ---------------------------------------------------

class _Fix:  # a correction as apply_corrections reads it
    def __init__(self, claim, line, changes):
        self.id, self.patient_account, self.payer_claim_id = 7, claim.patient_account, \
            claim.payer_claim_id
        self.line, self.changes = line, changes


def test_a_correction_of_the_allowed_amount_clears_the_check_problem():
    from claimwright.corrections import apply_corrections

    plan = copy.deepcopy(_plans("northwind")[0])
    claim = next(c for c in plan.remittance.claims if any(ln.allowed for ln in c.lines))
    number, line = next((n, ln) for n, ln in enumerate(claim.lines, start=1) if ln.allowed)
    right = line.allowed
    line.allowed += Decimal("1.00")
    data = parse_pdf(_render(plan), layout="northwind").to_json()
    assert [p["code"] for p in data["problems"]] == ["layout-check-failed"]
    still = apply_corrections(data, [_Fix(claim, number, {"allowed": str(right + 2)})])
    assert [p["code"] for p in still["problems"]] == ["layout-check-failed"]
    assert "still after correction #7" in still["problems"][0]["message"]
    fixed = apply_corrections(data, [_Fix(claim, number, {"allowed": str(right)})])
    assert fixed["problems"] == [] and fixed["balanced"] is True


# -- the check terms, evaluated on a model -------------------------------------------------------

def _check(each, equal, *terms):
    from claimwright.parsing.layout_checks import Check, parse_term

    return Check(f"{each} {equal}", each, parse_term(equal, each),
                 tuple(parse_term(t, each) for t in terms))


def test_check_terms_of_each_scope():
    from claimwright.models import (Adjustment, Claim, Party, Payment, ProviderAdjustment,
                                    ServiceLine)
    from claimwright.parsing.layout_checks import run_checks

    d = Decimal
    lines = [ServiceLine(None, "99213", d("100.00"), d("60.00"), allowed=d("80.00"),
                         adjustments=[Adjustment("CO", "45", d("20.00")),
                                      Adjustment("PR", "2", d("20.00"))]),
             ServiceLine(None, "36415", d("10.00"), d("0.00"), allowed=None,
                         adjustments=[Adjustment("CO", "97", d("10.00"))])]
    claim = Claim("A1", "C1", "1", d("110.00"), d("55.00"), lines=lines, pages=[2],
                  adjustments=[Adjustment("CO", "253", d("5.00"))])
    remit = Remittance("pdf", Party(), Party(), Payment(amount=d("45.00")), claims=[claim],
                       provider_adjustments=[ProviderAdjustment("WO", d("10.00"))])
    holds = [
        _check("line", "allowed", "paid", "adjustments PR"),  # line 2 (blank allowed) skipped
        _check("line", "allowed", "billed", "-adjustments except PR"),
        _check("claim", "paid", "lines.paid", "-adjustments CO-253"),
        _check("claim", "billed", "lines.billed"),
        _check("remittance", "payment_amount", "claims.paid", "-provider_adjustments.amount"),
        _check("remittance", "claims.billed", "lines.billed"),
    ]
    problems, ran = run_checks(remit, tuple(holds))
    assert problems == [] and ran == {c.name for c in holds}
    fails = (_check("claim", "paid", "lines.paid"), _check("line", "billed", "paid"))
    problems, _ = run_checks(remit, fails)
    assert [(p.claim, p.line, p.expected, p.actual, p.page) for p in problems] == [
        ("A1", None, d("60.00"), d("55.00"), 2),
        ("A1", 1, d("60.00"), d("100.00"), 2), ("A1", 2, d("0.00"), d("10.00"), 2)]
    assert "claim A1 line 1: check 'line billed': billed is 100.00 but paid = 60.00" \
        in problems[1].message
    problems, ran = run_checks(remit, (_check("claim", "lines.allowed", "lines.paid"),))
    assert problems == [] and ran == set()  # a sum over a blank allowed is not checked
