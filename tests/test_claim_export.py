"""The practice's claim export: validated on load (file:line: column), cached until it changes,
and used to fill only what a remittance's claim lacks."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest

from claimwright import claim_export as ce
from claimwright import datafiles
from claimwright.claim_export import ClaimExport, ClaimExportError, load_claim_export
from claimwright.models import ZERO, Claim, Party

HEADER = "patient_account,payer_claim_id,patient_dob,diagnoses,rendering_npi,rendering_name\n"
NPI = "1234567893"  # check digit valid
OTHER_NPI = "1245319599"  # check digit valid too


@pytest.fixture(autouse=True)
def _fresh_cache():
    datafiles.forget()
    yield
    datafiles.forget()


def write(tmp_path, text: str | bytes, name: str = "claim-export.csv"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def claim(account="CR1000001", icn="ICN1", **fields) -> Claim:
    return Claim(account, icn, "1", ZERO, ZERO, **fields)


def error_of(tmp_path, text) -> ClaimExportError:
    with pytest.raises(ClaimExportError) as info:
        load_claim_export(write(tmp_path, text))
    return info.value


# --- reading ---------------------------------------------------------------------------------


def test_a_valid_export_in_any_column_order_and_case_with_extra_columns(tmp_path):
    text = ("\ufeffRendering_Name, Payer ,DIAGNOSES,Patient_Account,patient_dob,Rendering_NPI,"
            "payer_claim_id\n"
            f'"Whitfield, Dana",Northwind,"E11.9, i10;E785",CR1000001,1956-03-14,{NPI},ICN1\n'
            "\n"
            ",Keystone,Z23,CR1000002,2019-07-01,,\n")
    export = load_claim_export(write(tmp_path, text))
    assert len(export) == 2
    first = export.rows[("CR1000001", "ICN1")]
    assert (first.line, first.patient_dob, first.diagnoses) == (2, dt.date(1956, 3, 14),
                                                                ("E119", "I10", "E785"))
    assert first.rendering_provider == Party("Whitfield, Dana", NPI)
    second = export.rows[("CR1000002", "")]  # no payer claim number: the account's row
    assert (second.line, second.diagnoses, second.rendering_provider) == (4, ("Z23",), Party())


def test_a_header_only_file_is_an_empty_export_and_no_file_is_no_enrichment(tmp_path):
    assert len(load_claim_export(write(tmp_path, HEADER))) == 0
    missing = load_claim_export(tmp_path / "nowhere.csv")
    assert missing == ClaimExport() and len(missing) == 0
    original = claim(patient_dob=None)
    assert missing.enrich(original) == (original, [])


def test_multi_line_quoted_cells_keep_the_line_numbers_of_the_rows(tmp_path):
    text = (HEADER.rstrip("\n") + ",notes\n"
            'CR1,ICN1,1956-03-14,E119,,,"a note\nover two lines"\n'
            "CR2,ICN2,1956-13-01,E119,,,\n")
    assert error_of(tmp_path, text).line == 4


@pytest.mark.parametrize("row,message", [
    ("CR1,ICN1,1956-13-01,E119,,", "claim-export.csv:2: patient_dob: not a date: expected "
                                   "YYYY-MM-DD"),
    ("CR1,ICN1,14/03/1956,E119,,", "claim-export.csv:2: patient_dob: not a date"),
    ("CR1,ICN1,2999-01-01,E119,,", "claim-export.csv:2: patient_dob: in the future"),
    ("CR1,ICN1,1850-01-01,E119,,", "claim-export.csv:2: patient_dob: before 1900"),
    ("CR1,ICN1,,E119 25000,,", "claim-export.csv:2: diagnoses: not an ICD-10-CM code '25000'"),
    ("CR1,ICN1,,,1234567890,", "claim-export.csv:2: rendering_npi: not an NPI '1234567890'"),
    (",ICN1,1956-03-14,,,", "claim-export.csv:2: patient_account: missing"),
    ("CR1,ICN1,,E119,,Dana,Whitfield", "claim-export.csv:2: 7 cells but the header names 6"),
    ('CR1,ICN1,,"E119,,', "claim-export.csv:2: not a CSV file the reader understands"),
    ("CR1,ICN1,,," + "x" * 201 + ",", "claim-export.csv:2: rendering_npi: longer than 200"),
])
def test_a_bad_row_names_file_line_and_column(tmp_path, row, message):
    err = error_of(tmp_path, HEADER + row + "\n")
    assert str(err).startswith(message), str(err)
    assert isinstance(err, ValueError) and err.line == 2 and err.problems == [str(err)]


def test_no_message_quotes_a_date_of_birth_or_an_account(tmp_path):
    err = error_of(tmp_path, HEADER + "CR7654321,ICN1,1956-13-01,E119,,\n"
                   "CR7654321,ICN1,1956-03-14,E119,,\n" "CR7654321,ICN1,1956-03-14,E119,,\n")
    assert "1956" not in " ".join(err.problems) and "CR7654321" not in " ".join(err.problems)
    assert err.problems[1] == ("claim-export.csv:4: patient_account: a second row for the same "
                               "patient_account and payer_claim_id (the first is on line 3)")


def test_every_problem_is_counted_the_first_raised(tmp_path):
    rows = "".join(f"CR{i},ICN{i},1956-02-30,,,\n" for i in range(150))
    err = error_of(tmp_path, HEADER + rows)
    assert str(err) == ("claim-export.csv:2: patient_dob: not a date: expected YYYY-MM-DD "
                        "(and 149 more problems)")
    assert len(err.problems) == 100 and err.problems[-1].startswith("claim-export.csv:101:")


@pytest.mark.parametrize("text,message", [
    ("", "claim-export.csv: empty: no header row"),
    ("\n\n", "claim-export.csv: empty: no header row"),
    ("account,dob\nCR1,1956-03-14\n", "claim-export.csv:1: the header names no patient_account "
                                      "column (it names 'account', 'dob'"),
    ("patient_account,diagnoses,Diagnoses\n", "claim-export.csv:1: diagnoses: named twice"),
])
def test_a_bad_header_is_refused(tmp_path, text, message):
    assert str(error_of(tmp_path, text)).startswith(message)


def test_text_that_is_not_utf8_names_its_line(tmp_path):
    data = (HEADER + "CR1,ICN1,,E119,,Dana\nCR2,ICN2,,E119,,Ren").encode() + b"\xe9e\n"
    assert str(error_of(tmp_path, data)).startswith("claim-export.csv:3: not UTF-8 text")


def test_absurd_files_are_refused_before_reading_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(ce, "MAX_BYTES", 1000)
    big = HEADER + "".join(f"CR{i},ICN{i},,E119,,\n" for i in range(100))
    assert str(error_of(tmp_path, big)).startswith("claim-export.csv: larger than 0 MB: refused")
    monkeypatch.setattr(ce, "MAX_BYTES", 10**6)
    monkeypatch.setattr(ce, "MAX_ROWS", 10)
    err = error_of(tmp_path, big)
    assert str(err).startswith("claim-export.csv:12: more than 10 rows: refused")
    with pytest.raises(ClaimExportError, match="is a directory"):
        load_claim_export(tmp_path)


def test_loaded_once_until_the_file_changes_and_a_failed_load_is_not_kept(tmp_path):
    path = write(tmp_path, HEADER + "CR1,ICN1,1956-03-14,E119,,\n")
    first = load_claim_export(path)
    assert load_claim_export(path) is first
    path.write_text(HEADER + "CR1,ICN1,1956-03-14,E119 I10,,\nCR2,,,Z23,,\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    second = load_claim_export(path)
    assert second is not first and second.rows[("CR1", "ICN1")].diagnoses == ("E119", "I10")
    path.write_text(HEADER + "CR1,ICN1,1956-13-01,,,\n")
    with pytest.raises(ClaimExportError):
        load_claim_export(path)
    path.write_text(HEADER + "CR9,,,,,\n")
    assert list(load_claim_export(path).rows) == [("CR9", "")]


def test_the_path_comes_from_the_setting_by_default(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(home))
    monkeypatch.delenv("CLAIMWRIGHT_CLAIM_EXPORT", raising=False)
    assert len(load_claim_export()) == 0  # no file yet: no enrichment
    write(home, HEADER + "CR1,,1956-03-14,,,\n")
    assert load_claim_export().path == home / "claim-export.csv"
    other = write(tmp_path, HEADER + "CR2,,,,,\nCR3,,,,,\n", name="pm-export.csv")
    monkeypatch.setenv("CLAIMWRIGHT_CLAIM_EXPORT", str(other))
    assert len(load_claim_export()) == 2


# --- enrich ----------------------------------------------------------------------------------


@pytest.fixture
def export(tmp_path):
    return load_claim_export(write(tmp_path, HEADER + (
        f"CR1,ICN1,1956-03-14,E119 I10,{NPI},Dana R Whitfield\n"
        "CR1,,1956-03-14,Z0000,,\n"  # every other claim of the account
        f"CR2,ICN2,2019-07-01,J069,{OTHER_NPI},Marcus Okonkwo\n")))


def test_enrich_fills_what_the_remittance_does_not_print(export):
    bare = claim("CR1", "ICN1")
    filled, notes = export.enrich(bare)
    assert notes == []
    assert filled.patient_dob == dt.date(1956, 3, 14) and filled.diagnoses == ["E119", "I10"]
    assert filled.rendering_provider == Party("Dana R Whitfield", NPI)
    # a copy: the claim given is unchanged
    assert bare.patient_dob is None and bare.diagnoses == [] and bare.rendering_provider == Party()
    filled.diagnoses.append("Z23")
    assert export.rows[("CR1", "ICN1")].diagnoses == ("E119", "I10")


def test_the_payer_claim_number_picks_the_row_else_the_accounts_row(export):
    other, notes = export.enrich(claim("CR1", "ICN-ELSEWHERE"))
    assert (other.diagnoses, other.rendering_provider, notes) == (["Z0000"], Party(), [])
    no_icn, _ = export.enrich(claim("CR1", ""))
    assert no_icn.diagnoses == ["Z0000"]
    # a row giving a payer claim number is that claim's only
    unknown, notes = export.enrich(claim("CR2", "ICN9"))
    assert unknown == claim("CR2", "ICN9") and notes == []
    assert export.enrich(claim("CR404", "ICN1")) == (claim("CR404", "ICN1"), [])


def test_enrich_never_overwrites_what_the_remittance_printed(export):
    # the SPR prints the provider's NPI only: the name is filled, the NPI kept
    spr, notes = export.enrich(claim("CR1", "ICN1", rendering_provider=Party("", NPI)))
    assert spr.rendering_provider == Party("Dana R Whitfield", NPI) and notes == []
    # an 835's upper-case name is the same name
    x12, notes = export.enrich(claim("CR1", "ICN1",
                                     rendering_provider=Party("DANA R. WHITFIELD", "")))
    assert x12.rendering_provider == Party("DANA R. WHITFIELD", NPI) and notes == []
    same, notes = export.enrich(claim("CR1", "ICN1", patient_dob=dt.date(1956, 3, 14),
                                      diagnoses=["E119", "I10"]))
    assert notes == [] and same.diagnoses == ["E119", "I10"]


def test_disagreements_are_noted_without_values_and_the_remittance_wins(export):
    printed = claim("CR1", "ICN1", patient_dob=dt.date(1956, 3, 15), diagnoses=["E119"],
                    rendering_provider=Party("Priya Lindqvist", OTHER_NPI))
    out, notes = export.enrich(printed)
    assert out == printed  # nothing filled, nothing overwritten
    assert notes == [
        "date of birth on the remittance differs from the claim export (claim-export.csv:2)",
        "diagnosis codes on the remittance differ from the claim export (claim-export.csv:2)",
        "rendering provider NPI on the remittance differs from the claim export "
        "(claim-export.csv:2)",
        "rendering provider name on the remittance differs from the claim export "
        "(claim-export.csv:2)"]
    text = " ".join(notes)
    assert not any(v in text for v in ("1956", "E119", "I10", NPI, OTHER_NPI, "Whitfield",
                                       "Lindqvist", "CR1", "ICN1"))
    # another NPI alone: the printed name is not completed with the export's
    out, notes = export.enrich(claim("CR1", "ICN1", rendering_provider=Party("", OTHER_NPI)))
    assert out.rendering_provider == Party("", OTHER_NPI) and len(notes) == 1


# --- the synthetic practice's export and the demo ---------------------------------------------

ANCHOR = dt.date(2026, 3, 15)


@pytest.fixture(scope="module")
def datasets(remittance_dataset):
    return {payer: remittance_dataset(payer, ANCHOR, count=3)
            for payer in ("northwind", "keystone")}


def test_the_fixture_export_has_every_claim_and_agrees_with_what_remittances_print(
        tmp_path, datasets):
    from claimwright.parsing import parse_file
    from fixtures.remittances.claim_export import write_claim_export
    from fixtures.remittances.data import plan_dataset

    path = tmp_path / "claim-export.csv"
    count = write_claim_export(path, [m for _, m in datasets.values()])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    export = load_claim_export(path)
    claims = {p: [c for plan in plan_dataset(p, seed=7, count=3, anchor=ANCHOR, anomalies=True)
                  for c in plan.remittance.claims] for p in datasets}
    assert len(export) == count == sum(len(c) for c in claims.values())
    # northwind prints date of birth and diagnoses: the export agrees, nothing to add or note
    out, manifest = datasets["northwind"]
    for entry in manifest["remittances"]:
        for parsed in parse_file(out / entry["pdf"])[0].claims:
            assert parsed.patient_dob and export.enrich(parsed) == (parsed, [])
    # the SPR prints neither, and providers by NPI: the export completes them all
    out, manifest = datasets["keystone"]
    plans = plan_dataset("keystone", seed=7, count=3, anchor=ANCHOR, anomalies=True)
    for plan, entry in zip(plans, manifest["remittances"], strict=True):
        for parsed, made in zip(parse_file(out / entry["pdf"])[0].claims,
                                plan.remittance.claims, strict=True):
            assert parsed.patient_dob is None and parsed.diagnoses == []
            filled, notes = export.enrich(parsed)
            assert notes == []
            assert (filled.patient_dob, filled.diagnoses, filled.rendering_provider) == (
                made.patient_dob, made.diagnoses, made.rendering_provider)
    # same datasets, same bytes
    again = tmp_path / "again.csv"
    write_claim_export(again, [m for _, m in datasets.values()])
    assert again.read_bytes() == path.read_bytes()


def test_an_edited_fixture_export_shows_the_disagreement_with_the_printed_values(
        tmp_path, datasets):
    from claimwright.parsing import parse_file
    from fixtures.remittances.claim_export import write_claim_export

    path = tmp_path / "claim-export.csv"
    write_claim_export(path, [datasets["northwind"][1]])
    out, manifest = datasets["northwind"]
    truth = json.loads((out / manifest["remittances"][0]["truth"]).read_text())["claims"][0]
    lines = path.read_text().splitlines(keepends=True)
    number = next(i for i, ln in enumerate(lines) if ln.startswith(
        f"{truth['patient_account']},{truth['payer_claim_id']},"))
    cells = lines[number].split(",")
    cells[2] = "1901-01-01"
    lines[number] = ",".join(cells)
    path.write_text("".join(lines))
    parsed = parse_file(out / manifest["remittances"][0]["pdf"])[0].claims[0]
    kept, notes = load_claim_export(path).enrich(parsed)
    assert kept.patient_dob == dt.date.fromisoformat(truth["patient_dob"])
    assert notes == ["date of birth on the remittance differs from the claim export "
                     f"(claim-export.csv:{number + 1})"]


def test_a_stale_dataset_is_refused(datasets):
    from fixtures.remittances.claim_export import claim_export_rows

    stale = {**datasets["northwind"][1], "generator": 1}
    with pytest.raises(ValueError, match="generator 1"):
        claim_export_rows(stale)


def test_the_demo_writes_the_export_where_the_pipeline_looks(tmp_path, monkeypatch, datasets):
    from claimwright.demo import write_demo_claim_export
    from claimwright.settings import Settings

    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path / "var"))
    monkeypatch.delenv("CLAIMWRIGHT_CLAIM_EXPORT", raising=False)
    manifests = [m for _, m in datasets.values()]
    settings = Settings.from_env()
    path = write_demo_claim_export(settings, manifests)
    assert path == settings.claim_export == tmp_path / "var" / "claim-export.csv"
    assert "CLAIMWRIGHT_CLAIM_EXPORT" not in os.environ  # found through the default
    assert load_claim_export().path == path and len(load_claim_export()) > 0
    # a practice's own export named by the variable is never overwritten by the demo
    real = write(tmp_path, HEADER + "CR1,,,,,\n", name="practice.csv")
    monkeypatch.setenv("CLAIMWRIGHT_CLAIM_EXPORT", str(real))
    path = write_demo_claim_export(Settings.from_env(), manifests)
    assert real.read_text() == HEADER + "CR1,,,,,\n"
    assert os.environ["CLAIMWRIGHT_CLAIM_EXPORT"] == str(path)
    assert load_claim_export().path == path
