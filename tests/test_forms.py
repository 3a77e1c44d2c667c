"""Payer forms: the Medicare stand-ins filled from the packet context, read back, rendered;
forms.yaml validated with line numbers; which payer and level get which form."""

from __future__ import annotations

import importlib.util
import io
import re
import sys
import textwrap

import pdfplumber
import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader
from reportlab.pdfgen import canvas

from claimwright.packets.forms import (
    CONTEXT_KEYS,
    FORMS_DIR,
    FormError,
    FormsFileError,
    fill_form,
    form_for,
    load_forms,
    render_fields,
    sample_context,
)
from claimwright.settings import Settings
from rendering import pdf_to_pngs

KEYSTONE = ("12502", "Keystone Medicare Services")  # a fixture payer: Medicare
NORTHWIND = ("NWHP1", "Northwind Health Plan")


def flat(text: str) -> str:
    return " ".join(text.split())


def medicare(level: int = 1):
    spec = form_for(*KEYSTONE, level)
    assert spec is not None
    return spec


def test_form_for_matches_medicare_by_level_and_not_northwind():
    assert medicare(1).id == "medicare-redetermination"
    assert medicare(1).file == FORMS_DIR / "medicare-redetermination.pdf"
    assert medicare(2).id == "medicare-reconsideration"
    assert form_for(*KEYSTONE, 3) is None
    assert form_for(*NORTHWIND, 1) is None and form_for(*NORTHWIND, 2) is None
    # by the payer's kind in deadlines.yaml (its Medicare entry lists payer id 00000) ...
    assert form_for("00000", "", 1).id == "medicare-redetermination"
    # ... or by name, whatever the id
    assert form_for("", "Great Lakes medicare Part B", 1).id == "medicare-redetermination"
    assert form_for("SMT77", "Summit Mutual", 1) is None


def test_the_context_keys_are_the_builders():
    assert set(sample_context()) == set(CONTEXT_KEYS) and len(CONTEXT_KEYS) == 25


def test_the_filled_medicare_form_reads_back_every_field():
    spec = medicare(1)
    context = sample_context()
    pdf = fill_form(spec, context)
    assert pdf == fill_form(spec, context)  # deterministic
    fields = PdfReader(io.BytesIO(pdf)).get_fields()
    expected = render_fields(spec, context)
    assert set(expected) == set(spec.fields) and set(expected) <= set(fields)
    for name, text in expected.items():
        assert fields[name].get("/V") == text, name
        assert int(fields[name].get("/Ff", 0)) & 1, f"{name} is not read-only"
    assert fields["beneficiary_name"]["/V"] == "DOE, JANE"
    assert fields["medicare_number"]["/V"] == "1EG4TE5MK72"
    assert fields["claim_number"]["/V"] == "2026110300001"
    assert fields["dates_of_service"]["/V"] == "2026-11-03"
    assert fields["reason"]["/V"] == context["reason"]
    assert fields["overpayment"]["/V"] == "No"
    assert fields["item_service"]["/V"] == ("Procedures 99214-25, 93000 (diagnoses R07.9); "
                                            "billed $330.00, denied $85.00")
    assert fields["requester_relationship"]["/V"] == ("Revenue Cycle Manager, Cedar Ridge "
                                                      "Family Medicine (provider)")
    assert fields["signature_date"]["/V"] == "2026-11-24"
    # the signature is left for a person: empty and editable
    assert not fields["requester_signature"].get("/V")
    assert not int(fields["requester_signature"].get("/Ff", 0)) & 1
    no_diagnoses = render_fields(spec, sample_context(diagnoses="", signer_title=""))
    assert no_diagnoses["item_service"] == "Procedures 99214-25, 93000; billed $330.00, denied " \
                                           "$85.00"
    assert no_diagnoses["requester_relationship"] == "Cedar Ridge Family Medicine (provider)"
    root = PdfReader(io.BytesIO(pdf)).trailer["/Root"]["/AcroForm"]
    assert root.get("/NeedAppearances") in (None, False)


def test_the_filled_page_renders_and_its_text_holds_the_values(tmp_path):
    spec = medicare(1)
    context = sample_context(reason=" ".join(["The ECG was medically necessary: the patient "
                                              "presented with chest pain and dyspnea."] * 6))
    filled = tmp_path / "filled.pdf"
    filled.write_bytes(fill_form(spec, context))
    (png,) = pdf_to_pngs(filled, tmp_path / "png", crop=False)
    (blank,) = pdf_to_pngs(spec.file, tmp_path / "blank", crop=False)
    assert ink(png) > 0.02 and ink(png) > ink(blank) * 1.15  # values drawn, not a blank page

    doc = pdfium.PdfDocument(str(filled))
    try:
        by_pdfium = flat(doc[0].get_textpage().get_text_range())
    finally:
        doc.close()
    with pdfplumber.open(filled) as pdf:
        page = pdf.pages[0]
        by_plumber = flat(page.extract_text())
        page.close()
    for text in (by_pdfium, by_plumber):
        for value in ("DOE, JANE", "1EG4TE5MK72", "2026110300001", "2026-11-03",
                      "Keystone Medicare Services", "Dana Whitfield", "(217) 555-0142",
                      "1200 Orchard Lane, Suite 300, Springfield, IL 62704",
                      flat(context["reason"])):
            assert value in text, value


def ink(png) -> float:
    from PIL import Image

    image = Image.open(png).convert("L")
    data = image.tobytes()
    return sum(1 for v in data if v < 160) / len(data)


def test_the_reconsideration_form_is_filled_for_level_two():
    spec = medicare(2)
    fields = PdfReader(io.BytesIO(fill_form(spec, sample_context(level=2)))).get_fields()
    assert fields["redetermination_date"]["/V"] == "2026-11-20"
    assert fields["beneficiary_name"]["/V"] == "DOE, JANE"


def test_a_missing_context_value_names_the_field():
    context = sample_context()
    del context["member_id"]
    with pytest.raises(FormError, match=r"form medicare-redetermination: field "
                                        r"'medicare_number' needs 'member_id'"):
        fill_form(medicare(1), context)
    with pytest.raises(FormError, match=r"field 'dates_of_service' needs 'dates_of_service'"):
        fill_form(medicare(1), sample_context(dates_of_service=None))


def test_a_text_too_long_for_its_field_is_an_error_not_cut():
    spec = medicare(1)
    long_reason = "The service was medically necessary and documented. " * 40
    pdf = fill_form(spec, sample_context(reason=long_reason))  # shrinks to fit
    assert PdfReader(io.BytesIO(pdf)).get_fields()["reason"]["/V"] == long_reason.strip()
    with pytest.raises(FormError, match=r"the text for field 'reason' does not fit") as err:
        fill_form(spec, sample_context(reason=long_reason * 4))
    assert "medically" not in str(err.value)  # no value (PHI) in the message
    with pytest.raises(FormError, match=r"field 'beneficiary_name' does not fit"):
        fill_form(spec, sample_context(patient_name="DOE, JANE " * 30))


def test_accents_outside_the_font_are_folded_and_other_characters_refused():
    spec = medicare(1)
    pdf = fill_form(spec, sample_context(patient_name="NGUYỄN, THỊ"))
    assert PdfReader(io.BytesIO(pdf)).get_fields()["beneficiary_name"]["/V"] == "NGUYỄN, THỊ"
    doc = pdfium.PdfDocument(pdf)
    try:
        assert "NGUYEN, THI" in doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    with pytest.raises(FormError, match=r"field 'beneficiary_name' holds a character the "
                                        r"form's font cannot print \(U\+738B\)"):
        fill_form(spec, sample_context(patient_name="王 JANE"))


def test_the_shipped_pdfs_are_what_the_script_makes():
    script = FORMS_DIR / "make_medicare_form.py"
    spec = importlib.util.spec_from_file_location("make_medicare_form", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    for level, design in module.DESIGNS.items():
        built = module.build(level)
        assert built == (FORMS_DIR / design.file).read_bytes(), (
            f"{design.file} is out of date: run python {script.relative_to(FORMS_DIR.parents[2])}")
        doc = pdfium.PdfDocument(built)
        try:
            assert len(doc) == 1
            text = doc[0].get_textpage().get_text_range()
        finally:
            doc.close()
        assert f"modelled on Medicare form {design.official}" in flat(text)
        assert "replace it with" in text and "official" in text
    names = set(PdfReader(FORMS_DIR / "medicare-redetermination.pdf").get_fields())
    assert {"beneficiary_name", "medicare_number", "item_service", "dates_of_service",
            "claim_number", "reason", "requester_name", "requester_address", "requester_phone",
            "requester_signature", "signature_date"} <= names


# ---------------------------------------------------------------------------------------------
# forms.yaml


GOOD = """\
version: 1
forms:
  - id: medicare-redetermination
    title: Medicare Redetermination Request
    file: medicare-redetermination.pdf
    applies:
      payer_names: ["*MEDICARE*"]
    levels: [1]
    fields:
      beneficiary_name: patient_name
      claim_number: "{{ payer_claim_id }}"
"""


def write_forms(tmp_path, text: str):
    path = tmp_path / "forms.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def line_of(path, marker: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), start=1)
                if marker in text)


@pytest.mark.parametrize("change, marker, problem", [
    (("    levels: [1]\n", "    levels: [1]\n    colour: blue\n"), "colour",
     r"forms\[0\]\.colour: Extra inputs are not permitted"),
    (("      claim_number:", "      claim_nmber:"), "claim_nmber",
     r"forms\[0\]\.fields\.claim_nmber: medicare-redetermination\.pdf has no field "
     r"'claim_nmber' \(its fields: additional_information, beneficiary_name, "),
    (('"{{ payer_claim_id }}"', '"{{ payer_claim_id "'), "claim_number",
     r"forms\[0\]\.fields\.claim_number: not a valid Jinja2 template: "),
    (('"{{ payer_claim_id }}"', '"{{ payer_claim_idd }}"'), "claim_number",
     r"forms\[0\]\.fields\.claim_number: unknown name 'payer_claim_idd' \(the names: "),
    (("beneficiary_name: patient_name", "beneficiary_name: patient_nam"), "beneficiary_name",
     r"forms\[0\]\.fields\.beneficiary_name: unknown name 'patient_nam'"),
    (("file: medicare-redetermination.pdf", "file: cms-20027.pdf"), "file:",
     r"forms\[0\]\.file: no such form PDF 'cms-20027\.pdf'"),
    (('      payer_names: ["*MEDICARE*"]\n', "      payer_names: []\n"), "applies:",
     r"forms\[0\]\.applies: names no payer"),
    (('      payer_names: ["*MEDICARE*"]\n', "      payer_kind: medicare-ish\n"), "payer_kind",
     r"forms\[0\]\.applies\.payer_kind: unknown payer kind 'medicare-ish'"),
    (("    levels: [1]\n", "    levels: [0]\n"), "levels",
     r"forms\[0\]\.levels\[0\]: Input should be greater than or equal to 1"),
    (("version: 1\n", "version: [1\n"), "version", r"not valid YAML"),
])
def test_forms_file_errors_carry_the_line(tmp_path, change, marker, problem):
    old, new = change
    assert old in GOOD
    path = write_forms(tmp_path, GOOD.replace(old, new))
    with pytest.raises(FormsFileError) as err:
        load_forms(path)
    if "YAML" in problem:  # the parser's own idea of where: the unclosed list
        line = err.value.line
        assert line in (1, 2, 3), str(err.value)
    else:
        line = line_of(path, marker)
    assert err.value.line == line, str(err.value)
    assert re.match(rf"forms\.yaml:{line}: " + problem, str(err.value)), str(err.value)


def test_a_form_id_twice_is_an_error(tmp_path):
    body = GOOD.split("forms:\n")[1]
    path = write_forms(tmp_path, GOOD + body.replace("levels: [1]", "levels: [2]"))
    with pytest.raises(FormsFileError, match=r"forms\.yaml:12: forms\[1\]\.id: form id "
                                             r"'medicare-redetermination' is already used on "
                                             r"line 3"):
        load_forms(path)


def test_a_pdf_without_fields_is_an_error(tmp_path):
    (tmp_path / "forms").mkdir()
    plain = io.BytesIO()
    c = canvas.Canvas(plain, invariant=1)
    c.drawString(72, 720, "no fields here")
    c.save()
    (tmp_path / "forms" / "plain.pdf").write_bytes(plain.getvalue())
    (tmp_path / "forms" / "junk.pdf").write_bytes(b"not a pdf")
    for name, problem in (("plain.pdf", "has no form fields"), ("junk.pdf", "not a readable")):
        path = write_forms(tmp_path, GOOD.replace("medicare-redetermination.pdf", name))
        with pytest.raises(FormsFileError, match=rf"forms\.yaml:5: forms\[0\]\.file: {name}: "
                                                 rf"{problem}"):
            load_forms(path)


def admin_form(path) -> None:
    """A payer's own fillable form (synthetic): two fields."""
    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path), invariant=1)
    c.drawString(72, 740, "Northwind appeal request")
    c.acroForm.textfield(name="member", x=72, y=700, width=200, height=18, fontName="Helvetica",
                         fontSize=10, maxlen=0)
    c.acroForm.textfield(name="claim.icn", x=72, y=660, width=200, height=18,
                         fontName="Helvetica", fontSize=10, maxlen=0)
    c.acroForm.checkbox(name="urgent", x=72, y=620, size=14)
    c.save()


def test_an_admin_adds_a_payer_form_through_the_setting(tmp_path, monkeypatch):
    admin_form(tmp_path / "forms" / "northwind-appeal.pdf")
    path = write_forms(tmp_path, """\
        version: 1
        forms:
          - id: northwind-appeal
            title: Northwind provider appeal request
            file: northwind-appeal.pdf
            applies: {payer_ids: [NWHP1]}
            levels: [1, 2]
            fields:
              member: "{{ member_id }}"
              claim.icn: payer_claim_id
          - id: medicare-redetermination
            title: Medicare Redetermination Request
            file: medicare-redetermination.pdf
            applies: {payer_kind: medicare}
            levels: [1]
            fields:
              beneficiary_name: patient_name
        """)
    monkeypatch.setenv("CLAIMWRIGHT_FORMS", str(path))
    assert Settings.from_env().forms == path
    spec = form_for(*NORTHWIND, 2)
    assert spec.id == "northwind-appeal" and spec.file == tmp_path / "forms" / "northwind-appeal.pdf"
    assert spec.line == 3 and spec.source == path
    fields = PdfReader(io.BytesIO(fill_form(spec, sample_context()))).get_fields()
    assert fields["member"]["/V"] == "1EG4TE5MK72" and fields["claim.icn"]["/V"] == "2026110300001"
    medicare_form = form_for(*KEYSTONE, 1)  # the packaged PDF, found from the admin's file
    assert medicare_form.file == FORMS_DIR / "medicare-redetermination.pdf"
    assert set(medicare_form.fields) == {"beneficiary_name"}


def test_only_text_fields_can_be_mapped(tmp_path):
    admin_form(tmp_path / "forms" / "northwind-appeal.pdf")
    path = write_forms(tmp_path, """\
        version: 1
        forms:
          - id: northwind-appeal
            title: Northwind provider appeal request
            file: northwind-appeal.pdf
            applies: {payer_ids: [NWHP1]}
            levels: [1]
            fields:
              member: member_id
              urgent: "Yes"
        """)
    with pytest.raises(FormsFileError, match=r"forms\.yaml:10: forms\[0\]\.fields\.urgent: "
                                             r"'urgent' is a check box or button in "
                                             r"northwind-appeal\.pdf: only text fields"):
        load_forms(path)
