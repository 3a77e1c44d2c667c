"""The payer's own appeal form, filled from the packet's data (docs/forms-and-documents.md).

Some payers require their form with an appeal (Medicare: the redetermination request, CMS-20027,
at level 1; the reconsideration request, CMS-20033, at level 2). ``forms.yaml`` beside this
module (``CLAIMWRIGHT_FORMS`` names an admin's replacement) lists each form: its PDF, which
payers and appeal levels it is for, and what goes in each of its AcroForm fields::

    forms:
      - id: medicare-redetermination
        title: Medicare Redetermination Request (CMS-20027)
        file: medicare-redetermination.pdf
        applies: {payer_kind: medicare}     # and/or payer_ids: [...], payer_names: ["*MEDICARE*"]
        levels: [1]
        fields:
          beneficiary_name: patient_name              # a bare name: that context value
          claim_number: "{{ payer_claim_id }}"        # or a Jinja2 template
          overpayment: "No"                           # text without braces is written as is

- :func:`form_for` picks the first form (in file order) for a payer and level, or ``None``.
- :func:`fill_form` renders every mapped field from the packet's context (:data:`CONTEXT_KEYS`;
  a value missing from the context raises :class:`FormError` naming the form and field) and
  returns the filled PDF's bytes.

**Filling** is :func:`.form_pdf.fill_pdf` (pypdf): each value fitted to its field, printed into
the page (flattened) and kept as a read-only field value, never cut (a text that does not fit
raises :class:`FormError`). Fields the file does not map stay empty and editable (a signature,
for instance). The same form and context give the same bytes.

**Validation on load** (line-numbered, :class:`FormsFileError`): unknown keys, a missing or
unreadable PDF, a ``fields`` entry naming a field the PDF does not have, a template that is not
valid Jinja2, and a name that is not one of :data:`CONTEXT_KEYS`. The file is read again when it
(or a form PDF in its folders) changes.

Templates run in Jinja2's sandbox, without autoescaping (this is PDF text, not HTML), with
``StrictUndefined``. Error messages name forms and fields, never the values (PHI).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Mapping

import jinja2
import jinja2.meta
import jinja2.sandbox
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from .. import datafiles
from ..rules.deadlines import KINDS, current_deadlines
from ..settings import Settings
from .form_pdf import MIN_FONT_SIZE, FormError, fill_pdf, pdf_field_names

HERE = Path(__file__).resolve().parent
#: the packaged form PDFs (``make_medicare_form.py`` draws the Medicare stand-ins)
FORMS_DIR = HERE / "forms"
DEFAULT_FORMS = Settings.forms  # the packaged forms.yaml ($CLAIMWRIGHT_FORMS replaces it)

#: The names a field template may use: the packet builder passes exactly these (text, except
#: ``level``, an int). Dates are ISO (``patient_dob`` may be ""), amounts "$120.00".
CONTEXT_KEYS: tuple[str, ...] = (
    "patient_name", "patient_dob", "member_id", "patient_account", "payer_name", "payer_id",
    "payer_claim_id", "dates_of_service", "procedures", "diagnoses", "denial_date", "billed",
    "denied_amount", "codes", "reason", "level", "level_name", "practice_name",
    "practice_address", "practice_phone", "practice_npi", "signer_name", "signer_title",
    "decision_date",
    "letter_date",
)
PAYER_KINDS = KINDS  # the payer kinds of deadlines.yaml
_BARE_NAME = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*$")
_JINJA_MARKUP = ("{{", "{%", "{#")

__all__ = ["CONTEXT_KEYS", "FORMS_DIR", "MIN_FONT_SIZE", "FormError", "FormSpec", "Forms",
           "FormsFileError", "fill_form", "form_for", "load_forms", "pdf_field_names",
           "render_fields", "sample_context"]


class FormsFileError(FormError):
    """``forms.yaml`` is invalid: ``str()`` reads ``file:line: field: problem``."""

    def __init__(self, problem: str, *, file: str = "", line: int | None = None,
                 field: str = "") -> None:
        super().__init__(datafiles.located(problem, file=file, line=line, field=field))
        self.problem, self.file, self.line, self.field = problem, file, line, field


# ---------------------------------------------------------------------------------------------
# The file


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppliesModel(_Strict):
    payer_ids: list[Name] = Field(default_factory=list)
    payer_names: list[Name] = Field(default_factory=list)
    payer_kind: str | None = None

    @field_validator("payer_ids", "payer_names", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in items]

    @field_validator("payer_kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        if value is not None and value not in PAYER_KINDS:
            raise ValueError(f"unknown payer kind {value!r} (kinds: {', '.join(PAYER_KINDS)})")
        return value


class FormModel(_Strict):
    id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")]
    title: Name
    file: Name
    applies: AppliesModel
    levels: Annotated[list[Annotated[int, Field(ge=1, le=5)]], Field(min_length=1)]
    fields: Annotated[dict[str, Annotated[str, StringConstraints(min_length=1)]],
                      Field(min_length=1)]


class FormsModel(_Strict):
    version: int
    forms: list[FormModel] = Field(default_factory=list)


@dataclass(frozen=True)
class FormSpec:
    """One payer form: where its PDF is, whom it is for, what goes in its fields."""

    id: str
    title: str
    file: Path  # the PDF, resolved
    levels: tuple[int, ...]
    fields: dict[str, str]  # PDF field name -> the value as written in forms.yaml
    payer_ids: tuple[str, ...] = ()
    payer_names: tuple[str, ...] = ()  # wildcards, case-insensitive
    payer_kind: str | None = None  # a deadlines.yaml payer kind
    source: Path | None = None  # the forms.yaml it came from
    line: int | None = None
    templates: dict[str, jinja2.Template] = field(default_factory=dict, compare=False,
                                                  repr=False)

    def applies_to(self, payer_id: str, payer_name: str, level: int,
                   kind: str | None = None) -> bool:
        """For this payer (any of ids, names, kind) and appeal level? ``kind``: the payer's
        kind in deadlines.yaml (needed only when the form names one)."""
        if level not in self.levels:
            return False
        pid = (payer_id or "").strip().upper()
        if pid and pid in (p.upper() for p in self.payer_ids):
            return True
        name = (payer_name or "").strip().upper()
        if name and any(fnmatch.fnmatchcase(name, p.upper()) for p in self.payer_names):
            return True
        return self.payer_kind is not None and kind == self.payer_kind


@dataclass(frozen=True)
class Forms:
    path: Path
    version: int
    forms: tuple[FormSpec, ...]

    def form_for(self, payer_id: str, payer_name: str, level: int,
                 kind: str | None = None) -> FormSpec | None:
        return next((f for f in self.forms if f.applies_to(payer_id, payer_name, level, kind)),
                    None)


def _environment() -> jinja2.Environment:
    return jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined,
                                               autoescape=False, keep_trailing_newline=False)


_ENV = _environment()


def template_source(value: str) -> str:
    """A ``fields`` value as a Jinja2 template: a bare lower-case name (``patient_name``) means
    ``{{ patient_name }}``; anything else is a template already (text without braces is
    written as is)."""
    match = _BARE_NAME.match(value)
    if match and not any(m in value for m in _JINJA_MARKUP):
        return "{{ " + match.group(1) + " }}"
    return value


def load_forms(path: str | Path | None = None) -> Forms:
    """The forms of ``path`` (default ``Settings.forms``: $CLAIMWRIGHT_FORMS or the packaged
    file), validated; read again when the file or a form PDF changes."""
    path = Path(path) if path else Settings.from_env().forms
    depends = (datafiles.stamp(path.resolve().parent / "forms"), datafiles.stamp(FORMS_DIR))
    return datafiles.load(path, parse_forms, depends=depends)


def current_forms() -> Forms:
    return load_forms()


def parse_forms(path: Path) -> Forms:
    doc = datafiles.read_yaml(path, FormsFileError)
    if not isinstance(doc.data, dict):
        raise FormsFileError("expected a mapping (version, forms) at the top level",
                             file=str(path), line=1)
    model = datafiles.validate(FormsModel, doc, FormsFileError)

    def fail(problem: str, loc: tuple) -> None:
        raise FormsFileError(problem, file=str(path), line=doc.line_of(loc),
                             field=datafiles.field_path(loc))

    specs: list[FormSpec] = []
    seen: dict[str, int | None] = {}
    for i, m in enumerate(model.forms):
        line = doc.line_of(("forms", i))
        if m.id in seen:
            fail(f"form id {m.id!r} is already used on line {seen[m.id]}", ("forms", i, "id"))
        seen[m.id] = line
        applies = m.applies
        if not (applies.payer_ids or applies.payer_names or applies.payer_kind):
            fail("names no payer: give payer_ids, payer_names or payer_kind",
                 ("forms", i, "applies"))
        pdf = _form_file(path, m.file)
        if pdf is None:
            fail(f"no such form PDF {m.file!r} (looked in {path.resolve().parent / 'forms'} and "
                 f"the packaged forms)", ("forms", i, "file"))
        try:
            names = pdf_field_names(pdf.read_bytes())
        except (OSError, FormError) as exc:
            fail(f"{pdf.name}: {exc}", ("forms", i, "file"))
        templates: dict[str, jinja2.Template] = {}
        for key, value in m.fields.items():
            loc = ("forms", i, "fields", key)
            if key not in names:
                shown = ", ".join(sorted(names)[:40]) + (" ..." if len(names) > 40 else "")
                fail(f"{pdf.name} has no field {key!r} (its fields: {shown})", loc)
            if names[key] != "/Tx":
                what = {"/Btn": "a check box or button", "/Ch": "a choice list",
                        "/Sig": "a signature field"}.get(names[key], f"a {names[key]} field")
                fail(f"{key!r} is {what} in {pdf.name}: only text fields can be filled", loc)
            source = template_source(value)
            try:
                parsed = _ENV.parse(source)
            except jinja2.TemplateSyntaxError as exc:
                fail(f"not a valid Jinja2 template: {exc.message}", loc)
            unknown = sorted(jinja2.meta.find_undeclared_variables(parsed) - set(CONTEXT_KEYS))
            if unknown:
                fail(f"unknown name {unknown[0]!r} (the names: {', '.join(CONTEXT_KEYS)}; a "
                     f"word meant as text is written {{{{ \"{unknown[0]}\" }}}})", loc)
            templates[key] = _ENV.from_string(source)
        specs.append(FormSpec(
            id=m.id, title=m.title, file=pdf, levels=tuple(sorted(set(m.levels))),
            fields=dict(m.fields), payer_ids=tuple(applies.payer_ids),
            payer_names=tuple(applies.payer_names), payer_kind=applies.payer_kind,
            source=path, line=line, templates=templates))
    return Forms(path, model.version, tuple(specs))


def _form_file(yaml_path: Path, name: str) -> Path | None:
    given = Path(name).expanduser()
    candidates = [given] if given.is_absolute() else [
        yaml_path.resolve().parent / "forms" / given, FORMS_DIR / given]
    return next((p.resolve() for p in candidates if p.is_file()), None)


# ---------------------------------------------------------------------------------------------
# Picking and filling


def form_for(payer_id: str, payer_name: str, level: int, *,
             forms: Forms | None = None) -> FormSpec | None:
    """The form a payer requires at appeal ``level`` (first match in the file), or ``None``.

    A form's ``payer_kind`` is compared with the payer's ``kind`` in deadlines.yaml
    (``current_deadlines().for_payer(payer_id, payer_name)``)."""
    forms = forms or current_forms()
    kind = None
    if any(f.payer_kind for f in forms.forms):
        kind = current_deadlines().for_payer(payer_id, payer_name).kind
    return forms.form_for(payer_id, payer_name, level, kind)


def render_fields(spec: FormSpec, context: Mapping[str, Any]) -> dict[str, str]:
    """The text of every mapped field (single-line fields on one line). A context value that is
    missing (or ``None``) raises :class:`FormError` naming the form, the field and the name."""
    values = {k: v for k, v in context.items() if v is not None}
    out: dict[str, str] = {}
    for name, source in spec.fields.items():
        template = spec.templates.get(name) or _ENV.from_string(template_source(source))
        try:
            text = template.render(values)
        except jinja2.UndefinedError as exc:
            missing = re.search(r"'([^']+)' is undefined", str(exc.message or ""))
            what = f"{missing.group(1)!r}" if missing else "a value"
            raise FormError(f"form {spec.id}: field {name!r} needs {what}, which the packet's "
                            f"context does not have") from None
        except jinja2.TemplateError as exc:
            raise FormError(f"form {spec.id}: field {name!r}: {exc.message}") from None
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise FormError(f"form {spec.id}: field {name!r}: {type(exc).__name__} while "
                            f"rendering") from None
        out[name] = "\n".join(line.rstrip() for line in text.strip().splitlines())
    return out


def fill_form(spec: FormSpec, context: Mapping[str, Any]) -> bytes:
    """The form's PDF with every mapped field filled from ``context`` (see the module doc)."""
    values = render_fields(spec, context)
    try:
        data = spec.file.read_bytes()
    except OSError as exc:
        raise FormError(f"form {spec.id}: {spec.file.name} cannot be read "
                        f"({exc.strerror})") from None
    return fill_pdf(data, values, label=f"form {spec.id}", file_name=spec.file.name)


def sample_context(**overrides: Any) -> dict[str, Any]:
    """A complete synthetic context (every :data:`CONTEXT_KEYS` name), for tests and for
    trying a new form (docs/forms-and-documents.md)."""
    context: dict[str, Any] = {
        "patient_name": "DOE, JANE", "patient_dob": "1950-04-01", "member_id": "1EG4TE5MK72",
        "patient_account": "CR1234567", "payer_name": "Keystone Medicare Services",
        "payer_id": "12502", "payer_claim_id": "2026110300001",
        "dates_of_service": "2026-11-03", "procedures": "99214-25, 93000",
        "diagnoses": "R07.9", "denial_date": "2026-11-20", "billed": "$330.00",
        "denied_amount": "$85.00", "codes": "CO-50, N115",
        "reason": "The ECG was medically necessary: the patient presented with chest pain, and "
                  "the enclosed progress note documents the findings that required it.",
        "level": 1, "level_name": "Redetermination (level 1 appeal)",
        "practice_name": "Cedar Ridge Family Medicine",
        "practice_address": "1200 Orchard Lane, Suite 300, Springfield, IL 62704",
        "practice_phone": "(217) 555-0142", "practice_npi": "1234567893",
        "signer_name": "Dana Whitfield", "signer_title": "Revenue Cycle Manager",
        "letter_date": dt.date(2026, 11, 24).isoformat(),
        "decision_date": "2026-11-20",
    }
    context.update(overrides)
    return context
