"""Supporting documents: the folder source (kinds, dates of service, practice-wide kinds, unsafe
names, links, unreadable files) and the synthetic documents the fixtures write."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import stat

import pypdfium2 as pdfium
import pytest
from reportlab.pdfgen import canvas

from claimwright.documents import (
    DOCUMENT_KINDS,
    PRACTICE_KINDS,
    ClaimRef,
    DocumentsError,
    DocumentsSource,
    FolderSource,
    documents_source,
    folder_name,
)
from claimwright.models import Remittance
from claimwright.settings import Settings
from fixtures.documents import MISSING_SHARE, write_documents
from fixtures.remittances import plan_dataset

ANCHOR = dt.date(2026, 11, 20)
DOS = dt.date(2026, 11, 3)
CLAIM = ClaimRef("CR1000001", "NWHP1", "2026110300001", (DOS,))


def pdf(pages: int = 1, text: str = "synthetic") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    for n in range(pages):
        c.drawString(72, 720, f"{text} page {n + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def put(path, data: bytes | None = None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pdf() if data is None else data)
    return path


def no_phi(problems, *values):
    for problem in problems:
        for value in values:
            assert value not in problem, problem


def test_the_kinds_are_the_enclosure_keys():
    assert DOCUMENT_KINDS == ("medical_records", "medical_necessity_letter", "authorization",
                              "timely_filing", "primary_remittance", "eligibility", "enrollment",
                              "fee_schedule")
    assert isinstance(FolderSource("/nowhere"), DocumentsSource)


def test_finds_documents_by_kind_and_date_of_service(tmp_path):
    folder = tmp_path / "CR1000001"
    note = put(folder / "medical_records-2026-11-03.pdf", pdf(2))
    put(folder / "medical_records-2026-10-01.pdf")  # another visit
    undated = put(folder / "Medical_Records.PDF")  # no date: counts; case does not matter
    auth = put(folder / "authorization-2026-10-01.pdf")
    put(folder / "notes.pdf")  # no kind: not looked at
    put(folder / ".medical_records-2026-11-03.pdf.part")  # a half-written file
    put(tmp_path / "CR1000002" / "timely_filing-2026-11-05.pdf")  # another patient's
    found = FolderSource(tmp_path).find(
        CLAIM, ["medical_records", "authorization", "timely_filing", "medical_records"])
    assert list(found.documents) == ["medical_records", "authorization", "timely_filing"]
    notes = found.documents["medical_records"]
    assert [d.path for d in notes] == [note.resolve(), undated.resolve()]  # dated first
    assert [(d.date, d.pages, d.title) for d in notes] == [
        (DOS, 2, "Progress note 2026-11-03"), (None, 1, "Progress note")]
    assert notes[0].sha256 == hashlib.sha256(note.read_bytes()).hexdigest()
    (letter,) = found.documents["authorization"]
    assert (letter.kind, letter.date, letter.title, letter.path) == (
        "authorization", dt.date(2026, 10, 1), "Authorization approval 2026-10-01",
        auth.resolve())
    assert found.documents["timely_filing"] == [] and found.missing == ("timely_filing",)
    assert found.problems == []
    two_visits = ClaimRef(CLAIM.patient_account, "NWHP1", "x", (dt.date(2026, 10, 1), DOS))
    assert [d.date for d in FolderSource(tmp_path).find(two_visits, ["medical_records"])
            .documents["medical_records"]] == [dt.date(2026, 10, 1), DOS, None]


def test_a_claim_without_dates_of_service_gets_undated_notes_only(tmp_path):
    put(tmp_path / "CR1000001" / "medical_records-2026-11-03.pdf")
    undated = put(tmp_path / "CR1000001" / "medical_records-intake.pdf")
    found = FolderSource(tmp_path).find(ClaimRef("CR1000001", "NWHP1", "1"), ["medical_records"])
    assert [d.path for d in found.documents["medical_records"]] == [undated.resolve()]
    assert found.problems == ["the claim has no date of service: dated progress notes were not "
                              "matched to it"]


def test_practice_wide_kinds_come_from_the_practice_folder(tmp_path):
    practice = tmp_path / "_practice"
    everyone = put(practice / "enrollment-2025-01-01.pdf")
    northwind = put(practice / "fee_schedule-for-NWHP1-2026-01-01.pdf")
    keystone = put(practice / "fee_schedule-for-12502.pdf")
    put(tmp_path / "CR1000001" / "enrollment.pdf")  # not the patient's to give
    source = FolderSource(tmp_path)
    found = source.find(CLAIM, PRACTICE_KINDS)
    assert [d.path for d in found.documents["enrollment"]] == [everyone.resolve()]
    (fees,) = found.documents["fee_schedule"]
    assert (fees.path, fees.date) == (northwind.resolve(), dt.date(2026, 1, 1))
    other = source.find(ClaimRef("CR1000001", "12502", "9", (DOS,)), ["fee_schedule"])
    assert [d.path for d in other.documents["fee_schedule"]] == [keystone.resolve()]
    nobody = source.find(ClaimRef("CR1000001", "", "9", (DOS,)), ["fee_schedule"])
    assert nobody.documents["fee_schedule"] == []


@pytest.mark.parametrize("account, folder", [
    ("CR1000001", "CR1000001"),
    ("  CR1000001 ", "CR1000001"),
    ("CR 12/7", "CR%2012%2F7"),
    ("..", "%2E."),
    ("../../etc", "%2E.%2F..%2Fetc"),
    ("_practice", "%5Fpractice"),
    (".hidden", "%2Ehidden"),
    ("a\\b", "a%5Cb"),
    ("nul\x00", "nul%00"),
    ("Müller-7", "M%C3%BCller-7"),
])
def test_account_folder_names_are_percent_encoded(account, folder):
    assert folder_name(account) == folder
    assert "/" not in folder and folder not in (".", "..")


def test_unsafe_account_names_never_reach_outside_the_root(tmp_path):
    root = tmp_path / "documents"
    put(tmp_path / "outside" / "medical_records.pdf")  # ../outside from the root
    put(root / "_practice" / "enrollment.pdf")
    source = FolderSource(root)
    for account in ("../outside", "..", "_practice", "/etc", "."):
        found = source.find(ClaimRef(account, "NWHP1", "1", (DOS,)),
                            ["medical_records", "authorization"])
        assert found.all() == [] and found.problems == [], account
    for account in ("", "   ", "9" * 300):
        found = source.find(ClaimRef(account, "NWHP1", "1", (DOS,)), ["medical_records"])
        assert found.documents == {"medical_records": []}
        assert len(found.problems) == 1
        assert found.problems[0].startswith("the claim's patient account cannot name a "
                                            "documents folder: it is")
    with pytest.raises(DocumentsError, match="unknown document kind 'x_ray'"):
        source.find(CLAIM, ["medical_records", "x_ray"])


def test_links_that_leave_the_root_are_refused(tmp_path):
    root = tmp_path / "documents"
    outside = put(tmp_path / "elsewhere" / "medical_records-2026-11-03.pdf")
    folder = root / "CR1000001"
    folder.mkdir(parents=True)
    (folder / "medical_records-2026-11-03.pdf").symlink_to(outside)
    (folder / "authorization.pdf").symlink_to(tmp_path / "missing.pdf")
    inside = put(root / "shared" / "eligibility-2026-11-01.pdf")
    (folder / "eligibility.pdf").symlink_to(inside)
    (root / "CR1000002").symlink_to(tmp_path / "elsewhere")  # a folder leading out
    source = FolderSource(root)
    found = source.find(CLAIM, ["medical_records", "authorization", "eligibility"])
    assert found.documents["medical_records"] == [] and found.documents["authorization"] == []
    assert [d.path for d in found.documents["eligibility"]] == [inside.resolve()]
    assert sorted(found.problems) == [
        "authorization.pdf is a link to nothing: not used",
        "medical_records-2026-11-03.pdf is a link that leads outside the documents folder: "
        "not used"]
    other = source.find(ClaimRef("CR1000002", "NWHP1", "2", (DOS,)), ["medical_records"])
    assert other.documents == {"medical_records": []}
    assert other.problems == ["the patient's documents folder is a link that leads outside the "
                              "documents folder: not used"]
    no_phi(found.problems + other.problems, "CR1000001", "CR1000002")


def test_unreadable_files_become_problems_not_crashes(tmp_path):
    folder = tmp_path / "CR1000001"
    put(folder / "authorization-2026-10-01.pdf", b"%PDF-1.4\nthis is not really a PDF\n")
    put(folder / "medical_records-2026-11-03.pdf", b"")
    put(folder / "timely_filing.pdf", pdf()[:300])  # cut short
    put(folder / "medical_records-2026-13-01.pdf")  # no such date
    big = put(folder / "eligibility.pdf", pdf(3))
    (folder / "primary_remittance.pdf").mkdir()  # a folder named like a document
    good = put(folder / "medical_records-scan.pdf")
    source = FolderSource(tmp_path, max_bytes=len(big.read_bytes()) - 1)
    found = source.find(CLAIM, ["medical_records", "authorization", "timely_filing",
                                "eligibility", "primary_remittance"])
    assert [d.path for d in found.documents["medical_records"]] == [good.resolve()]
    assert found.missing == ("authorization", "timely_filing", "eligibility",
                             "primary_remittance")
    problems = sorted(found.problems)
    assert problems[0].startswith("authorization-2026-10-01.pdf is not a readable PDF: ")
    assert problems[1].startswith("eligibility.pdf is larger than the ")
    assert problems[2:] == [
        "medical_records-2026-11-03.pdf is not a readable PDF: the file is empty",
        "medical_records-2026-13-01.pdf: 2026-13-01 in the name is not a date: not used",
        "primary_remittance.pdf is not a file: not used"] + problems[5:]
    assert problems[5].startswith("timely_filing.pdf is not a readable PDF: ")
    assert len(problems) == 6
    no_phi(problems, "CR1000001")


def test_a_missing_root_is_a_problem(tmp_path):
    found = FolderSource(tmp_path / "none").find(CLAIM, ["medical_records"])
    assert found.documents == {"medical_records": []}
    assert found.problems == [f"the documents folder {tmp_path / 'none'} does not exist"]


def test_the_source_comes_from_the_setting(tmp_path):
    source = documents_source(Settings.from_env({"CLAIMWRIGHT_DOCUMENTS": str(tmp_path)}))
    assert isinstance(source, FolderSource) and source.root == tmp_path
    assert source.name == "folder"
    home = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path / "state")})
    assert documents_source(home).root == tmp_path / "state" / "documents"


# ---------------------------------------------------------------------------------------------
# The synthetic documents of the fixtures


@pytest.fixture(scope="module")
def plans():
    return plan_dataset("northwind", seed=7, count=8, anchor=ANCHOR, anomalies=False)


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_the_fixture_writer_is_deterministic_and_private(tmp_path, plans):
    first = write_documents(tmp_path / "a", plans)
    second = write_documents(tmp_path / "b", plans)
    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert first.files == second.files and first.claims == second.claims
    again = write_documents(tmp_path / "a", plans)  # once more over the same folder
    assert again.files == first.files and tree(tmp_path / "a") == tree(tmp_path / "b")
    names = {p.name.split("-")[0] for p in first.files}
    assert {"medical_records", "enrollment", "fee_schedule"} <= names
    assert len(names) >= 5
    for path in (tmp_path / "a").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert sorted(p.name for p in (tmp_path / "a" / "_practice").iterdir()) == [
        "enrollment-for-NWHP1-2024-01-01.pdf", "fee_schedule-for-NWHP1-2025-01-01.pdf"]
    for rel in first.files:
        doc = pdfium.PdfDocument(str(tmp_path / "a" / rel))
        try:
            assert 1 <= len(doc) <= 2, rel
            for page in doc:
                assert "SYNTHETIC TEST DOCUMENT" in page.get_textpage().get_text_range(), rel
        finally:
            doc.close()


def test_the_fixture_leaves_the_documented_share_missing(tmp_path, plans):
    written = write_documents(tmp_path, plans)
    accounts = written.accounts
    assert len(accounts) >= 10
    assert len(written.missing) == max(1, round(MISSING_SHARE * len(accounts)))
    assert all(len(c.missing) == 1 for c in written.missing)
    assert len({c.claim.patient_account for c in written.missing}) == len(written.missing)
    source = FolderSource(tmp_path)
    for entry in written.claims:
        found = source.find(entry.claim, entry.kinds)
        assert found.problems == []
        assert found.missing == entry.missing, entry
    complete = write_documents(tmp_path / "all", plans, missing_share=0)
    assert complete.missing == () and len(complete.files) == len(written.files) + len(
        written.missing)
    with pytest.raises(ValueError, match="missing_share"):
        write_documents(tmp_path / "x", plans, missing_share=1.5)


def test_the_fixture_reads_a_built_dataset(tmp_path, remittance_dataset):
    data_dir, manifest = remittance_dataset("northwind", ANCHOR, count=3, anomalies=False)
    written = write_documents(tmp_path / "docs", data_dir)
    assert written.claims and {c.claim.payer_id for c in written.claims} == {"NWHP1"}
    claims = {c.payer_claim_id: c for e in manifest["remittances"]
              for c in Remittance.from_json(json.loads((data_dir / e["truth"]).read_text()))
              .claims}
    entry = next(c for c in written.claims if "medical_records" in c.kinds and not c.missing)
    claim = claims[entry.claim.payer_claim_id]
    (note,) = FolderSource(tmp_path / "docs").find(entry.claim, ["medical_records"]) \
        .documents["medical_records"]
    doc = pdfium.PdfDocument(str(note.path))
    try:
        text = doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    assert "Progress note" in text and note.date.isoformat() in text
    assert claim.patient_account in text and all(ln.procedure in text for ln in claim.lines)
