"""The stored JSON form rebuilds exactly what the parsers produced.

The pipeline stores ``Remittance.to_json()`` and rebuilds from it; the generated ground truth
passes through the same ``to_json``, so only the parsers' own output can show a field lost on the
way. Every field of every dataclass is compared, so a field a serializer forgets fails here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from claimwright.models import Remittance
from claimwright.parsing import parse_bytes, parse_file
from fixtures.remittances import PAYERS

X12_DIR = Path(__file__).parent / "data" / "x12-835"
ANCHOR = dt.date(2026, 6, 1)


def field_differences(a, b, path="remittance") -> list[str]:
    """Where two model values differ, field by field (empty when equal)."""
    if dataclasses.is_dataclass(a) and type(a) is type(b):
        return [d for f in dataclasses.fields(a)
                for d in field_differences(getattr(a, f.name), getattr(b, f.name),
                                           f"{path}.{f.name}")]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in field_differences(x, y, f"{path}[{i}]")]
    return [] if (type(a) is type(b) or {type(a), type(b)} <= {str}) and a == b else \
        [f"{path}: {a!r} != {b!r}"]


def assert_round_trips(remit: Remittance, label: str) -> None:
    rebuilt = Remittance.from_json(remit.to_json())
    assert field_differences(remit, rebuilt) == [], label
    assert rebuilt == remit, label


@pytest.fixture(scope="module", params=sorted(PAYERS))
def parsed_pdfs(request, remittance_dataset):
    out, manifest = remittance_dataset(request.param, ANCHOR, count=4)
    return [(e["pdf"], parse_file(out / e["pdf"])[0]) for e in manifest["remittances"]]


def test_parsed_pdfs_of_every_layout_round_trip(parsed_pdfs):
    assert parsed_pdfs
    for name, remit in parsed_pdfs:
        assert remit.format == "pdf" and remit.layout
        assert all(c.rendering_provider.id for c in remit.claims)  # the provider goes through too
        assert_round_trips(remit, name)


@pytest.mark.parametrize("name", sorted(p.name for p in X12_DIR.glob("*.835")))
def test_sample_835s_round_trip(name):
    remits = parse_file(X12_DIR / name)
    assert remits
    for remit in remits:
        assert_round_trips(remit, name)


def test_the_rendering_providers_of_the_835_samples_survive():
    (remit,) = parse_file(X12_DIR / "secondary-payment.835")
    assert [c.rendering_provider.name for c in remit.claims] == ["ACME MEDICAL CENTER",
                                                                  "SMITH JONES PA"]
    data = (X12_DIR / "secondary-payment.835").read_text().replace(
        "NM1*82*2*SMITH JONES PA*****BS*34426", "NM1*82*1*JONES*ALMA****XX*1234567893").encode()
    (remit,) = parse_bytes(data)
    assert remit.claims[1].rendering_provider.id == "1234567893"
    assert_round_trips(remit, "secondary-payment.835 with an NPI")


def test_an_adjustment_quantity_the_parser_read_survives():
    text = (X12_DIR / "managed-care.835").read_text()
    assert "CAS*CO*45*50.00~" in text
    data = text.replace("CAS*CO*45*50.00~", "CAS*CO*45*50.00*2~").encode()
    (remit,) = parse_bytes(data)
    read = [a for c in remit.claims for a in c.all_adjustments if a.quantity is not None]
    assert [(a.code, str(a.quantity)) for a in read] == [("CO-45", "2")]
    assert_round_trips(remit, "managed-care.835 with a CAS quantity")
    rebuilt = Remittance.from_json(remit.to_json())
    assert [a.quantity for c in rebuilt.claims for a in c.all_adjustments
            if a.quantity is not None] == [read[0].quantity]


# --- the patient's date of birth and the diagnosis codes (new keys, only when set) -------------


def _claim_json(**extra) -> dict:
    claim = {"patient_account": "CR1000001", "payer_claim_id": "ICN1", "status_code": "1",
             "patient_name": "DOE, JANE", "member_id": "W123", "billed": "100.00",
             "paid": "80.00", "patient_responsibility": "20.00",
             "adjustments": [{"group": "PR", "carc": "2", "amount": "20.00"}], "remarks": [],
             "lines": []}
    return {**claim, **extra}


def _remittance_json(claim: dict) -> dict:
    return {"format": "x12-835", "payer": {"name": "ACME", "id": "A1"},
            "payee": {"name": "Clinic", "npi": "1234567893"},
            "payment": {"method": "CHK", "trace_number": "T1", "date": "2026-01-05",
                        "amount": "80.00"},
            "claims": [claim], "provider_adjustments": [], "balanced": True, "problems": []}


def test_json_without_dob_or_diagnoses_loads_and_is_written_back_unchanged():
    """Stored JSON from before the fields existed: read as unknown, written back key for key
    (no ``patient_dob`` / ``diagnoses`` keys appear)."""
    import json

    old = _remittance_json(_claim_json())
    remit = Remittance.from_json(old)
    assert remit.claims[0].patient_dob is None and remit.claims[0].diagnoses == []
    assert json.dumps(remit.to_json()) == json.dumps(old)  # same keys, same order, same text


def test_dob_and_diagnoses_round_trip_after_the_existing_keys():
    data = _remittance_json(_claim_json(patient_dob="1956-03-14", diagnoses=["E119", "I10"]))
    remit = Remittance.from_json(data)
    claim = remit.claims[0]
    assert claim.patient_dob == dt.date(1956, 3, 14) and claim.diagnoses == ["E119", "I10"]
    written = remit.to_json()
    assert written == data
    assert list(written["claims"][0])[-2:] == ["patient_dob", "diagnoses"]
    assert_round_trips(remit, "dob and diagnoses")
    # each key on its own
    only_dob = Remittance.from_json(_remittance_json(_claim_json(patient_dob="2019-07-01")))
    assert "diagnoses" not in only_dob.to_json()["claims"][0]
    only_dx = Remittance.from_json(_remittance_json(_claim_json(diagnoses=["J069"])))
    assert "patient_dob" not in only_dx.to_json()["claims"][0]


@pytest.mark.parametrize("text,code", [
    ("E119", "E119"), ("e11.9", "E119"), (" I10 ", "I10"), ("Z0000", "Z0000"),
    ("S83241A", "S83241A"), ("Z23", "Z23"),
    ("250.00", None), ("E1", None), ("EE119", None), ("E11.", None), ("E1190000", None),
    ("E11-9", None), ("", None),
])
def test_diagnosis_code_format(text, code):
    from claimwright.models import diagnosis_code

    assert diagnosis_code(text) == code


def test_add_diagnoses_keeps_order_drops_repeats_and_returns_what_is_malformed():
    from claimwright.models import add_diagnoses

    codes = ["E119"]
    assert add_diagnoses(codes, "I10, e11.9;E785  25000") == ["25000"]
    assert codes == ["E119", "I10", "E785"]
    assert add_diagnoses(codes, ["Z23", "I10", "X"]) == ["X"]
    assert codes == ["E119", "I10", "E785", "Z23"]
