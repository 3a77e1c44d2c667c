"""Appeal packets: letter content, remittance pages, determinism, input checks."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from decimal import Decimal as D
from pathlib import Path

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

    load_practice,
    packet_filename,
)


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


def source_pdf(n_pages: int) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=LETTER, invariant=1)
    for n in range(1, n_pages + 1):
        c.setFont("Helvetica", 14)
        c.drawString(72, 700, f"SOURCE REMITTANCE PAGE {n}")
        c.showPage()
    c.save()
    return buf.getvalue()


def test_letter_quotes_claim_codes_meanings_and_due_date(tmp_path):
    remit, claim = make_remit()
    out = tmp_path / packet_filename("99001", claim.payer_claim_id)
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], out, as_of=AS_OF)

    pages = pdf_pages(out)
    assert info.path == out and out.exists()
    assert info.pages == len(pages) == info.letter_pages + info.remittance_pages
    assert info.remittance_pages == 1
    assert info.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert info.claim_id == "ICN-2024-0042" and info.key == "99001:ICN-2024-0042"
    assert info.denied_amount == D("180.00") and info.appeal_due == dt.date(2024, 7, 18)
    assert info.warnings == ()

    letter = " ".join(" ".join(p.split()) for p in pages[:info.letter_pages])
    for expected in ("Level 1 appeal / reconsideration request", "2024-03-25",
                     "ICN-2024-0042", "W123456789", "ACCT-1001", "Payer ID: 99001",
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


def test_excerpt_lists_the_claim_as_received_when_there_is_no_source_pdf(tmp_path):
    remit, claim = make_remit()
    claim.adjustments.append(Adjustment("OA", "23", D("0.00")))
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               as_of=AS_OF)
    excerpt = " ".join(pdf_pages(info.path)[info.letter_pages:])
    assert "Remittance excerpt" in excerpt and "X12 835" in excerpt
    for expected in ("ICN-2024-0042", "ACCT-1001", "TRN-778899", "95.00",  # payment
                     "99214", "93000", "80053", "CO-97 180.00", "CO-45 15.00", "CO-50 95.50",
                     "OA-23 0.00", "N20", "M25", "MA01", "335.50"):
        assert expected in excerpt, expected
    assert "ICN-2024-0099" not in excerpt  # only this claim


def test_remittance_pages_are_imported_from_the_source_pdf(tmp_path):
    remit, claim = make_remit(pages=[3, 2], fmt="pdf")
    src = tmp_path / "remit.pdf"
    src.write_bytes(source_pdf(4))
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               source_pdf=src, as_of=AS_OF)
    pages = pdf_pages(info.path)
    assert info.remittance_pages == 2
    assert len(pages) == info.pages == info.letter_pages + 2
    assert "SOURCE REMITTANCE PAGE 2" in pages[-2]
    assert "SOURCE REMITTANCE PAGE 3" in pages[-1]
    assert not any("SOURCE REMITTANCE" in p for p in pages[:info.letter_pages])
    assert not any("Remittance excerpt" in p for p in pages)

    # bytes work as well as a path, and give the same packet
    again = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "q.pdf",
                                source_pdf=src.read_bytes(), as_of=AS_OF)
    assert again.sha256 == info.sha256


def test_source_pdf_without_claim_pages_falls_back_to_the_excerpt(tmp_path):
    remit, claim = make_remit(fmt="pdf")
    info = build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                               source_pdf=source_pdf(2), as_of=AS_OF)
    assert "Remittance excerpt" in pdf_pages(info.path)[-1]
    assert any("excerpt was rendered" in w for w in info.warnings)


def test_claim_pages_outside_the_source_pdf_are_refused(tmp_path):
    remit, claim = make_remit(pages=[5], fmt="pdf")
    with pytest.raises(ValueError, match="outside the source PDF"):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            source_pdf=source_pdf(2), as_of=AS_OF)
    assert not (tmp_path / "p.pdf").exists()


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
    # 835 path (letter + rendered excerpt) as well, rebuilt onto the same file
    remit2, claim2 = make_remit()
    out = tmp_path / "c.pdf"
    first = build_appeal_packet(remit2, claim2, [finding(claim2, 1)], out, as_of=AS_OF)
    before = out.read_bytes()
    second = build_appeal_packet(remit2, claim2, [finding(claim2, 1)], out, as_of=AS_OF)
    assert out.read_bytes() == before and first.sha256 == second.sha256
    # a different letter date is a different packet
    third = build_appeal_packet(remit2, claim2, [finding(claim2, 1)], tmp_path / "d.pdf",
                                as_of=AS_OF + dt.timedelta(days=1))
    assert third.sha256 != first.sha256


def test_each_category_argues_its_case_and_lists_its_enclosures(tmp_path):
    remit, claim = make_remit()
    findings = [finding(claim, 1, "coding/bundling", due=dt.date(2024, 7, 30)),
                finding(claim, 3, "Medical Necessity", meaning=MEANING_50, rarcs={},
                        due=dt.date(2024, 7, 18))]
    info = build_appeal_packet(remit, claim, findings, tmp_path / "p.pdf", as_of=AS_OF)
    assert info.denied_amount == D("275.50")
    assert info.appeal_due == dt.date(2024, 7, 18)  # the earliest
    texts = load_letter_text()
    labels = texts.enclosure_labels
    assert info.enclosures == (labels["remittance"], labels["medical_records"],
                               labels["medical_necessity_letter"])
    letter = " ".join(" ".join(p.split()) for p in pdf_pages(info.path)[:info.letter_pages])
    assert "Why the denial should be reversed: Coding / bundling" in letter
    assert "Why the denial should be reversed: Medical necessity" in letter
    assert "Overturn the medical-necessity denial" in letter
    assert "Letter of medical necessity from the treating provider" in letter
    assert "$275.50" in letter


def test_unknown_category_uses_the_generic_text_with_a_warning(tmp_path):
    remit, claim = make_remit()
    info = build_appeal_packet(remit, claim, [finding(claim, 1, "something new")],
                               tmp_path / "p.pdf", as_of=AS_OF)
    assert any("'something new'" in w for w in info.warnings)
    letter = " ".join(" ".join(p.split()) for p in pdf_pages(info.path)[:info.letter_pages])
    assert "Reconsider the denial and reprocess claim ICN-2024-0042" in letter


def test_every_category_text_renders():
    texts = load_letter_text()
    ctx = {"payer_name": "A & B", "practice_name": "P", "payer_claim_id": "C1",
           "member_id": "M1", "codes": "CO-97", "procedures": "99214-25",
           "dates_of_service": "2024-03-04", "denial_date": "2024-03-20",
           "denied_amount": "$1.00"}
    for cat in texts.categories.values():
        assert render_string(cat.argument, ctx) and render_string(cat.action, ctx)
        assert "A &amp; B" in render_string("{{ payer_name }}", ctx)
    for alias, target in texts.aliases.items():
        assert target in texts.categories, alias


def test_every_rules_category_has_its_own_argument():
    from claimwright.rules.ruleset import CATEGORIES

    texts = load_letter_text()
    missing = [c for c in CATEGORIES if c != "unknown" and not texts.category(c)[1]]
    assert missing == []
    assert texts.category("unknown")[1] is False  # generic text, with a warning


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


def test_packet_filename_is_safe_and_distinct():
    assert packet_filename("99001", "ICN-2024-0042") == "appeal-99001-ICN-2024-0042.pdf"
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
    # many denied lines: the table breaks across pages and the count stays right
    for n in range(40):
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


def test_unreadable_source_pdf_is_a_document_error(tmp_path):
    from claimwright.errors import DocumentError

    remit, claim = make_remit(pages=[1], fmt="pdf")
    with pytest.raises(DocumentError):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            source_pdf=b"not a pdf", as_of=AS_OF)
    with pytest.raises(DocumentError):
        build_appeal_packet(remit, claim, [finding(claim, 1)], tmp_path / "p.pdf",
                            source_pdf=Path(tmp_path / "missing.pdf"), as_of=AS_OF)


def test_claim_level_denial_is_listed_with_its_own_enclosures(tmp_path):
    remit, claim = make_remit()
    claim.adjustments.append(Adjustment("CO", "29", D("335.50")))
    f = Finding(
        payer_id="99001", payer_name=PAYER, claim=claim, line_number=None, line=None,
        adjustment=claim.adjustments[0], remarks=[],
        decision=Decision(True, "timely filing", "billing", "appeal", "conditional",
                          condition="proof of timely filing exists"),
        carc_meaning="The time limit for filing has expired.",
        denial_date=dt.date(2024, 3, 20), appeal_due=dt.date(2024, 7, 18))
    info = build_appeal_packet(remit, claim, [f], tmp_path / "p.pdf", as_of=AS_OF)
    letter = " ".join(" ".join(p.split()) for p in pdf_pages(info.path)[:info.letter_pages])
    assert "claim 2024-03-04 to claim level $335.50 $335.50 CO-29" in letter  # DOS cell wraps
    assert "Accept claim ICN-2024-0042 as timely filed" in letter
    assert "Proof of timely filing (clearinghouse acceptance report with dates)" in letter
    assert "Medical records" not in letter


def test_bad_argument_data_is_refused_when_loaded(tmp_path):
    good = (tmp_path / "good.yaml")
    base = ("letter: {appeal_level: L1, request_phrase: r}\n"
            "enclosures: {remittance: R, medical_records: M}\n")
    good.write_text(base + "categories:\n  default: {label: D, argument: a, action: b}\n")
    assert load_letter_text(good).category("anything")[1] is False
    bad_enclosure = tmp_path / "e.yaml"
    bad_enclosure.write_text(base + "categories:\n  default: {label: D, argument: a, "
                             "action: b, enclosures: [xray]}\n")
    with pytest.raises(PacketConfigError, match="unknown enclosure"):
        load_letter_text(bad_enclosure)
    bad_template = tmp_path / "t.yaml"
    bad_template.write_text(base + "categories:\n  default: {label: D, argument: '{{ a', "
                            "action: b}\n")
    with pytest.raises(Exception, match="unexpected end of template|expected token"):
        load_letter_text(bad_template)
    no_default = tmp_path / "n.yaml"
    no_default.write_text(base + "categories:\n  cob: {label: C, argument: a, action: b}\n")
    with pytest.raises(PacketConfigError, match="default"):
        load_letter_text(no_default)
