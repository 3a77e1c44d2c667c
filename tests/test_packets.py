"""Appeal packets: letter content, remittance pages, determinism, input checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

import pdfplumber
import pypdfium2 as pdfium
import pytest
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen import canvas

from claimwright.rules.findings import Decision, Finding
from claimwright.models import Adjustment, Claim, Party, Payment, Remittance, ServiceLine
from claimwright.packets import (
    PacketConfigError,
    build_appeal_packet,
    inputs_digest,
    load_letters,
    load_practice,
    packet_filename,
)
from claimwright.settings import Settings

AS_OF = dt.date(2024, 3, 25)
PAYER = "Acme Health & Life <Plus>"
MEANING_97 = "The benefit for this service is included in the payment for another service."
MEANING_N20 = "Service not payable with other service rendered on the same date."
MEANING_50 = "These are non-covered services because this is not deemed a medical necessity."


def make_remit(*, pages: list[int] | None = None, fmt: str = "x12-835"):
    l1 = ServiceLine(dt.date(2024, 3, 4), "99214", D("180.00"), D("0.00"), ["25"],
                     adjustments=[Adjustment("CO", "97", D("180.00"))], remarks=["N20"])
    l2 = ServiceLine(dt.date(2024, 3, 4), "93000", D("60.00"), D("45.00"), allowed=D("45.00"),
                     adjustments=[Adjustment("CO", "45", D("15.00"))])
    l3 = ServiceLine(dt.date(2024, 3, 6), "80053", D("95.50"), D("0.00"),
                     adjustments=[Adjustment("CO", "50", D("95.50"))], remarks=["M25"])
    claim = Claim("ACCT-1001", "ICN-2024-0042", "1", D("335.50"), D("45.00"),
                  patient_name="O'Brien & Sons, Mary <Kate>", member_id="W123456789",
                  remarks=["MA01"], lines=[l1, l2, l3], pages=pages or [])
    other = Claim("ACCT-2002", "ICN-2024-0099", "1", D("50.00"), D("50.00"),
                  patient_name="DOE, JANE", member_id="W000000001",
                  lines=[ServiceLine(dt.date(2024, 3, 1), "99213", D("50.00"), D("50.00"))])
    remit = Remittance(fmt, Party(PAYER, "99001"), Party("Riverbend", "1234567893"),
                       Payment("ACH", "TRN-778899", dt.date(2024, 3, 20), D("95.00")),
                       claims=[claim, other])
    return remit, claim


def finding(claim: Claim, line_number: int, category: str = "coding/bundling", *,
            meaning: str = MEANING_97, rarcs: dict[str, str] | None = None,
            due: dt.date = dt.date(2024, 7, 18)) -> Finding:
    line = claim.lines[line_number - 1]
    rarcs = {"N20": MEANING_N20} if rarcs is None else rarcs
    return Finding(
        payer_id="99001", payer_name=PAYER, claim=claim, line_number=line_number, line=line,
        adjustment=line.adjustments[0], remarks=list(line.remarks),
        decision=Decision(True, category, "coding", "appeal", "yes", rule_id="r1"),
        carc_meaning=meaning, rarc_meanings=rarcs, denial_date=dt.date(2024, 3, 20),
        appeal_due=due, priority=D("80"))


def pdf_pages(path_or_bytes) -> list[str]:
    src = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    out = []
    with pdfplumber.open(src) as pdf:
        for page in pdf.pages:
            out.append(page.extract_text() or "")
            page.close()
    return out


def source_pdf(n_pages: int, label: str = "SOURCE REMITTANCE PAGE") -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=LETTER, invariant=1)
    for n in range(1, n_pages + 1):
        c.setFont("Helvetica", 14)
        c.drawString(72, 700, f"{label} {n}")
        c.showPage()
    c.save()
    return buf.getvalue()


def supporting(tmp_path: Path, kind: str, pages: int = 1, title: str = ""):
    """A supporting document as the documents source returns it."""
    path = tmp_path / f"{kind}.pdf"
    path.write_bytes(source_pdf(pages, f"DOCUMENT {kind.upper()} PAGE"))
    return SimpleNamespace(kind=kind, title=title or kind.replace("_", " "), path=path,
                           sha256=hashlib.sha256(path.read_bytes()).hexdigest(), pages=pages,
                           date=None)


def letter_text(info) -> str:
    return " ".join(" ".join(p.split()) for p in pdf_pages(info.path)[:info.letter_pages])


#: what a packet must never print: template syntax, Python's None, placeholders, block markers
RESIDUE = ("{{", "}}", "{%", "%}", "None", "TODO", "[[")


def assert_no_residue(path) -> None:
    for n, page in enumerate(pdf_pages(path), 1):
        for bad in RESIDUE:
            assert bad not in page, (n, bad)



# ---------------------------------------------------------------------------------------------
# the cover letter


def test_letter_quotes_claim_codes_meanings_and_due_date(tmp_path):
    remit, claim = make_remit()
    claim.patient_dob = dt.date(1961, 5, 2)
    claim.diagnoses = ["M545", "E119"]
    claim.rendering_provider = Party("Dana Whitfield MD", "1234567893")
    out = tmp_path / packet_filename("99001", claim.payer_claim_id)
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], out, as_of=AS_OF,
                               documents={"medical_records": [supporting(tmp_path,
                                                                         "medical_records")]})
    pages = pdf_pages(out)
    assert info.path == out and out.exists()
    assert info.pages == len(pages) == (info.letter_pages + info.remittance_pages
                                        + info.document_pages + info.index_pages)
    assert info.remittance_pages == 1 and info.document_pages == 1 and info.index_pages == 1
    assert info.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert info.claim_id == "ICN-2024-0042" and info.key == "99001:ICN-2024-0042"
    assert info.denied_amount == D("180.00") and info.appeal_due == dt.date(2024, 7, 18)
    assert info.complete and info.warnings == ()

    letter = letter_text(info)
    for expected in ("Level 1 appeal / reconsideration request", "2024-03-25",
                     "ICN-2024-0042", "W123456789", "ACCT-1001", "Payer ID: 99001",
                     "Date of birth 1961-05-02", "Diagnosis codes M545, E119",
                     "Rendering provider Dana Whitfield MD (NPI 1234567893)",
                     "CO-97", "N20", "99214-25", "$180.00", "$335.50",
                     "2024-03-20", "Appeal due date 2024-07-18", "TRN-778899",
                     "Riverbend Family Medicine & Cardiology", "Jordan Avery",
                     "Action requested: Reprocess the denied line(s) of claim ICN-2024-0042",
                     "Copy of the remittance advice page(s) showing the denial",
                     "Medical records for the date(s) of service"):
        assert expected in letter, expected
    # meanings are quoted (they wrap inside the table cell, so compare without spaces)
    squashed = letter.replace(" ", "")
    assert MEANING_97.replace(" ", "") in squashed
    assert MEANING_N20.replace(" ", "") in squashed
    # markup characters in names print as written
    assert "O'Brien & Sons, Mary <Kate>" in letter
    assert PAYER in letter
    # the denied line only: the paid line's contractual adjustment is not in the letter
    assert "CO-45" not in letter
    assert "INCOMPLETE" not in " ".join(pages)
    assert_no_residue(out)


def test_packet_parts_come_in_order_and_the_index_gives_their_pages(tmp_path):
    """Letter, form, remittance, supporting documents (required then optional), index."""
    remit, claim = make_remit(pages=[2], fmt="pdf")
    src = tmp_path / "remit.pdf"
    src.write_bytes(source_pdf(3))
    findings = [finding(claim, 1, "authorization")]
    documents = {"authorization": [supporting(tmp_path, "authorization", 2, "Approval AUTH-1")],
                 "medical_records": [supporting(tmp_path, "medical_records", 1)]}
    info = build_appeal_packet(remit, claim, findings, tmp_path / "p.pdf", source_pdf=src,
                               as_of=AS_OF, documents=documents)
    pages = pdf_pages(info.path)
    n = info.letter_pages
    assert [e.key for e in info.enclosures] == ["remittance", "authorization", "medical_records"]
    assert "SOURCE REMITTANCE PAGE 2" in pages[n]
    assert "DOCUMENT AUTHORIZATION PAGE 1" in pages[n + 1]
    assert "DOCUMENT AUTHORIZATION PAGE 2" in pages[n + 2]
    assert "DOCUMENT MEDICAL_RECORDS PAGE 1" in pages[n + 3]
    assert "Attachment index" in pages[-1] and len(pages) == n + 5
    index = " ".join(pages[-1].split())
    ranges = {e.key: e.page_range for e in info.enclosures}
    assert ranges == {"remittance": str(n + 1), "authorization": f"{n + 2}-{n + 3}",
                      "medical_records": str(n + 4)}
    assert f"Proof of prior authorization (authorization number and {n + 2}-{n + 3} " \
           "Authorization on file attached" in index  # the label wraps in its cell
    assert "Approval AUTH-1" in index and "Authorization on file" in index
    assert index.count("attached") == 3 and "MISSING" not in index
    assert_no_residue(info.path)


def test_a_missing_required_document_makes_the_packet_incomplete(tmp_path):
    remit, claim = make_remit()
    findings = [finding(claim, 3, "medical necessity", meaning=MEANING_50, rarcs={})]
    info = build_appeal_packet(remit, claim, findings, tmp_path / "p.pdf", as_of=AS_OF,
                               documents={"medical_records": [supporting(tmp_path,
                                                                         "medical_records")]})
    assert not info.complete and info.missing == ("medical_necessity_letter",)
    pages = [" ".join(p.split()) for p in pdf_pages(info.path)]
    assert pages[0].startswith("INCOMPLETE: do not send yet. Missing: Letter of medical "
                               "necessity from the treating provider")
    assert "INCOMPLETE: do not send yet" in pages[-1]
    assert "Letter of medical necessity from the treating provider - Medical necessity MISSING" \
        in pages[-1]
    # still written whole: letter, remittance excerpt, the records that are there, the index
    assert info.document_pages == 1 and "DOCUMENT MEDICAL_RECORDS" in " ".join(pages)


def test_each_category_argues_its_case_and_lists_its_enclosures(tmp_path):
    remit, claim = make_remit()
    findings = [finding(claim, 1, "coding/bundling", due=dt.date(2024, 7, 30)),
                finding(claim, 3, "Medical Necessity", meaning=MEANING_50, rarcs={},
                        due=dt.date(2024, 7, 18))]
    info = build_appeal_packet(remit, claim, findings, tmp_path / "p.pdf", as_of=AS_OF)
    assert info.denied_amount == D("275.50")
    assert info.appeal_due == dt.date(2024, 7, 18)  # the earliest
    # the larger denial's category leads (its template is the letter's)
    assert info.categories == ("Coding / bundling (NCCI)", "Medical necessity")
    assert info.missing == ("medical_records", "medical_necessity_letter")
    letter = letter_text(info)
    assert "Why the denial should be reversed: Coding / bundling (NCCI)" in letter
    assert "Why the denial should be reversed: Medical necessity" in letter
    assert "Overturn the medical-necessity denial" in letter
    assert "Letter of medical necessity from the treating provider" in letter
    assert "$275.50" in letter


def test_unknown_category_uses_the_generic_letter_with_a_warning(tmp_path):
    remit, claim = make_remit()
    info = build_appeal_packet(remit, claim, [finding(claim, 1, "something new")],
                               tmp_path / "p.pdf", as_of=AS_OF)
    assert any("'something new'" in w for w in info.warnings)
    assert "Reconsider the denial and reprocess claim ICN-2024-0042" in letter_text(info)


def test_every_category_letter_renders_without_residue():
    letters = load_letters(Settings.from_env({}))
    context = {"payer_name": "A & B", "practice_name": "P", "payer_claim_id": "C1",
               "member_id": "M1", "codes": "CO-97", "procedures": "99214-25",
               "dates_of_service": "2024-03-04", "denial_date": "2024-03-20",
               "denied_amount": "$1.00", "diagnoses": "E119", "patient_name": "N",
               "patient_dob": "", "patient_account": "A1", "rendering_provider": ""}
    for cat in letters.categories.values():
        argument, action = letters.argument(cat, "99001", context)
        assert argument and action, cat.key
        assert not any(bad in argument + action for bad in RESIDUE), cat.key
    assert "A &amp; B" in letters.argument(letters.category("default")[0], "", context)[0]
    for alias, target in letters.aliases.items():
        assert target in letters.categories, alias


def test_the_issue_categories_have_their_own_letters():
    letters = load_letters(Settings.from_env({}))
    templates = {letters.category(c)[0].template for c in (
        "medical necessity", "modifier", "coding/bundling", "authorization", "timely filing",
        "duplicate", "coordination of benefits", "non-covered")}
    assert len(templates) == 8
    assert letters.category("coordination of benefits")[0].requires == ("primary_remittance",)
    assert letters.category("timely filing")[0].requires == ("timely_filing",)


def test_every_rules_category_has_its_own_letter():
    from claimwright.rules.ruleset import CATEGORIES

    letters = load_letters(Settings.from_env({}))
    missing = [c for c in CATEGORIES if c != "unknown" and not letters.category(c)[1]]
    assert missing == []
    assert letters.category("unknown")[1] is False  # generic letter, with a warning


def test_a_payers_own_letter_is_used_for_that_payer_only(tmp_path, monkeypatch):
    own = tmp_path / "letters" / "payers" / "99001"
    own.mkdir(parents=True)
    (own / "bundling-ncci.txt").write_text(
        '{% extends "base.txt" %}{% block argument %}Per our contract with {{ payer_name }}, '
        'NCCI edits do not apply to {{ procedures }}.{% endblock %}'
        '{% block action %}Pay the line.{% endblock %}')
    monkeypatch.setenv("CLAIMWRIGHT_LETTERS", str(tmp_path / "letters"))
    remit, claim = make_remit()
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               as_of=AS_OF)
    letter = letter_text(info)
    assert "NCCI edits do not apply to 99214-25" in letter
    assert "Action requested: Pay the line." in letter
    remit.payer.id = "55555"
    f = finding(claim, 1)
    f.payer_id = "55555"
    other = build_appeal_packet(remit, claim, [f], tmp_path / "q.pdf", as_of=AS_OF)
    assert "NCCI edits do not apply" not in letter_text(other)


def test_a_letter_naming_a_value_that_does_not_exist_fails_that_packet(tmp_path, monkeypatch):
    import jinja2

    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "bundling-ncci.txt").write_text(
        '{% extends "base.txt" %}{% block argument %}Seen {{ referral_number }}.{% endblock %}'
        '{% block action %}Pay.{% endblock %}')
    monkeypatch.setenv("CLAIMWRIGHT_LETTERS", str(folder))
    remit, claim = make_remit()
    with pytest.raises(jinja2.UndefinedError, match="referral_number"):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            as_of=AS_OF)
    assert not (tmp_path / "p.pdf").exists()


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("requires: [timely_filing]", "requires: [xray]"),
     r"letters.yaml:\d+: categories.timely filing.requires: unknown document\(s\) \['xray'\]"),
    (lambda t: t.replace("template: duplicate.txt", "template: dup.txt"),
     r"letters.yaml:\d+: categories.duplicate.template: no template 'dup.txt'"),
    (lambda t: t.replace("  default:\n", "  defaulted:\n"), r"must define 'default'"),
    (lambda t: t.replace("  eligibility: Eligibility verification", "  xray: X-ray\n"
                         "  eligibility: Eligibility verification"),
     r"letters.yaml:\d+: documents.xray: the documents source knows no kind 'xray'"),
    (lambda t: t.replace("label: Duplicate,", "label: Duplicate, colour: red,"),
     r"letters.yaml:\d+: .*colour"),
])
def test_bad_letters_data_is_refused_with_its_line(tmp_path, monkeypatch, edit, message):
    from claimwright.packets.letters import LETTERS_DIR

    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "letters.yaml").write_text(edit((LETTERS_DIR / "letters.yaml").read_text()))
    with pytest.raises(PacketConfigError, match=message):
        load_letters(Settings.from_env({"CLAIMWRIGHT_LETTERS": str(folder)}))


def test_a_template_without_its_blocks_or_with_a_syntax_error_is_refused(tmp_path):
    folder = tmp_path / "letters"
    folder.mkdir()
    (folder / "duplicate.txt").write_text('{% extends "base.txt" %}{% block argument %}x'
                                          '{% endblock %}')
    settings = Settings.from_env({"CLAIMWRIGHT_LETTERS": str(folder)})
    with pytest.raises(PacketConfigError, match="duplicate.txt: defines no 'action' block"):
        load_letters(settings)
    (folder / "duplicate.txt").write_text('{% extends "base.txt" %}\n\n{% block argument %}'
                                          '{{ x {% endblock %}')
    with pytest.raises(PacketConfigError, match=r"duplicate.txt:3: template error"):
        load_letters(settings)


# ---------------------------------------------------------------------------------------------
# the remittance part


def test_excerpt_lists_the_claim_as_received_when_there_is_no_source_pdf(tmp_path):
    remit, claim = make_remit()
    claim.adjustments.append(Adjustment("OA", "23", D("0.00")))
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               as_of=AS_OF)
    excerpt = " ".join(pdf_pages(info.path)[info.letter_pages:-1])
    assert "Remittance excerpt" in excerpt and "X12 835" in excerpt
    for expected in ("ICN-2024-0042", "ACCT-1001", "TRN-778899", "95.00",  # payment
                     "99214", "93000", "80053", "CO-97 180.00", "CO-45 15.00", "CO-50 95.50",
                     "OA-23 0.00", "N20", "M25", "MA01", "335.50"):
        assert expected in excerpt, expected
    assert "ICN-2024-0099" not in excerpt  # only this claim
    assert info.highlighted == (1,)


def test_remittance_pages_are_imported_from_the_source_pdf(tmp_path):
    remit, claim = make_remit(pages=[3, 2], fmt="pdf")
    src = tmp_path / "remit.pdf"
    src.write_bytes(source_pdf(4))
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               source_pdf=src, as_of=AS_OF)
    pages = pdf_pages(info.path)
    n = info.letter_pages
    assert info.remittance_pages == 2
    assert len(pages) == info.pages == n + 2 + info.index_pages
    assert "SOURCE REMITTANCE PAGE 2" in pages[n]
    assert "SOURCE REMITTANCE PAGE 3" in pages[n + 1]
    assert not any("SOURCE REMITTANCE" in p for p in pages[:n])
    assert not any("Remittance excerpt" in p for p in pages)
    # the test page has no claim rows: the line cannot be boxed, and the packet says so
    assert info.highlighted == () and any("could not be found" in w for w in info.warnings)

    # bytes work as well as a path, and give the same packet
    again = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "q.pdf",
                                source_pdf=src.read_bytes(), as_of=AS_OF)
    assert again.sha256 == info.sha256


def test_source_pdf_without_claim_pages_falls_back_to_the_excerpt(tmp_path):
    remit, claim = make_remit(fmt="pdf")
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               source_pdf=source_pdf(2), as_of=AS_OF)
    assert "Remittance excerpt" in pdf_pages(info.path)[info.letter_pages]
    assert any("excerpt was rendered" in w for w in info.warnings)


def test_claim_pages_outside_the_source_pdf_are_refused(tmp_path):
    remit, claim = make_remit(pages=[5], fmt="pdf")
    with pytest.raises(ValueError, match="outside the source PDF"):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            source_pdf=source_pdf(2), as_of=AS_OF)
    assert not (tmp_path / "p.pdf").exists()


def test_unreadable_source_pdf_is_a_document_error(tmp_path):
    from claimwright.errors import DocumentError

    remit, claim = make_remit(pages=[1], fmt="pdf")
    with pytest.raises(DocumentError):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            source_pdf=b"not a pdf", as_of=AS_OF)
    with pytest.raises(DocumentError):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            source_pdf=Path(tmp_path / "missing.pdf"), as_of=AS_OF)


# ---------------------------------------------------------------------------------------------
# determinism and the inputs hash


def test_output_is_deterministic(tmp_path):
    remit, claim = make_remit(pages=[1], fmt="pdf")
    src = source_pdf(1)
    findings = [finding(claim, 1), finding(claim, 3, "medical necessity", meaning=MEANING_50,
                                           rarcs={"M25": "Payment adjusted: information "
                                                         "does not support this level."})]
    a = build_appeal_packet(remit, claim, findings, tmp_path / "a.pdf", source_pdf=src,
                            as_of=AS_OF)
    b = build_appeal_packet(remit, claim, list(reversed(findings)), tmp_path / "b.pdf",
                            source_pdf=src, as_of=AS_OF)
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert a.sha256 == b.sha256
    remit2, claim2 = make_remit()
    out = tmp_path / "c.pdf"
    first = build_appeal_packet(remit2, claim2, [finding(claim2, 1)], out, as_of=AS_OF)
    before = out.read_bytes()
    second = build_appeal_packet(remit2, claim2, [finding(claim2, 1)], out, as_of=AS_OF)
    assert out.read_bytes() == before and first.sha256 == second.sha256
    third = build_appeal_packet(remit2, claim2, [finding(claim2, 1)], tmp_path / "d.pdf",
                                as_of=AS_OF + dt.timedelta(days=1))
    assert third.sha256 != first.sha256  # another letter date


def test_the_inputs_hash_changes_with_what_the_packet_is_made_of_not_the_day(tmp_path):
    remit, claim = make_remit()
    findings = [finding(claim, 1)]
    records = supporting(tmp_path, "medical_records")
    base = inputs_digest(remit, claim, findings, documents={"medical_records": [records]})
    assert base == inputs_digest(remit, claim, findings,
                                 documents={"medical_records": [records]})
    assert base != inputs_digest(remit, claim, findings)  # the document arrived
    assert base != inputs_digest(remit, claim, findings, level=2,
                                 documents={"medical_records": [records]})
    claim.diagnoses = ["E119"]
    assert base != inputs_digest(remit, claim, findings,
                                 documents={"medical_records": [records]})


# ---------------------------------------------------------------------------------------------
# warnings and refusals


def test_characters_outside_the_font_are_transliterated_with_a_warning(tmp_path):
    remit, claim = make_remit()
    claim.patient_name = "Nguyễn, Thị\x00"
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               as_of=AS_OF)
    assert "Nguyen, Thi" in pdf_pages(info.path)[0]
    assert any("transliterated" in w for w in info.warnings)


def test_past_due_date_is_flagged(tmp_path):
    remit, claim = make_remit()
    info = build_appeal_packet(remit, claim, [finding(claim, 1, due=dt.date(2024, 3, 1))],
                               tmp_path / "p.pdf", as_of=AS_OF)
    assert any("before the letter date" in w for w in info.warnings)


@pytest.mark.parametrize("mutate, message", [
    (lambda remit, claim, f: setattr(f, "claim", remit.claims[1]), "belongs to claim"),
    (lambda remit, claim, f: setattr(f, "payer_id", "77777"), "is for payer"),
    (lambda remit, claim, f: setattr(f.decision, "is_denial", False), "not a denial"),
    (lambda remit, claim, f: setattr(f, "line_number", 9), "no service line 9"),
    (lambda remit, claim, f: setattr(f, "line_number", 2), "not on service line 2"),
])
def test_inputs_that_do_not_belong_together_are_refused(tmp_path, mutate, message):
    remit, claim = make_remit()
    f = finding(claim, 1)
    mutate(remit, claim, f)
    with pytest.raises(ValueError, match=message):
        build_appeal_packet(remit, claim, [f], tmp_path / "p.pdf", as_of=AS_OF)
    assert not (tmp_path / "p.pdf").exists()


def test_no_findings_or_foreign_claim_are_refused(tmp_path):
    remit, claim = make_remit()
    with pytest.raises(ValueError, match="nothing to appeal"):
        build_appeal_packet(remit, claim, [], tmp_path / "p.pdf", as_of=AS_OF)
    other_remit, _ = make_remit()
    other_remit.claims = other_remit.claims[1:]
    with pytest.raises(ValueError, match="not in the remittance"):
        build_appeal_packet(other_remit, claim, [finding(claim, 1)], tmp_path / "p.pdf")
    with pytest.raises(ValueError, match="given twice"):
        build_appeal_packet(remit, claim, [finding(claim, 1), finding(claim, 1)],
                            tmp_path / "p.pdf")


def test_packet_filename_is_safe_distinct_and_holds_no_patient_name():
    assert packet_filename("99001", "ICN-2024-0042") == "appeal-99001-ICN-2024-0042.pdf"
    assert packet_filename("99001", "ICN-2024-0042", 2) == "appeal-99001-ICN-2024-0042-L2.pdf"
    risky = packet_filename("../..", "a/b\\c:d")
    assert "/" not in risky and "\\" not in risky and ":" not in risky
    assert risky.startswith("appeal-") and risky.endswith(".pdf") and ".." not in risky
    assert packet_filename("99001", "A/B") != packet_filename("99001", "A_B")
    assert packet_filename("99001", "A/B") == packet_filename("99001", "A/B")
    assert len(packet_filename("9" * 300, "x" * 300)) < 200


def test_practice_comes_from_the_env_file(tmp_path, monkeypatch):
    path = tmp_path / "practice.yaml"
    path.write_text("name: Lakeside Ortho & Spine\naddress: [1 Shore Rd, Lakeside ST 00001]\n"
                    "phone: (555) 555-0177\nsigner: {name: Sam Lee, title: Billing Lead}\n")
    monkeypatch.setenv("CLAIMWRIGHT_PRACTICE", str(path))
    practice = load_practice()
    assert practice.name == "Lakeside Ortho & Spine" and practice.contact_name == "Sam Lee"
    remit, claim = make_remit()
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               as_of=AS_OF)
    first = pdf_pages(info.path)[0]
    assert "Lakeside Ortho & Spine" in first and "Riverbend" not in first
    assert "Attn: Appeals department" in first  # no address configured for this payer

    path.write_text("name: No Phone Clinic\naddress: [x]\nsigner: {name: A}\n")
    with pytest.raises(PacketConfigError, match="phone"):
        load_practice()


def test_packet_page_count_matches_pdfium(tmp_path):
    remit, claim = make_remit()
    for n in range(40):  # many denied lines: the table breaks across pages
        claim.lines.append(ServiceLine(dt.date(2024, 3, 6), f"8{n:04d}", D("10.00"),
                                       D("0.00"), adjustments=[Adjustment("CO", "97",
                                                                          D("10.00"))]))
    findings = [finding(claim, n) for n in range(4, len(claim.lines) + 1)]
    info = build_appeal_packet(remit, claim, findings, tmp_path / "p.pdf", as_of=AS_OF)
    pdf = pdfium.PdfDocument(info.path)
    try:
        assert len(pdf) == info.pages and info.letter_pages >= 2
    finally:
        pdf.close()
    assert info.denied_amount == D("400.00")


def test_claim_level_denial_is_listed_with_its_own_documents(tmp_path):
    remit, claim = make_remit()
    claim.adjustments.append(Adjustment("CO", "29", D("335.50")))
    f = Finding(
        payer_id="99001", payer_name=PAYER, claim=claim, line_number=None, line=None,
        adjustment=claim.adjustments[0], remarks=[],
        decision=Decision(True, "timely filing", "billing", "appeal", "conditional",
                          condition="proof of timely filing exists"),
        carc_meaning="The time limit for filing has expired.",
        denial_date=dt.date(2024, 3, 20), appeal_due=dt.date(2024, 7, 18))
    info = build_appeal_packet(remit, claim, [f], tmp_path / "p.pdf", as_of=AS_OF,
                               documents={"timely_filing": [supporting(tmp_path,
                                                                       "timely_filing")]})
    letter = letter_text(info)
    assert "claim 2024-03-04 to claim level $335.50 $335.50 CO-29" in letter  # DOS cell wraps
    assert "Accept claim ICN-2024-0042 as timely filed" in letter
    assert "Proof of timely filing (clearinghouse acceptance report with dates)" in letter
    assert "Medical records" not in letter and info.complete


@pytest.mark.parametrize("level, title", [(1, "Redetermination Request"),
                                          (2, "Reconsideration Request")])
def test_the_payers_form_follows_the_letter_filled_from_the_model(tmp_path, level, title):
    from claimwright.packets.forms import form_for

    remit, claim = make_remit()
    remit.payer.name = "Great Lakes Medicare Part B"
    form = form_for(remit.payer.id, remit.payer.name, level)
    assert form is not None
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               as_of=AS_OF, form=form, level=level,
                               decided_on=dt.date(2024, 3, 22) if level == 2 else None,
                               documents={"medical_records": [supporting(tmp_path,
                                                                         "medical_records")]})
    pages = [" ".join(p.split()) for p in pdf_pages(info.path)]
    assert info.form_pages == 1 and [e.key for e in info.enclosures][0] == "form"
    page = pages[info.letter_pages]
    assert title in page
    for value in ("W123456789", "ICN-2024-0042", "99214-25", "Jordan Avery"):
        assert value in page, value
    assert ("2024-03-22" in page) == (level == 2)
    assert "Request for " + ("redetermination" if level == 1 else "reconsideration") \
        in pages[0]
    assert_no_residue(info.path)
