"""Appeal packets: one PDF per appealable denied claim, for the appeals team.

A packet is the cover letter (reportlab platypus, wording from the data files next to this
module) followed by the remittance page(s) showing the denial: imported from the source PDF with
pypdfium2, or, for a remittance that came as an X12 835 file, a rendered "remittance excerpt"
listing the claim exactly as received. Output is deterministic: the same inputs and ``as_of``
give byte-identical files.

This module checks the inputs and puts a packet together; :mod:`.render` draws the letter and
the excerpt, :mod:`.merge` imports the remittance pages, :mod:`.text` cleans and formats text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..fileio import write_atomic
from ..models import ZERO, Claim, Remittance
from ..rules.findings import Finding
from .config import LetterText, Practice, load_letter_text, load_practice
from .merge import load_pdf, merge_pdfs, page_count, source_pages
from .render import render_excerpt_pdf, render_letter_pdf
from .text import PdfText


@dataclass(frozen=True)
class PacketInfo:
    path: Path
    pages: int
    sha256: str
    claim_id: str  # payer claim number
    denied_amount: Decimal
    appeal_due: dt.date | None  # earliest appeal due date of the findings
    payer_id: str = ""
    letter_pages: int = 0
    remittance_pages: int = 0
    enclosures: tuple[str, ...] = ()  # as listed in the letter; only the remittance is attached
    warnings: tuple[str, ...] = ()  # things the appeals team should check before sending

    @property
    def key(self) -> str:
        """Natural key in the ledger: (payer, payer claim id)."""
        return f"{self.payer_id}:{self.claim_id}"


def packet_filename(payer_id: str, payer_claim_id: str) -> str:
    """``appeal-<payer>-<claim>.pdf``, safe as a file name on any system.

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
    return name + ".pdf"


# ---------------------------------------------------------------------------------------------
# building


def build_appeal_packet(remit: Remittance, claim: Claim, findings: list[Finding], out_path: Path,
                        *, source_pdf: Path | bytes | None = None, as_of: dt.date | None = None,
                        practice: Practice | None = None) -> PacketInfo:
    """Write the appeal packet for ``claim`` (its denial ``findings``) to ``out_path``.

    ``source_pdf`` is the remittance PDF the claim was parsed from; its ``claim.pages`` are
    copied into the packet. Without it (835 remittances) a remittance excerpt page is rendered.
    ``as_of`` is the letter date (default today). Raises ``ValueError`` when the findings do not
    belong to the claim or are not denials, ``DocumentError`` when the source PDF is unreadable.
    """
    _check_inputs(remit, claim, findings)
    practice = practice or load_practice()
    texts = load_letter_text()
    as_of = as_of or dt.date.today()
    findings = sorted(findings, key=lambda f: (f.line_number or 0, f.adjustment.group,
                                               f.adjustment.carc))
    text = PdfText()
    denied = sum((f.adjustment.amount for f in findings), ZERO)
    dues = [f.appeal_due for f in findings if f.appeal_due]
    appeal_due = min(dues) if dues else None
    warnings: list[str] = []
    if appeal_due is None:
        warnings.append("no appeal due date was determined: check the payer's appeal window")
    elif appeal_due < as_of:
        warnings.append(f"the appeal due date {appeal_due.isoformat()} is before the letter date "
                        f"{as_of.isoformat()}")

    categories = _categories(findings, texts, warnings)
    enclosure_keys = ["remittance"]
    for cat, _ in categories:
        enclosure_keys += [e for e in cat.enclosures if e not in enclosure_keys]
    enclosures = tuple(texts.enclosure_labels[k] for k in enclosure_keys)

    letter = render_letter_pdf(remit, claim, findings, practice, texts, categories, enclosures,
                            denied, appeal_due, as_of, text)
    letter_pages = page_count(letter)

    pages = source_pages(claim, source_pdf)
    if pages:
        remittance_part, remittance_pages = load_pdf(source_pdf), pages
    else:
        if source_pdf is not None:
            warnings.append("the claim has no page numbers in the source PDF: a remittance "
                            "excerpt was rendered instead of copying the pages")
        remittance_part = render_excerpt_pdf(remit, claim, findings, practice, text)
        remittance_pages = list(range(1, page_count(remittance_part) + 1))
    data = merge_pdfs(letter, remittance_part, remittance_pages)

    if text.transliterated:
        warnings.append("some names or text had characters the letter font cannot print; they "
                        "were transliterated: check the spelling against the claim")
    out_path = Path(out_path)
    write_atomic(out_path, data, skip_if_same=True)
    return PacketInfo(
        path=out_path, pages=letter_pages + len(remittance_pages),
        sha256=hashlib.sha256(data).hexdigest(), claim_id=claim.payer_claim_id,
        denied_amount=denied, appeal_due=appeal_due, payer_id=remit.payer.id,
        letter_pages=letter_pages, remittance_pages=len(remittance_pages),
        enclosures=enclosures, warnings=tuple(warnings))


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


def _categories(findings: list[Finding], texts: LetterText, warnings: list[str]):
    """[(CategoryText, findings)] in order of first appearance; one argument per category."""
    grouped: dict[str, tuple[Any, list[Finding]]] = {}
    for f in findings:
        cat, found = texts.category(f.decision.category)
        if not found:
            message = (f"no argument text for category {f.decision.category!r}: the generic "
                       f"wording was used; review it before sending")
            if message not in warnings:
                warnings.append(message)
        grouped.setdefault(cat.key, (cat, []))[1].append(f)
    return list(grouped.values())
