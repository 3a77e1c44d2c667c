"""Appeal packets through the pipeline: every packet opened and checked, incomplete until the
document arrives, rebuilt only when its inputs change, and the morning batch index read back."""

from __future__ import annotations

import datetime as dt
import json
import os
import re

import openpyxl
import pdfplumber
import pytest
from portal_fixtures import SAMPLE_ANCHOR
from pypdf import PdfReader

from claimwright.pipeline import Context, import_document, process_documents, write_outputs
from claimwright.pipeline.appeals_queue import write_appeals_queue
from claimwright.packets.batch import index_path
from claimwright.packets.text import usd
from claimwright.types import ReviewKind
from test_packets import RESIDUE


def _run(ctx, payer, as_of=SAMPLE_ANCHOR):
    counts = process_documents(ctx, payer)
    write_outputs(ctx, payer, as_of=as_of, counts=counts)
    write_appeals_queue(ctx, as_of)
    return counts


@pytest.fixture
def northwind(workspace, worked_northwind):
    """The northwind demo data with its synthetic documents (one left out on purpose) and the
    practice's claim export, worked once (a copy of the session's run: conftest.py)."""
    counts, written = worked_northwind(workspace, appeals_queue=True)
    ctx = Context.from_settings()
    yield ctx, counts, written
    ctx.ledger.close()


def _pages(path) -> list[str]:
    with pdfplumber.open(path) as pdf:
        out = []
        for page in pdf.pages:
            out.append(" ".join((page.extract_text() or "").split()))
            page.close()
    return out


def test_every_packet_holds_its_claim_in_order_with_codes_amounts_and_marked_lines(northwind):
    ctx, counts, _ = northwind
    appeals = ctx.ledger.appeals(payer="northwind")
    assert appeals and counts.packets_written == len(appeals)
    findings = ctx.ledger.findings(denials_only=True)
    for appeal in appeals:
        path = appeal.packet_path
        assert os.stat(path).st_mode & 0o077 == 0
        assert "appeal-NWHP1-" in path and appeal.payer_claim_id in path
        mine = [f for f in findings if f.payer_claim_id == appeal.payer_claim_id
                and f.action == "appeal"]
        pages = _pages(path)
        assert len(PdfReader(path).pages) == len(pages)
        letter = pages[0]
        assert letter.startswith("INCOMPLETE") != appeal.complete
        assert f"Payer claim number {appeal.payer_claim_id}" in letter
        assert "Date of birth " in letter and "Diagnosis codes " in letter
        text = " ".join(pages)
        for f in mine:
            assert f"{f.group_code}-{f.carc}" in text
        assert usd(appeal.denied_amount) in text
        # the remittance page(s): the original page, each denied line boxed and labelled
        remittance = [p for p in pages if "Remittance ID: " in p]
        assert remittance and appeal.payer_claim_id in " ".join(remittance)
        labels = set(re.findall(r"Appealed: line (\d+)", " ".join(remittance)))
        assert labels == {str(f.line_number) for f in mine if f.line_number}
        assert pages[-1].startswith("Attachment index")
        for bad in RESIDUE:
            assert bad not in text, (path, bad)


def test_a_missing_document_gives_one_review_item_and_the_next_run_completes_the_packet(
        northwind):
    from fixtures.documents import write_documents

    ctx, counts, written = northwind
    incomplete = [a for a in ctx.ledger.appeals(payer="northwind") if not a.complete]
    assert incomplete and counts.packets_incomplete == len(incomplete)
    items = ctx.queue.items(kind=ReviewKind.MISSING_DOCUMENT)
    assert len(items) == len(incomplete)
    assert {i.key for i in items} == {f"missing-document:{a.key}" for a in incomplete}
    before = {a.key: os.stat(a.packet_path).st_mtime_ns for a in incomplete}

    again = _run(ctx, "northwind")  # nothing changed: nothing written, no second item
    assert again.packets_written == 0 and again.review_opened == 0
    assert len(ctx.queue.items(kind=ReviewKind.MISSING_DOCUMENT)) == len(incomplete)
    assert {a.key: os.stat(a.packet_path).st_mtime_ns for a in incomplete} == before

    write_documents(ctx.settings.documents, _dataset_folder(ctx), missing_share=0)
    third = _run(ctx, "northwind")
    assert third.packets_written == len(incomplete)
    assert all(a.complete for a in ctx.ledger.appeals(payer="northwind"))
    assert ctx.queue.items(kind=ReviewKind.MISSING_DOCUMENT) == []
    for a in incomplete:
        assert not _pages(a.packet_path)[0].startswith("INCOMPLETE")


def _dataset_folder(ctx):
    doc = ctx.ledger.documents("northwind")[0]
    return os.path.dirname(doc.path)


def test_the_morning_batch_index_lists_every_packet_by_due_date_and_reads_back_sent(northwind):
    ctx, _, _ = northwind
    path = index_path(ctx.settings.packets, SAMPLE_ANCHOR)
    assert path.exists() and path.parent.name == SAMPLE_ANCHOR.isoformat()
    data = json.loads(path.with_suffix(".json").read_text())
    rows = data["packets"]
    appeals = {a.key: a for a in ctx.ledger.appeals(payer="northwind")}
    assert {r["key"] for r in rows} == set(appeals)
    for r in rows:  # relative to out/packets: the folder can move as a whole
        assert r["packet"].startswith("northwind/appeal-NWHP1-")
        assert (ctx.settings.packets / r["packet"]).exists()
    order = [(r["appeal_due"] or "9999", -float(r["priority"])) for r in rows]
    assert order == sorted(order)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    for needed in ("Payer", "Payer claim #", "Patient account", "Amount", "Category", "Level",
                   "Due date", "Days left", "Priority", "Complete", "Packet", "Sent on",
                   "Channel"):
        assert needed in header, needed
    keys = [ws.cell(row=r, column=header.index("Appeal key") + 1).value
            for r in range(2, ws.max_row + 1)]
    assert keys == [r["key"] for r in rows]
    link = ws.cell(row=2, column=header.index("Packet") + 1).hyperlink.target
    assert (path.parent / link).resolve() == (ctx.settings.packets / rows[0]["packet"]).resolve()
    incomplete = header.index("Complete") + 1
    for r in range(2, ws.max_row + 1):
        cell = ws.cell(row=r, column=incomplete)
        if str(cell.value).startswith("INCOMPLETE"):
            assert cell.fill.fgColor.rgb.endswith("FDE7EA")
            assert str(cell.value).startswith("INCOMPLETE: missing Letter of medical necessity") \
                or str(cell.value).startswith("INCOMPLETE: missing Proof of prior")

    # the team marks the first packet sent by fax; the next run records it
    first = keys[0]
    ws.cell(row=2, column=header.index("Sent on") + 1, value=dt.date(2024, 6, 28))
    ws.cell(row=2, column=header.index("Channel") + 1, value="Fax")
    ws.cell(row=3, column=header.index("Sent on") + 1, value="next week")
    wb.save(path)
    _run(ctx, "northwind")
    sent = ctx.ledger.appeal(first)
    assert sent.status == "sent" and sent.channel == "fax"
    assert sent.sent_on == dt.date(2024, 6, 28)
    bad = [i for i in ctx.queue.items() if i.key.startswith("batch-index:")]
    assert len(bad) == 1 and "row 3" in bad[0].reason and "not a date" in bad[0].reason
    # the sent row stays in the day's index, with what was typed
    rows = {r["key"]: r for r in json.loads(path.with_suffix(".json").read_text())["packets"]}
    assert rows[first]["sent_on"] == "2024-06-28" and rows[first]["channel"] == "fax"


@pytest.mark.parametrize("case", ["sheet XML cut off", "bad deflate data",
                                  "control character in the sheet", "workbook XML cut off"])
def test_a_damaged_batch_index_is_one_bad_mark_never_a_crash(case, tmp_path):
    """The team's index.xlsx is read back lazily (read-only): damage inside the sheet shows only
    while its rows are read, and must be the same "cannot be read" mark as a file that does not
    open at all (issue 13)."""
    from test_hostile_downloads import damaged_copy

    from claimwright.packets.batch import read_sent_marks

    folder = tmp_path / "packets" / SAMPLE_ANCHOR.isoformat()
    folder.mkdir(parents=True)
    good = tmp_path / "good.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["Appeal key", "Sent on", "Channel", "Sent by"])
    for n in range(200):
        wb.active.append([f"NWHP1:C{n}:L1", None, None, None])
    wb.save(good)
    damaged_copy(good, folder / "index.xlsx", case)
    marks, bad = read_sent_marks(tmp_path / "packets", SAMPLE_ANCHOR)
    assert marks == []
    assert [b.where for b in bad] == [f"{SAMPLE_ANCHOR.isoformat()}/index.xlsx"]
    assert "cannot be read" in bad[0].problem


def test_a_sent_packet_is_never_rebuilt(northwind):
    ctx, _, _ = northwind
    appeal = next(a for a in ctx.ledger.appeals(payer="northwind") if not a.complete)
    ctx.ledger.record_sent(appeal.key, sent_on=SAMPLE_ANCHOR, channel="portal")
    before = os.stat(appeal.packet_path).st_mtime_ns
    from fixtures.documents import write_documents

    write_documents(ctx.settings.documents, _dataset_folder(ctx), missing_share=0)
    _run(ctx, "northwind")
    assert os.stat(appeal.packet_path).st_mtime_ns == before
    assert ctx.ledger.appeal(appeal.key).status == "sent"


def test_a_medicare_packet_carries_the_redetermination_form_filled_from_the_model_and_renders(
        workspace, remittance_dataset, tmp_path):
    from rendering import colour_share

    from fixtures.documents import write_documents
    from fixtures.remittances.claim_export import write_claim_export

    folder, manifest = remittance_dataset("keystone", SAMPLE_ANCHOR)
    write_documents(workspace.documents, folder)
    write_claim_export(workspace.claim_export, [manifest])
    ctx = Context.from_settings()
    for entry in manifest["remittances"]:
        import_document(ctx, "keystone", folder / entry["pdf"], entry["remittance_id"])
    _run(ctx, "keystone")
    appeals = ctx.ledger.appeals(payer="keystone")
    assert appeals
    for appeal in appeals:
        pages = _pages(appeal.packet_path)
        form = [p for p in pages if "Redetermination Request" in p and "Medicare number" in p]
        assert len(form) == 1, appeal.key
        remit_claim = _claim(ctx, appeal)
        assert remit_claim.member_id in form[0]  # the Medicare number, from the model
        assert appeal.payer_claim_id in form[0]
        letter = pages[0]
        assert "Request for redetermination (first level of appeal)" in letter
    form_page = next(n for n, p in enumerate(_pages(appeals[0].packet_path))
                     if "Redetermination Request" in p and "Medicare number" in p)
    png = _render(appeals[0].packet_path, tmp_path, {form_page: "packet-medicare-form.png"})
    ink = colour_share(png[form_page], (0, 0, 0), tolerance=90)
    assert 0.005 < ink < 0.3, ink

    # upheld: the next level is proposed, and the next run builds its packet
    first = appeals[0]
    decided = SAMPLE_ANCHOR + dt.timedelta(days=30)
    ctx.ledger.record_sent(first.key, sent_on=SAMPLE_ANCHOR, channel="mail")
    ctx.ledger.record_decision(first.key, outcome="upheld", decided_on=decided)
    proposed = ctx.ledger.propose_next_level(first.key, on=decided)
    assert proposed.level == 2 and proposed.appeal_due == decided + dt.timedelta(days=185)
    counts = _run(ctx, "keystone", as_of=decided)
    assert counts.packets_written == 1
    level2 = ctx.ledger.appeal(proposed.key)
    assert level2.packet_path.endswith("-L2.pdf") and level2.status == "prepared"
    pages = _pages(level2.packet_path)
    assert "Request for reconsideration by the Qualified Independent Contractor" in pages[0]
    assert f"The payer's decision of {decided.isoformat()} on our level 1 appeal upheld" \
        in pages[0]
    assert f"Appeal due date {proposed.appeal_due.isoformat()}" in pages[0]  # the level's own
    assert f"which ends on {proposed.appeal_due.isoformat()}" in pages[0]
    form = [p for p in pages if "Reconsideration Request" in p and "Medicare number" in p]
    assert len(form) == 1 and decided.isoformat() in form[0]
    batch = json.loads(index_path(ctx.settings.packets, decided).with_suffix(".json")
                       .read_text())["packets"]
    assert proposed.key in {r["key"] for r in batch}
    assert first.key not in {r["key"] for r in batch}  # sent: no longer in the batch
    ctx.ledger.close()


def _render(pdf_path, tmp_path, names: dict[int, str]) -> dict[int, object]:
    """Render the packet's pages ``names`` maps (0-based index -> doc image name) to PNG; with
    CLAIMWRIGHT_DOC_IMAGES set (make doc-images) they are copied to docs/images."""
    import shutil
    from pathlib import Path

    from rendering import pdf_to_pngs

    pngs = pdf_to_pngs(Path(pdf_path), tmp_path / "png", crop=False)
    out = {n: pngs[n] for n in names}
    if os.environ.get("CLAIMWRIGHT_DOC_IMAGES"):
        for n, name in names.items():
            shutil.copy(pngs[n], Path(os.environ["CLAIMWRIGHT_DOC_IMAGES"]) / name)
    return out


def test_a_packet_renders_its_letter_marked_remittance_and_index(northwind, tmp_path):
    from rendering import colour_share

    from claimwright.packets.highlight import HIGHLIGHT_ON_WHITE

    ctx, _, _ = northwind
    appeal = next(a for a in ctx.ledger.appeals(payer="northwind") if not a.complete)
    pages = _pages(appeal.packet_path)
    remittance = next(n for n, p in enumerate(pages) if "Appealed: " in p)
    images = _render(appeal.packet_path, tmp_path, {
        0: "packet-cover-letter.png", remittance: "packet-remittance-marked.png",
        len(pages) - 1: "packet-attachment-index.png"})
    for png in images.values():  # text on every page, and no page mostly dark
        ink = colour_share(png, (0, 0, 0), tolerance=90)
        assert 0.005 < ink < 0.3, (png.name, ink)
    assert colour_share(images[0], (0xFD, 0xE7, 0xEA), 6) > 0.002  # the INCOMPLETE box
    assert colour_share(images[len(pages) - 1], (0xFD, 0xE7, 0xEA), 6) > 0.002
    assert colour_share(images[remittance], HIGHLIGHT_ON_WHITE, 10) > 0.003  # the marked line


def _claim(ctx, appeal):
    from claimwright.models import Remittance

    for doc in ctx.ledger.documents(appeal.payer):
        for rec in ctx.ledger.remittances(doc.id):
            for claim in Remittance.from_json(rec.data).claims:
                if claim.payer_claim_id == appeal.payer_claim_id:
                    return claim
    raise AssertionError(appeal.key)
