"""The walking skeleton, end to end: real Chromium against the mock portal, through the Prefect
flow on a real local Prefect server, checked against the fixtures' ground truth; then a rerun
that must add nothing."""

from __future__ import annotations

import hashlib
import json
import os

import openpyxl
import pypdfium2
import pytest
from portal_fixtures import SAMPLE_ANCHOR

from claimwright.rules.engine import categorize_remittance
from claimwright.models import Remittance
from claimwright.pipeline import Context

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def _digest(paths):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def test_nightly_flow_end_to_end_and_rerun_adds_nothing(workspace, northwind_env, prefect_api,
                                                       nightly_northwind):
    from conftest import nightly_params
    from flows.nightly import nightly_denials

    portal = northwind_env
    manifest = {r["remittance_id"]: r for r in portal.manifest["remittances"]}
    end = SAMPLE_ANCHOR
    params = nightly_params(portal)

    # the session's one nightly run (tests/test_kill_and_resume.py compares with it), its
    # workspace copied into this test's: the rerun below works on the copy
    _, [run1] = nightly_northwind(workspace, sessions=os.environ["CLAIMWRIGHT_SESSION_DIR"])

    # every listed remittance was downloaded once, byte-identical to what the portal serves
    assert run1["listed"] == len(manifest) >= 11  # more than one results page (10 per page)
    assert run1["downloaded"] == len(manifest)
    assert run1["errors"] == []
    ctx = Context.from_settings()
    docs = ctx.ledger.documents(payer="northwind")
    assert {d.remittance_id for d in docs} == set(manifest)
    truths = {}
    for doc in docs:
        entry = manifest[doc.remittance_id]
        assert doc.sha256 == entry["sha256"]
        # its outputs unit released as done: every output of the document exists
        assert ctx.ledger.unit("outputs", f"northwind:{doc.remittance_id}").state == "done"
        # every downloaded remittance parsed exactly to its ground truth
        truth = json.loads((portal.data_dir / entry["truth"]).read_text())
        [record] = ctx.ledger.remittances(doc.id)
        assert record.data == truth, doc.remittance_id
        truths[doc.remittance_id] = Remittance.from_json(truth)

    # every denial categorized: the ledger holds exactly the denials the truth implies
    expected = {}
    for remit in truths.values():
        for f in categorize_remittance(remit, as_of=end):
            expected[f.key] = f
    denial_keys = {k for k, f in expected.items() if f.decision.is_denial}
    stored = ctx.ledger.findings(denials_only=True)
    assert {f.key for f in stored} == denial_keys
    assert all(f.category and f.owner and f.action and f.rule_id for f in stored)
    assert run1["denial_findings"] == len(denial_keys)

    # review queue: the deliberately unbalanced remittance and the unknown CARC are there
    items = ctx.queue.items()
    kinds = [i.kind for i in items]
    unbalanced = [r for r in truths.values() if not r.balanced]
    assert unbalanced and kinds.count("unbalanced") >= len(unbalanced)
    unknown = [k for k, f in expected.items() if not f.decision.known]
    assert unknown and {f"unknown-code:{k}" for k in unknown} <= {i.key for i in items}
    assert run1["review_opened"] == len(items)

    # appeal packets: one per appealable denied claim whose numbers balance
    untrusted = {(r.payer.id, p.claim) for r in truths.values() for p in r.problems if p.claim}
    want_packets = {
        f"{f.payer_id}:{f.claim.payer_claim_id}" for f in expected.values()
        if f.decision.is_denial and f.decision.known and f.decision.action == "appeal"
        and f.decision.appealable in ("yes", "conditional")
        and (f.payer_id, f.claim.patient_account) not in untrusted}
    assert want_packets and ctx.ledger.output_keys("packet") == want_packets
    packet_files = sorted((workspace.packets / "northwind").glob("*.pdf"))
    assert len(packet_files) == len(want_packets) == run1["packets_written"]
    for path in packet_files:
        pdf = pypdfium2.PdfDocument(path)
        assert len(pdf) >= 2  # cover letter + the remittance page(s)
        pdf.close()

    # coding worklist: one row per coding denial (claim line x reason)
    want_rows = {k for k, f in expected.items() if f.decision.is_denial and f.decision.known
                 and f.decision.owner == "coding"
                 and (f.payer_id, f.claim.patient_account) not in untrusted}
    sheet = openpyxl.load_workbook(workspace.worklist).active
    header = [c.value for c in sheet[1]]
    rows = {r[header.index("Key")] for r in sheet.iter_rows(min_row=2, values_only=True)}
    coding = {r.key for r in ctx.ledger.outputs("worklist-row")
              if r.path == str(workspace.worklist)}
    assert want_rows and rows == want_rows == coding
    # the other owners' denials went to their own worklists (one row each, all written)
    books = sorted(workspace.worklist.parent.glob("*-worklist.xlsx"))
    assert len(books) > 1
    assert run1["worklist_added"] == len(ctx.ledger.output_keys("worklist-row")) > len(want_rows)

    # the appeals team's queue lists every packet, most urgent first
    import csv
    with (workspace.packets / "appeals-queue.csv").open() as fh:
        queue_rows = list(csv.DictReader(fh))
    assert {f"{r['payer_id']}:{r['payer_claim_id']}" for r in queue_rows} == want_packets
    priorities = [float(r["priority"]) for r in queue_rows]
    assert priorities == sorted(priorities, reverse=True)
    assert all(r["appeal_due"] and r["packet"].endswith(".pdf") for r in queue_rows)

    before = _digest([*packet_files, *books, workspace.packets / "appeals-queue.csv"])
    ctx.ledger.close()

    # the rerun: nothing downloaded, written or filed twice
    [run2] = nightly_denials(**params)
    assert run2["downloaded"] == 0 and run2["already_had"] == len(manifest)
    assert run2["packets_written"] == 0 and run2["worklist_added"] == 0
    assert run2["review_opened"] == 0 and run2["documents_parsed"] == 0
    ctx = Context.from_settings()
    assert len(ctx.queue.items()) == len(items)
    assert len(ctx.ledger.findings(denials_only=True)) == len(denial_keys)
    after_files = sorted((workspace.packets / "northwind").glob("*.pdf"))
    assert _digest([*after_files, *books, workspace.packets / "appeals-queue.csv"]) == before
    ctx.ledger.close()

    # nothing the run left in Prefect (logs, artifacts) names a credential or a patient
    _assert_prefect_holds_no_secrets_or_phi(portal, truths)


def _assert_prefect_holds_no_secrets_or_phi(portal, truths) -> None:
    from prefect.client.orchestration import get_client

    from fixtures.portals import demo_account

    account = demo_account("northwind")
    secrets = {account.username, account.password, account.totp_secret}
    phi = {c.patient_name for r in truths.values() for c in r.claims if c.patient_name}
    phi |= {c.member_id for r in truths.values() for c in r.claims if c.member_id}
    assert secrets and phi
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts()
        logs = client.read_logs()
    assert {a.key for a in artifacts} >= {"nightly-run-summary", "worklist-status"}
    texts = [json.dumps(a.data, default=str) + (a.description or "") for a in artifacts]
    texts += [log.message for log in logs]
    assert len(logs) > 5  # the flow's own logs were read
    leaked = [(s if s in secrets else "PHI") for text in texts for s in secrets | phi
              if s in text]
    assert leaked == []
