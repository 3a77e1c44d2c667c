"""Filling a PDF's AcroForm text fields so the values print everywhere (pypdf).

:func:`fill_pdf` lays each value out to fit its field (multi-line fields wrapped; the font steps
down from the field's own size to :data:`MIN_FONT_SIZE`; a text that still does not fit raises
:class:`FormError`, it is never cut), writes it as the field's appearance stream *and* into the
page content (flattened: PDFium, printers, page imports and text extraction all see it), keeps
the value in the field and marks the field read-only (``PdfReader.get_fields()`` reads every
value; an edit in a viewer cannot make the field disagree with the printed text), and turns
``NeedAppearances`` off. Fields not given stay empty and editable. The same input gives the
same bytes. :mod:`.forms` decides which form and which values.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from typing import Any, Mapping

MIN_FONT_SIZE = 6.0
_FONT_STEP = 0.5
_DA_FONT = re.compile(r"/([^\s/]+)\s+([0-9.]+)\s+Tf")
_MULTILINE = 1 << 12
_READ_ONLY = 1
# PDF standard fonts by the resource names forms usually give them
_STANDARD = {"helv": "Helvetica", "hebo": "Helvetica-Bold", "tiro": "Times-Roman",
             "tibo": "Times-Bold", "cour": "Courier", "cobo": "Courier-Bold"}
_LEADING = 1.156  # Helvetica's bounding box height per point: the line height pypdf uses


class FormError(ValueError):
    """A form cannot be filled (a context value is missing, a text does not fit, ...). The
    message names the form and the field, never a value."""


def pdf_field_names(data: bytes) -> dict[str, str]:
    """The AcroForm fields of a PDF: fully qualified name (as pypdf's ``get_fields`` keys) ->
    field type (``/Tx`` text, ``/Btn`` check box or button, ``/Ch`` choice, ``/Sig``)."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        fields = PdfReader(io.BytesIO(data)).get_fields() or {}
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise FormError(f"not a readable PDF ({exc})") from None
    if not fields:
        raise FormError("has no form fields")
    return {name: str(f.get("/FT") or "") for name, f in fields.items()}


def fill_pdf(data: bytes, values: Mapping[str, str], *, label: str = "form",
             file_name: str = "the PDF") -> bytes:
    """``data`` (a PDF with AcroForm fields) with each field of ``values`` filled (see the
    module doc). ``label`` ("form medicare-redetermination") starts every error message."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PyPdfError
    from pypdf.generic import NameObject, NumberObject, TextStringObject

    values = dict(values)
    try:
        reader = PdfReader(io.BytesIO(data))
        writer = PdfWriter(clone_from=reader)
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise FormError(f"{label}: {file_name} cannot be read ({exc})") from None
    widgets = _widgets(writer)
    absent = sorted(set(values) - set(widgets))
    if absent:
        raise FormError(f"{label}: {file_name} has no field {absent[0]!r} (was the "
                        f"PDF replaced?)")
    resources = _font_resources(writer)
    by_page: dict[int, dict[str, tuple[str, str, float]]] = {}
    for name, text in list(values.items()):
        _, annot, fieldobj = widgets[name][0]
        laid = _lay_out(label, name, text, annot, fieldobj, resources)
        if not int(_inherited(fieldobj, "/Ff") or 0) & _MULTILINE:
            values[name] = " ".join(text.split())  # what a one-line field shows
        for page_number, _, _ in widgets[name]:
            by_page.setdefault(page_number, {})[name] = laid
    for page_number in sorted(by_page):
        writer.update_page_form_field_values(writer.pages[page_number], by_page[page_number],
                                             auto_regenerate=False, flatten=True)
    for name, text in values.items():
        for _, annot, fieldobj in widgets[name]:
            fieldobj[NameObject("/V")] = TextStringObject(text)
            flags = int(fieldobj.get("/Ff", 0))
            fieldobj[NameObject("/Ff")] = NumberObject(flags | _READ_ONLY)
    writer.set_need_appearances_writer(False)
    # flattening field by field leaves each intermediate page content behind: drop those
    writer.compress_identical_objects()  # duplicates and unreferenced objects (every pypdf)
    for page in writer.pages:
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _widgets(writer) -> dict[str, list[tuple[int, Any, Any]]]:
    """Field name -> [(page index, widget annotation, field dictionary)]."""
    out: dict[str, list[tuple[int, Any, Any]]] = {}
    for number, page in enumerate(writer.pages):
        for ref in page.get("/Annots") or []:
            annot = ref.get_object()
            if annot.get("/Subtype") != "/Widget":
                continue
            fieldobj = annot if "/T" in annot else annot.get("/Parent")
            if fieldobj is None:
                continue
            fieldobj = fieldobj.get_object()
            parts, node = [], fieldobj
            while node is not None:
                if "/T" in node:
                    parts.append(str(node["/T"]))
                node = node.get("/Parent")
                node = node.get_object() if node is not None else None
            out.setdefault(".".join(reversed(parts)), []).append((number, annot, fieldobj))
    return out


def _font_resources(writer) -> dict[str, str]:
    """AcroForm font resource name -> its BaseFont (``Helv`` -> ``Helvetica``)."""
    out: dict[str, str] = {}
    try:
        fonts = writer._root_object["/AcroForm"]["/DR"]["/Font"]  # noqa: SLF001
        for key, ref in fonts.items():
            base = ref.get_object().get("/BaseFont")
            if base:
                out[str(key).lstrip("/")] = str(base).lstrip("/")
    except (KeyError, AttributeError, TypeError):
        pass
    return out


def _inherited(fieldobj: Any, key: str) -> Any:
    node = fieldobj
    while node is not None:
        if key in node:
            return node[key]
        node = node.get("/Parent")
        node = node.get_object() if node is not None else None
    return None


def _lay_out(label: str, name: str, text: str, annot: Any, fieldobj: Any,
             resources: dict[str, str]) -> tuple[str, str, float]:
    """``(text with line breaks, font resource, size)`` that fits the field, or FormError."""
    from reportlab.lib.utils import simpleSplit
    from reportlab.pdfbase.pdfmetrics import standardFonts, stringWidth

    text = _printable(label, name, text)
    da = str(annot.get("/DA") or _inherited(fieldobj, "/DA") or "/Helv 0 Tf 0 g")
    match = _DA_FONT.search(da)
    resource, size = (match.group(1), float(match.group(2))) if match else ("Helv", 0.0)
    size = size or 10.0
    base = resources.get(resource) or _STANDARD.get(resource.lower(), "Helvetica")
    metric = base if base in standardFonts else "Helvetica"  # widths of another font: close
    x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    border = float((annot.get("/BS") or {}).get("/W", 1)) if annot.get("/BS") else 1.0
    width = abs(x2 - x1) - 6 * max(border, 1.0) - 1
    height = abs(y2 - y1) - 2 * border
    multiline = bool(int(_inherited(fieldobj, "/Ff") or 0) & _MULTILINE)
    if not multiline:
        text = " ".join(text.split())
    current = size
    while current >= MIN_FONT_SIZE:
        if multiline:
            lines = [part for para in text.split("\n")
                     for part in (simpleSplit(para, metric, current, width) or [""])]
            if len(lines) <= max(1, math.floor(height / (current * _LEADING))):
                return "\n".join(lines), f"/{resource}", current
        elif stringWidth(text, metric, current) <= width and current * _LEADING <= height + 2:
            return text, f"/{resource}", current
        current -= _FONT_STEP
    raise FormError(f"{label}: the text for field {name!r} does not fit the field even "
                    f"at {MIN_FONT_SIZE:g} pt: shorten it (or point to the enclosed letter)")


def _printable(label: str, name: str, text: str) -> str:
    """``text`` in the characters a form's standard font prints (Windows-1252): accents
    outside it are dropped (``ễ`` -> ``e``); anything else raises FormError."""
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            base = "".join(c for c in unicodedata.normalize("NFKD", char)
                           if not unicodedata.combining(c))
            try:
                base.encode("cp1252")
            except UnicodeEncodeError:
                base = ""
            if not base:
                raise FormError(f"{label}: field {name!r} holds a character the form's "
                                f"font cannot print (U+{ord(char):04X})") from None
            out.append(base)
    return "".join(out)
