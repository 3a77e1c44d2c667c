"""Correcting values: the original kept, the correction recorded (who, when, why, what it
replaced), the corrected claim balanced again and carried through categorizing and routing."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import openpyxl
import pytest
from portal_fixtures import SAMPLE_ANCHOR
from typer.testing import CliRunner

from claimwright.cli import app
from claimwright.corrections import (CorrectionError, apply_corrections, corrected_data, correct,
                                     corrections)
from claimwright.models import Remittance
from claimwright.pipeline import Context, import_document, process_documents, write_outputs
from claimwright.pipeline.routing import route
from claimwright.rules.engine import categorize_remittance
from claimwright.types import ReviewKind, Route, UnitKind, UnitState

UNBALANCED_BY = Decimal("10.00")


def _keys(path) -> set[str]:
    rows = openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)
    header = [str(h).casefold() for h in next(rows)]
    return {r[header.index("key")] for r in rows}


def _remittance() -> dict:
    """A small parse-contract remittance whose line 1 paid is printed 10.00 too high."""
    return {
        "format": "pdf", "payer": {"name": "Test", "id": "TP1"},
        "payee": {"name": "Clinic", "npi": "1234567893"},
        "payment": {"method": "ACH", "trace_number": "T1", "date": "2024-05-30",
                    "amount": "32.50"},
        "claims": [{
            "patient_account": "ACC1", "payer_claim_id": "C1", "status_code": "1",
            "patient_name": "DOE, JANE", "member_id": "M1", "billed": "120.00",
            "paid": "32.50", "patient_responsibility": "0.00", "adjustments": [],
            "remarks": [], "pages": [1],
            "lines": [{"date_of_service": "2024-05-16", "procedure": "71046",
                       "modifiers": [], "units": "1", "billed": "120.00", "allowed": "32.50",
                       "paid": "42.50", "remarks": [],
                       "adjustments": [{"group": "CO", "carc": "45", "amount": "87.50"}]}]}],
        "provider_adjustments": [], "balanced": False,
        "problems": [
            {"code": "line-unbalanced", "message": "line 1 paid", "claim": "ACC1", "line": 1,
             "expected": "32.50", "actual": "42.50"},
            {"code": "unreadable", "message": "page 2 footer unreadable"}],
    }


class _C:  # a correction as apply_corrections reads it
    def __init__(self, id, changes, line=1, account="ACC1", claim="C1"):
        self.id, self.changes, self.line = id, changes, line
        self.patient_account, self.payer_claim_id = account, claim


def test_apply_keeps_the_original_and_balances_the_corrected_copy():
    data = _remittance()
    before = copy.deepcopy(data)
    out = apply_corrections(data, [_C(1, {"paid": "20.00"}), _C(2, {"paid": "32.50"})])
    assert data == before  # the original is untouched
    assert out["claims"][0]["lines"][0]["paid"] == "32.50"
    # the balancing problem is gone; a problem that is not balancing stays
    assert out["problems"] == [{"code": "unreadable", "message": "page 2 footer unreadable"}]
    assert out["corrections"] == [{"id": 1, "claim": "C1", "line": 1, "fields": ["paid"]},
                                  {"id": 2, "claim": "C1", "line": 1, "fields": ["paid"]}]
    assert not [p for p in Remittance.from_json(out).problems if p.claim == "ACC1"]


def test_a_correction_that_does_not_balance_leaves_the_problem_and_says_so():
    out = apply_corrections(_remittance(), [_C(7, {"paid": "30.00"}),
                                            _C(8, {"paid": "40.00"}, line=None)])
    codes = {p["code"]: p for p in out["problems"]}
    assert set(codes) == {"line-unbalanced", "claim-unbalanced", "remittance-unbalanced",
                          "unreadable"}
    assert "still after correction #7, #8" in codes["line-unbalanced"]["message"]
    assert codes["line-unbalanced"]["actual"] == "30.00"
    assert codes["claim-unbalanced"]["actual"] == "40.00"
    assert codes["remittance-unbalanced"]["expected"] == "40.00"
    assert out["balanced"] is False
    assert apply_corrections(_remittance(), []) == _remittance()  # none: a plain copy


def test_apply_refuses_a_claim_not_in_the_remittance():
    with pytest.raises(CorrectionError, match="not in this remittance"):
        apply_corrections(_remittance(), [_C(1, {"paid": "1.00"}, claim="NOPE")])


@pytest.fixture
def demo(workspace, remittance_dataset):
    """The northwind demo data processed, with one more misread planted before the outputs: a
    claim with a denial routed to a worklist or packet gets its denied line's paid printed
    10.00 too high (as the dataset's own anomaly does to a paid claim)."""
    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    ctx = Context.from_settings()
    for entry in manifest["remittances"]:
        import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    process_documents(ctx, "northwind")
    planted = None
    for doc in ctx.ledger.documents("northwind"):
        for rec in ctx.ledger.remittances(doc.id):
            if planted or not rec.balanced:
                continue
            remit = Remittance.from_json(rec.data)
            for f in categorize_remittance(remit, as_of=SAMPLE_ANCHOR):
                if (f.decision.is_denial and f.line_number
                        and route(f, trusted=True) is not Route.REVIEW):
                    planted = (rec.id, f)
                    break
    assert planted, "the demo data has a routed denial on a line"
    rec_id, f = planted
    data = copy.deepcopy(ctx.ledger.remittance_data(rec_id))
    claim = next(c for c in data["claims"] if c["payer_claim_id"] == f.claim.payer_claim_id)
    line = claim["lines"][f.line_number - 1]
    line["paid"] = str(Decimal(line["paid"]) + UNBALANCED_BY)
    data["problems"] = [{"code": "line-unbalanced", "message": "planted misread",
                         "claim": claim["patient_account"], "line": f.line_number}]
    data["balanced"] = False
    rec = ctx.ledger.remittance_record(rec_id)
    ctx.ledger.save_remittance(rec.document_id, rec.index, data)
    counts = write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    yield ctx, counts, f
    ctx.ledger.close()


def _unbalanced(ctx):
    """The unbalanced items by id (an account may appear in several remittances)."""
    return {i.id: i for i in ctx.queue.items(None, ReviewKind.UNBALANCED)}


def test_correct_validates_and_records_nothing_when_wrong(demo):
    ctx, _, _ = demo
    item = next(iter(_unbalanced(ctx).values()))
    bad = [({"colour": "red"}, 1, "cannot be corrected"),
           ({"paid": "twelve"}, 1, "not an amount"),
           ({"paid": 12.5}, 1, "float"),
           ({"units": "0"}, 1, "units"),
           ({"procedure": "DROP TABLE"}, 1, "procedure"),
           ({"adjustment.9.amount": "1.00"}, 1, "adjustment"),
           ({"paid": "1.00"}, 99, "no line 99"),
           ({}, 1, "no field")]
    for changes, line, message in bad:
        with pytest.raises(CorrectionError, match=message):
            correct(ctx, item.id, changes, by="alice", why="printed wrong", line=line)
    with pytest.raises(CorrectionError, match="why"):
        correct(ctx, item.id, {"paid": "1.00"}, by="alice", why="  ", line=1)
    with pytest.raises(CorrectionError, match="by"):
        correct(ctx, item.id, {"paid": "1.00"}, by="", why="x", line=1)
    rec_id = ctx.ledger.remittances(item.context["document_id"])[0].id
    with pytest.raises(CorrectionError, match="not in this remittance"):
        correct(ctx, (rec_id, "NOBODY", "0000"), {"paid": "1.00"}, by="alice", why="x")
    with pytest.raises(CorrectionError, match="is packet-check|is missing-document"):
        other = next(i for i in ctx.queue.items()
                     if i.kind in (ReviewKind.PACKET_CHECK, ReviewKind.MISSING_DOCUMENT))
        correct(ctx, other.id, {"paid": "1.00"}, by="alice", why="x")
    assert corrections(ctx) == []


def test_correcting_the_misread_lines_routes_the_claims_and_resolves_their_items(demo):
    ctx, first, planted = demo
    items = _unbalanced(ctx)
    assert len(items) == 2 and all(i.status == "open" for i in items.values())
    before = {i: copy.deepcopy(ctx.ledger.remittance_data(r.id))
              for i in items.values() for r in ctx.ledger.remittances(i.context["document_id"])}
    finding_key = planted.key
    destination = route(planted, trusted=True)
    path = ctx.settings.worklist_for(destination.value) if destination.worklist else None

    def routed() -> bool:
        if path is None:
            return (f"{planted.payer_id}:{planted.claim.payer_claim_id}"
                    in ctx.ledger.output_keys("packet"))
        return path.exists() and finding_key in _keys(path)

    assert first.to_review >= 1 and not routed()  # untrusted: its denial waits in review
    made = []
    for item in items.values():
        account = item.context["claim"]
        problem = item.context["problems"][0]
        line = problem["line"]
        rec = next(r for r in ctx.ledger.remittances(item.context["document_id"])
                   if any(c["patient_account"] == account for c in r.data["claims"]))
        claim = next(c for c in rec.data["claims"] if c["patient_account"] == account)
        printed = Decimal(claim["lines"][line - 1]["paid"])
        c = correct(ctx, item.id, {"paid": str(printed - UNBALANCED_BY)}, line=line,
                    by="alice", why="PDF prints the line paid 10.00 too high")
        assert c.balances and c.remaining == [] and c.queued
        assert c.original == {"paid": str(printed)}
        assert c.changes == {"paid": str(printed - UNBALANCED_BY)}
        assert ctx.ledger.unit(UnitKind.OUTPUTS, ctx.ledger.document(
            c.document_id).unit_key).state == UnitState.PENDING
        events = ctx.queue.history(item.id)
        assert events[-1].action == "corrected" and events[-1].actor == "alice"
        assert events[-1].detail == f"correction #{c.id}: line {line} paid; balances now"
        assert account not in events[-1].detail and str(printed) not in events[-1].detail
        with pytest.raises(CorrectionError, match="nothing to change"):  # a double submit
            correct(ctx, item.id, {"paid": str(printed - UNBALANCED_BY)}, line=line,
                    by="alice", why="again")
        made.append(c)

    second = write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    for item in items.values():
        account, item = item.context["claim"], ctx.queue.get(item.id)
        mine = next(c for c in made if c.item_id == item.id)
        assert item.status == "resolved"
        assert f"correction #{mine.id}" in item.resolution and "balances" in item.resolution
        assert account not in item.resolution
        data = corrected_data(ctx, mine.remittance_id)
        assert not [p for p in data["problems"] if p.get("claim") == account]
    # the original stored JSON is never modified
    for i, r in ((i, r) for i in items.values()
                 for r in ctx.ledger.remittances(i.context["document_id"])):
        assert ctx.ledger.remittance_data(r.id) == before[i]
    # the planted claim's denial now reaches its worklist or packet
    assert second.to_review < first.to_review
    assert routed()
    listed = corrections(ctx)
    assert [(c.by, c.why) for c in listed] == [("alice",
                                                "PDF prints the line paid 10.00 too high")] * 2

    # a second run changes nothing: no unit to redo, no item opened, nothing queued
    third = write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    assert third.remittances == 0 and third.review_opened == 0
    assert third.worklist_added == 0 and third.packets_written == 0
    assert all(ctx.queue.get(i.id).status == "resolved" for i in items.values())
    assert len(corrections(ctx)) == 2


def test_cli_adds_and_lists_corrections_without_phi(demo):
    ctx, _, _ = demo
    item = sorted(_unbalanced(ctx).items())[0][1]
    account = item.context["claim"]
    line = item.context["problems"][0]["line"]
    rec = next(r for r in ctx.ledger.remittances(item.context["document_id"])
               if any(c["patient_account"] == account for c in r.data["claims"]))
    claim = next(c for c in rec.data["claims"] if c["patient_account"] == account)
    printed = Decimal(claim["lines"][line - 1]["paid"])
    runner = CliRunner()
    bad = runner.invoke(app, ["corrections", "add", str(item.id), "--line", str(line),
                              "--set", "paid", "--why", "x"])
    assert bad.exit_code == 2 and "FIELD=VALUE" in bad.output
    bad = runner.invoke(app, ["corrections", "add", str(item.id), "--line", str(line),
                              "--set", "colour=red", "--why", "x"])
    assert bad.exit_code == 2 and "cannot be corrected" in bad.output
    ok = runner.invoke(app, ["corrections", "add", str(item.id), "--line", str(line),
                             "--set", f"paid={printed - UNBALANCED_BY}",
                             "--why", "the PDF misprints the paid amount", "--by", "bob"])
    assert ok.exit_code == 0, ok.output
    assert "correction #1 recorded (line" in ok.output and "balances now" in ok.output
    listed = runner.invoke(app, ["corrections", "list"])
    assert listed.exit_code == 0
    assert (f"#1 item {item.id} remittance {rec.id} claim {claim['payer_claim_id']} "
            f"line {line} paid by bob") in listed.output
    assert "by bob" in listed.output and "the PDF misprints the paid amount" in listed.output
    for phi in (account, claim["patient_name"], claim["member_id"], str(printed)):
        assert phi not in listed.output and phi not in ok.output
    assert json.dumps(ctx.queue.history(item.id)[-1].detail).find(account) == -1


def test_a_correction_by_remittance_and_claim_that_does_not_balance_keeps_the_item_open(demo):
    ctx, _, _ = demo
    item = next(iter(_unbalanced(ctx).values()))
    account, line = item.context["claim"], item.context["problems"][0]["line"]
    rec = next(r for r in ctx.ledger.remittances(item.context["document_id"])
               if any(c["patient_account"] == account for c in r.data["claims"]))
    claim = next(c for c in rec.data["claims"] if c["patient_account"] == account)
    adjustment = claim["lines"][line - 1]["adjustments"][0]
    c = correct(ctx, (rec.id, account, claim["payer_claim_id"]),
                {"adjustment.1.amount": str(Decimal(adjustment["amount"]) + 1),
                 "adjustment.1.group": adjustment["group"].lower()},  # same group: not changed
                line=line, by="carol", why="amount misread")
    assert c.changes == {"adjustment.1.amount": str(Decimal(adjustment["amount"]) + 1)}
    assert c.original == {"adjustment.1.amount": adjustment["amount"]}
    assert c.balances is False and "line-unbalanced" in c.remaining
    assert c.item_id == item.id  # found by the claim's open unbalanced item
    assert ctx.queue.history(item.id)[-1].detail == (
        f"correction #{c.id}: line {line} adjustment.1.amount; still "
        f"{', '.join(c.remaining)}")
    write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    item = ctx.queue.get(item.id)
    assert item.status == "open" and item.occurrences == 2
    assert any(f"still after correction #{c.id}" in p["message"]
               for p in corrected_data(ctx, rec.id)["problems"] if p.get("claim") == account)
