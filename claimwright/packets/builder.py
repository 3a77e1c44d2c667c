"""Appeal packets: one PDF per appealable denied claim (and appeal level), ready to send.

In this order:

1. the **cover letter**, from the template of the claim's main denial category (and payer), see
   :mod:`.letters`; an incomplete packet says so in a red box at its top;
2. the **payer's form** where the payer requires one (:mod:`.forms`), filled from the model;
3. the **remittance page(s)** showing the claim, copied from the source PDF with a highlight box
   on each denied line (:mod:`.highlight`), or for an 835-only remittance a rendered excerpt;
4. the **supporting documents** the categories need, from the documents source
   (:mod:`claimwright.documents`);
5. the **attachment index**: each enclosure, its pages, the argument it supports, and whether it
   is attached.

A required document that is missing makes the packet *incomplete*: it is still written, and
``PacketInfo.missing`` names what is missing. Output is deterministic: the same inputs and
``as_of`` give byte-identical files; :func:`inputs_digest` is the hash of everything a packet is
made from (not the day), so a run rebuilds a packet only when that changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..output_store import store_at
from ..models import ZERO, Claim, Remittance
from ..rules.findings import Finding
from ..settings import Settings
from .config import Practice, load_practice
from .letters import Category, Letters, load_letters
from .merge import load_pdf, merge_parts, page_count, source_pages
from .fill import category_context, form_context, letter_context
from .render import render_excerpt_pdf, render_index_pdf, render_letter_pdf
from .text import PdfText, iso

PACKET_FORMAT = 2  # part of every inputs digest: a new packet format rebuilds prepared packets


@dataclass(frozen=True)
class Enclosure:
    key: str        # "form", "remittance" or a document kind
    label: str
    supports: str   # the argument(s) it supports
    title: str = ""  # the document's own title, when it has one
    first_page: int = 0  # in the packet; 0 when missing
    pages: int = 0
    missing: bool = False

    @property
    def page_range(self) -> str:
        if self.missing or not self.pages:
            return "-"
        last = self.first_page + self.pages - 1
        return str(self.first_page) if last == self.first_page else f"{self.first_page}-{last}"


@dataclass(frozen=True)
class PacketInfo:
    path: Path
    pages: int
    sha256: str
    claim_id: str  # payer claim number
    denied_amount: Decimal
    appeal_due: dt.date | None  # earliest appeal due date of the findings
    payer_id: str = ""
    level: int = 1
    letter_pages: int = 0
    form_pages: int = 0
    remittance_pages: int = 0
    document_pages: int = 0
    index_pages: int = 0
    enclosures: tuple[Enclosure, ...] = ()
    categories: tuple[str, ...] = ()  # category labels, main one first
    missing: tuple[str, ...] = ()  # document kinds required but not found
    highlighted: tuple[int, ...] = ()  # denied lines boxed on the remittance page(s)
    warnings: tuple[str, ...] = ()  # things the appeals team should check before sending

    @property
    def key(self) -> str:
        """Natural key in the ledger: (payer, payer claim id)."""
        return f"{self.payer_id}:{self.claim_id}"

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class LetterInputs:
    """What the letter and index pages are drawn from (see :mod:`.render`)."""

    remit: Remittance
    claim: Claim
    findings: list[Finding]
    practice: Practice
    context: dict[str, Any]
    parts: list[tuple[str, str]] = field(default_factory=list)
    arguments: list[tuple[str, str, str]] = field(default_factory=list)  # label, argument, action
    enclosures: list[str] = field(default_factory=list)  # labels, in packet order
    missing: list[str] = field(default_factory=list)  # labels of missing required documents


def packet_filename(payer_id: str, payer_claim_id: str, level: int = 1) -> str:
    """``appeal-<payer>-<claim>.pdf`` (``-L2`` and up for later levels): no patient name, safe as
    a file name on any system.

    Characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``; when that (or
    truncation) changed anything, a short hash of the original pair is appended so two different
    claims never share a file name.
    """
    def part(value: str) -> tuple[str, bool]:
        raw = str(value or "")
        safe = re.sub(r"[^A-Za-z0-9._-]+", "_", raw).strip("._-")[:80] or "none"
        return safe, safe != raw

    payer, changed_payer = part(payer_id)
    claim, changed_claim = part(payer_claim_id)
    name = f"appeal-{payer}-{claim}"
    if changed_payer or changed_claim:
        digest = hashlib.sha256(f"{payer_id}\x1f{payer_claim_id}".encode()).hexdigest()[:10]
        name += f"-{digest}"
    return name + (f"-L{level}" if level > 1 else "") + ".pdf"


def categories_of(findings: list[Finding], letters: Letters) -> list[tuple[Category, list[Finding]]]:
    """[(category, its findings)], the largest denied amount first (the letter's template is the
    first one's); ties in order of first appearance."""
    grouped: dict[str, tuple[Category, list[Finding]]] = {}
    for f in findings:
        cat, _ = letters.category(f.decision.category)
        grouped.setdefault(cat.key, (cat, []))[1].append(f)
    order = list(grouped)
    return sorted(grouped.values(), key=lambda cf: (
        -sum((f.adjustment.amount for f in cf[1]), ZERO), order.index(cf[0].key)))


def needed_documents(findings: list[Finding], letters: Letters) -> tuple[list[str], list[str]]:
    """(required, optional) document kinds of the findings' categories, in letter order."""
    required: list[str] = []
    optional: list[str] = []
    for cat, _ in categories_of(findings, letters):
        required += [k for k in cat.requires if k not in required]
        optional += [k for k in cat.optional if k not in optional]
    return required, [k for k in optional if k not in required]


def inputs_digest(remit: Remittance, claim: Claim, findings: list[Finding], *,
                  source_pdf: Path | bytes | None = None, level: int = 1,
                  documents: dict[str, list] | None = None, form: Any = None,
                  practice: Practice | None = None, previous_decision: str = "",
                  decided_on: dt.date | None = None, appeal_due: dt.date | None = None,
                  letters: Letters | None = None) -> str:
    """SHA-256 of everything the packet is made from (never the day it is built)."""
    source = None
    if source_pdf is not None and claim.pages:
        source = hashlib.sha256(load_pdf(source_pdf)).hexdigest()
    letters = letters or load_letters()
    templates = sorted((str(p.relative_to(folder)), hashlib.sha256(p.read_bytes()).hexdigest())
                       for folder in letters.folders if folder.is_dir()
                       for p in folder.rglob("*") if p.is_file())
    payload = {
        "format": PACKET_FORMAT, "level": level, "previous": previous_decision,
        "decided_on": iso(decided_on), "appeal_due": iso(appeal_due),
        "payer": [remit.payer.name, remit.payer.id],
        "payment": [remit.payment.trace_number, iso(remit.payment.date)],
        "claim": claim.to_json(), "source": source, "remit_format": remit.format,
        "findings": [[f.key, f.adjustment.to_json(), f.decision.category, f.carc_meaning,
                      sorted(f.rarc_meanings.items()), f.remarks, iso(f.denial_date),
                      iso(f.appeal_due)] for f in sorted(findings, key=lambda f: f.key)],
        "documents": sorted((kind, d.sha256) for kind, docs in (documents or {}).items()
                            for d in docs),
        "form": _form_identity(form),
        "practice": dataclasses.asdict(practice or load_practice()),
        "letters": templates,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _form_identity(form: Any) -> Any:
    if form is None:
        return None
    path = Path(getattr(form, "path", "") or getattr(form, "file", ""))
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return [getattr(form, "id", ""), digest, sorted((getattr(form, "fields", {}) or {}).items())]


# ---------------------------------------------------------------------------------------------
# building


def build_appeal_packet(remit: Remittance, claim: Claim, findings: list[Finding], out_path: Path,
                        *, source_pdf: Path | bytes | None = None, as_of: dt.date | None = None,
                        practice: Practice | None = None, level: int = 1,
                        documents: dict[str, list] | None = None, form: Any = None,
                        payer_kind: str = "", previous_decision: str = "",
                        decided_on: dt.date | None = None, appeal_due: dt.date | None = None,
                        letters: Letters | None = None,
                        settings: Settings | None = None) -> PacketInfo:
    """Write the appeal packet for ``claim`` (its denial ``findings``) to ``out_path``.

    ``source_pdf``: the remittance PDF the claim was parsed from (its ``claim.pages`` are copied,
    denied lines boxed); without it (835 remittances) an excerpt is rendered. ``documents``: the
    supporting documents found, by kind (:class:`claimwright.documents.SupportingDocument`);
    ``form``: the payer's form (:func:`.forms.form_for`) or None; ``payer_kind``: the payer's
    kind in the deadlines file (default: looked up). ``previous_decision`` (a sentence) and
    ``decided_on`` describe the decision a level-2-or-later appeal asks to review, and
    ``appeal_due`` its own due date (default: the findings' earliest). ``as_of`` is the letter
    date (default today). Raises ``ValueError`` when the findings do not belong to the claim or are not
    denials, ``DocumentError`` when a source PDF is unreadable, ``PacketConfigError`` /
    ``jinja2.UndefinedError`` when a letter or form cannot be filled.
    """
    _check_inputs(remit, claim, findings)
    practice = practice or load_practice()
    letters = letters or load_letters(settings)
    as_of = as_of or dt.date.today()
    documents = documents or {}
    findings = sorted(findings, key=lambda f: (f.line_number or 0, f.adjustment.group,
                                               f.adjustment.carc))
    text = PdfText()
    warnings: list[str] = []
    denied = sum((f.adjustment.amount for f in findings), ZERO)
    dues = [f.appeal_due for f in findings if f.appeal_due]
    appeal_due = appeal_due or (min(dues) if dues else None)
    if appeal_due is None:
        warnings.append("no appeal due date was determined: check the payer's appeal window")
    elif appeal_due < as_of:
        warnings.append(f"the appeal due date {appeal_due.isoformat()} is before the letter date "
                        f"{as_of.isoformat()}")
    groups = categories_of(findings, letters)
    for f in findings:
        if not letters.category(f.decision.category)[1]:
            message = (f"no letter for category {f.decision.category!r}: the generic wording "
                       "was used; review it before sending")
            if message not in warnings:
                warnings.append(message)
    payer_kind = payer_kind or _payer_kind(remit)
    lvl = letters.level(payer_kind, level)
    context = letter_context(remit, claim, findings, practice, text, denied, appeal_due, as_of, lvl,
                       previous_decision)
    required, optional = needed_documents(findings, letters)
    missing = [k for k in required if not documents.get(k)]
    letter = LetterInputs(remit, claim, findings, practice, context,
                          missing=[letters.documents[k] for k in missing])
    context["incomplete"] = letter.missing
    for cat, cat_findings in groups:
        argument, action = letters.argument(cat, remit.payer.id, category_context(
            context, cat_findings, text))
        letter.arguments.append((cat.label, argument, action))
    supports = {k: "; ".join(c.label for c, _ in groups if k in c.requires + c.optional)
                for k in required + optional}

    # the parts, in packet order
    plan: list[tuple[str, str, str, bytes | None, list[int] | None]] = []  # key, label, title
    form_pdf = None
    if form is not None:
        from .forms import fill_form

        form_pdf = fill_form(form, form_context(context, letter, decided_on))
        plan.append(("form", letters.documents["form"], getattr(form, "title", ""),
                     form_pdf, None))
    remittance_pdf, remittance_pages, boxed = _remittance_part(
        remit, claim, findings, practice, text, source_pdf, warnings)
    plan.append(("remittance", letters.documents["remittance"], "", remittance_pdf,
                 remittance_pages))
    for kind in required + optional:
        for doc in documents.get(kind, []):
            plan.append((kind, letters.documents[kind], doc.title, load_pdf(Path(doc.path)),
                         None))
        if not documents.get(kind) and kind in required:
            plan.append((kind, letters.documents[kind], "", None, None))
    letter.enclosures = list(dict.fromkeys(label for _, label, _, data, _ in plan))
    letter.parts = letters.render_letter(groups[0][0], remit.payer.id, context)
    letter_pdf = render_letter_pdf(letter, text)

    page = page_count(letter_pdf) + 1
    enclosures, parts = [], [(letter_pdf, None)]
    for key, label, title, data, pages in plan:
        support = "the whole appeal" if key in ("form", "remittance") else supports.get(key, "")
        if data is None:
            enclosures.append(Enclosure(key, label, support, missing=True))
            continue
        count = len(pages) if pages is not None else page_count(data)
        enclosures.append(Enclosure(key, label, support, title, page, count))
        parts.append((data, pages))
        page += count
    index_pdf = render_index_pdf(letter, enclosures, text)
    parts.append((index_pdf, None))
    data = merge_parts(parts)

    if text.transliterated:
        warnings.append("some names or text had characters the letter font cannot print; they "
                        "were transliterated: check the spelling against the claim")
    out_path = Path(out_path)
    store, key = store_at(out_path, settings)
    store.put_bytes(key, data, skip_if_same=True)
    counts = {key: sum(e.pages for e in enclosures if e.key == key)
              for key in ("form", "remittance")}
    return PacketInfo(
        path=out_path, pages=page_count(data), sha256=hashlib.sha256(data).hexdigest(),
        claim_id=claim.payer_claim_id, denied_amount=denied, appeal_due=appeal_due,
        payer_id=remit.payer.id, level=level, letter_pages=page_count(letter_pdf),
        form_pages=counts["form"], remittance_pages=counts["remittance"],
        document_pages=sum(e.pages for e in enclosures if e.key not in counts),
        index_pages=page_count(index_pdf), enclosures=tuple(enclosures),
        categories=tuple(c.label for c, _ in groups), missing=tuple(missing),
        highlighted=tuple(boxed), warnings=tuple(warnings))


def _payer_kind(remit: Remittance) -> str:
    from ..rules.deadlines import current_deadlines

    windows = current_deadlines().for_payer(remit.payer.id, remit.payer.name)
    return getattr(windows, "kind", "") or "commercial"


def _remittance_part(remit, claim, findings, practice, text, source_pdf, warnings):
    """(pdf bytes, pages to take or None for all, line numbers boxed)."""
    pages = source_pages(claim, source_pdf)
    if not pages:
        if source_pdf is not None:
            warnings.append("the claim has no page numbers in the source PDF: a remittance "
                            "excerpt was rendered instead of copying the pages")
        return render_excerpt_pdf(remit, claim, findings, practice, text), None, \
            sorted({f.line_number for f in findings if f.line_number})
    from ..errors import UnknownLayout
    from .highlight import Located, highlighted_pages, locate_lines

    source = load_pdf(source_pdf)
    wanted = sorted({f.line_number for f in findings}, key=lambda n: (n is not None, n or 0))
    try:
        located = locate_lines(source, claim, wanted, layout=remit.layout or None)
    except UnknownLayout:  # pages copied unmarked: the packet says so
        located = Located([], wanted)
    if located.missing:
        lines = ", ".join("claim level" if n is None else f"line {n}" for n in located.missing)
        warnings.append(f"denied {lines} could not be found on the remittance page to mark "
                        "them: mark them by hand")
    return highlighted_pages(source, pages, located.boxes), None, \
        sorted({b.line_number for b in located.boxes if b.line_number})


def _check_inputs(remit: Remittance, claim: Claim, findings: list[Finding]) -> None:
    if not findings:
        raise ValueError(f"no findings for claim {claim.payer_claim_id}: nothing to appeal")
    if not any(c is claim or c == claim for c in remit.claims):
        raise ValueError(f"claim {claim.payer_claim_id} is not in the remittance")
    seen = set()
    for f in findings:
        fc = f.claim
        if fc is not claim and (fc.payer_claim_id, fc.patient_account) != (
                claim.payer_claim_id, claim.patient_account):
            raise ValueError(f"finding {f.key} belongs to claim {fc.payer_claim_id}, "
                             f"not {claim.payer_claim_id}")
        if remit.payer.id and f.payer_id and f.payer_id != remit.payer.id:
            raise ValueError(f"finding {f.key} is for payer {f.payer_id}, "
                             f"the remittance is from {remit.payer.id}")
        if not f.decision.is_denial:
            raise ValueError(f"finding {f.key} is not a denial: it has no place in an appeal")
        if f.line_number is None:
            if f.adjustment not in claim.adjustments:
                raise ValueError(f"finding {f.key}: adjustment not among the claim's adjustments")
        else:
            if not 1 <= f.line_number <= len(claim.lines):
                raise ValueError(f"finding {f.key}: claim has no service line {f.line_number}")
            if f.adjustment not in claim.lines[f.line_number - 1].adjustments:
                raise ValueError(f"finding {f.key}: adjustment not on service line "
                                 f"{f.line_number}")
        if f.key in seen:
            raise ValueError(f"finding {f.key} given twice")
        seen.add(f.key)
