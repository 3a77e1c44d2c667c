"""Units of work: released only when all their outputs exist; leases; the defects they fixed.

These tests run the pipeline's stages in-process on synthetic remittances (no browser); the
kill-and-resume test of the whole nightly flow is tests/test_kill_and_resume.py.
"""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from claimwright.models import Remittance
from claimwright.pipeline import (Context, import_document, process_documents,
                                  write_appeals_queue, write_outputs)

ANCHOR = dt.date.today() - dt.timedelta(days=12)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Eight synthetic Northwind remittances paid in the last weeks (coding denials included)."""
    from fixtures.remittances import build_dataset

    out = tmp_path_factory.mktemp("units") / "northwind"
    build_dataset("northwind", out, count=8, anchor=ANCHOR, anomalies=False)
    return out


@pytest.fixture
def ctx(workspace, dataset):
    ctx = Context.from_settings()
    for pdf in sorted(dataset.glob("*.pdf")):
        assert import_document(ctx, "northwind", pdf)
    yield ctx
    ctx.ledger.close()


def _worklist_keys(path: Path) -> set[str]:
    sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).casefold() for h in next(rows)]
    return {row[header.index("key")] for row in rows if row[header.index("key")]}


def test_a_corrupt_workbook_loses_no_worklist_row(ctx, dataset):
    """Defect 1: with a corrupt workbook the upsert raised outside any guard after every
    document was marked done, so after the workbook was fixed a rerun added 0 rows."""
    worklist = ctx.settings.worklist
    worklist.parent.mkdir(parents=True, exist_ok=True)
    worklist.write_bytes(b"PK\x03\x04 this is not a workbook any more")
    process_documents(ctx, "northwind")
    counts = write_outputs(ctx, "northwind", as_of=ANCHOR)  # must not raise
    [item] = [i for i in ctx.queue.items() if "coding-worklist" in i.reason]
    assert item.kind == "output-failed" and item.context["worklist"] == str(worklist)
    assert counts.worklist_added == 0 and len(counts.errors) == 1
    assert worklist.read_bytes().startswith(b"PK\x03\x04 this is not")  # left untouched

    worklist.unlink()  # a person restores the workbook (here: removes the broken one)
    again = write_outputs(ctx, "northwind", as_of=ANCHOR)
    coding = {f.key for f in ctx.ledger.findings(denials_only=True) if f.owner == "coding"}
    assert coding, "the dataset has coding denials"
    assert again.worklist_added == len(coding) and again.errors == []
    assert _worklist_keys(worklist) == coding
    # a third run has nothing waiting: nothing is written twice
    assert write_outputs(ctx, "northwind", as_of=ANCHOR).worklist_added == 0
    assert _worklist_keys(worklist) == coding


def test_the_appeals_queue_is_sorted_by_the_priority_of_the_day(ctx):
    """Defect 3: findings were insert-only, so the queue kept the priority of the day each
    denial first appeared, though priority grows as the deadline nears."""
    from claimwright.rules.engine import categorize_remittance

    process_documents(ctx, "northwind")
    first_night = ANCHOR
    write_outputs(ctx, "northwind", as_of=first_night)
    write_appeals_queue(ctx)  # a later night: today, with no new remittance
    today = dt.date.today()
    want = {}
    for doc in ctx.ledger.documents(payer="northwind"):
        for rec in ctx.ledger.remittances(doc.id):
            for f in categorize_remittance(Remittance.from_json(rec.data), as_of=today):
                if f.decision.is_denial:
                    want[f.key] = f.priority
    stored = {f.key: f.priority for f in ctx.ledger.findings(denials_only=True)}
    assert stored == want
    then = {f.key: f.priority for doc in ctx.ledger.documents(payer="northwind")
            for rec in ctx.ledger.remittances(doc.id)
            for f in categorize_remittance(Remittance.from_json(rec.data), as_of=first_night)
            if f.decision.is_denial}
    assert then != want, "the test needs priorities that change between the two days"
    with (ctx.settings.packets / "appeals-queue.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    for row in rows:
        claim = [p for k, p in want.items() if k.split(":")[1] == row["payer_claim_id"]]
        assert Decimal(row["priority"]) == max(claim)
    order = [(-Decimal(r["priority"]), r["appeal_due"] or "9999") for r in rows]
    assert order == sorted(order)
