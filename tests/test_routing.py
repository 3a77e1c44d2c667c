"""Every denial finding goes to exactly one place: a packet, its owner's worklist, or review."""

from __future__ import annotations

import openpyxl
import pytest
from portal_fixtures import SAMPLE_ANCHOR

from claimwright.pipeline import Context, import_document, process_documents, write_outputs
from claimwright.pipeline.routing import route
from claimwright.printout import ROUTED
from claimwright.types import Route


def _keys(path) -> set[str]:
    rows = openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)
    header = [str(h).casefold() for h in next(rows)]
    return {r[header.index("key")] for r in rows}


@pytest.mark.parametrize("payer", ["northwind", "clearpath"])
def test_denials_found_equal_those_routed_to_packets_worklists_and_review(
        payer, workspace, remittance_dataset):
    folder, manifest = remittance_dataset(payer, SAMPLE_ANCHOR)  # the demo data, anomalies too
    ctx = Context.from_settings()
    for entry in manifest["remittances"]:
        import_document(ctx, payer, folder / entry["pdf"], entry["remittance_id"])
    counts = process_documents(ctx, payer)
    write_outputs(ctx, payer, as_of=SAMPLE_ANCHOR, counts=counts)
    figures = counts.as_dict()
    assert counts.denial_findings > 0
    assert sum(figures[k] for k in ROUTED) == counts.denial_findings
    assert counts.to_review >= 1 and counts.to_packets >= 1  # the anomalies; appealable denials
    assert sum(figures[k] for k in ROUTED if k not in ("to_packets", "to_review")) >= 2

    denials = ctx.ledger.findings(denials_only=True)
    in_books = {owner.value: _keys(ctx.settings.worklist_for(owner.value))
                for owner in Route if owner.worklist
                and ctx.settings.worklist_for(owner.value).exists()}
    packets = ctx.ledger.output_keys("packet")
    unplaced = 0
    for f in denials:
        places = [o for o, keys in in_books.items() if f.key in keys]
        places += ["packet"] * (f"{f.payer_id}:{f.payer_claim_id}" in packets
                                and f.action == "appeal")
        assert len(places) <= 1, (f.key, places)  # never in two places
        if not places:  # nowhere a bot writes: the review queue holds it (unknown or unbalanced)
            unplaced += 1
            assert any(f.payer_claim_id in i.reason or f.carc in i.reason
                       or f.patient_account == i.context.get("claim")
                       for i in ctx.queue.items()), f.key
    assert unplaced == counts.to_review
    assert sum(len(k) for k in in_books.values()) == sum(
        figures[k] for k in ROUTED if k not in ("to_packets", "to_review"))
    ctx.ledger.close()


def test_the_route_follows_known_codes_balance_action_and_owner():
    from types import SimpleNamespace as N

    def finding(**decision):
        base = {"known": True, "action": "corrected claim", "appealable": "no",
                "owner": "coding"}
        return N(decision=N(**{**base, **decision}))

    assert route(finding(), trusted=True) is Route.CODING
    assert route(finding(), trusted=False) is Route.REVIEW
    assert route(finding(known=False), trusted=True) is Route.REVIEW
    assert route(finding(action="appeal", appealable="conditional", owner="registration"),
                 trusted=True) is Route.PACKET
    assert route(finding(owner="registration", action="rebill other payer"),
                 trusted=True) is Route.REGISTRATION
    assert route(finding(owner="payer", action="none"), trusted=True) is Route.REVIEW
