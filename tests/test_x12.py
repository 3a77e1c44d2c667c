"""X12 835 parser: real public samples, separator variants, damage, structure, garbage.

Totals are checked against figures computed here straight from the raw segments (a split on the
samples' own delimiters, independent of the parser), plus spot values read off the files by hand.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claimwright.balancing import check_remittance
from claimwright.errors import DocumentError
from claimwright.models import Party, Remittance
from claimwright.parsing import parse_bytes, parse_file
from claimwright.parsing.x12 import parse_835
from claimwright.parsing.x12_segments import read_separators

DATA = Path(__file__).parent / "data" / "x12-835"
SAMPLES = sorted(p.name for p in DATA.glob("*.835"))
BALANCING_CODES = {"line-unbalanced", "claim-unbalanced", "claim-lines-mismatch",
                   "remittance-unbalanced"}

# Problems the real samples really have (read off the files; the parser must not hide them).
KNOWN_SAMPLE_PROBLEMS = {
    "cob-contractural-adjustment.835": [],
    "demo.835": [],
    "medicare-part-a.835": [],
    "secondary-payment.835": [],
    # BPR16 is "20002316": month 23 does not exist.
    "managed-care.835": [("x12-invalid-date", 4, None)],
    # SVC*HC*24599.00*1766.50*187.50**1: the procedure code sits in SVC02 instead of SVC01-2,
    # which shifts the amounts one element to the left.
    "tertiary-payment.835": [("x12-invalid-element", 20, "0001000054"),
                             ("line-unbalanced", 20, "0001000054"),
                             ("claim-lines-mismatch", 16, "0001000054")],
}


def sample(name: str) -> str:
    return (DATA / name).read_text()


def parse_one(text: str | bytes) -> Remittance:
    remits = parse_835(text)
    assert len(remits) == 1
    return remits[0]


def raw_segments(text: str) -> list[list[str]]:
    """The samples' segments, split on their own ISA-declared delimiters (fixed-length ISA)."""
    element, terminator = text[3], text[105]
    return [s.strip().split(element) for s in text.split(terminator) if s.strip()]


def with_counts(text: str) -> str:
    """Recompute SE01 of every transaction set (for hand-edited copies of '~'-terminated text)."""
    segs = [s.strip() for s in text.split("~") if s.strip()]
    out, start = [], None
    for seg in segs:
        tag = seg.split("*")[0]
        if tag == "ST":
            start = len(out)
        if tag == "SE" and start is not None:
            parts = seg.split("*")
            parts[1] = str(len(out) - start + 1)
            seg = "*".join(parts)
        out.append(seg)
    return "~\n".join(out) + "~\n"


def codes(remit: Remittance) -> list[tuple[str, int | None, str | None]]:
    return [(p.code, p.segment, p.claim) for p in remit.problems]


# ---------------------------------------------------------------------------------------------
# real samples
# ---------------------------------------------------------------------------------------------
def test_samples_are_the_shared_originals():
    assert {"LICENSE-Apache-2.0.txt", "SOURCE.md"} <= {p.name for p in DATA.iterdir()}
    assert len(SAMPLES) == 6
    repo = Path(__file__).resolve().parents[1]
    for shared in (repo.parent / "shared" / "samples" / "x12-835",
                   Path("/work/shared/samples/x12-835")):
        if shared.is_dir():  # shared/ sits beside the repo on developer machines and CI
            for name in SAMPLES + ["SOURCE.md", "LICENSE-Apache-2.0.txt"]:
                assert (DATA / name).read_bytes() == (shared / name).read_bytes()


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_totals_match_the_raw_segments(name):
    text = sample(name)
    raw = raw_segments(text)
    remit = parse_one(text.encode())

    bpr = next(s for s in raw if s[0] == "BPR")
    clps = [s for s in raw if s[0] == "CLP"]
    plb_amounts = [Decimal(s[i]) for s in raw if s[0] == "PLB" for i in range(4, len(s), 2)]
    cas_amounts = [Decimal(s[i]) for s in raw if s[0] == "CAS" for i in range(3, len(s), 3)
                   if s[i]]
    svcs = [s for s in raw if s[0] == "SVC"]

    assert remit.format == "x12-835"
    assert remit.payment.amount == Decimal(bpr[2])
    assert [c.patient_account for c in remit.claims] == [s[1] for s in clps]
    assert [c.paid for c in remit.claims] == [Decimal(s[4]) for s in clps]
    assert [c.billed for c in remit.claims] == [Decimal(s[3]) for s in clps]
    assert sum(len(c.lines) for c in remit.claims) == len(svcs)
    assert sum(p.amount for p in remit.provider_adjustments) == sum(plb_amounts, Decimal(0))
    parsed_cas = [a.amount for c in remit.claims for a in c.all_adjustments]
    assert sorted(parsed_cas) == sorted(cas_amounts)
    # The file itself balances: BPR02 = sum(CLP04) - sum(PLB amounts), all from raw text.
    assert Decimal(bpr[2]) == sum((Decimal(s[4]) for s in clps), Decimal(0)) - sum(
        plb_amounts, Decimal(0))


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_problems_are_exactly_the_known_ones(name):
    remit = parse_one(sample(name))
    assert codes(remit) == KNOWN_SAMPLE_PROBLEMS[name]
    assert not [p for p in check_remittance(remit) if p.code == "remittance-unbalanced"]
    if name != "tertiary-payment.835":
        assert check_remittance(remit) == []
        assert not {p.code for p in remit.problems} & BALANCING_CODES


def test_demo_spot_values():
    remit = parse_one((DATA / "demo.835").read_bytes())
    assert remit.payer.name == "INSURANCE COMPANY OF TIMBUCKTU"
    assert remit.payer.id == "999"  # REF*2U
    assert (remit.payee.name, remit.payee.id) == ("REGIONAL HOPE HOSPITAL", "6543210903")
    assert remit.payment.method == "ACH"
    assert remit.payment.trace_number == "12345"
    assert remit.payment.date == dt.date(2002, 9, 13)
    assert remit.payment.amount == Decimal("150000.00")
    first, second = remit.claims
    assert (first.patient_account, first.payer_claim_id, first.status_code) == (
        "666123", "1999999444444", "1")
    assert (first.billed, first.paid) == (Decimal("211366.97"), Decimal("138018.40"))
    assert (first.patient_name, first.member_id) == ("JONES, SAM", "666666666A")
    assert [a.to_json() for a in first.adjustments] == [
        {"group": "CO", "carc": "45", "amount": "73348.57"}]
    assert second.paid == Decimal("11980.33")
    assert second.remarks == ["MA02"]  # MOA03
    assert second.patient_name == "BORDER, LIZ"
    (plb,) = remit.provider_adjustments
    assert (plb.reason, plb.reference, plb.amount) == ("CV", "CP", Decimal("-1.27"))
    # 138018.40 + 11980.33 - (-1.27) = 150000.00
    assert first.paid + second.paid - plb.amount == remit.payment.amount
    assert remit.balanced


def test_secondary_payment_lines():
    remit = parse_one(sample("secondary-payment.835"))
    claim = remit.claims[1]
    assert claim.patient_responsibility == Decimal("220.00")
    assert claim.member_id == "456789123"
    one, two = claim.lines
    # SVC*HC>12345>26 under ISA16 ':' - the stray '>' separator is understood.
    assert (one.procedure, one.modifiers) == ("12345", ["26"])
    assert (one.billed, one.paid, one.allowed) == (Decimal("166.50"), Decimal("30.00"),
                                                   Decimal("150.00"))
    assert one.date_of_service == dt.date(2005, 1, 6)
    assert one.units == Decimal("1.00")
    # CAS*PR*1*150.00**2*70.00 then CAS*CO*42*85.00
    assert [a.to_json() for a in two.adjustments] == [
        {"group": "PR", "carc": "1", "amount": "150.00"},
        {"group": "PR", "carc": "2", "amount": "70.00"},
        {"group": "CO", "carc": "42", "amount": "85.00"}]
    assert remit.payment.date == dt.date(2005, 4, 12)  # BPR16 empty: DTM*405


def test_managed_care_line_dates_and_payer_id():
    remit = parse_one(sample("managed-care.835"))
    assert remit.payer.id == "1935665544"  # no REF*2U, no N104: TRN03
    assert remit.payee.id == "5544667733"
    assert [ln.date_of_service for c in remit.claims for ln in c.lines] == [
        dt.date(2002, 3, 1), dt.date(2002, 3, 10)]  # DTM*150
    assert remit.payment.date == dt.date(2002, 3, 14)  # invalid BPR16: DTM*405, flagged
    assert remit.problems[0].message == "segment 4: BPR16 '20002316' is not a CCYYMMDD date"


def test_cob_negative_adjustment_increases_payment():
    remit = parse_one(sample("cob-contractural-adjustment.835"))
    (line,) = remit.claims[0].lines
    assert [(a.code, a.amount) for a in line.adjustments] == [("OA-23", Decimal("516.00")),
                                                              ("OA-94", Decimal("-9.00"))]
    assert line.billed - line.adjusted == line.paid == Decimal("34.00")


def test_reversal_with_negative_amounts_balances():
    text = sample("cob-contractural-adjustment.835")
    segs = transaction(text)
    claim = segs[segs.index("LX*1"):-1]
    reversal = [s.replace("*2*541.00*34.00*", "*22*-541.00*-34.00*")
                .replace("*541.00*34.00**1.00", "*-541.00*-34.00**-1.00")
                .replace("*516.00", "*-516.00").replace("*-9.00", "*9.00") for s in claim]
    body = segs[:-1] + reversal[1:] + ["SE*0*0001"]
    body[1] = "BPR*H*0.00*C*NON************20050318"
    head = [s.strip() for s in text.split("~") if s.strip()][:2]
    remit = parse_one(with_counts("~".join(head + body + ["GE*1*1", "IEA*1*000000907"])))
    original, reversed_ = remit.claims
    assert remit.problems == []
    assert (reversed_.status_code, reversed_.billed, reversed_.paid) == (
        "22", Decimal("-541.00"), Decimal("-34.00"))
    assert reversed_.lines[0].units == Decimal("-1.00")
    assert remit.payment.method == "NON" and remit.payment.amount == Decimal("0.00")


def test_parse_file_dispatches_to_the_835_parser():
    remits = parse_file(DATA / "demo.835")
    assert [r.payment.amount for r in remits] == [Decimal("150000.00")]
    assert parse_bytes((DATA / "demo.835").read_bytes())[0].to_json() == remits[0].to_json()


@pytest.mark.parametrize("name", SAMPLES)
def test_json_contract_round_trips(name):
    remit = parse_one(sample(name))
    again = Remittance.from_json(remit.to_json())
    assert again.to_json() == remit.to_json()


# ---------------------------------------------------------------------------------------------
# separators and layout
# ---------------------------------------------------------------------------------------------
def reseparate(text: str, element: str, component: str, repetition: str, terminator: str,
               newline: str) -> str:
    out = []
    for seg in raw_segments(text):
        if seg[0] == "ISA":
            seg = seg[:11] + [repetition] + seg[12:16] + [component]
        else:
            seg = [e.replace(":", component) for e in seg]
        out.append(element.join(seg))
    return (terminator + newline).join(out) + terminator + newline


SEPARATOR_VARIANTS = [
    ("|", "\\", "!", "~", "\r\n"),
    ("*", ">", "^", "\n", ""),  # newline as the segment terminator
    ("^", ":", "U", "'", ""),  # one long line; 4010-style ISA11 (no repetition separator)
    ("\x1d", "\x1f", "\x1e", "\x1c", ""),  # control characters, as some clearinghouses send
    ("+", "<", "}", "\r", "\n"),  # CR terminator followed by LF
]


@pytest.mark.parametrize("name", ["demo.835", "managed-care.835", "secondary-payment.835"])
@pytest.mark.parametrize("variant", SEPARATOR_VARIANTS, ids=repr)
def test_separator_variants_give_the_same_result(name, variant):
    original = sample(name)
    rewritten = reseparate(original, *variant)
    seps = read_separators(rewritten)
    assert (seps.element, seps.component, seps.segment) == (variant[0], variant[1], variant[3])
    assert seps.repetition == (None if variant[2] == "U" else variant[2])
    assert parse_one(rewritten.encode()).to_json() == parse_one(original).to_json()


def test_fixed_width_wrapped_file_and_eof_padding():
    flat = sample("demo.835").replace("\n", "")
    wrapped = "\r\n".join(flat[i:i + 80] for i in range(0, len(flat), 80)) + "\x1a"
    assert parse_one(wrapped).to_json() == parse_one(sample("demo.835")).to_json()


def test_leading_bom_and_blank_lines_are_ignored():
    text = "\ufeff\r\n" + sample("demo.835")
    assert parse_one(text.encode("utf-8")).to_json() == parse_one(sample("demo.835")).to_json()


def test_latin1_bytes_are_read_in_their_element_and_flagged():
    text = sample("demo.835").replace("JONES*SAM", "JONES*SÄM")
    remit = parse_one(text.encode("latin-1"))
    assert remit.claims[0].patient_name == "JONES, SÄM"
    assert [(p.code, p.segment) for p in remit.problems] == [("x12-encoding", 17)]


def transaction(text: str) -> list[str]:
    """The ST..SE segments of a '~'-terminated sample, as strings."""
    segs = [s.strip() for s in text.split("~") if s.strip()]
    start = next(i for i, s in enumerate(segs) if s.startswith("ST*"))
    end = next(i for i, s in enumerate(segs) if s.startswith("SE*"))
    return segs[start:end + 1]


def test_several_transaction_sets_and_groups_give_several_remittances():
    demo, cob, second = (sample(n) for n in ("demo.835", "cob-contractural-adjustment.835",
                                             "secondary-payment.835"))
    head = [s.strip() for s in demo.split("~") if s.strip()][:2]  # ISA, GS
    gs2 = head[1].replace("*1*X*", "*2*X*")
    body = (head + transaction(demo) + transaction(cob) + ["GE*2*1", gs2]
            + transaction(second) + ["GE*1*2", "IEA*2*000000907"])
    remits = parse_835("~\n".join(body) + "~\n")
    assert [r.payment.amount for r in remits] == [Decimal("150000.00"), Decimal("34.00"),
                                                  Decimal("1222.00")]
    for remit, name in zip(remits, ("demo.835", "cob-contractural-adjustment.835",
                                    "secondary-payment.835")):
        assert remit.to_json() == parse_one(sample(name)).to_json()


def test_envelope_count_mismatch_is_a_problem():
    text = sample("demo.835").replace("GE*1*1", "GE*2*1")
    remit = parse_one(text)
    assert codes(remit) == [("x12-envelope", 31, None)]
    assert "GE01 says '2' transaction sets but the group holds 1" in remit.problems[0].message


# ---------------------------------------------------------------------------------------------
# synthetic 835 exercising the remaining mappings
# ---------------------------------------------------------------------------------------------
SYNTHETIC = [
    "ISA*00*          *00*          *ZZ*PAYER          *ZZ*CLINIC         *260101*1200*^*00501*"
    "000000001*0*P*:",
    "GS*HP*PAYER*CLINIC*20260101*1200*7*X*005010X221A1",
    "ST*835*0001",
    "BPR*I*175.00*C*CHK************20260105",
    "TRN*1*CHK10001*1999999999",
    "DTM*405*20260102",
    "N1*PR*ACME HEALTH PLAN*XV*ACME01",
    "N1*PE*MAIN STREET CLINIC*XX*1234567893",
    "LX*1",
    "CLP*PA-1001*1*400.00*180.00*50.00*12*ICN0001",
    "CAS*CO*253*5.00",
    "NM1*QC*1*DOE*JANE*Q***34*123456789",
    "NM1*IL*1*DOE*JOHN****MI*W998877",
    "MOA***MA130*N381",
    "MIA*0****M2" + "*" * 15 + "N19*MA01",  # MIA05, MIA20, MIA21
    "DTM*232*20251201",
    "SVC*HC:99213:25:59*250.00*120.00**2*HC:99214*2",
    "DTM*472*20251203",
    "CAS*CO*45*50.00**97*30.00*1",
    "CAS*PR*2*20.00*****3*30.00",
    "AMT*B6*200.00",
    "LQ*HE*N130",
    "LQ*RX*ignored",
    "SVC*NU:0450*150.00*65.00",
    "CAS*CO*45*85.00",
    "PLB*1234567893*20261231*WO:ICN0099*20.00*L6*-5.00*FB:X1*-10.00*CS*5.00*AP*-5.00*72:Q*0.00",
    "SE*0*0001",
    "GE*1*7",
    "IEA*1*000000001",
]


def synthetic(replace: dict[str, str] | None = None) -> str:
    segs = []
    for seg in SYNTHETIC:
        for old, new in (replace or {}).items():
            if seg == old:
                seg = new
        if seg:
            segs.append(seg)
    return with_counts("~".join(segs))


def test_synthetic_mappings():
    remit = parse_one(synthetic())
    assert remit.problems == []
    assert (remit.payer.name, remit.payer.id) == ("ACME HEALTH PLAN", "ACME01")  # N104
    assert remit.payment.to_json() == {"method": "CHK", "trace_number": "CHK10001",
                                       "date": "2026-01-05", "amount": "175.00"}
    (claim,) = remit.claims
    assert claim.patient_name == "DOE, JANE"
    assert claim.member_id == "W998877"  # NM1*QC carries an SSN (34): NM1*IL member id
    assert claim.remarks == ["MA130", "N381", "M2", "N19", "MA01"]  # MOA03/04, MIA05/20/21
    assert claim.patient_responsibility == Decimal("50.00")
    e_and_m, room = claim.lines
    assert (e_and_m.procedure, e_and_m.modifiers, e_and_m.units) == ("99213", ["25", "59"],
                                                                     Decimal(2))
    assert e_and_m.date_of_service == dt.date(2025, 12, 3)  # DTM*472
    assert e_and_m.allowed == Decimal("200.00")
    assert e_and_m.remarks == ["N130"]  # LQ*HE only
    assert [(a.code, a.amount, a.quantity) for a in e_and_m.adjustments] == [
        ("CO-45", Decimal("50.00"), None), ("CO-97", Decimal("30.00"), Decimal(1)),
        ("PR-2", Decimal("20.00"), None), ("PR-3", Decimal("30.00"), None)]
    assert (room.procedure, room.modifiers, room.units) == ("0450", [], Decimal(1))
    assert room.date_of_service == dt.date(2025, 12, 1)  # no line DTM: claim DTM*232
    assert [(p.reason, p.reference, p.amount) for p in remit.provider_adjustments] == [
        ("WO", "ICN0099", Decimal("20.00")), ("L6", "", Decimal("-5.00")),
        ("FB", "X1", Decimal("-10.00")), ("CS", "", Decimal("5.00")),
        ("AP", "", Decimal("-5.00")), ("72", "Q", Decimal("0.00"))]
    # claim: 400 - 5 (CO-253) - 130 (line 1) - 85 (line 2) = 180; payment: 180 - 5 (PLB) = 175
    assert claim.paid - sum(p.amount for p in remit.provider_adjustments) == Decimal("175.00")


# ---------------------------------------------------------------------------------------------
# loop 2100 NM1*82: the rendering provider
# ---------------------------------------------------------------------------------------------
QC = "NM1*QC*1*DOE*JANE*Q***34*123456789"


def with_provider(*segments: str) -> str:
    """The synthetic transaction with ``segments`` after the claim's NM1*QC."""
    return synthetic({QC: "~".join((QC,) + segments)})


def test_rendering_provider_person():
    remit = parse_one(with_provider("NM1*82*1*WHITFIELD*DANA*R***XX*1234567893"))
    assert remit.problems == []
    assert remit.claims[0].rendering_provider == Party("DANA R WHITFIELD", "1234567893")
    assert remit.claims[0].to_json()["rendering_provider"] == {"name": "DANA R WHITFIELD",
                                                               "id": "1234567893"}
    # no middle name, a generation suffix (NM107)
    remit = parse_one(with_provider("NM1*82*1*OKAFOR*BEN***JR*XX*1234567893"))
    assert remit.claims[0].rendering_provider == Party("BEN OKAFOR JR", "1234567893")


def test_rendering_provider_organisation():
    remit = parse_one(with_provider("NM1*82*2*CEDAR RIDGE PHYSICIAN GROUP*****XX*1234567893"))
    assert remit.problems == []
    assert remit.claims[0].rendering_provider == Party("CEDAR RIDGE PHYSICIAN GROUP",
                                                       "1234567893")


def test_rendering_provider_absent_is_empty_and_not_serialised():
    (claim,) = parse_one(synthetic()).claims
    assert claim.rendering_provider == Party()
    assert "rendering_provider" not in claim.to_json()


def test_rendering_provider_id_other_than_an_npi_is_not_used():
    # BS / BD: payer-assigned provider numbers (as in the public samples), never an NPI
    remit = parse_one(with_provider("NM1*82*1*WHITFIELD*DANA****BS*34426"))
    assert remit.problems == []
    assert remit.claims[0].rendering_provider == Party("DANA WHITFIELD", "")


def test_rendering_provider_npi_with_a_wrong_check_digit_is_a_claim_problem():
    remit = parse_one(with_provider("NM1*82*1*WHITFIELD*DANA****XX*1234567890"))
    assert codes(remit) == [("x12-invalid-element", 13, "PA-1001")]  # the NM1*82
    assert "NM109 '1234567890' is not an NPI" in remit.problems[0].message
    assert remit.claims[0].rendering_provider == Party("DANA WHITFIELD", "")


def test_rendering_provider_after_the_service_lines_is_out_of_place():
    text = synthetic({"CAS*CO*45*85.00": "CAS*CO*45*85.00~NM1*82*1*WHITFIELD*DANA****XX*"
                                          "1234567893"})
    remit = parse_one(text)
    assert [p.code for p in remit.problems] == ["x12-out-of-place"]
    assert "NM1 (rendering provider)" in remit.problems[0].message
    assert remit.claims[0].rendering_provider == Party()


def test_rendering_providers_of_the_public_samples():
    """The samples carry NM1*82 organisations with BS/BD provider numbers: names, no NPI."""
    def providers(name):
        return [(c.patient_account, c.rendering_provider) for c in parse_one(sample(name)).claims]

    assert providers("secondary-payment.835") == [
        ("L0004828311", Party("ACME MEDICAL CENTER", "")),
        ("0001000053", Party("SMITH JONES PA", ""))]
    assert providers("cob-contractural-adjustment.835") == [
        ("0001000055", Party("PROFESSIONAL TEST 1", ""))]
    assert providers("tertiary-payment.835") == [
        ("0001000054", Party("JONES JONES ASSOCIATES", ""))]
    assert all(p == Party() for _, p in providers("demo.835") + providers("managed-care.835"))


# ---------------------------------------------------------------------------------------------
# loop 2100 DMG and HI: the patient's birth date and the diagnosis codes (not in the 835 guide;
# some payers send them)
# ---------------------------------------------------------------------------------------------
def test_birth_date_and_diagnoses_are_read_where_present():
    remit = parse_one(with_provider("DMG*D8*19560314*F", "HI*ABK:E119*ABF:I10*ABF:E785",
                                    "HI*ABF:Z23"))
    assert remit.problems == []
    (claim,) = remit.claims
    assert claim.patient_dob == dt.date(1956, 3, 14)
    assert claim.diagnoses == ["E119", "I10", "E785", "Z23"]
    data = claim.to_json()
    assert (data["patient_dob"], data["diagnoses"]) == ("1956-03-14", ["E119", "I10", "E785",
                                                                       "Z23"])
    assert Remittance.from_json(remit.to_json()).claims[0] == claim


def test_absent_dmg_and_hi_leave_the_json_as_before():
    (claim,) = parse_one(synthetic()).claims
    assert claim.patient_dob is None and claim.diagnoses == []
    assert not {"patient_dob", "diagnoses"} & set(claim.to_json())
    for name in SAMPLES:  # none of the public samples carries them
        assert all(not {"patient_dob", "diagnoses"} & set(c)
                   for c in parse_one(sample(name)).to_json()["claims"]), name


def test_principal_diagnosis_first_legacy_qualifiers_repeats_once_other_qualifiers_skipped():
    # an "other" before the principal, a repeat, BK/BF legacy qualifiers, a dotted code,
    # ABJ (admitting) and APR (reason for visit) are not the claim's diagnoses
    remit = parse_one(with_provider("HI*ABF:I10*ABJ:R0789*ABK:E119*BF:i10*APR:R051",
                                    "HI*BF:E78.5*ABF:E119"))
    assert remit.problems == []
    assert remit.claims[0].diagnoses == ["E119", "I10", "E785"]


def test_hi_components_split_on_isa16():
    text = with_provider("DMG*D8*20190701", "HI*ABK:J069*ABF:H6690")
    for variant in (("*", ">", "^", "~", "\n"), ("|", "\\", "!", "~", "\r\n")):
        remit = parse_one(reseparate(text, *variant))
        assert remit.problems == []
        assert remit.claims[0].diagnoses == ["J069", "H6690"]
        assert remit.claims[0].patient_dob == dt.date(2019, 7, 1)
    # a composite in another separator than the declared ':' is one component: flagged
    remit = parse_one(with_provider("HI*ABK>J069"))
    assert codes(remit) == [("x12-invalid-element", 13, "PA-1001")]
    assert "HI01 'ABK>J069' is not a qualifier and a code" in remit.problems[0].message
    assert remit.claims[0].diagnoses == []


def test_a_malformed_diagnosis_code_is_a_claim_problem_the_others_are_kept():
    remit = parse_one(with_provider("HI*BK:25000*ABF:I10*ABF:E1"))
    assert codes(remit) == [("x12-invalid-element", 13, "PA-1001")] * 2
    assert "HI01-2 '25000' is not an ICD-10-CM code" in remit.problems[0].message
    assert "HI03-2 'E1'" in remit.problems[1].message
    assert remit.claims[0].diagnoses == ["I10"]


@pytest.mark.parametrize("dmg,code,message", [
    ("DMG*D8*19561314*F", "x12-invalid-date", "DMG02 is not a CCYYMMDD date"),
    ("DMG*D8*1956031*F", "x12-invalid-date", "DMG02 is not a CCYYMMDD date"),
    ("DMG*D8**F", "x12-invalid-date", "DMG02 is not a CCYYMMDD date"),
    ("DMG*RD8*19560314-19560320", "x12-invalid-element", "DMG01 'RD8' is not D8"),
    # born after the first date of service (2025-12-01 is the claim's DTM*232 date)
    ("DMG*D8*20251202", "x12-invalid-date", "after the claim's first date of service"),
])
def test_a_bad_birth_date_is_a_claim_problem_and_not_used(dmg, code, message):
    remit = parse_one(with_provider(dmg))
    assert [(p.code, p.segment, p.claim) for p in remit.problems] == [(code, 13, "PA-1001")]
    assert message in remit.problems[0].message
    assert "1956" not in remit.problems[0].message and "2025" not in remit.problems[0].message
    assert remit.claims[0].patient_dob is None


def test_a_second_birth_date_that_differs_is_a_problem_the_first_is_kept():
    remit = parse_one(with_provider("DMG*D8*19560314", "DMG*D8*19560314", "DMG*D8*19650314"))
    assert codes(remit) == [("x12-invalid-element", 15, "PA-1001")]
    assert remit.claims[0].patient_dob == dt.date(1956, 3, 14)


def test_dmg_and_hi_after_the_service_lines_or_outside_a_claim_are_out_of_place():
    text = synthetic({"CAS*CO*45*85.00": "CAS*CO*45*85.00~DMG*D8*19560314~HI*ABK:E119",
                      "LX*1": "LX*1~HI*ABK:I10"})
    remit = parse_one(text)
    assert [p.code for p in remit.problems] == ["x12-out-of-place"] * 3
    assert [("DMG" in p.message, "HI" in p.message) for p in remit.problems] == [
        (False, True), (True, False), (False, True)]
    assert remit.claims[0].patient_dob is None and remit.claims[0].diagnoses == []


def test_cas_with_six_trios():
    six = "CAS*CO*45*10.00**97*5.00*1*16*4.00**18*3.00**B7*2.00*2*253*1.00"
    text = synthetic({"CAS*CO*45*85.00": six})
    remit = parse_one(text)
    room = remit.claims[0].lines[1]
    assert [(a.code, a.amount, a.quantity) for a in room.adjustments] == [
        ("CO-45", Decimal("10.00"), None), ("CO-97", Decimal("5.00"), Decimal(1)),
        ("CO-16", Decimal("4.00"), None), ("CO-18", Decimal("3.00"), None),
        ("CO-B7", Decimal("2.00"), Decimal(2)), ("CO-253", Decimal("1.00"), None)]
    # 150 - 25 = 125, but SVC03 says 65: the line and the claim are flagged, at their segments
    assert [(p.code, p.segment, p.line) for p in remit.problems] == [
        ("line-unbalanced", 24, 2), ("claim-unbalanced", 10, None)]
    seventh = parse_one(synthetic({"CAS*CO*45*85.00": "CAS*CO*45*80.00" + "*" * 17 + "*X*5.00"}))
    assert ("x12-syntax", 25, "PA-1001") in codes(seventh)


def test_plb_sign_positive_reduces_the_payment():
    # demo.835 pays 150000.00 = claims 149998.73 - PLB (-1.27). Flip the sign: 1.27 reduces it.
    remit = parse_one(sample("demo.835").replace("CV:CP*-1.27", "CV:CP*1.27"))
    (problem,) = remit.problems
    assert (problem.code, problem.segment, problem.claim) == ("remittance-unbalanced", 4, None)
    assert (problem.expected, problem.actual) == (Decimal("149997.46"), Decimal("150000.00"))


# ---------------------------------------------------------------------------------------------
# damaged samples
# ---------------------------------------------------------------------------------------------
def test_changed_clp04_is_a_claim_problem_at_the_clp_segment():
    text = sample("demo.835").replace("*211366.97*138018.40*", "*211366.97*138018.41*")
    remit = parse_one(text)
    assert codes(remit) == [("claim-unbalanced", 15, "666123"),
                            ("remittance-unbalanced", 4, None)]
    claim_problem = remit.problems[0]
    assert (claim_problem.expected, claim_problem.actual) == (Decimal("138018.40"),
                                                              Decimal("138018.41"))


def test_removed_claim_cas_is_flagged():
    text = sample("demo.835").replace("CAS*CO*45*3019.67~\n", "")
    remit = parse_one(text)
    assert codes(remit) == [("x12-se-count", 29, None), ("claim-unbalanced", 24, "777777")]
    # With SE01 corrected the balancing problem alone remains.
    assert codes(parse_one(with_counts(text))) == [("claim-unbalanced", 24, "777777")]


def test_removed_line_cas_is_flagged_at_the_svc_segment():
    text = with_counts(sample("secondary-payment.835").replace("CAS*CO*42*85.00~\n", ""))
    remit = parse_one(text)
    assert [(p.code, p.segment, p.claim, p.line) for p in remit.problems] == [
        ("line-unbalanced", 34, "0001000053", 2), ("claim-unbalanced", 24, "0001000053", None)]


def test_cas_before_any_claim_is_a_problem():
    text = with_counts(sample("demo.835").replace("LX*110212~", "LX*110212~\nCAS*CO*45*1.00~"))
    remit = parse_one(text)
    assert codes(remit) == [("x12-out-of-place", 13, None)]
    assert "CAS comes before any claim" in remit.problems[0].message
    assert remit.claims[0].adjustments[0].amount == Decimal("73348.57")


def test_truncated_file_flags_missing_se_and_the_open_claim():
    text = sample("demo.835")
    cut = text[: text.index("MOA***MA02")]
    remit = parse_one(cut)
    found = codes(remit)
    assert found[0] == ("x12-missing-se", 3, "777777")
    assert ("x12-envelope", 26, None) in found  # no GE/IEA after the last segment (NM1, 26)
    assert [c.patient_account for c in remit.claims] == ["666123", "777777"]


def test_se_control_number_mismatch():
    remit = parse_one(sample("demo.835").replace("SE*28*1234", "SE*28*9999"))
    assert codes(remit) == [("x12-control-number", 30, None)]


def test_bad_amount_is_a_problem_not_a_crash():
    remit = parse_one(sample("demo.835").replace("CAS*CO*45*3019.67", "CAS*CO*45*30I9.67"))
    assert codes(remit)[0] == ("x12-invalid-amount", 25, "777777")
    assert "CAS03 '30I9.67' is not an amount" in remit.problems[0].message


def test_missing_bpr_is_a_problem():
    text = with_counts(re.sub(r"BPR\*[^~]*~\n", "", sample("demo.835")))
    remit = parse_one(text)
    assert ("x12-missing-segment", 3, None) in codes(remit)


# ---------------------------------------------------------------------------------------------
# not an 835 at all
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("data", [
    b"", b"   \n", b"hello world", b"%PDF-1.7\n", os.urandom(2048).replace(b"ISA", b"XXX"),
    b"ISA", b"ISA*00*", b"ISA*00*" + b"*" * 14, b"ISA" + b"\x00" * 200,
    b"ISA1" + b"*" * 20,  # alphanumeric element separator
    b"ISA*" + b"x*" * 15 + b":",  # no terminator after ISA16
])
def test_garbage_raises_document_error(data):
    with pytest.raises(DocumentError):
        parse_835(data)


def test_interchange_without_an_835_raises():
    head = sample("demo.835").split("ST*835")[0]
    with pytest.raises(DocumentError, match="no ST\\*835"):
        parse_835(head + "GE*0*1~IEA*1*000000907~")
    with pytest.raises(DocumentError, match="'837'.*not an 835"):
        parse_835(sample("demo.835").replace("ST*835*1234", "ST*837*1234"))


def test_document_error_is_quick_on_a_large_garbage_file():
    started = time.perf_counter()
    with pytest.raises(DocumentError):
        parse_835(b"ISA*" + os.urandom(5_000_000))
    assert time.perf_counter() - started < 2


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000))
def test_random_bytes_only_ever_raise_document_error(data):
    try:
        result = parse_835(data)
    except DocumentError:
        return
    assert all(isinstance(r, Remittance) for r in result)


_DEMO = (DATA / "demo.835").read_bytes()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(_DEMO) - 1), st.binary(max_size=8),
                          st.integers(0, 8)), max_size=6))
def test_damaged_sample_parses_or_raises_document_error_quickly(edits):
    data = bytearray(_DEMO)
    for pos, insert, delete in edits:
        pos = min(pos, len(data))
        data[pos:pos + delete] = insert
    started = time.perf_counter()
    try:
        result = parse_835(bytes(data))
    except DocumentError:
        result = []
    assert time.perf_counter() - started < 1
    for remit in result:
        remit.to_json()  # every parse result serializes: the contract holds on damaged input


_ENVELOPE_HEAD = "~".join(SYNTHETIC[:3]) + "~"
_TAGS = ["BPR", "TRN", "DTM", "N1", "REF", "LX", "CLP", "CAS", "NM1", "MIA", "MOA", "SVC", "AMT",
         "LQ", "PLB", "SE", "ST", "GE", "GS", "IEA", "ISA", "QTY", "zz", ""]
_ELEMENT = st.text(alphabet="0123456789.-:>^ ABCHXPQ", max_size=12)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(_TAGS), st.lists(_ELEMENT, max_size=22)),
                max_size=40))
def test_random_segments_inside_a_transaction_never_crash(segments):
    body = "".join("*".join([tag, *elements]) + "~\n" for tag, elements in segments)
    try:
        result = parse_835(_ENVELOPE_HEAD + body)
    except DocumentError:
        return
    for remit in result:
        assert Remittance.from_json(remit.to_json()).to_json() == remit.to_json()
