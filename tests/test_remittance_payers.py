"""Synthetic datasets of every payer: manifest shape, field-exact parse, layout detection."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from claimwright.parsing.pdf import parse_pdf
from fixtures.remittances import PAYERS, build_dataset

ANCHOR = dt.date(2026, 3, 2)
KEYS = {"remittance_id", "payment_date", "trace_number", "payment_method", "amount",
        "claim_count", "page_count", "pdf", "truth", "sha256", "anomaly"}


@pytest.mark.parametrize("payer", ["keystone", "clearpath"])
def test_new_payer_datasets_parse_exactly(payer, tmp_path):
    manifest = build_dataset(payer, tmp_path, count=6, anchor=ANCHOR)
    assert manifest["payer"] == payer and len(manifest["remittances"]) == 8
    assert build_dataset(payer, tmp_path, count=6, anchor=ANCHOR) == manifest
    for entry in manifest["remittances"]:
        assert KEYS <= set(entry)
        truth = json.loads((tmp_path / entry["truth"]).read_text())
        remit = parse_pdf(tmp_path / entry["pdf"])
        assert remit.layout == PAYERS[payer].layout
        assert remit.to_json() == truth


def test_clearinghouse_relays_several_payers(tmp_path):
    manifest = build_dataset("clearpath", tmp_path, count=10, anchor=ANCHOR, anomalies=False)
    names = {json.loads((tmp_path / e["truth"]).read_text())["payer"]["name"]
             for e in manifest["remittances"]}
    assert names == {"Summit Mutual", "Lakeshore Care"}


def _comparable(truth: dict) -> dict:
    out = {k: v for k, v in truth.items() if k not in ("format", "layout", "problems",
                                                                "unverified")}
    out["claims"] = [{k: v for k, v in c.items() if k != "pages"} for c in truth["claims"]]
    return out


def test_keystone_offers_each_remittance_as_an_835_too(tmp_path):
    from claimwright.parsing.x12 import parse_835
    from fixtures.remittances.data import plan_dataset

    manifest = build_dataset("keystone", tmp_path, count=6, anchor=ANCHOR)
    plans = plan_dataset("keystone", seed=7, count=6, anchor=ANCHOR, anomalies=True)
    for plan, entry in zip(plans, manifest["remittances"], strict=True):
        truth = json.loads((tmp_path / entry["truth"]).read_text())
        (remit,) = parse_835((tmp_path / entry["x12"]).read_bytes())
        assert remit.format == "x12-835"
        # the 835 names each claim's rendering provider (NM1*82 with the NPI) as generated ...
        assert [c.rendering_provider for c in remit.claims] == [
            c.rendering_provider for c in plan.remittance.claims]
        assert all(c.rendering_provider.name and c.rendering_provider.id for c in remit.claims)
        # ... the SPR prints only the NPI (PERF PROV): otherwise the two say the same
        got = remit.to_json()
        for claim, shown in zip(got["claims"], truth["claims"], strict=True):
            assert shown["rendering_provider"] == {"name": "",
                                                   "id": claim["rendering_provider"]["id"]}
            claim["rendering_provider"]["name"] = ""
        assert _comparable(got) == _comparable(truth)
        assert bool(remit.problems) == bool(truth["problems"])


def test_ground_truth_over_every_layout_150_remittances(tmp_path):
    """Hundreds of randomized remittances across the layouts: every field equal, 100%."""
    checked = 0
    for payer in ["northwind", "keystone", "clearpath"]:
        for seed in (21, 22):
            out = tmp_path / f"{payer}-{seed}"
            manifest = build_dataset(payer, out, seed=seed, count=23, anchor=ANCHOR)
            for entry in manifest["remittances"]:
                truth = json.loads((out / entry["truth"]).read_text())
                assert parse_pdf(out / entry["pdf"]).to_json() == truth, entry["remittance_id"]
                checked += 1
    assert checked == 150


@pytest.mark.parametrize("payer", ["keystone", "clearpath"])
def test_quirks_appear_and_parse(payer, tmp_path):
    manifest = build_dataset(payer, tmp_path, anchor=ANCHOR)
    statuses, plb = set(), set()
    for entry in manifest["remittances"]:
        truth = json.loads((tmp_path / entry["truth"]).read_text())
        assert parse_pdf(tmp_path / entry["pdf"]).to_json() == truth
        statuses.update(c["status_code"] for c in truth["claims"])
        plb.update(p["reason"] for p in truth["provider_adjustments"])
        for claim in truth["claims"]:
            if claim["status_code"] == "22":
                assert claim["paid"].startswith("-") and claim["billed"].startswith("-")
    assert {"1", "2", "4", "22"} <= statuses
    assert {"L6", "WO", "FB", "50"} <= plb


# --- the Medicare SPR-like notice (keystone) -------------------------------------------------


@pytest.fixture(scope="module")
def spr_plans():
    from fixtures.remittances.data import plan_dataset

    return plan_dataset("keystone", seed=21, count=12, anchor=ANCHOR, anomalies=False)


def _spr(plan, **kw):
    import copy

    from fixtures.remittances import render_spr

    plan = copy.deepcopy(plan)
    pdf, pages, _ = render_spr.render(plan, **kw)
    return plan, pdf


def test_spr_quirks_trailing_minus_thousands_separators_several_adjustments(spr_plans):
    """The SPR prints negatives as ``125.00-`` and big amounts as ``1,234.00``; parsed exactly."""
    from claimwright.parsing.pdf import extract_pages
    from fixtures.remittances import render_plan

    seen = {"trailing-minus": 0, "thousands": 0, "multi-adjustment-line": 0, "claim-adj": 0,
            "split-claim": 0, "rem-line": 0}
    for plan in spr_plans:
        import copy

        pdf, truth, _ = render_plan(copy.deepcopy(plan))
        assert parse_pdf(pdf).to_json() == truth, plan.remittance_id
        text = " ".join(p.text for p in extract_pages(pdf))
        seen["trailing-minus"] += len(re.findall(r"\d\.\d\d- ", text + " "))
        seen["thousands"] += len(re.findall(r"\b\d{1,3},\d{3}\.\d\d\b", text))
        seen["rem-line"] += text.count("REM: ")
        seen["claim-adj"] += text.count("CLAIM ADJ")
        for claim in truth["claims"]:
            seen["split-claim"] += len(claim["pages"]) > 1
            seen["multi-adjustment-line"] += sum(
                len([a for a in ln["adjustments"] if a["group"] + a["carc"] not in
                     ("PR1", "PR2")]) > 1 for ln in claim["lines"])
    assert all(seen.values()), seen
    for plan in spr_plans:  # planned in the order the page shows: PR-1, PR-2, then the rest
        for line in (ln for c in plan.remittance.claims for ln in c.lines):
            codes = [a.code for a in line.adjustments]
            head = [c for c in codes if c in ("PR-1", "PR-2")]
            assert codes[:len(head)] == sorted(head)


def test_spr_line_amounts_of_thousands_and_negative_reversals_parse(spr_plans):
    from fixtures.remittances import render_plan

    big = [p for p in spr_plans
           if any(ln.billed >= 1000 for c in p.remittance.claims for ln in c.lines)]
    reversed_ = [p for p in spr_plans if any(c.status_code == "22" for c in p.remittance.claims)]
    assert big and reversed_
    import copy

    for plan in big[:2] + reversed_[:2]:
        pdf, truth, _ = render_plan(copy.deepcopy(plan))
        remit = parse_pdf(pdf)
        assert remit.to_json() == truth and remit.problems == []
    line = next(ln for c in remit.claims for ln in c.lines if ln.billed < 0)
    assert line.paid <= 0 and all(a.amount <= 0 for a in line.adjustments)


def test_spr_perf_prov_is_the_claims_rendering_provider_npi(spr_plans):
    """PERF PROV prints the NPI on every service line (never the name): each claim reads back
    with the generator's NPI and an empty name."""
    from claimwright.models import Party
    from claimwright.parsing.pdf import extract_pages

    for plan in spr_plans[:3]:
        plan, pdf = _spr(plan)
        remit = parse_pdf(pdf)
        assert remit.problems == []
        want = [Party("", c.rendering_provider.id) for c in plan.remittance.claims]
        assert [c.rendering_provider for c in remit.claims] == want
        assert all(p.id for p in want)
        text = "\n".join(p.text for p in extract_pages(pdf))
        for claim in plan.remittance.claims:
            assert claim.rendering_provider.name not in text
        lines = sum(len(c.lines) for c in plan.remittance.claims)
        assert sum(text.count(npi) for npi in {p.id for p in want}) == lines  # once per line


def test_spr_lines_of_one_claim_naming_different_providers_conflict(spr_plans, monkeypatch):
    """Line-level rendering providers are not modelled: a claim whose lines print different
    PERF PROV NPIs is a layout-conflicting-value (a review item), the first line's NPI kept."""
    import random

    from fixtures.remittances import render_spr
    from fixtures.remittances.data import make_npi

    other = make_npi(random.Random("another clinician"))
    original, printed = render_spr._line_rows, []

    def second_line_other(index, line, perf_prov):
        printed.append(index)
        return original(index, line, other if printed.count(index) == 2 else perf_prov)

    monkeypatch.setattr(render_spr, "_line_rows", second_line_other)
    plan, pdf = _spr(spr_plans[0])
    remit = parse_pdf(pdf)
    several = [c for c in plan.remittance.claims if len(c.lines) > 1]
    assert several and all(p.code == "layout-conflicting-value" for p in remit.problems)
    assert [p.claim for p in remit.problems] == [c.patient_account for c in several]
    assert all("rendering_provider_npi" in p.message and other in p.message
               for p in remit.problems)
    assert [c.rendering_provider.id for c in remit.claims] == [
        c.rendering_provider.id for c in plan.remittance.claims]


def test_spr_glossary_wrapped_descriptions_are_read_whole_and_match_the_tables(spr_plans):
    from claimwright.parsing.pdf import parse_pdf_details
    from fixtures.remittances import render_spr

    wrapped = 0
    for plan in spr_plans[:4]:
        plan, pdf = _spr(plan)
        details = parse_pdf_details(pdf)
        printed = render_spr.glossary_entries(plan.remittance)
        assert [(e.table, e.code, e.description) for e in details.glossary] == printed
        assert details.remittance.problems == []
        glossary_page = details.glossary[0].page
        assert glossary_page == max(e.page for e in details.glossary) > 1
        wrapped += sum(len(d) > render_spr.GLOSSARY_WRAP for _, _, d in printed)
        tables = {e.table for e in details.glossary}
        assert {"groups", "carc"} <= tables
    assert wrapped  # some descriptions wrap onto a second row and still read whole


def test_spr_tampered_glossary_is_flagged_with_its_page(spr_plans):
    from claimwright.parsing.pdf import parse_pdf_details
    from fixtures.remittances import render_spr

    plan = spr_plans[0]
    entries = render_spr.glossary_entries(copy_plan(plan).remittance)
    by_code = {(t, c): d for t, c, d in entries}
    assert ("carc", "45") in by_code
    tampered = [(t, c, "Patient's deductible" if (t, c) == ("carc", "45") else d)
                for t, c, d in entries]  # descriptions shifted by one row
    tampered.append(("carc", "Z98", "Adjusted per local policy"))  # no such CARC
    tampered.append(("rarc", "45", "Charge above the fee schedule"))  # under the wrong heading
    _, pdf = _spr(plan, glossary=tampered)
    details = parse_pdf_details(pdf)
    problems = [p for p in details.remittance.problems if p.code.startswith("glossary-")]
    assert sorted(p.code for p in problems) == ["glossary-description-mismatch",
                                                "glossary-unknown-code",
                                                "glossary-unknown-code"]
    pages = {e.page for e in details.glossary}
    assert all(p.page in pages for p in problems)
    mismatch = next(p for p in problems if p.code == "glossary-description-mismatch")
    assert "45" in mismatch.message and "fee schedule" in mismatch.message
    assert not details.remittance.balanced  # a remittance with problems is never "clean"
    # the claims themselves still read exactly: only the glossary is questioned
    clean = parse_pdf(_spr(plan)[1])
    assert details.remittance.claims == clean.claims


def copy_plan(plan):
    import copy

    return copy.deepcopy(plan)


def test_spr_page_missing_or_out_of_order_is_flagged(spr_plans):
    import io

    import pypdfium2 as pdfium

    plan, pdf = _spr(spr_plans[1])  # a big one: several claim pages, summary, glossary
    doc = pdfium.PdfDocument(pdf)
    count = len(doc)
    doc.close()
    assert count >= 4
    for index in (count - 1, count - 2):  # glossary page, summary page
        doc = pdfium.PdfDocument(pdf)
        doc.del_page(index)
        buf = io.BytesIO()
        doc.save(buf)
        doc.close()
        remit = parse_pdf(buf.getvalue())
        codes = [p.code for p in remit.problems]
        assert "layout-page-sequence" in codes, (index, codes)


def test_pipeline_files_a_review_item_for_a_tampered_glossary(spr_plans, tmp_path, monkeypatch):
    """A PDF whose glossary disagrees with the code tables: one review item, with the page."""
    import hashlib

    from claimwright.pipeline import Context, process_documents, write_outputs
    from fixtures.remittances import render_spr

    plan = spr_plans[0]
    entries = render_spr.glossary_entries(copy_plan(plan).remittance)
    tampered = [(t, c, "Patient's deductible" if (t, c) == ("carc", "45") else d)
                for t, c, d in entries]
    _, pdf = _spr(plan, glossary=tampered)
    path = tmp_path / f"{plan.remittance_id}.pdf"
    path.write_bytes(pdf)
    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("CLAIMWRIGHT_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
    ctx = Context.from_settings()
    try:
        ctx.ledger.add_document(payer="keystone", remittance_id=plan.remittance_id,
                                sha256=hashlib.sha256(pdf).hexdigest(), path=str(path),
                                size=len(pdf))
        counts = process_documents(ctx, "keystone")
        assert counts.documents_parsed == 1
        write_outputs(ctx, "keystone", counts=counts)
        items = [i for i in ctx.queue.items()
                 if any(p["code"] == "glossary-description-mismatch"
                        for p in i.context.get("problems", []))]
        assert len(items) == 1
        [problem] = [p for p in items[0].context["problems"]
                     if p["code"] == "glossary-description-mismatch"]
        assert problem["page"] >= 3 and str(path) in items[0].evidence
    finally:
        ctx.ledger.close()
