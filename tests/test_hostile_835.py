"""Hostile and damaged 835 input: separator and encoding variants, control characters,
oversized elements, reversal signs, and every damaged kind, each with its typed outcome (a
``Problem`` code on the remittance, or a ``DocumentError`` code). Files are generated here from
the small public demo sample; nothing large is committed."""

from __future__ import annotations

import io
import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest

from claimwright.errors import DocumentError
from claimwright.parsing import parse_bytes
from claimwright.parsing.x12 import parse_835
from claimwright.parsing.x12_elements import ELEMENT_MAX
from claimwright.storage.records import FindingRecord, RemittanceRecord
from claimwright.types import FaultCode, ReviewKind

DEMO = (Path(__file__).parent / "data" / "x12-835" / "demo.835").read_text()
# demo.835, segment numbers (ISA = 1): 4 BPR, 5 TRN, 7 N1*PR, 10 REF*2U, 15 CLP 666123,
# 17 NM1*QC JONES, 24 CLP 777777, 26 NM1*QC BORDER, 29 PLB

# the CLI reads settings (and checks the folders of) a throwaway home, never the developer's
pytestmark = pytest.mark.usefixtures("workspace")


def one(data: str | bytes):
    remits = parse_bytes(data.encode() if isinstance(data, str) else data)
    assert len(remits) == 1
    return remits[0]


def codes(remit) -> list[tuple[str, int | None]]:
    return [(p.code, p.segment) for p in remit.problems]


def test_the_demo_baseline_is_balanced():
    remit = one(DEMO)
    assert remit.balanced, codes(remit)


# -- separators ---------------------------------------------------------------------------------
@pytest.mark.parametrize("element, component, repetition, terminator", [
    ("|", ">", "^", "\n"),
    ("\x1d", "\x1f", "\x1e", "\x1c"),  # the ASCII information separators some senders use
    ("!", "\\", "{", "'"),
    ("*", ":", "^", "~\r\n"),
])
def test_separator_variants_read_the_same_and_control_separators_are_not_flagged(
        element, component, repetition, terminator):
    text = DEMO.replace("\n", "")
    table = str.maketrans({"*": element, ":": component, "^": repetition})
    text = text.translate(table).replace("~", terminator)
    remit = one(text)
    assert remit.balanced, codes(remit)
    assert remit.to_json() == one(DEMO).to_json()


# -- encodings ----------------------------------------------------------------------------------
def test_one_invalid_byte_does_not_turn_valid_utf8_names_into_mojibake():
    text = DEMO.replace("JONES*SAM", "JÖNES*SÅM")
    data = text.encode("utf-8").replace(b"TIMBUCKTU~\nN3", b"TIMBUCKTU\xff~\nN3")
    remit = one(data)
    assert remit.claims[0].patient_name == "JÖNES, SÅM"  # never Latin-1 for the whole file
    assert codes(remit) == [("x12-encoding", 7)]
    assert "N102" in remit.problems[0].message
    assert not remit.balanced


def test_a_latin1_file_is_read_element_by_element_and_flagged():
    text = DEMO.replace("JONES*SAM", "JÖNES*SAM").replace("BORDER*LIZ", "BORDER*LÏZ")
    remit = one(text.encode("latin-1"))
    assert remit.claims[0].patient_name == "JÖNES, SAM"
    assert codes(remit) == [("x12-encoding", 17), ("x12-encoding", 26)]
    assert all("JÖNES" not in p.message and "LÏZ" not in p.message for p in remit.problems)


@pytest.mark.parametrize("encoding, bom", [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"),
                                           ("utf-16-be", b"\xfe\xff")])
def test_a_byte_order_mark_declares_the_encoding(encoding, bom):
    text = DEMO.replace("JONES*SAM", "JÖNES*SAM")
    remit = one(bom + text.encode(encoding))
    assert remit.balanced, codes(remit)
    assert remit.claims[0].patient_name == "JÖNES, SAM"


def test_undecodable_utf16_is_flagged():
    data = b"\xff\xfe" + DEMO.encode("utf-16-le")
    cut = data.index("JONES".encode("utf-16-le"))
    data = data[:cut] + b"\x00\xd8" + data[cut:]  # a lone high surrogate before JONES
    remit = one(data)
    assert ("x12-encoding", 17) in codes(remit)


@pytest.mark.parametrize("control", ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\t"])
def test_control_characters_inside_an_element_are_problems(control):
    remit = one(DEMO.replace("JONES*SAM", f"JO{control}NES*SAM"))
    assert codes(remit) == [("x12-control-character", 17)]
    message = remit.problems[0].message
    assert "NM103" in message and f"U+{ord(control):04X}" in message and "JO" not in message
    assert not remit.balanced


def test_cr_lf_between_segments_and_nul_padding_at_the_end_are_not_problems():
    remit = one(DEMO.replace("\n", "\r\n") + "\x00\x00\x1a")
    assert remit.balanced, codes(remit)


# -- element maximums ---------------------------------------------------------------------------
@pytest.mark.parametrize("old, tag, position, where", [
    ("CLP*666123*", "CLP", 1, 15),
    ("NM1*QC*1*JONES*", "NM1", 3, 17),
    ("REF*2U*999~", "REF", 2, 10),
    ("TRN*1*12345*", "TRN", 2, 5),
    ("N1*PR*INSURANCE COMPANY OF TIMBUCKTU~", "N1", 2, 7),
])
def test_an_element_one_over_its_maximum_is_cut_and_flagged(old, tag, position, where):
    limit = ELEMENT_MAX[(tag, position)]
    segment = old.rstrip("*~").split("*")
    segment[position] = "A" * (limit + 1)
    new = "*".join(segment) + old[-1]
    remit = one(DEMO.replace(old, new))
    assert codes(remit)[0] == ("element-too-long", where)
    assert f"{tag}{position:02d} has {limit + 1} characters" in remit.problems[0].message
    assert "A" * 10 not in remit.problems[0].message
    at_limit = one(DEMO.replace(old, new.replace("A" * (limit + 1), "A" * limit)))
    assert "element-too-long" not in [c for c, _ in codes(at_limit)]


def test_the_table_holds_the_835_maximums():
    assert ELEMENT_MAX[("CLP", 1)] == 38 and ELEMENT_MAX[("CLP", 7)] == 50
    assert ELEMENT_MAX[("NM1", 3)] == 60 and ELEMENT_MAX[("NM1", 4)] == 35
    assert ELEMENT_MAX[("NM1", 5)] == 25 and ELEMENT_MAX[("NM1", 9)] == 80
    assert ELEMENT_MAX[("REF", 2)] == 50 and ELEMENT_MAX[("TRN", 2)] == 50
    assert ELEMENT_MAX[("CLP", 3)] == ELEMENT_MAX[("BPR", 2)] == 18


def test_values_fit_the_storage_columns():
    """Model limits below the X12 maximum: the payer id (N104 80, stored in 64), the procedure
    (SVC01-2 48, stored in 32) and the composed rendering provider name (stored in 128)."""
    payer_id_max = RemittanceRecord.__table__.c.payer_id.type.length
    procedure_max = FindingRecord.__table__.c.procedure.type.length
    name_max = FindingRecord.__table__.c.provider_name.type.length
    text = (DEMO.replace("REF*2U*999~\n", "")
            .replace("N1*PR*INSURANCE COMPANY OF TIMBUCKTU~",
                     "N1*PR*INSURANCE COMPANY OF TIMBUCKTU*PI*" + "P" * 80 + "~")
            .replace("MOA***MA02~", "NM1*82*1*" + "L" * 60 + "*" + "F" * 35 + "*" + "M" * 25
                     + "**" + "S" * 10 + "~\nMOA***MA02~\nSVC*HC:" + "9" * 48
                     + "*15000.00*11980.33~\nCAS*CO*45*3019.67~"))
    remit = one(text)
    claim = remit.claims[1]
    assert len(remit.payer.id) == payer_id_max
    assert len(claim.lines[0].procedure) == procedure_max
    assert len(claim.rendering_provider.name) == name_max
    found = [c for c, _ in codes(remit)]
    assert found.count("element-too-long") == 3, found


def test_a_10_mb_patient_account_is_refused_in_bounded_time_and_memory():
    big = "9" * 10_000_000
    data = DEMO.replace("CLP*666123*", f"CLP*{big}*").encode()
    tracemalloc.start()
    started = time.perf_counter()
    remit = one(data)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(remit.claims[0].patient_account) == 38
    assert ("element-too-long", 15) in codes(remit) and not remit.balanced
    assert all(len(p.message) < 300 for p in remit.problems)
    assert elapsed < 5, elapsed
    assert peak < 8 * len(data), peak  # a few copies of the text (measured: 4x)


def test_an_oversized_element_the_parser_does_not_read_is_still_bounded():
    remit = one(DEMO.replace("N3*1 MAIN STREET~", "N3*" + "X" * 100_000 + "~"))
    assert codes(remit) == [("element-too-long", 8)]


def test_a_segment_with_no_separators_for_10_mb_is_bounded():
    remit = one(DEMO.replace("N3*1 MAIN STREET~", "N" * 10_000_000 + "~"))
    found = [c for c, _ in codes(remit)]
    assert "element-too-long" in found and not remit.balanced


# -- reversals ----------------------------------------------------------------------------------
REVERSAL_POSITIVE = DEMO.replace("CLP*777777*1*", "CLP*777777*22*")
REVERSAL_NEGATED = (DEMO.replace("CLP*777777*1*15000.00*11980.33*", "CLP*777777*22*-15000.00*"
                                 "-11980.33*")
                    .replace("CAS*CO*45*3019.67~", "CAS*CO*45*-3019.67~")
                    .replace("BPR*C*150000.00*", "BPR*C*126039.34*"))


def test_a_reversal_with_positive_amounts_is_not_balanced():
    remit = one(REVERSAL_POSITIVE)
    assert [c for c, _ in codes(remit)] == ["reversal-sign", "reversal-sign"]
    assert all(p.segment == 24 and p.claim == "777777" for p in remit.problems)
    assert {p.actual for p in remit.problems} == {Decimal("15000.00"), Decimal("11980.33")}


def test_a_reversal_with_negated_amounts_balances():
    remit = one(REVERSAL_NEGATED)
    assert remit.balanced, codes(remit)
    assert remit.claims[1].paid == Decimal("-11980.33")


def test_a_reversal_line_with_a_positive_charge_is_flagged_at_its_svc():
    text = REVERSAL_NEGATED.replace("MOA***MA02~", "MOA***MA02~\nSVC*HC:99213*15000.00*"
                                    "-11980.33~\nCAS*CO*45*-3019.67~")
    remit = one(text)
    sign = [p for p in remit.problems if p.code == "reversal-sign"]
    assert [(p.segment, p.line, p.actual) for p in sign] == [(28, 1, Decimal("15000.00"))]


# -- damaged kinds: typed errors ----------------------------------------------------------------
def blank_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` blank letter pages."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument.new()
    for _ in range(pages):
        doc.new_page(612, 792)
    out = io.BytesIO()
    doc.save(out)
    doc.close()
    return out.getvalue()


@pytest.mark.parametrize("data, code, words", [
    (b"", FaultCode.EMPTY_DOCUMENT, "empty"),
    (b" \r\n\t\r\n", FaultCode.EMPTY_DOCUMENT, "empty"),
    (b"\x00" * 64, FaultCode.EMPTY_DOCUMENT, "empty"),
    # no envelope and no end of the ST/GS to infer the delimiters from (a file without its
    # envelope is read otherwise: tests/test_x12_stream.py)
    (b"ST*835*0001", FaultCode.MISSING_ENVELOPE, "ISA/GS envelope is missing"),
    (b"GS*HP*SENDER*RECEIVER", FaultCode.MISSING_ENVELOPE, "ISA/GS envelope is missing"),
    (b"\xef\xbb\xbfST*835*0001", FaultCode.MISSING_ENVELOPE, "envelope is missing"),
    (b"ISA*00*\x00\x00\x00garbage", FaultCode.NOT_X12, "binary"),
    (DEMO[:60].encode(), FaultCode.NOT_X12, "ISA"),
    (DEMO.replace("ST*835*", "ST*837*").encode(), FaultCode.NOT_835, "not an 835"),
    (b"STATEMENT OF REMITTANCE\n", FaultCode.UNKNOWN_FORMAT, "not a PDF or an X12 835"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, FaultCode.UNKNOWN_FORMAT, "not a PDF or an X12 835"),
])
def test_each_damaged_kind_is_a_typed_error(data, code, words):
    with pytest.raises(DocumentError) as caught:
        parse_bytes(data)
    assert caught.value.code == code
    assert words in str(caught.value)
    assert caught.value.code.review_kind == ReviewKind.UNREADABLE_DOCUMENT


def test_parse_835_itself_says_empty_and_missing_envelope():
    for data, code in ((b"\r\n", FaultCode.EMPTY_DOCUMENT),
                       ("ST*835*0001", FaultCode.MISSING_ENVELOPE)):
        with pytest.raises(DocumentError) as caught:
            parse_835(data)
        assert caught.value.code == code


def test_too_many_pages_is_its_own_code(monkeypatch):
    from claimwright.parsing import pdf_text

    monkeypatch.setattr(pdf_text, "MAX_PAGES", 2)
    with pytest.raises(DocumentError) as caught:
        parse_bytes(blank_pdf(3))
    assert caught.value.code == FaultCode.TOO_MANY_PAGES
    assert "3 pages" in str(caught.value)
    assert caught.value.code.review_kind == ReviewKind.UNREADABLE_DOCUMENT


# -- the model's own limits (any parser) --------------------------------------------------------
def test_the_model_limits_are_the_storage_columns():
    from claimwright import limits

    findings, remittances = FindingRecord.__table__.c, RemittanceRecord.__table__.c
    assert limits.PATIENT_ACCOUNT_MAX == findings.patient_account.type.length
    assert limits.PAYER_CLAIM_ID_MAX == findings.payer_claim_id.type.length
    assert limits.PAYER_ID_MAX == findings.payer_id.type.length == remittances.payer_id.type.length
    assert limits.TRACE_NUMBER_MAX == remittances.trace_number.type.length
    assert limits.PROCEDURE_MAX == findings.procedure.type.length
    assert limits.PROVIDER_NPI_MAX == findings.provider_npi.type.length
    assert limits.PROVIDER_NAME_MAX == findings.provider_name.type.length
    assert limits.GROUP_CODE_MAX == findings.group_code.type.length
    assert limits.CARC_MAX == findings.carc.type.length


def test_fit_to_storage_cuts_and_flags_without_quoting():
    from claimwright.limits import fit_to_storage
    from denial_builders import adj, claim, line, remittance

    remit = remittance([claim("C" * 70, [line("9" * 40, "100.00",
                                              [adj("CO-" + "4" * 9, "10.00")])])])
    remit.claims[0].patient_account = "A" * 10_000_000
    found = fit_to_storage(remit)
    c = remit.claims[0]
    assert (len(c.patient_account), len(c.payer_claim_id), len(c.lines[0].procedure),
            len(c.lines[0].adjustments[0].carc)) == (64, 64, 32, 8)
    assert [p.code for p in found] == ["element-too-long"] * 4
    assert all("AAAA" not in p.message and "CCCC" not in p.message for p in found)
    assert fit_to_storage(remit) == []  # now it fits


def test_a_positive_reversal_is_flagged_whatever_the_format():
    from claimwright.balancing import check_claim
    from denial_builders import adj, claim, line

    reversal = claim("R1", [line("99213", "100.00", [adj("CO-45", "40.00")])], status="22")
    assert [p.code for p in check_claim(reversal)] == ["reversal-sign"] * 4  # claim + line
    ordinary = claim("R1", [line("99213", "100.00", [adj("CO-45", "40.00")])], status="1")
    assert check_claim(ordinary) == []


def test_correcting_a_reversal_sign_replaces_its_problem_once():
    from types import SimpleNamespace

    from claimwright.corrections import apply_corrections

    data = one(REVERSAL_POSITIVE).to_json()
    fix = [SimpleNamespace(id=1, patient_account="777777", payer_claim_id="1999999444445",
                           line=None, changes=changes)
           for changes in ({"billed": "-15000.00"},)]
    out = apply_corrections(data, fix)
    codes_left = [p["code"] for p in out["problems"]]
    assert codes_left.count("reversal-sign") == 1  # the payment's, recomputed, not duplicated
    assert "still after correction #1" in out["problems"][0]["message"]
