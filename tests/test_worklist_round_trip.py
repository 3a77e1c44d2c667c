"""People work the worklists between runs: their edits survive the nightly update, reach the
ledger, and a row they deleted stays deleted unless the denial recurs on a new remittance.

Also the unreadable-workbook path (corrupt, another format, open in Excel): nothing is lost, the
waiting rows go to a side file, and the next good run merges it, people's edits included.
"""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest
from portal_fixtures import SAMPLE_ANCHOR

from claimwright.pipeline import Context, import_document, process_documents, write_outputs
from claimwright.pipeline.outputs import WORKLIST_ROW, write_worklist
from claimwright.pipeline.context import Counts
from claimwright.types import ReviewKind, UnitKind, UnitState
from claimwright.worklists import side_file

PAYER = "northwind"
NEXT_DAY = SAMPLE_ANCHOR + dt.timedelta(days=1)


def _sheet(path):
    wb = openpyxl.load_workbook(path)
    return wb, wb.worksheets[0]


def _header(ws) -> dict[str, int]:
    return {str(c.value): c.column for c in ws[1] if c.value}


def _rows(path) -> dict[str, dict[str, object]]:
    """key -> {header: value} of the worklist sheet."""
    wb = openpyxl.load_workbook(path, read_only=True)
    rows = wb.worksheets[0].iter_rows(values_only=True)
    header = [str(h) for h in next(rows)]
    out = {}
    for values in rows:
        record = dict(zip(header, values))
        if record.get("Key"):
            assert record["Key"] not in out, f"{record['Key']} twice"
            out[record["Key"]] = record
    wb.close()
    return out


def _import(ctx, folder, entries) -> None:
    for entry in entries:
        import_document(ctx, PAYER, folder / entry["pdf"], entry["remittance_id"])


def _night(ctx, as_of) -> Counts:
    counts = process_documents(ctx, PAYER)
    return write_outputs(ctx, PAYER, as_of=as_of, counts=counts)


@pytest.fixture
def first_night(workspace, remittance_dataset):
    """The demo's northwind remittances, the first half worked on the first night."""
    folder, manifest = remittance_dataset(PAYER, SAMPLE_ANCHOR)
    entries = manifest["remittances"]
    ctx = Context.from_settings()
    _import(ctx, folder, entries[: len(entries) // 2])
    _night(ctx, SAMPLE_ANCHOR)
    yield ctx, folder, entries[len(entries) // 2:]
    ctx.ledger.close()


def test_peoples_edits_survive_reach_the_ledger_and_deleted_rows_stay_deleted(first_night):
    ctx, folder, later = first_night
    path = ctx.settings.worklist_for("coding")
    before = _rows(path)
    assert len(before) >= 6
    books = [p for p in path.parent.glob("*-worklist.xlsx")]
    assert len(books) >= 2  # coding, registration, billing ...
    in_books_before = sum(len(_rows(p)) for p in books)
    worked, noted, deleted, *_ = sorted(before)

    # a coder works the sheet in Excel: status, assignee, notes, corrected code, date worked;
    # sorts by amount (largest first) and deletes one row they handled elsewhere
    wb, ws = _sheet(path)
    h = _header(ws)
    for r in range(2, ws.max_row + 1):
        key = ws.cell(r, h["Key"]).value
        if key == worked:
            ws.cell(r, h["Status"], "Corrected claim sent")
            ws.cell(r, h["Assigned to"], "R. Osei")
            ws.cell(r, h["Corrected code"], "99213")
            ws.cell(r, h["Date worked"], dt.datetime(2026, 10, 2))
        elif key == noted:
            ws.cell(r, h["Status"], "In progress")
            ws.cell(r, h["Notes"], "=asked the provider for the op note")  # text, not formula
    data = [[c.value for c in row] for row in ws.iter_rows(min_row=2)]
    data.sort(key=lambda v: -(v[h["Amount at stake"] - 1] or 0))
    data = [v for v in data if v[h["Key"] - 1] != deleted]
    ws.delete_rows(2, ws.max_row)
    for values in data:
        ws.append(values)
    wb.save(path)
    order_before = list(_rows(path))

    # the next night: new remittances arrive
    _import(ctx, folder, later)
    counts = _night(ctx, NEXT_DAY)
    after = _rows(path)
    new_keys = set(after) - set(before)
    assert new_keys
    # every workbook: the rows added are exactly the new ones, each once
    assert counts.worklist_added == sum(len(_rows(p)) for p in books) - in_books_before + 1
    assert deleted not in after  # not resurrected
    assert list(after)[: len(order_before)] == order_before  # their order kept, new rows after
    assert after[worked]["Status"] == "Corrected claim sent"
    assert after[worked]["Assigned to"] == "R. Osei"
    assert after[worked]["Corrected code"] == "99213"
    assert after[worked]["Date worked"].date() == dt.date(2026, 10, 2)
    assert after[noted]["Notes"] == "=asked the provider for the op note"
    assert {after[k]["Status"] for k in new_keys} == {"New"}
    # priorities are those of the new day (they grow as deadlines near)
    ledger_priority = {f.key: f.priority for f in ctx.ledger.findings(denials_only=True)}
    assert all(f.prioritized_on == NEXT_DAY for f in ctx.ledger.findings(denials_only=True))
    for key, row in after.items():
        assert str(row["Priority"]) == str(ledger_priority[key].normalize()) or \
            float(row["Priority"]) == pytest.approx(float(ledger_priority[key])), key

    # what people wrote is in the ledger
    marks = {m.key: m for m in ctx.ledger.marks("coding-worklist.xlsx")}
    assert marks[worked].status == "Corrected claim sent"
    assert (marks[worked].assignee, marks[worked].corrected_code) == ("R. Osei", "99213")
    assert marks[worked].date_worked == dt.date(2026, 10, 2)
    assert marks[worked].status_since == NEXT_DAY
    assert marks[noted].status == "In progress" and marks[noted].notes.startswith("=asked")
    assert marks[deleted].in_workbook is False
    assert all(marks[k].status == "New" and marks[k].in_workbook for k in new_keys)

    # a rerun adds nothing, changes nothing
    again = _night(ctx, NEXT_DAY)
    assert (again.worklist_added, again.worklist_updated) == (0, 0)
    assert _rows(path) == after

    # the denial recurs on a new remittance: the row comes back (and only then)
    data = next(r.data for r in ctx.ledger.queued_outputs(WORKLIST_ROW, str(path))
                if r.key == deleted)
    source = next(r.source for r in ctx.ledger.queued_outputs(WORKLIST_ROW, str(path))
                  if r.key == deleted)
    ctx.ledger.queue_outputs(WORKLIST_ROW, str(path), {deleted: data}, source=source)
    write_worklist(ctx, Counts(PAYER), as_of=NEXT_DAY)
    assert deleted not in _rows(path)  # the same remittance worked again: still deleted
    ctx.ledger.queue_outputs(WORKLIST_ROW, str(path), {deleted: data}, source="remittance:999")
    write_worklist(ctx, Counts(PAYER), as_of=NEXT_DAY)
    assert _rows(path)[deleted]["Status"] == "New"


@pytest.mark.parametrize("damage", ["corrupt", "another format", "open in Excel"])
def test_an_unreadable_workbook_loses_nothing_and_its_side_file_is_merged(first_night, damage):
    ctx, folder, later = first_night
    path = ctx.settings.worklist_for("coding")
    good = path.read_bytes()
    owner_file = path.with_name(f"~${path.name}")
    if damage == "corrupt":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "another format":
        path.write_text("Key,Status\nx,Done\n")  # a CSV saved over it with the xlsx name
    else:
        owner_file.write_bytes(b"\x0bR. Osei" + b"\x00" * 40)
    damaged = path.read_bytes()

    _import(ctx, folder, later)
    counts = _night(ctx, NEXT_DAY)
    assert path.read_bytes() == damaged  # left untouched
    waiting = ctx.ledger.pending_outputs(WORKLIST_ROW, str(path))
    assert waiting
    assert len(counts.errors) == 1 and "coding-worklist.waiting.xlsx" in counts.errors[0]
    items = [i for i in ctx.queue.items() if i.key.startswith("worklist:coding-worklist.xlsx:")]
    assert len(items) == 1 and items[0].kind == ReviewKind.OUTPUT_FAILED
    assert "coding-worklist.waiting.xlsx" in items[0].reason
    assert ctx.ledger.unit(UnitKind.WORKLIST, path.name).state == UnitState.FAILED_SYSTEM
    side = side_file(path)
    assert set(_rows(side)) == {r.key for r in waiting}

    # people work the side file meanwhile
    wb, ws = _sheet(side)
    h = _header(ws)
    first_key = ws.cell(2, h["Key"]).value
    ws.cell(2, h["Status"], "In progress")
    ws.cell(2, h["Assigned to"], "J. Park")
    wb.save(side)

    # the workbook is fixed (restored from a copy / Excel closed); the next run merges
    path.write_bytes(good)
    owner_file.unlink(missing_ok=True)
    merged = _night(ctx, NEXT_DAY)
    rows = _rows(path)
    assert merged.worklist_added == len(waiting)
    assert {r.key for r in waiting} <= set(rows)
    assert rows[first_key]["Status"] == "In progress" and rows[first_key]["Assigned to"] == "J. Park"
    assert not side.exists()  # retired ...
    assert list((path.parent / ".versions").glob("coding-worklist.waiting.merged-*.xlsx"))  # kept
    assert ctx.ledger.pending_outputs(WORKLIST_ROW, str(path)) == []
    assert ctx.ledger.unit(UnitKind.WORKLIST, path.name).state == UnitState.DONE
    (item,) = [i for i in ctx.queue.items(None) if i.id == items[0].id]
    assert item.status == "resolved" and item.resolution.startswith("cleared: attempt")
    again = _night(ctx, NEXT_DAY)
    assert again.worklist_added == 0 and len(_rows(path)) == len(rows)  # nothing twice


def test_a_workbook_read_today_and_untouched_since_is_not_opened_again(first_night,
                                                                       monkeypatch):
    ctx, _, _ = first_night
    path = ctx.settings.worklist_for("coding")
    import claimwright.worklists as worklists

    calls = []
    real = worklists.upsert_worklist
    monkeypatch.setattr(worklists, "upsert_worklist",
                        lambda p, *a, **k: calls.append(p.name) or real(p, *a, **k))
    write_worklist(ctx, Counts(PAYER), as_of=SAMPLE_ANCHOR)  # the same day, nothing new
    assert calls == []
    wb, ws = _sheet(path)  # a person saves the coding worklist
    ws.cell(2, _header(ws)["Status"], "In progress")
    wb.save(path)
    write_worklist(ctx, Counts(PAYER), as_of=SAMPLE_ANCHOR)
    assert calls == ["coding-worklist.xlsx"]
    key = ws.cell(2, _header(ws)["Key"]).value
    assert {m.key: m.status for m in ctx.ledger.marks()}[key] == "In progress"
    write_worklist(ctx, Counts(PAYER), as_of=NEXT_DAY)  # a new day: every workbook is read
    assert len(calls) == 1 + len(list(path.parent.glob("*-worklist.xlsx")))
