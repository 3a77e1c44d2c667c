"""Hostile downloads and worklists: 835s written with other delimiters or padding are accepted
exactly when the parser reads them, a payer folder that is a link leading out of the download
root is refused (one review item), ids that clean to the same name never share a file, and a
workbook with damaged XML inside a valid zip gives the one typed worklist error, losing no row.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import openpyxl
import pytest

from bots.components.download import DocumentDownload
from bots.documents import document_path, payer_folder, safe_stem, x12_problem
from bots.models import ListedRemittance
from claimwright.errors import BusinessError
from claimwright.parsing.x12 import parse_835
from claimwright.parsing.x12_segments import read_separators, split_segments
from claimwright.types import FaultCode, ReviewKind, UnitKind, UnitState
from claimwright.worklists import WorklistError, WorklistRow, side_file, side_marks, upsert_worklist

SAMPLES = sorted((Path(__file__).parent / "data" / "x12-835").glob("*.835"))
LIMITS = {"min_bytes": 200, "max_bytes": 10**6}
START, END = dt.date(2024, 6, 1), dt.date(2024, 6, 30)


# 835 sniffing --------------------------------------------------------------------------------
def redelimit(data: bytes, element: str, component: str, terminator: str, *,
              repetition: str = "{", between: str = "") -> bytes:
    """The same interchange written with other delimiters (``between`` after each segment)."""
    text = data.decode("latin-1")
    seps = read_separators(text)
    out = []
    for seg in split_segments(text, seps):
        elements = [e.replace(seps.component, component) for e in seg.elements]
        if seg.tag == "ISA":
            elements[11], elements[16] = repetition, component
        out.append(element.join(elements) + terminator + between)
    return "".join(out).encode("latin-1")


def wrapped(data: bytes, width: int = 80) -> bytes:
    """One long line cut into fixed-width records (an old mainframe habit)."""
    flat = data.replace(b"\n", b"")
    return b"\r\n".join(flat[i:i + width] for i in range(0, len(flat), width))


VARIANTS = {
    "pipes, carets, tilde": lambda d: redelimit(d, "|", "^", "~"),
    "no tilde: newline-terminated": lambda d: redelimit(d, "*", ":", "\n"),
    "CRLF between segments": lambda d: redelimit(d, "*", ":", "~", between="\r\n"),
    "one long line": lambda d: redelimit(d, "*", ":", "~"),
    "caret elements, pipe components": lambda d: redelimit(d, "^", "|", "'"),
    "trailing spaces and newlines": lambda d: d + b" \r\n \n\n   ",
    "NUL padding to a 4 KB block": lambda d: d + b"\x00" * (4096 - len(d) % 4096),
    "NUL padding beyond 4 KB": lambda d: d + b"\x00" * 9000,
    "DOS end of file": lambda d: d + b"\x1a",
    "80-column records": wrapped,
    "byte order mark": lambda d: b"\xef\xbb\xbf" + d,
}


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_real_samples_are_accepted(sample):
    assert len(SAMPLES) == 6
    assert x12_problem(sample.read_bytes(), **LIMITS) is None


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("sample", SAMPLES[:3], ids=lambda p: p.stem)
def test_an_835_the_parser_reads_is_accepted_whatever_its_delimiters_and_padding(sample,
                                                                                 variant):
    data = VARIANTS[variant](sample.read_bytes())
    original = parse_835(sample.read_bytes())
    assert [r.to_json() for r in parse_835(data)] == [r.to_json() for r in original]
    assert x12_problem(data, **LIMITS) is None


def test_the_old_literal_checks_would_have_refused_these():
    data = VARIANTS["pipes, carets, tilde"](SAMPLES[0].read_bytes())
    assert b"ST*835" not in data
    padded = SAMPLES[0].read_bytes() + b"\x00" * 9000
    assert b"IEA" not in padded[-200:]


def _cut_before_iea(data: bytes) -> bytes:
    return data[:data.rindex(b"GE*")]


BAD = {
    # cut off: no IEA, though "IEA" occurs as text near the end
    "truncated with IEA in a name": (
        lambda d: _cut_before_iea(d).replace(b"SE*", b"NM1*QC*1*PIEARCE*KAI~SE*", 1),
        "truncated"),
    "truncated mid-segment": (lambda d: d[: len(d) - 40], "truncated"),
    "truncated, then padded": (lambda d: _cut_before_iea(d) + b"\x00" * 500 + b"\n", "truncated"),
    "junk after the IEA": (lambda d: d + b"GARBAGE*1~", "truncated"),
    "another transaction set": (lambda d: d.replace(b"ST*835*", b"ST*999*"), "no 835"),
    "a longer code starting 835": (lambda d: d.replace(b"ST*835*", b"ST*8351*"), "no 835"),
    "835 only inside a value": (
        lambda d: d.replace(b"ST*835*", b"ST*999*").replace(b"TRN*1*", b"TRN*ST*835*"),
        "no 835"),
    "the ISA cut short": (lambda d: d[:60] + b"x" * 400, "unreadable"),
    "letters as the element separator": (lambda d: b"ISAX" + d[4:], "unreadable"),
    "an HTML page": (lambda d: b"<!doctype html><html>" + b" " * 300, "HTML"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_damaged_835_is_refused_with_the_typed_error_and_never_saved(case, tmp_path):
    damage, why = BAD[case]
    data = damage(SAMPLES[0].read_bytes())
    assert why in (x12_problem(data, **LIMITS) or "")
    download = _download(tmp_path)
    with pytest.raises(BusinessError) as info:
        download.save(_item("RA 1"), data, "http://127.0.0.1:9/ra1", "x12-835")
    assert info.value.code == FaultCode.NOT_835 and why in info.value.message
    assert not any((tmp_path / "dl").rglob("*.835"))


def test_a_good_835_with_other_delimiters_is_saved_where_the_bot_names_it(tmp_path):
    data = VARIANTS["no tilde: newline-terminated"](SAMPLES[1].read_bytes())
    saved = _download(tmp_path).save(_item("RA 1"), data, "http://127.0.0.1:9/ra1", "x12-835")
    assert saved.path == document_path(tmp_path / "dl", "northwind", "RA 1", "x12-835")
    assert saved.path.read_bytes() == data


def _download(tmp_path: Path) -> DocumentDownload:
    config = SimpleNamespace(payer="northwind", documents=SimpleNamespace(**LIMITS))
    return DocumentDownload(SimpleNamespace(config=config), tmp_path / "dl")


def _item(rid: str) -> ListedRemittance:
    return ListedRemittance(rid, START, "T1", Decimal("1.00"), "http://127.0.0.1:9/" + rid, 1)


# download paths ------------------------------------------------------------------------------
def _linked_out(tmp_path: Path) -> tuple[Path, Path]:
    root, outside = tmp_path / "dl", tmp_path / "elsewhere"
    root.mkdir()
    outside.mkdir()
    (root / "northwind").symlink_to(outside, target_is_directory=True)
    return root, outside


def test_a_payer_folder_linking_out_of_the_root_is_refused(tmp_path):
    root, outside = _linked_out(tmp_path)
    for refuse in (lambda: payer_folder(root, "northwind"),
                   lambda: document_path(root, "northwind", "RA-1"),
                   lambda: _download(tmp_path).save(_item("RA-1"), SAMPLES[0].read_bytes(),
                                                    "http://127.0.0.1:9/ra1", "x12-835")):
        with pytest.raises(BusinessError) as info:
            refuse()
        assert info.value.code == FaultCode.DOWNLOAD_PATH_UNSAFE
        assert str(root.resolve()) in info.value.message
    assert list(outside.iterdir()) == []


def test_links_that_stay_inside_the_root_are_followed_and_planted_file_links_refused(tmp_path):
    root = tmp_path / "dl"
    (root / "archive" / "northwind").mkdir(parents=True)
    (root / "northwind").symlink_to(root / "archive" / "northwind")
    assert document_path(root, "northwind", "RA-1").parent == (root / "archive" / "northwind")
    (root / "archive" / "northwind" / "RA-2.pdf").symlink_to(tmp_path / "outside.pdf")
    with pytest.raises(BusinessError, match="outside the download root") as info:
        document_path(root, "northwind", "RA-2")
    assert info.value.code == FaultCode.DOWNLOAD_PATH_UNSAFE
    (root / "keystone").symlink_to(root)  # the root itself
    with pytest.raises(BusinessError):
        payer_folder(root, "keystone")


def test_the_bot_refuses_before_it_opens_a_browser(tmp_path, monkeypatch):
    import bots.pull
    from bots import load_payer_config, pull_remittances

    root, _ = _linked_out(tmp_path)
    monkeypatch.setattr(bots.pull, "open_session", lambda *a, **k: pytest.fail("signed in"))
    with pytest.raises(BusinessError) as info:
        pull_remittances(load_payer_config("northwind"), START, END, root,
                         base_url="http://127.0.0.1:9")
    assert info.value.code == FaultCode.DOWNLOAD_PATH_UNSAFE


def test_the_pipeline_files_one_review_item_and_pulls_nothing(tmp_path, monkeypatch, workspace):
    import bots
    from claimwright.pipeline import Context, pull_payer

    monkeypatch.setattr(bots, "pull_remittances", lambda *a, **k: pytest.fail("pulled"))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    stale = outside / ".RA-1.pdf.999999999.x.part"  # a dead pid's temp file, not ours to delete
    stale.write_bytes(b"x")
    workspace.downloads.mkdir(parents=True, exist_ok=True)
    (workspace.downloads / "northwind").symlink_to(outside)
    ctx = Context.from_settings()
    try:
        for _ in range(2):  # a rerun counts the same item again
            pull_payer(ctx, "northwind", START, END)
        [item] = ctx.queue.items()
        assert item.context["error"] == "download-path-unsafe" and item.occurrences == 2
        assert ctx.ledger.unit(UnitKind.PULL, "northwind").state == UnitState.FAILED_BUSINESS
        assert stale.exists()
    finally:
        ctx.ledger.close()


COLLIDING = ["NW 1", "NW_1", "NW/1", "NW:1", "NW 1 ", " NW 1", "NW..1", "../NW 1", "NW\u00a01",
             "nw 1", "NW%201"]


def test_ids_that_clean_to_the_same_name_get_distinct_deterministic_files(tmp_path):
    lookalike = safe_stem("NW 1")  # NW_1-<hash>: itself a valid id a portal could list
    ids = COLLIDING + [lookalike, lookalike + "-" + lookalike[-10:], "x" * 80, "x" * 81,
                       "remittance-" + safe_stem("")[-10:], ""]
    stems = [safe_stem(rid) for rid in ids]
    assert len(set(stems)) == len(ids)
    assert stems == [safe_stem(rid) for rid in ids]  # the same on every run
    paths = {document_path(tmp_path, "northwind", rid) for rid in ids}
    assert len(paths) == len(ids) and all(p.parent == tmp_path / "northwind" for p in paths)
    assert safe_stem("NW-RA-0001") == "NW-RA-0001" and safe_stem("NW_1") == "NW_1"


def test_a_rerun_finds_what_the_ledger_holds_and_downloads_nothing_again(
        tmp_path, monkeypatch, workspace):
    """The ledger knows documents by (payer, remittance id) and keeps the path they were saved
    under: an id whose file name the stricter naming changes is still found, not fetched."""
    import bots
    from claimwright.pipeline import Context, pull_payer

    rid = safe_stem("NW 1")  # named NW_1-<hash>.pdf before, <that>-<hash>.pdf now
    old = workspace.downloads / "northwind" / f"{rid}.pdf"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"%PDF-1.4 old\n%%EOF")
    told = []

    def pull(payer, start, end, dest_dir, *, is_known, **kwargs):
        told.append(is_known(rid))
        return bots.PullResult(payer, start, end, listed=1, skipped_known=[rid])

    monkeypatch.setattr(bots, "pull_remittances", pull)
    ctx = Context.from_settings()
    try:
        ctx.ledger.add_document(payer="northwind", remittance_id=rid, sha256="1" * 64,
                                path=str(old), size=old.stat().st_size)
        assert document_path(workspace.downloads, "northwind", rid) != old
        counts = pull_payer(ctx, "northwind", START, END)
        assert told == [True] and counts.downloaded == 0
        [doc] = ctx.ledger.documents("northwind")
        assert Path(doc.path) == old and old.exists()
    finally:
        ctx.ledger.close()


# damaged worklists ---------------------------------------------------------------------------
def _row(n: int) -> WorklistRow:
    return WorklistRow(
        key=f"99001:ICN-{n}:1:CO-97", payer="Acme Health", payer_claim_id=f"ICN-{n}",
        patient_account=f"ACCT-{n}", date_of_service=dt.date(2024, 3, 4), procedure="99214",
        modifiers=("25",), adjustment="CO-97", rarcs=("N20",), reason="Bundled",
        category="coding/bundling", owner="coding", action="corrected claim",
        amount=Decimal("100.00"), appeal_due=dt.date(2024, 7, 18), priority=Decimal("50"),
        first_seen=dt.date(2024, 3, 21))


def _half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bomb(data: bytes) -> bytes:
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    head = f'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY e0 "aaaaaaaaaa">{entities}]>'
    body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
    return head.encode() + body.replace(b"<sheetData", b"<!-- &e9; --><sheetData", 1) \
        .replace(b"</sheetData>", b"<row r=\"99\"><c r=\"A99\" t=\"inlineStr\"><is><t>&e9;</t>"
                 b"</is></c></row></sheetData>", 1)


DAMAGE = {  # member -> how it is damaged (None: removed)
    "sheet XML cut off": ("xl/worksheets/sheet1.xml", _half),
    "workbook XML cut off": ("xl/workbook.xml", _half),
    "workbook XML empty": ("xl/workbook.xml", lambda d: b""),
    "styles not XML": ("xl/styles.xml", lambda d: b"\xff\xfe<styleSheet"),
    "relationships cut off": ("xl/_rels/workbook.xml.rels", lambda d: d[:40]),
    "content types cut off": ("[Content_Types].xml", _half),
    "content types missing": ("[Content_Types].xml", None),
    "properties cut off": ("docProps/core.xml", lambda d: d[:30]),
    "control character in the sheet": ("xl/worksheets/sheet1.xml",
                                       lambda d: d.replace(b"<sheetData>", b"<sheetData>\x01")),
    "unknown attribute openpyxl cannot map": (
        "[Content_Types].xml", lambda d: d.replace(b"PartName=", b"PartNam=", 1)),
    "entity expansion bomb": ("xl/worksheets/sheet1.xml", _bomb),
    "bad deflate data": ("xl/worksheets/sheet1.xml", "flip"),
}


def damaged_copy(good: Path, target: Path, case: str) -> None:
    """``good`` rewritten with one member damaged (a valid zip unless the case says so)."""
    member, damage = DAMAGE[case]
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == member and callable(damage):
                data = damage(data)
            if not (name == member and damage is None):
                zout.writestr(name, data)
    if damage == "flip":  # corrupt the compressed bytes of the member (not the zip directory)
        raw = bytearray(target.read_bytes())
        with zipfile.ZipFile(target) as zf:
            info = zf.getinfo(member)
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        raw[start + 2: start + 12] = bytes(b ^ 0xFF for b in raw[start + 2: start + 12])
        target.write_bytes(bytes(raw))


def _good_workbook(path: Path, rows: list[WorklistRow], title: str = "Coding worklist") -> bytes:
    upsert_worklist(path, rows, title=title, as_of=dt.date(2024, 6, 1))
    return path.read_bytes()


@pytest.mark.parametrize("case", DAMAGE)
def test_a_workbook_with_damaged_xml_gives_the_typed_error_and_is_left_untouched(case, tmp_path):
    good = tmp_path / "good.xlsx"
    _good_workbook(good, [_row(1)])
    path = tmp_path / "coding-worklist.xlsx"
    damaged_copy(good, path, case)
    before = path.read_bytes()
    with pytest.raises(WorklistError) as info:
        upsert_worklist(path, [_row(2)], title="Coding worklist")
    assert info.value.__class__ is WorklistError
    assert info.value.args[0].startswith("coding-worklist.xlsx is damaged or not an xlsx workbook (")
    assert path.read_bytes() == before
    # as a side file it is read as holding no marks (its rows wait in the ledger), not a crash
    side = side_file(tmp_path / "coding.xlsx")
    side.write_bytes(before)
    assert side_marks(tmp_path / "coding.xlsx") == {}


@pytest.mark.parametrize("case", ["sheet XML cut off", "workbook XML cut off",
                                  "unknown attribute openpyxl cannot map", "bad deflate data"])
def test_the_nightly_write_loses_no_row_of_a_damaged_workbook(case, workspace):
    from claimwright.pipeline import Context
    from claimwright.pipeline.context import Counts
    from claimwright.pipeline.outputs import WORKLIST_ROW, write_worklist

    ctx = Context.from_settings()
    try:
        path = ctx.settings.worklist_for("coding")
        rows = [_row(n) for n in range(1, 6)]
        ctx.ledger.queue_outputs(WORKLIST_ROW, str(path), {r.key: r.to_json() for r in rows[:2]},
                                 source="remittance:1")
        write_worklist(ctx, Counts("northwind"), as_of=START)
        good = path.read_bytes()
        damaged_copy(path, path.with_name("damaged.xlsx"), case)
        path.with_name("damaged.xlsx").replace(path)
        damaged = path.read_bytes()
        ctx.ledger.queue_outputs(WORKLIST_ROW, str(path), {r.key: r.to_json() for r in rows[2:]},
                                 source="remittance:2")

        counts = Counts("northwind")
        write_worklist(ctx, counts, as_of=START)
        assert path.read_bytes() == damaged
        [item] = [i for i in ctx.queue.items() if i.key.startswith("worklist:")]
        assert item.kind == ReviewKind.OUTPUT_FAILED and item.context["error"] == \
            FaultCode.WORKLIST_UNREADABLE and "damaged or not an xlsx" in item.reason
        assert {r.key for r in ctx.ledger.pending_outputs(WORKLIST_ROW, str(path))} == \
            {r.key for r in rows[2:]}
        assert set(_keys(side_file(path))) == {r.key for r in rows[2:]}

        path.write_bytes(good)  # restored from a copy: the next run adds the waiting rows
        write_worklist(ctx, Counts("northwind"), as_of=START)
        assert sorted(_keys(path)) == sorted(r.key for r in rows)
        assert not side_file(path).exists()
    finally:
        ctx.ledger.close()


def test_a_damaged_side_file_does_not_stop_the_workbook_and_is_kept(workspace):
    from claimwright.pipeline import Context
    from claimwright.pipeline.context import Counts
    from claimwright.pipeline.outputs import WORKLIST_ROW, write_worklist

    ctx = Context.from_settings()
    try:
        path = ctx.settings.worklist_for("coding")
        side = side_file(path)
        side.parent.mkdir(parents=True, exist_ok=True)
        good_side = side.with_name("good-side.xlsx")
        _good_workbook(good_side, [_row(1)])
        damaged_copy(good_side, side, "sheet XML cut off")
        ctx.ledger.queue_outputs(WORKLIST_ROW, str(path), {_row(1).key: _row(1).to_json()},
                                 source="remittance:1")
        write_worklist(ctx, Counts("northwind"), as_of=START)
        assert _keys(path) == [_row(1).key]
        assert not side.exists()
        assert list((path.parent / ".versions").glob("coding-worklist.waiting.merged-*.xlsx"))
        assert ctx.ledger.pending_outputs(WORKLIST_ROW, str(path)) == []
    finally:
        ctx.ledger.close()


def _keys(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = wb.worksheets[0].iter_rows(values_only=True)
        at = [str(h) for h in next(rows)].index("Key")
        return [str(r[at]) for r in rows if r[at]]
    finally:
        wb.close()
