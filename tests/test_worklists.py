"""The coders' worklist: first write, idempotent rerun, coder edits kept, safety checks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import shutil
import zipfile
from decimal import Decimal as D
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import PatternFill

from claimwright.rules.findings import Decision, Finding
from claimwright.models import Adjustment, Claim, ServiceLine
from claimwright.worklists import (
    STATUSES,
    WorklistError,
    WorklistRow,
    unsupported_features,
    upsert_worklist,
    worklist_row_from_finding,
)

SEEN = dt.date(2024, 3, 21)


def row(n: int, *, amount: str = "100.00", priority: str = "50", **changes) -> WorklistRow:
    base = WorklistRow(
        key=f"99001:ICN-{n}:1:CO-97", payer="Acme Health", payer_claim_id=f"ICN-{n}",
        patient_account=f"ACCT-{n}", date_of_service=dt.date(2024, 3, 4), procedure="99214",
        modifiers=("25",), adjustment="CO-97", rarcs=("N20",),
        reason="Bundled; N20: Service not payable with other service rendered on the same date.",
        category="coding/bundling", owner="coding", action="corrected claim",
        amount=D(amount), appeal_due=dt.date(2024, 7, 18), priority=D(priority), first_seen=SEEN)
    return dataclasses.replace(base, **changes)


def headers(ws) -> dict[str, int]:
    return {c.value: c.column for c in ws[1] if c.value}


def rows_by_key(ws) -> dict[str, int]:
    col = headers(ws)["Key"]
    return {ws.cell(r, col).value: r for r in range(2, ws.max_row + 1) if ws.cell(r, col).value}


def sheet_xml(path) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read("xl/worksheets/sheet1.xml").decode()


def test_first_write_creates_a_sorted_formatted_sheet(tmp_path):
    path = tmp_path / "worklists" / "coding-worklist.xlsx"
    rows = [row(1, priority="10"), row(2, priority="90", amount="0.07"),
            row(3, priority="50", appeal_due=None)]
    result = upsert_worklist(path, rows)
    assert (result.added, result.updated, result.unchanged, result.warnings) == (3, 0, 0, [])
    assert result.written

    wb = openpyxl.load_workbook(path)
    ws = wb["Coding worklist"]
    h = headers(ws)
    assert list(h)[:3] == ["Key", "Payer", "Payer claim #"]
    assert list(h)[-5:] == ["Status", "Assigned to", "Notes", "Corrected code", "Date worked"]
    assert all(c.font.bold for c in ws[1] if c.value)
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(h))}4"
    assert ws.column_dimensions["J"].width > ws.column_dimensions["F"].width  # Reason wide
    # sorted by priority, highest first, on creation
    assert [ws.cell(r, h["Key"]).value for r in (2, 3, 4)] == [
        "99001:ICN-2:1:CO-97", "99001:ICN-3:1:CO-97", "99001:ICN-1:1:CO-97"]
    amount = ws.cell(2, h["Amount at stake"])
    assert amount.data_type == "n" and "$" in amount.number_format
    assert amount.value == pytest.approx(0.07)
    # the stored text is the exact decimal, not openpyxl's "%.16g" of a float
    assert re.search(r"<v>0\.07</v>", sheet_xml(path))
    assert "0.07000000000000001" not in sheet_xml(path)
    due = ws.cell(2, h["Appeal due"])
    assert due.is_date and due.value.date() == dt.date(2024, 7, 18)
    assert ws.cell(3, h["Appeal due"]).value is None
    assert ws.cell(2, h["Modifiers"]).value == "25"
    assert ws.cell(2, h["Status"]).value == "New"
    dv = [d for d in ws.data_validations.dataValidation if d.type == "list"]
    assert len(dv) == 1 and f"{openpyxl.utils.get_column_letter(h['Status'])}500" in dv[0]
    assert dv[0].formula1 == '"' + ",".join(STATUSES) + '"'


def test_rerun_with_the_same_rows_changes_nothing(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    rows = [row(1), row(2, amount="0.07")]
    upsert_worklist(path, rows)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    result = upsert_worklist(path, rows)
    assert (result.added, result.updated, result.unchanged) == (0, 0, 2)
    assert not result.written and result.warnings == []
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    # first_seen of a later run does not count as a change
    again = upsert_worklist(path, [dataclasses.replace(r, first_seen=dt.date(2024, 4, 1))
                                          for r in rows])
    assert (again.unchanged, again.written) == (2, False)


def test_coder_edits_survive_an_update_and_new_rows_go_at_the_end(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1, priority="10"), row(2, priority="90"),
                                  row(3, priority="50")])

    # a coder works the sheet: status, owner, a note, an extra column, sorts by nothing
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    h, keys = headers(ws), rows_by_key(ws)
    r1 = keys["99001:ICN-1:1:CO-97"]
    ws.cell(r1, h["Status"], "In progress")
    ws.cell(r1, h["Assigned to"], "Pat K.")
    ws.cell(r1, h["Notes"], "called payer 3/22; ref #55")
    extra = ws.max_column + 1
    ws.cell(1, extra, "Coder flag")
    ws.cell(r1, extra, "urgent")
    wb.save(path)

    result = upsert_worklist(path, [
        row(1, priority="10", amount="125.40", first_seen=dt.date(2024, 4, 2)),  # changed
        row(2, priority="90"), row(3, priority="50"),  # unchanged
        row(4, priority="99", first_seen=dt.date(2024, 4, 2)),  # new, highest priority
    ])
    assert (result.added, result.updated, result.unchanged) == (1, 1, 2)
    assert result.written and result.backup is None

    ws = openpyxl.load_workbook(path).active
    h, keys = headers(ws), rows_by_key(ws)
    r1 = keys["99001:ICN-1:1:CO-97"]
    assert ws.cell(r1, h["Status"]).value == "In progress"
    assert ws.cell(r1, h["Assigned to"]).value == "Pat K."
    assert ws.cell(r1, h["Notes"]).value == "called payer 3/22; ref #55"
    assert ws.cell(1, extra).value == "Coder flag" and ws.cell(r1, extra).value == "urgent"
    assert str(ws.cell(r1, h["Amount at stake"]).value) == "125.4"
    assert ws.cell(r1, h["First seen"]).value.date() == SEEN  # kept from the first run
    # existing order untouched; the new row appended even though it has the top priority
    assert [k for k, _ in sorted(keys.items(), key=lambda kv: kv[1])] == [
        "99001:ICN-2:1:CO-97", "99001:ICN-3:1:CO-97", "99001:ICN-1:1:CO-97",
        "99001:ICN-4:1:CO-97"]
    r4 = keys["99001:ICN-4:1:CO-97"]
    assert r4 == 5 and ws.cell(r4, h["Status"]).value == "New"
    assert ws.cell(r4, h["First seen"]).value.date() == dt.date(2024, 4, 2)
    assert ws.auto_filter.ref.endswith("5")
    assert len([d for d in ws.data_validations.dataValidation if d.type == "list"]) == 1


def test_text_that_looks_like_a_formula_stays_text(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    nasty = row(1, reason='=HYPERLINK("http://evil.example","click")', payer="@SUM(A1:A9)",
                patient_account="+1-555-0100", procedure="-2+3", rarcs=("=1+1",))
    upsert_worklist(path, [nasty])
    xml = sheet_xml(path)
    assert "<f>" not in xml and "<f " not in xml
    ws = openpyxl.load_workbook(path).active
    h = headers(ws)
    for header, expected in [("Reason", nasty.reason), ("Payer", "@SUM(A1:A9)"),
                             ("Patient account", "+1-555-0100"), ("Procedure", "-2+3"),
                             ("RARCs", "=1+1")]:
        cell = ws.cell(2, h[header])
        assert cell.value == expected and cell.data_type == "s", header
        assert cell.quotePrefix, header
    # and a rerun compares it as text: nothing changes
    assert upsert_worklist(path, [nasty]).unchanged == 1


def test_features_openpyxl_would_drop_are_warned_about_and_backed_up(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1), row(2)])
    assert unsupported_features(path) == []

    # a coder adds a chart
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    chart = BarChart()
    col = headers(ws)["Amount at stake"]
    chart.add_data(Reference(ws, min_col=col, min_row=1, max_row=3), titles_from_data=True)
    ws.add_chart(chart, "W2")
    wb.save(path)
    original = path.read_bytes()
    assert "charts" in unsupported_features(path)

    # nothing changed: warned, file untouched, no backup needed
    quiet = upsert_worklist(path, [row(1), row(2)])
    assert not quiet.written and quiet.backup is None
    assert any("charts" in w and "untouched" in w for w in quiet.warnings)
    assert path.read_bytes() == original

    # a real change: warned, original kept as a timestamped backup, update applied
    result = upsert_worklist(path, [row(1, amount="150.00"), row(2)])
    assert result.written and result.updated == 1
    assert result.backup is not None and result.backup.read_bytes() == original
    assert re.fullmatch(r"coding-worklist\.backup-\d{8}T\d{6}(-\d+)?\.xlsx", result.backup.name)
    assert any("charts" in w and result.backup.name in w for w in result.warnings)
    ws = openpyxl.load_workbook(path).active
    h = headers(ws)
    assert str(ws.cell(rows_by_key(ws)["99001:ICN-1:1:CO-97"], h["Amount at stake"]).value) \
        == "150.0"


def test_x14_extensions_in_sheet_xml_are_detected(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1)])
    ext = ('<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
           'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
           '<x14:conditionalFormattings><x14:conditionalFormatting/>'
           '</x14:conditionalFormattings></ext>'
           '<ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}"><x14:sparklineGroups>'
           '<x14:sparklineGroup/></x14:sparklineGroups></ext></extLst></worksheet>')
    patched = tmp_path / "patched.xlsx"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.decode().replace("</worksheet>", ext).encode()
            dst.writestr(item, data)
    found = unsupported_features(patched)
    assert any("conditional formatting" in f for f in found)
    assert "sparklines" in found


def test_a_crash_while_saving_leaves_the_old_workbook_intact(tmp_path, monkeypatch):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1)])
    before = path.read_bytes()

    def broken_save(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"PK\x03\x04 half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        upsert_worklist(path, [row(1, amount="1.00"), row(2)])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [".coding-worklist.xlsx.lock",
                                                          "coding-worklist.xlsx"]


def test_files_that_cannot_be_updated_safely_are_left_alone(tmp_path):
    corrupt = tmp_path / "coding-worklist.xlsx"
    corrupt.write_bytes(b"not a zip")
    with pytest.raises(WorklistError, match="not an xlsx"):
        upsert_worklist(corrupt, [row(1)])
    assert corrupt.read_bytes() == b"not a zip"

    other = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Budget"
    wb.active["A1"] = "Item"
    wb.save(other)
    before = other.read_bytes()
    with pytest.raises(WorklistError, match="no 'Coding worklist' sheet"):
        upsert_worklist(other, [row(1)])
    assert other.read_bytes() == before


def test_missing_coder_column_is_restored_and_duplicates_warned(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1)])
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    notes = headers(ws)["Notes"]
    ws.delete_cols(notes)
    wb.save(path)
    result = upsert_worklist(path, [row(1), row(1, amount="5.00")])
    assert any("'Notes' was missing" in w for w in result.warnings)
    assert any("more than once" in w for w in result.warnings)
    ws = openpyxl.load_workbook(path).active
    assert "Notes" in headers(ws) and str(ws.cell(2, headers(ws)["Amount at stake"]).value) == "5.0"


def test_row_from_finding():
    line = ServiceLine(dt.date(2024, 3, 4), "99214", D("180.00"), D("0.00"), ["25", "GT"],
                       adjustments=[Adjustment("CO", "4", D("180.00"))], remarks=["N519"])
    claim = Claim("ACCT-9", "ICN-9", "1", D("180.00"), D("0.00"), lines=[line],
                  adjustments=[Adjustment("CO", "16", D("0.00"))])
    f = Finding("99001", "Acme Health", claim, 1, line, line.adjustments[0], ["N519", "MA130"],
                Decision(True, "modifier", "coding", "corrected claim", "conditional",
                         condition="the modifier was wrong"),
                carc_meaning="The procedure code is inconsistent with the modifier used.",
                rarc_meanings={"N519": "Invalid combination of HCPCS modifiers."},
                appeal_due=dt.date(2024, 7, 18), priority=D("72.5"))
    r = worklist_row_from_finding(f, first_seen=SEEN)
    assert r.key == "99001:ICN-9:1:CO-4" == f.key
    assert (r.payer, r.payer_claim_id, r.patient_account) == ("Acme Health", "ICN-9", "ACCT-9")
    assert (r.date_of_service, r.procedure, r.modifiers) == (dt.date(2024, 3, 4), "99214",
                                                             ("25", "GT"))
    assert (r.adjustment, r.rarcs) == ("CO-4", ("N519", "MA130"))
    assert r.reason == ("The procedure code is inconsistent with the modifier used.; "
                        "N519: Invalid combination of HCPCS modifiers.")
    assert (r.category, r.owner) == ("modifier", "coding")
    assert r.action == "corrected claim (if the modifier was wrong)"
    assert (r.amount, r.appeal_due, r.priority, r.first_seen) == (
        D("180.00"), dt.date(2024, 7, 18), D("72.5"), SEEN)

    claim_level = Finding("99001", "", claim, None, None, claim.adjustments[0], [],
                          Decision(True, "documentation", "billing", "new claim", "no"))
    r2 = worklist_row_from_finding(claim_level, first_seen=SEEN)
    assert r2.key == "99001:ICN-9:0:CO-16" and r2.payer == "99001"
    assert r2.procedure == "" and r2.date_of_service == dt.date(2024, 3, 4)
    assert r2.reason == "CARC 16"


def test_text_starting_with_tab_or_carriage_return_is_kept_as_text(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    nasty = row(1, reason="\t=cmd|' /C calc'!A0", procedure="\r=1+2")
    upsert_worklist(path, [nasty])
    assert "<f>" not in sheet_xml(path)
    ws = openpyxl.load_workbook(path).active
    h = headers(ws)
    for header, expected in [("Reason", nasty.reason), ("Procedure", "\n=1+2")]:  # CR as LF
        cell = ws.cell(2, h[header])
        assert cell.value == expected and cell.data_type == "s" and cell.quotePrefix, header
    assert not upsert_worklist(path, [nasty]).written  # read back equal: nothing to rewrite


def summary_of(path) -> list[list]:
    ws = openpyxl.load_workbook(path)["Summary"]
    return [[c for c in r] for r in ws.iter_rows(values_only=True)]


def table(grid, heading) -> dict[str, tuple]:
    """The rows of one Summary table: name -> (rows, amount, open rows, open amount)."""
    start = next(i for i, r in enumerate(grid) if r[0] == heading)
    out = {}
    for r in grid[start + 1:]:
        if r[0] is None:
            break
        out[r[0]] = (r[1], D(repr(r[2])).quantize(D("0.01")), r[3],
                     D(repr(r[4])).quantize(D("0.01")))
    return out


def test_the_summary_sheet_counts_rows_and_dollars_by_category_payer_status_and_age(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    as_of = dt.date(2024, 6, 30)
    rows = [row(1, amount="100.00", denied_on=dt.date(2024, 6, 20)),            # 10 days
            row(2, amount="0.07", category="modifier", denied_on=dt.date(2024, 5, 1)),  # 60
            row(3, amount="250.50", payer="Beta Care", denied_on=dt.date(2024, 1, 2)),  # 180
            row(4, amount="49.43", payer="Beta Care", denied_on=None,
                first_seen=dt.date(2024, 4, 1))]                                # 90 (first seen)
    upsert_worklist(path, rows, as_of=as_of)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Coding worklist", "Summary"]
    # a coder finishes row 3
    ws = wb["Coding worklist"]
    h = headers(ws)
    ws.cell(rows_by_key(ws)["99001:ICN-3:1:CO-97"], h["Status"], "Done")
    wb.save(path)

    result = upsert_worklist(path, rows, as_of=as_of)
    assert result.written and (result.added, result.updated) == (0, 0)  # only the summary moved
    assert result.marks["99001:ICN-3:1:CO-97"].status == "Done"
    grid = summary_of(path)
    assert grid[0][0] == "Coding worklist: summary as of 2024-06-30"
    assert table(grid, "Category") == {
        "coding/bundling": (3, D("399.93"), 2, D("149.43")),
        "modifier": (1, D("0.07"), 1, D("0.07")),
        "Total": (4, D("400.00"), 3, D("149.50"))}
    assert table(grid, "Payer") == {
        "Beta Care": (2, D("299.93"), 1, D("49.43")),
        "Acme Health": (2, D("100.07"), 2, D("100.07")),
        "Total": (4, D("400.00"), 3, D("149.50"))}
    assert table(grid, "Status") == {
        "Done": (1, D("250.50"), 0, D("0.00")),
        "New": (3, D("149.50"), 3, D("149.50")),
        "Total": (4, D("400.00"), 3, D("149.50"))}
    assert table(grid, "Age (days since the denial)") == {
        "0-30 days": (1, D("100.00"), 1, D("100.00")),
        "31-60 days": (1, D("0.07"), 1, D("0.07")),
        "61-90 days": (1, D("49.43"), 1, D("49.43")),
        "over 120 days": (1, D("250.50"), 0, D("0.00")),
        "Total": (4, D("400.00"), 3, D("149.50"))}
    # nothing changed since: the file is left alone
    assert not upsert_worklist(path, rows, as_of=as_of).written


def test_overdue_and_due_soon_rows_are_highlighted_by_rules_the_spreadsheet_evaluates(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1), row(2)])
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    h = headers(ws)
    due, status = (openpyxl.utils.get_column_letter(h[n]) for n in ("Appeal due", "Status"))
    rules = [(str(cf.sqref), rule) for cf in ws.conditional_formatting for rule in cf.rules]
    formulas = sorted(rule.formula[0] for _, rule in rules)
    assert len(rules) == 2 and all(ref.startswith("A2:") for ref, _ in rules)
    assert formulas == sorted([
        f'AND(ISNUMBER(${due}2),${due}2<TODAY(),OR(${status}2="",${status}2="New",'
        f'${status}2="In progress"))',
        f'AND(ISNUMBER(${due}2),${due}2>=TODAY(),${due}2<=TODAY()+7,OR(${status}2="",'
        f'${status}2="New",${status}2="In progress"))'])
    # a person adds a rule of their own and moves a column: ours follow, theirs is kept
    from openpyxl.formatting.rule import CellIsRule
    ws.conditional_formatting.add("N2:N100", CellIsRule(operator="greaterThan", formula=["1000"],
                                                        fill=PatternFill("solid", "FF00FF00")))
    ws.insert_cols(1)
    ws.cell(1, 1, "My column")
    wb.save(path)
    upsert_worklist(path, [row(1, amount="7.00"), row(2)])
    ws = openpyxl.load_workbook(path).active
    h = headers(ws)
    due = openpyxl.utils.get_column_letter(h["Appeal due"])
    formulas = [rule.formula[0] for cf in ws.conditional_formatting for rule in cf.rules]
    assert len(formulas) == 3 and "1000" in formulas
    assert sum(f"ISNUMBER(${due}2)" in f for f in formulas) == 2


def test_previous_versions_are_kept_and_pruned(tmp_path):
    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1)], versions=2)
    assert not (tmp_path / ".versions").exists()  # nothing replaced yet
    seen = []
    merged = tmp_path / ".versions" / "coding-worklist.waiting.merged-20240101T000000.xlsx"
    for amount in ("2.00", "3.00", "4.00"):
        if amount == "3.00":  # a merged side file kept there is not one of the versions
            merged.write_bytes(b"people's side file")
        seen.append(path.read_bytes())
        result = upsert_worklist(path, [row(1, amount=amount)], versions=2)
        assert result.version is not None and result.version.read_bytes() == seen[-1]
    kept = sorted(p for p in (tmp_path / ".versions").iterdir() if p != merged)
    assert [p.read_bytes() for p in kept] == seen[-2:]
    assert merged.read_bytes() == b"people's side file"
    assert (tmp_path / ".versions").stat().st_mode & 0o077 == 0  # owner-only folder


def test_the_lock_keeps_two_writers_from_interleaving(tmp_path):
    """Two processes add different rows to one workbook at the same moment: none is lost."""
    import multiprocessing

    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(0)])
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    writers = [ctx.Process(target=_writer, args=(str(path), first, start))
               for first in (1000, 2000)]
    for w in writers:
        w.start()
    start.set()
    for w in writers:
        w.join(120)
        assert w.exitcode == 0
    keys = rows_by_key(openpyxl.load_workbook(path).active)
    assert len(keys) == 1 + 2 * 150


def _writer(path: str, first: int, start) -> None:
    from pathlib import Path

    start.wait(60)
    for chunk in range(3):
        upsert_worklist(Path(path), [row(first + chunk * 50 + n) for n in range(50)])


def test_a_run_that_cannot_get_the_lock_in_time_leaves_the_file_alone(tmp_path):
    from claimwright.worklists import WorkbookBusy
    from claimwright.worklists.files import locked

    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(1)])
    before = path.read_bytes()
    with locked(path):
        with pytest.raises(WorkbookBusy, match="being written by another run"):
            upsert_worklist(path, [row(2)], lock_wait=0)
    assert path.read_bytes() == before
    assert upsert_worklist(path, [row(2)], lock_wait=0).added == 1


def test_a_write_killed_mid_way_leaves_the_old_workbook_intact(tmp_path):
    """SIGKILL while the workbook is being saved (a temporary file is half written): the
    workbook is byte-for-byte the old one, and the next write clears the leftover."""
    import os
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "coding-worklist.xlsx"
    upsert_worklist(path, [row(n) for n in range(50)])
    before = path.read_bytes()
    script = ("import sys; sys.path.insert(0, 'tests'); from pathlib import Path;"
              "from test_worklists import row; from claimwright.worklists import upsert_worklist;"
              f"upsert_worklist(Path({str(path)!r}), [row(n, amount='9.99') for n in range(20000)])")
    child = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 120
    try:
        while not list(tmp_path.glob(".coding-worklist.xlsx.*.part")):
            assert child.poll() is None, "finished before it was killed"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert len(rows_by_key(openpyxl.load_workbook(path).active)) == 50
    from claimwright.fileio import remove_stale_parts

    remove_stale_parts(tmp_path)
    assert not list(tmp_path.glob("*.part"))


def test_the_workbook_as_a_spreadsheet_shows_it_highlight_and_summary(tmp_path):
    """Printed by LibreOffice (which evaluates TODAY() and the conditional formats as Excel
    would): overdue open rows are light red, rows due within 7 days amber, done rows plain,
    and the Summary sheet prints. The images are what docs/outputs.md shows."""
    from rendering import colour_share, pdf_to_pngs, xlsx_to_pdf

    today = dt.date.today()
    path = tmp_path / "coding-worklist.xlsx"
    rows = [row(1, appeal_due=today - dt.timedelta(days=3), amount="410.00"),   # overdue
            row(2, appeal_due=today + dt.timedelta(days=4), amount="95.20"),    # due soon
            row(3, appeal_due=today + dt.timedelta(days=60), amount="1200.00"),  # later
            row(4, appeal_due=today - dt.timedelta(days=9), amount="75.00")]    # overdue, done
    upsert_worklist(path, rows, as_of=today)
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws.cell(rows_by_key(ws)["99001:ICN-4:1:CO-97"], headers(ws)["Status"], "Done")
    wb.save(path)
    upsert_worklist(path, rows, as_of=today)

    pages = pdf_to_pngs(xlsx_to_pdf(path, tmp_path / "pdf"), tmp_path / "png")
    assert len(pages) == 2  # the worklist on one page wide, then the Summary
    overdue = colour_share(pages[0], (0xF4, 0xB6, 0xB6))
    soon = colour_share(pages[0], (0xFF, 0xE0, 0x8A))
    assert overdue > 0.01 and soon > 0.01, (overdue, soon)
    assert 0.5 < overdue / soon < 2  # one row each: the done overdue row is not highlighted
    summary = colour_share(pages[1], (0xD9, 0xD9, 0xD9))  # its table headings
    assert summary > 0.005
    if os.environ.get("CLAIMWRIGHT_DOC_IMAGES"):  # make doc-images: refresh docs/images
        for page, name in zip(pages, ("worklist-coding.png", "worklist-summary.png")):
            shutil.copy(page, Path(os.environ["CLAIMWRIGHT_DOC_IMAGES"]) / name)
