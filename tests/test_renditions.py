"""The 835 and the PDF of one remittance are reconciled; any difference is flagged, never trusted."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from claimwright.models import Remittance
from claimwright.parsing import parse_bytes, parse_file
from claimwright.pipeline import Context, process_documents, write_outputs
from claimwright.renditions import CODE, reconcile
from claimwright.types import ReviewKind

RENDITIONS_DISAGREE = ReviewKind.RENDITIONS_DISAGREE
from fixtures.remittances import build_dataset


@pytest.fixture(scope="module")
def keystone(tmp_path_factory):
    out = tmp_path_factory.mktemp("keystone")
    manifest = build_dataset("keystone", out, count=6, anomalies=False)
    return out, manifest


def _pair(keystone, index=0):
    out, manifest = keystone
    entry = manifest["remittances"][index]
    return out, entry


def test_835_and_pdf_of_the_same_remittance_agree_and_pages_carry_over(keystone):
    out, manifest = keystone
    for entry in manifest["remittances"]:
        record = parse_file(out / entry["x12"])
        pdf = parse_file(out / entry["pdf"])
        assert reconcile(record, pdf) == []
        truth = Remittance.from_json(json.loads((out / entry["truth"]).read_text()))
        assert [c.pages for c in record[0].claims] == [c.pages for c in truth.claims]
        assert all(c.pages for c in record[0].claims)


def test_a_changed_amount_in_the_835_is_flagged_with_both_values(keystone):
    out, entry = _pair(keystone)
    raw = (out / entry["x12"]).read_bytes()
    record = parse_bytes(raw)
    claim = record[0].claims[0]
    claim.billed += Decimal("10.00")
    problems = reconcile(record, parse_file(out / entry["pdf"]))
    assert problems and all(p.code == CODE for p in problems)
    billed = [p for p in problems if "billed" in p.message]
    assert billed and billed[0].expected == claim.billed
    assert billed[0].actual == claim.billed - Decimal("10.00")
    assert billed[0].page == parse_file(out / entry["pdf"])[0].claims[0].pages[0]


def test_the_rendering_provider_is_compared_where_both_renditions_print_it(keystone):
    from claimwright.models import Party

    out, entry = _pair(keystone)
    record, pdf = parse_file(out / entry["x12"]), parse_file(out / entry["pdf"])
    ours, theirs = record[0].claims[0], pdf[0].claims[0]
    # the 835 names the provider, the SPR prints only the NPI: the same provider
    assert ours.rendering_provider.name and not theirs.rendering_provider.name
    assert ours.rendering_provider.id == theirs.rendering_provider.id
    other = "1234567893"
    ours.rendering_provider = Party(ours.rendering_provider.name, other)
    [problem] = reconcile(record, pdf)
    assert problem.code == CODE and problem.claim == ours.patient_account
    assert other in problem.message and theirs.rendering_provider.id in problem.message
    assert problem.page == theirs.pages[0]
    # names are compared when both print one (case and spacing aside)
    ours.rendering_provider = Party("Dana  Whitfield", theirs.rendering_provider.id)
    theirs.rendering_provider = Party("DANA WHITFIELD", theirs.rendering_provider.id)
    assert reconcile(record, pdf) == []
    theirs.rendering_provider = Party("Dana Whitfeld", theirs.rendering_provider.id)
    assert ["name" in p.message for p in reconcile(record, pdf)] == [True]


def test_a_claim_missing_from_the_pdf_is_flagged(keystone):
    out, entry = _pair(keystone)
    record = parse_file(out / entry["x12"])
    pdf = parse_file(out / entry["pdf"])
    dropped = pdf[0].claims.pop()
    problems = reconcile(record, pdf)
    assert any("claim count" in p.message for p in problems)
    assert any(dropped.payer_claim_id in p.message and "0 on the PDF" in p.message
               for p in problems)


def test_pipeline_parses_the_835_reconciles_the_pdf_and_files_a_review_item(tmp_path, keystone,
                                                                            monkeypatch):
    out, manifest = keystone
    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("CLAIMWRIGHT_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
    ctx = Context.from_settings()
    try:
        entries = manifest["remittances"]
        good, bad = entries[0], entries[1]
        # bad: its "PDF" is really another remittance's, so every figure disagrees
        pairs = [(e, e["pdf"]) for e in entries if e is not bad] + [(bad, entries[2]["pdf"])]
        for entry, pdf in pairs:
            ctx.ledger.add_document(payer="keystone", remittance_id=entry["remittance_id"],
                                    sha256=entry["sha256"] + "835", path=str(out / entry["x12"]),
                                    size=1, listed={"kind": "x12-835",
                                                    "renditions": {"pdf": str(out / pdf)}})
        counts = process_documents(ctx, "keystone")
        assert counts.documents_parsed == len(entries)
        write_outputs(ctx, "keystone", counts=counts)
        assert not [i for i in ctx.queue.items() if i.kind == "output-failed"]
        packets = list((tmp_path / "out").rglob("*.pdf"))
        assert packets  # appeal packets built with the PDF rendition's pages
        items = [i for i in ctx.queue.items() if i.kind == RENDITIONS_DISAGREE]
        assert items and {i.context["remittance_id"] for i in items} == {bad["remittance_id"]}
        assert all(str(out / manifest["remittances"][2]["pdf"]) in i.evidence for i in items)
        stored = [r.data for d in ctx.ledger.documents(payer="keystone")
                  for r in ctx.ledger.remittances(d.id)]
        assert len(stored) == len(entries) and all(d["format"] == "x12-835" for d in stored)  # the record
        good_claims = next(d for d in stored if d["payment"]["trace_number"] ==
                           parse_file(out / good["x12"])[0].payment.trace_number)["claims"]
        assert all(c.get("pages") for c in good_claims)  # pages from the PDF, for packets
        # the record's rendering providers (835 NM1*82: name and NPI) reach the ledger's findings
        denials = ctx.ledger.findings(denials_only=True)
        assert denials and all(f.provider_npi and f.provider_name for f in denials)
        named = {c["rendering_provider"]["id"]: c["rendering_provider"]["name"]
                 for d in stored for c in d["claims"]}
        assert all(named[f.provider_npi] == f.provider_name for f in denials)
    finally:
        ctx.ledger.close()


def test_problems_the_pdf_copy_has_on_its_own_are_carried_to_the_record(keystone):
    """E.g. a glossary at odds with the code table, or a page missing from the PDF."""
    from claimwright.models import Problem

    out, entry = _pair(keystone)
    record = parse_file(out / entry["x12"])
    pdf = parse_file(out / entry["pdf"])
    pdf[0].problems.append(Problem("glossary-unknown-code", "glossary lists CARC Z77", page=4))
    problems = reconcile(record, pdf)
    assert [(p.code, p.page) for p in problems] == [("glossary-unknown-code", 4)]
    assert problems[0].message.startswith("PDF copy: ")
