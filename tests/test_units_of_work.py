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
    assert len(counts.errors) == 1  # the other owners' worklists were written meanwhile
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


# the mechanism ---------------------------------------------------------------------------------
@pytest.fixture
def work(tmp_path):
    from claimwright.review import ReviewQueue
    from claimwright.storage import Ledger
    from claimwright.units import WorkUnits

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    now = [dt.datetime(2026, 12, 1, 2, 30)]

    def make(owner: str) -> WorkUnits:
        return WorkUnits(ledger, ReviewQueue(ledger), owner=owner, clock=lambda: now[0])

    yield make, now, ledger
    ledger.close()


def test_a_unit_is_done_only_when_its_block_ends_and_never_taken_twice(work):
    from claimwright.types import UnitKind, UnitState

    make, _, ledger = work
    a, b = make("host-a:1:run-a"), make("host-b:2:run-b")
    assert a.add(UnitKind.PARSE, "nw:R1", payer="nw") and not a.add(UnitKind.PARSE, "nw:R1")
    unit = a.take(UnitKind.PARSE, "nw:R1")
    assert unit is not None and ledger.unit("parse", "nw:R1").state == UnitState.IN_PROGRESS
    assert b.take(UnitKind.PARSE, "nw:R1") is None  # leased to run a
    with unit:
        assert ledger.unit("parse", "nw:R1").state == UnitState.IN_PROGRESS
    assert ledger.unit("parse", "nw:R1").state == UnitState.DONE
    assert a.take(UnitKind.PARSE, "nw:R1") is None and list(a.take_each(UnitKind.PARSE)) == []


def test_a_dead_runs_unit_is_taken_over_when_its_lease_expires(work):
    from claimwright.types import UnitKind, UnitState
    from claimwright.units import LEASES

    make, now, ledger = work
    dead, next_run = make("other-host:1:dead"), make("other-host:2:next")
    dead.add(UnitKind.OUTPUTS, "nw:R1")
    assert dead.take(UnitKind.OUTPUTS, "nw:R1") is not None  # ... and the run is killed here
    assert next_run.take(UnitKind.OUTPUTS, "nw:R1") is None  # another host's live lease
    now[0] += LEASES[UnitKind.OUTPUTS] + dt.timedelta(seconds=1)
    assert [u.key for u in next_run.due(UnitKind.OUTPUTS)] == ["nw:R1"]
    with next_run.take(UnitKind.OUTPUTS, "nw:R1") as unit:
        assert unit.attempt == 2
    assert ledger.unit("outputs", "nw:R1").state == UnitState.DONE
    assert ledger.unit("outputs", "nw:R1").owner == "other-host:2:next"


def test_a_unit_of_a_process_of_this_host_that_is_gone_is_taken_at_once(work):
    import os
    import socket
    import subprocess
    import sys

    from claimwright.types import UnitKind

    make, _, _ = work
    host = socket.gethostname()
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    alive = make(f"{host}:1:init")  # pid 1 runs as long as the machine does
    alive.add(UnitKind.PARSE, "nw:R1")
    assert alive.take(UnitKind.PARSE, "nw:R1") is not None
    dead = make(f"{host}:{gone}:killed")
    dead.add(UnitKind.PARSE, "nw:R2")
    assert dead.take(UnitKind.PARSE, "nw:R2") is not None
    next_run = make(f"{host}:{os.getpid()}:next")
    assert next_run.take(UnitKind.PARSE, "nw:R1") is None  # its owner still runs
    assert next_run.take(UnitKind.PARSE, "nw:R2") is not None  # no wait for the lease


def test_business_failures_wait_for_a_person_system_failures_are_retried_a_bounded_number(work):
    from claimwright.errors import BusinessError, SystemFault
    from claimwright.types import FaultCode, UnitKind, UnitState
    from claimwright.units import MAX_ATTEMPTS

    make, _, ledger = work
    run = make("h:1:r")
    run.add(UnitKind.PARSE, "bad-data")
    run.add(UnitKind.PARSE, "portal")
    with run.take(UnitKind.PARSE, "bad-data") as unit:
        raise BusinessError("amounts do not balance", code=FaultCode.UNBALANCED)
    assert unit.state == UnitState.FAILED_BUSINESS and unit.review.created
    assert run.take(UnitKind.PARSE, "bad-data") is None  # never retried by a run
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with run.take(UnitKind.PARSE, "portal") as unit:
            raise SystemFault("layout file missing", retryable=False)
        assert unit.state == UnitState.FAILED_SYSTEM and unit.attempt == attempt
    assert run.take(UnitKind.PARSE, "portal") is None  # out of attempts
    [item] = [i for i in ledger.review_items() if i.key.startswith("parse:portal")]
    assert item.occurrences == MAX_ATTEMPTS and item.kind == "portal-failure"
    assert run.retry(UnitKind.PARSE, "portal") and run.take(UnitKind.PARSE, "portal")


def test_codes_and_kinds_are_closed_lists():
    from claimwright.errors import BusinessError
    from claimwright.types import FaultCode, ReviewKind

    with pytest.raises(ValueError):
        BusinessError("x", code="unbalnced")  # a typo is refused where it is written
    with pytest.raises(ValueError):
        ReviewKind("unbalnced")
    assert FaultCode.CORRUPT_PDF.review_kind == ReviewKind.UNREADABLE_DOCUMENT
    assert FaultCode.CAPTCHA.failure == "system" and FaultCode.UNBALANCED.failure == "business"


def test_units_cli_lists_what_is_not_done_and_retries_a_failed_unit(workspace, dataset):
    from typer.testing import CliRunner

    from claimwright.cli import app

    ctx = Context.from_settings()
    broken = dataset.parent / "broken" / "NW-BROKEN.pdf"
    broken.parent.mkdir(exist_ok=True)
    broken.write_bytes(b"%PDF-1.4 not really a remittance")
    import_document(ctx, "northwind", broken)
    import_document(ctx, "northwind", sorted(dataset.glob("*.pdf"))[0])
    process_documents(ctx, "northwind")
    ctx.ledger.close()
    runner = CliRunner()
    out = runner.invoke(app, ["units", "list"])
    assert out.exit_code == 0, out.output
    assert "parse         done             1" in out.output
    assert "parse:northwind:NW-BROKEN failed-business (attempts 1)" in out.output
    assert "outputs:northwind:" in out.output  # pending: the outputs stage has not run
    out = runner.invoke(app, ["units", "retry", "parse", "northwind:NW-BROKEN"])
    assert out.exit_code == 0 and "pending again" in out.output
    out = runner.invoke(app, ["units", "retry", "parse", "northwind:NOPE"])
    assert out.exit_code == 2 and "no failed or pending unit" in out.output
    assert runner.invoke(app, ["units", "list", "--kind", "parsing"]).exit_code == 2
