"""The PDF remittance parser against generated ground truth, damaged input and foreign layouts."""

from __future__ import annotations

import datetime as dt
import io
import json
import random
import re
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reportlab.lib.pagesizes import landscape, letter
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas

from claimwright.errors import DocumentError, UnknownLayout
from claimwright.parsing import parse_bytes, parse_file
from claimwright.parsing.layout import LayoutFileError
from claimwright.parsing.layout_loader import LAYOUT_DIR, get_layout, load_layout_file
from claimwright.parsing.pdf import detect_layout, parse_pdf
from fixtures.remittances import ANOMALY_UNBALANCED, ANOMALY_UNKNOWN_CARC, plan_dataset, render_plan
from fixtures.remittances import render_northwind as rn

ANCHOR = dt.date(2026, 5, 4)


@pytest.fixture(scope="module")
def dataset(remittance_dataset):
    return remittance_dataset("northwind", ANCHOR)


def assert_matches_truth(remit, truth, label):
    got = remit.to_json()
    if got == truth:
        return
    for key in truth:  # a readable first difference
        if got.get(key) != truth[key]:
            if key == "claims":
                for i, (a, b) in enumerate(zip(got[key], truth[key])):
                    assert a == b, f"{label}: claim {i} differs"
            assert got[key] == truth[key], f"{label}: {key} differs"
    assert got == truth, label


def test_every_generated_remittance_parses_field_exact(dataset):
    out, manifest = dataset
    for entry in manifest["remittances"]:
        remit = parse_pdf(out / entry["pdf"])
        assert remit.format == "pdf" and remit.layout == "northwind"
        assert_matches_truth(remit, json.loads((out / entry["truth"]).read_text()),
                             entry["remittance_id"])


def test_many_seeds_parse_field_exact(tmp_path):
    """64 more remittances (4 seeds, anomalies included), parsed from bytes in memory."""
    checked = 0
    for seed in (3, 19, 42, 77):
        for plan in plan_dataset("northwind", seed=seed, count=14, anchor=ANCHOR,
                                 anomalies=True):
            pdf, truth, _ = render_plan(plan)
            assert_matches_truth(parse_pdf(pdf), truth, f"seed {seed} {plan.remittance_id}")
            checked += 1
    assert checked == 64


def test_dispatch_and_explicit_layout(dataset):
    out, manifest = dataset
    entry = manifest["remittances"][1]
    truth = json.loads((out / entry["truth"]).read_text())
    [via_file] = parse_file(out / entry["pdf"])
    assert via_file.to_json() == truth
    data = (out / entry["pdf"]).read_bytes()
    assert parse_bytes(data, layout="northwind")[0].to_json() == truth
    assert parse_pdf(data, layout=str(LAYOUT_DIR / "northwind.yaml")).to_json() == truth


def test_unbalanced_anomaly_is_flagged_with_page_and_line(dataset):
    out, manifest = dataset
    entry = next(e for e in manifest["remittances"] if e["anomaly"] == ANOMALY_UNBALANCED)
    remit = parse_pdf(out / entry["pdf"])
    assert not remit.balanced
    [problem] = remit.problems
    assert problem.code == "line-unbalanced"
    claim = next(c for c in remit.claims if c.patient_account == problem.claim)
    line = claim.lines[problem.line - 1]
    assert problem.page == claim.pages[0]
    assert line.paid - (line.billed - line.adjusted) == 10
    assert (problem.expected, problem.actual) == (line.billed - line.adjusted, line.paid)


def test_unknown_carc_is_parsed_as_printed(dataset):
    out, manifest = dataset
    entry = next(e for e in manifest["remittances"] if e["anomaly"] == ANOMALY_UNKNOWN_CARC)
    remit = parse_pdf(out / entry["pdf"])
    assert remit.balanced
    odd = [a for c in remit.claims for a in c.all_adjustments if a.carc == "Z98"]
    assert len(odd) == 1 and odd[0].group == "CO" and odd[0].amount > 0


def test_split_claims_carry_all_their_pages(dataset):
    out, manifest = dataset
    split = [c for e in manifest["remittances"] for c in parse_pdf(out / e["pdf"]).claims
             if len(c.pages) > 1]
    assert split and all(c.lines for c in split)


# --- damaged and foreign input -------------------------------------------------------------


def _pdf(draw, **kw) -> bytes:
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=landscape(letter), invariant=1, **kw)
    draw(c)
    c.showPage()
    c.save()
    return buf.getvalue()


@pytest.fixture(scope="module")
def sample_pdf(dataset):
    out, manifest = dataset
    return (out / manifest["remittances"][0]["pdf"]).read_bytes()


def test_truncated_pdf(sample_pdf):
    for cut in (len(sample_pdf) // 2, len(sample_pdf) - 200, 100):
        with pytest.raises(DocumentError, match="truncated") as info:
            parse_pdf(sample_pdf[:cut], source="remit.pdf")
        assert info.value.code == "truncated-pdf"


def test_random_bytes_empty_and_missing_files(tmp_path):
    rng = random.Random(5)
    with pytest.raises(DocumentError, match="not a PDF"):
        parse_pdf(bytes(rng.randrange(256) for _ in range(4096)))
    with pytest.raises(DocumentError, match="empty"):
        parse_pdf(b"")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(DocumentError, match="empty.pdf is empty"):
        parse_pdf(empty)
    with pytest.raises(DocumentError, match="cannot read"):
        parse_pdf(tmp_path / "missing.pdf")
    garbage = b"%PDF-1.4\n" + bytes(rng.randrange(256) for _ in range(3000)) + b"\n%%EOF\n"
    with pytest.raises(DocumentError) as info:
        parse_pdf(garbage)
    assert info.value.code in ("corrupt-pdf", "no-text")


def test_pdf_without_text_layer():
    def draw(c):
        c.rect(100, 100, 300, 200, fill=1)  # a "scanned" page: graphics, no text
    with pytest.raises(DocumentError, match="no text layer") as info:
        parse_pdf(_pdf(draw))
    assert info.value.code == "no-text"


def test_encrypted_pdf():
    def draw(c):
        c.drawString(72, 500, "NORTHWIND HEALTH PLAN PROVIDER REMITTANCE ADVICE")
    data = _pdf(draw, encrypt=StandardEncryption("secret", ownerPassword="owner"))
    with pytest.raises(DocumentError, match="encrypted") as info:
        parse_pdf(data)
    assert info.value.code == "encrypted-pdf"


def _southwind(c):
    c.setFont("Helvetica-Bold", 12)
    c.drawString(30, 582, "SOUTHWIND MUTUAL INSURANCE")
    c.setFont("Helvetica", 7.5)
    c.drawString(30, 560, "Explanation of Payment  Check 000123  Amount $1,234.00")
    c.drawString(30, 540, "Patient: DOE, JANE  Account: X1  Billed 100.00  Paid 80.00")


def test_foreign_layout_is_never_guessed():
    data = _pdf(_southwind)
    with pytest.raises(UnknownLayout, match="no PDF layout matches") as info:
        parse_pdf(data)
    assert "northwind" in info.value.context["known"]
    with pytest.raises(UnknownLayout, match="no layout named"):
        parse_pdf(data, layout="southwind")


def test_forcing_a_layout_onto_a_foreign_pdf_reports_problems():
    remit = parse_pdf(_pdf(_southwind), layout="northwind")
    codes = {p.code for p in remit.problems}
    assert {"layout-missing-field", "layout-no-claims"} <= codes
    assert not remit.balanced


def test_ambiguous_fingerprints_are_refused():
    northwind = get_layout("northwind")
    first_page = "NORTHWIND HEALTH PLAN PROVIDER REMITTANCE ADVICE Payer ID: NWHP1"
    assert detect_layout(first_page, layouts=[northwind]) is northwind
    with pytest.raises(UnknownLayout, match="several"):
        detect_layout(first_page, layouts=[northwind, northwind])


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_bytes_never_escape_as_other_errors(sample_pdf, data):
    blob = bytearray(sample_pdf)
    for _ in range(data.draw(st.integers(1, 40))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    try:
        remit = parse_pdf(bytes(blob))
    except (DocumentError, UnknownLayout):
        return
    assert remit.format == "pdf"  # a repaired document parses, problems say what went wrong


# --- layout problems: rows the layout cannot read, totals that disagree ---------------------


def _render_with(monkeypatch, rows_hook):
    original = rn._claim_rows

    def patched(index, claim, credentials):
        return rows_hook(index, claim, original(index, claim, credentials))

    monkeypatch.setattr(rn, "_claim_rows", patched)
    plan = plan_dataset("northwind", seed=7, count=1, anchor=ANCHOR, anomalies=False)[0]
    pdf, truth, _ = render_plan(plan)
    return parse_pdf(pdf), truth


def test_unreadable_row_inside_a_claim_is_a_problem(monkeypatch):
    def hook(index, claim, rows):
        if index == 1:
            rows.insert(2, rn.Row([rn.Cell(30, "** Reprocessed per provider call **"),
                                   rn.Cell(400, "see letter")], claim=index))
        return rows
    remit, truth = _render_with(monkeypatch, hook)
    [problem] = remit.problems
    assert problem.code == "layout-unrecognized-row"
    assert problem.claim == truth["claims"][1]["patient_account"]
    assert problem.page == 1 and "Reprocessed per provider call" in problem.message
    assert [c.to_json() for c in remit.claims] == truth["claims"]  # the rest is still read


def test_printed_totals_that_disagree_are_problems(monkeypatch):
    def hook(index, claim, rows):
        if index == 0:
            totals = rows[-1]
            for cell in totals.cells:
                if cell.text.startswith("Adjusted: "):
                    cell.text = "Adjusted: 9,999.99"
        return rows
    remit, truth = _render_with(monkeypatch, hook)
    [problem] = remit.problems
    assert problem.code == "layout-total-mismatch"
    assert str(problem.expected) == "9999.99"
    claim = remit.claims[0]
    assert problem.actual == sum(a.amount for a in claim.all_adjustments)


def test_bad_values_and_unknown_adjustment_text_are_problems(monkeypatch):
    def hook(index, claim, rows):
        if index == 0:
            line_row = next(r for r in rows if re.fullmatch(r"\d\d/\d\d/\d{4}", r.cells[0].text))
            line_row.cells[0].text = "13/45/2026"  # not a date
            line_row.cells.append(rn.Cell(560, "XX 1"))  # in the adjustments column
        return rows
    remit, _ = _render_with(monkeypatch, hook)
    messages = [p.message for p in remit.problems if p.code == "layout-bad-value"]
    assert any("date_of_service" in m for m in messages)
    assert any("adjustment text not understood" in m for m in messages)


# --- the rendering provider --------------------------------------------------------------


def test_rendering_providers_parse_back_as_the_generator_made_them(dataset):
    """Every claim's "Rendering Provider: NAME, CRED | NPI: n" row gives the generator's
    provider (name without the credential, NPI); one clinician renders most claims."""
    from collections import Counter

    from claimwright.models import is_npi

    out, manifest = dataset
    plans = plan_dataset("northwind", seed=7, count=14, anchor=ANCHOR, anomalies=True)
    assert [p.remittance_id for p in plans] == [e["remittance_id"] for e in
                                                manifest["remittances"]]
    seen = Counter()
    for plan, entry in zip(plans, manifest["remittances"]):
        remit = parse_pdf(out / entry["pdf"])
        got = [c.rendering_provider for c in remit.claims]
        assert got == [c.rendering_provider for c in plan.remittance.claims]
        assert all(p.name and is_npi(p.id) for p in got)
        assert all("," not in p.name for p in got)  # the printed credential is not the name
        seen.update(p.id for p in got)
    counts = [n for _, n in seen.most_common()]
    assert 3 <= len(counts) <= 5 and counts[0] > counts[1]
    truth = json.loads((out / manifest["remittances"][0]["truth"]).read_text())
    assert set(truth["claims"][0]["rendering_provider"]) == {"name", "id"}


@pytest.mark.parametrize("payer", ["northwind", "keystone", "clearpath"])
def test_pdfs_printing_no_rendering_provider_still_parse(payer):
    """PDFs made before the provider was printed (no row, an empty PERF PROV) parse as before:
    every field exact, the provider empty."""
    from claimwright.models import Party

    plan = plan_dataset(payer, seed=7, count=2, anchor=ANCHOR, anomalies=False)[1]
    for claim in plan.remittance.claims:
        claim.rendering_provider = Party()
    pdf, truth, _ = render_plan(plan)
    assert b"Rendering Provider" not in pdf and all("rendering_provider" not in c
                                                    for c in truth["claims"])
    remit = parse_pdf(pdf)
    assert_matches_truth(remit, truth, f"{payer} without providers")
    assert remit.problems == [] and all(c.rendering_provider == Party() for c in remit.claims)


def test_a_misprinted_rendering_provider_npi_is_a_problem(monkeypatch):
    def hook(index, claim, rows):
        if index == 1:
            for cell in (c for r in rows for c in r.cells if c.text.startswith("NPI: ")):
                npi = cell.text.removeprefix("NPI: ")
                cell.text = "NPI: " + npi[:4] + str((int(npi[4]) + 1) % 10) + npi[5:]
        return rows
    remit, truth = _render_with(monkeypatch, hook)
    [problem] = remit.problems
    assert problem.code == "layout-bad-value" and "not an NPI" in problem.message
    assert problem.claim == truth["claims"][1]["patient_account"] and problem.page == 1
    provider = remit.claims[1].rendering_provider
    assert (provider.name, provider.id) == (truth["claims"][1]["rendering_provider"]["name"], "")
    assert [c.to_json() for c in remit.claims][2:] == truth["claims"][2:]


# --- the patient's date of birth and the diagnosis codes ---------------------------------


def test_birth_dates_and_diagnoses_parse_back_as_the_generator_made_them(dataset):
    """Every claim's "DOB YYYY-MM-DD | Dx CODE ..." row gives the generator's values exactly,
    principal diagnosis first, and the truth files carry them."""
    out, manifest = dataset
    plans = plan_dataset("northwind", seed=7, count=14, anchor=ANCHOR, anomalies=True)
    claims = 0
    for plan, entry in zip(plans, manifest["remittances"], strict=True):
        remit = parse_pdf(out / entry["pdf"])
        want = [(c.patient_dob, c.diagnoses) for c in plan.remittance.claims]
        assert [(c.patient_dob, c.diagnoses) for c in remit.claims] == want
        assert all(dob and dx for dob, dx in want)
        truth = json.loads((out / entry["truth"]).read_text())
        assert [(c["patient_dob"], c["diagnoses"]) for c in truth["claims"]] == [
            (dob.isoformat(), dx) for dob, dx in want]
        claims += len(want)
    assert claims > 100


def test_pdfs_printing_no_birth_date_or_diagnoses_still_parse():
    """A claim printing only one of the two, or neither (older PDFs): the rest exact."""
    plan = plan_dataset("northwind", seed=7, count=1, anchor=ANCHOR, anomalies=False)[0]
    first, second, third = plan.remittance.claims[:3]
    first.patient_dob = None
    second.diagnoses = []
    third.patient_dob, third.diagnoses = None, []
    pdf, truth, _ = render_plan(plan)
    remit = parse_pdf(pdf)
    assert_matches_truth(remit, truth, "partial patient details")
    assert remit.problems == []
    assert "patient_dob" not in truth["claims"][0] and truth["claims"][0]["diagnoses"]
    assert "diagnoses" not in truth["claims"][1] and truth["claims"][1]["patient_dob"]
    assert not {"patient_dob", "diagnoses"} & set(truth["claims"][2])


def _details_cells(rows):
    return [c for r in rows for c in r.cells if c.text.startswith(("DOB ", "Dx "))]


def test_a_misprinted_birth_date_is_a_problem_that_does_not_quote_it(monkeypatch):
    def hook(index, claim, rows):
        if index == 1:
            for cell in _details_cells(rows):
                if cell.text.startswith("DOB "):
                    cell.text = "DOB 1956-13-01"
        return rows
    remit, truth = _render_with(monkeypatch, hook)
    [problem] = remit.problems
    assert problem.code == "layout-bad-value" and problem.message.startswith("patient_dob:")
    assert "1956" not in problem.message
    assert problem.claim == truth["claims"][1]["patient_account"] and problem.page == 1
    assert remit.claims[1].patient_dob is None
    assert remit.claims[1].diagnoses == truth["claims"][1]["diagnoses"]
    assert [c.to_json() for c in remit.claims][2:] == truth["claims"][2:]


def test_a_birth_date_after_the_date_of_service_is_a_problem(monkeypatch):
    def hook(index, claim, rows):
        if index == 0:
            for cell in _details_cells(rows):
                if cell.text.startswith("DOB "):
                    cell.text = f"DOB {ANCHOR.isoformat()}"  # after every service date
        return rows
    remit, truth = _render_with(monkeypatch, hook)
    [problem] = remit.problems
    assert problem.code == "layout-bad-value" and "after the first date of service" in \
        problem.message
    assert ANCHOR.isoformat() not in problem.message
    assert remit.claims[0].patient_dob is None


def test_a_malformed_diagnosis_code_is_a_problem_the_others_are_kept(monkeypatch):
    def hook(index, claim, rows):
        if index == 1:
            for cell in _details_cells(rows):
                if cell.text.startswith("Dx "):
                    cell.text = cell.text + " 250.00, e11.9"
        return rows
    remit, truth = _render_with(monkeypatch, hook)
    [problem] = remit.problems
    assert problem.code == "layout-bad-value" and "'250.00' is not an ICD-10-CM code" in \
        problem.message
    want = list(dict.fromkeys(truth["claims"][1]["diagnoses"] + ["E119"]))
    assert remit.claims[1].diagnoses == want  # the dotted, lower-case code read as E119


# --- layout files ------------------------------------------------------------------------


def _variant(tmp_path, old, new, name="variant"):
    text = (LAYOUT_DIR / "northwind.yaml").read_text().replace("name: northwind", f"name: {name}")
    assert old in text
    path = tmp_path / f"{name}.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize("old,new,message", [
    ("cell_gap: 5.0", "cel_gap: 5.0", r"variant.yaml:12: text: unknown key\(s\) \['cel_gap'\]"),
    ("(?P<payee_npi>", "(?P<payee_nip>", r"document.rows\[1\]: unknown field group"),
    ("{field: units, from: 146, to: 176}", "{field: units, from: 140, to: 176}",
     r"claims.table.columns\[3\].from: overlaps the previous column"),
    ("{field: paid, from: 288, to: 344}", "{field: paid, from: 288, to: 200}",
     r"claims.table.columns\[6\].to: must be greater than from"),
    ("key: date_of_service", "key: service_date", r"claims.table.key: 'service_date' is not"),
    ("'^Claim Remarks:\\t(?P<remarks>.+)$'", "'^Claim Remarks:\\t(?P<remarks>.+$'",
     r"claims.rows\[1\].pattern: invalid regular expression"),
    ("continuation: [adjustments, remarks]", "continuation: [adjustments, notes]",
     r"claims.table.continuation\[1\]: 'notes' must be"),
    ("(?P<rendering_provider_npi>", "(?P<rendering_provider_id>",
     r"variant.yaml:44: claims.rows\[3\].pattern: unknown field group\(s\) "
     r"\['rendering_provider_id'\]"),
    ("{field: reason, from: 26, to: 78}", "{field: rendering_provider_npi, from: 26, to: 78}",
     r"variant.yaml:69: provider_adjustments.table.columns\[0\].field: unknown field "
     r"'rendering_provider_npi'"),
])
def test_invalid_layout_files_say_file_field_and_problem(tmp_path, old, new, message):
    path = _variant(tmp_path, old, new)
    with pytest.raises(LayoutFileError, match=message) as info:
        load_layout_file(path)
    assert info.value.retryable is False and info.value.context["file"] == str(path)


@pytest.mark.parametrize("old,new,message", [
    ("(?P<value>\\d{6})", "(\\d{6})", r"claims.table.columns\[1\].pattern: pattern must capture "
                                        r"\['value'\]"),
    ("REM: (?P<remarks>", "REM: (?P<remark>", r"claims.line_rows\[0\].pattern: unknown field"),
    ("(?P<check_code_PR_1>", "(?P<check_code_PR1>", r"claims.rows\[1\].pattern: unknown field "
                                                    r"group\(s\) \['check_code_PR1'\]"),
    ("    rarc: '^REMARK CODES$'", "    remarks: '^REMARK CODES$'",
     r"glossary.headings: unknown key\(s\) \['remarks'\]"),
    ("min_overlap: 0.5", "min_overlap: 1.5", r"glossary.min_overlap: must be between 0 and 1"),
    # the count is optional ("Sheet 3"), the number is not
    ("#: (?P<number>\\d+) OF", "#: (\\d+) OF", r"page_numbers: pattern must capture \['number'\]"),
    ("{field: rendering_provider_npi, from: 30, to: 90}",
     "{field: rendering_provider, from: 30, to: 90}",
     r"variant.yaml:57: claims.table.columns\[0\].field: unknown field 'rendering_provider'"),
    ("REM: (?P<remarks>", "REM: (?P<rendering_provider_npi>",
     r"claims.line_rows\[0\].pattern: unknown field group\(s\) \['rendering_provider_npi'\]"),
])
def test_invalid_spr_layout_features_say_file_field_and_problem(tmp_path, old, new, message):
    text = (LAYOUT_DIR / "keystone.yaml").read_text().replace("name: keystone", "name: variant")
    assert old in text
    path = tmp_path / "variant.yaml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(LayoutFileError, match=message):
        load_layout_file(path)


def test_layout_name_need_not_match_the_file_and_yaml_must_parse(tmp_path):
    path = _variant(tmp_path, "description:", "description:")
    other = tmp_path / "other.yaml"
    shutil.copy(path, other)
    assert load_layout_file(other).name == "variant"  # known by its name (docs/layouts.md)
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(LayoutFileError, match="broken.yaml:2: not valid YAML"):
        load_layout_file(broken)


def test_shipped_layouts_are_valid():
    layout = get_layout("northwind")
    assert layout.name == "northwind" and layout.claims.table.key == "date_of_service"


def test_document_defaults_fill_fields_the_pdf_does_not_print(tmp_path, dataset):
    out, manifest = dataset
    entry = manifest["remittances"][0]
    path = _variant(tmp_path, "document:\n  rows:",
                    "document:\n  defaults:\n    payer_id: NWHP1-FROM-LAYOUT\n  rows:")
    path.write_text(path.read_text().replace(r"Payer ID: (?P<payer_id>\S+)$", r"Payer ID: \S+$"))
    remit = parse_pdf(out / entry["pdf"], layout=str(path))
    truth = json.loads((out / entry["truth"]).read_text())
    truth["payer"]["id"] = "NWHP1-FROM-LAYOUT"
    truth["layout"] = "variant"
    assert remit.to_json() == truth


def test_procedure_cells_with_modifiers_and_fixed_code_amount_columns(tmp_path, dataset):
    """Two general table features other portals need, exercised on the Northwind PDFs."""
    out, manifest = dataset
    entry = next(e for e in manifest["remittances"] if e["claim_count"] >= 25)
    truth = json.loads((out / entry["truth"]).read_text())

    # procedure and modifiers printed in one column ("99214 25"): still split apart
    merged = _variant(tmp_path, "{field: procedure, from: 80, to: 112}\n"
                      "      - {field: modifiers, from: 112, to: 146}",
                      "{field: procedure, from: 80, to: 146}", name="merged")
    remit = parse_pdf(out / entry["pdf"], layout=str(merged))
    assert [c.to_json() for c in remit.claims] == truth["claims"]
    assert any(ln.modifiers for c in remit.claims for ln in c.lines)

    # an amount column that stands for one fixed adjustment code
    fixed = _variant(tmp_path, "{field: allowed, from: 232, to: 288}",
                     "{field: adjustment, code: OA-94, from: 232, to: 288}", name="fixed")
    remit = parse_pdf(out / entry["pdf"], layout=str(fixed))
    for claim, want in zip(remit.claims, truth["claims"]):
        for line, want_line in zip(claim.lines, want["lines"]):
            assert line.allowed is None
            if want_line["allowed"] != "0.00":
                assert line.adjustments[0].code == "OA-94"
                assert str(line.adjustments[0].amount) == want_line["allowed"]
                assert [a.to_json() for a in line.adjustments[1:]] == want_line["adjustments"]
            else:
                assert [a.to_json() for a in line.adjustments] == want_line["adjustments"]
    assert any(p.code == "line-unbalanced" for p in remit.problems)


def test_a_page_without_text_is_reported_not_skipped(dataset):
    import pypdfium2 as pdfium

    out, manifest = dataset
    entry = next(e for e in manifest["remittances"] if e["page_count"] >= 4)
    src = pdfium.PdfDocument(out / entry["pdf"])
    doc = pdfium.PdfDocument.new()
    try:
        width, height = src.get_page_size(0)
        doc.import_pages(src, [0])
        doc.new_page(width, height).close()  # page 2 replaced by a blank (e.g. scanned) page
        doc.import_pages(src, list(range(2, len(src))))
        buf = io.BytesIO()
        doc.save(buf)
    finally:
        doc.close()
        src.close()
    remit = parse_pdf(buf.getvalue())
    codes = [p.code for p in remit.problems]
    assert codes[0] == "unreadable" and remit.problems[0].page == 2
    assert "remittance-unbalanced" in codes and "layout-total-mismatch" in codes


# --- the command line ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keystone_pdf(remittance_dataset):
    out, manifest = remittance_dataset("keystone", ANCHOR, count=1, anomalies=False)
    entry = manifest["remittances"][0]
    return out / entry["pdf"], json.loads((out / entry["truth"]).read_text())


def test_cli_parse_with_layout_option_and_detection(keystone_pdf):
    from typer.testing import CliRunner

    from claimwright.cli import app

    path, truth = keystone_pdf
    for args in (["parse", str(path)], ["parse", str(path), "--layout", "keystone"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == truth
    # a foreign layout forced onto the SPR: a flagged parse (exit 1), never a clean one
    result = CliRunner().invoke(app, ["parse", str(path), "--layout", "northwind"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["problems"]


def test_cli_parse_unknown_layout_is_a_clear_error(keystone_pdf):
    from typer.testing import CliRunner

    from claimwright.cli import app

    path, _ = keystone_pdf
    result = CliRunner().invoke(app, ["parse", str(path), "--layout", "nosuchpayer"])
    assert result.exit_code == 2
    assert "unknown-layout" in result.output and "'nosuchpayer'" in result.output
    assert "keystone" in result.output  # the message lists the known layouts
    assert not result.stdout.strip().startswith("{")
