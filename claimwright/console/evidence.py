"""An item's evidence as the console shows it: what each file is, where it may be read from, and
the remittance page rendered as an image with the failing claim's rows boxed.

- :func:`evidence_file`: ``item.evidence[n]``, only when it resolves under the project's home or
  out folder and is a file (``None`` otherwise: the route answers 404). The client gives an
  index, never a path.
- :func:`kind_of`: screenshot (.png), trace (.zip), pdf, or other (a download).
- :class:`ImageCache`: rendered images per (item, n), bounded, least recently used dropped first.
- :func:`marked_pages`: the claim's page(s) of a remittance PDF as PNGs with its rows boxed
  (:func:`~claimwright.packets.highlight.locate_lines` + ``highlighted_pages``, rendered with
  pypdfium2). The claim is found in the ledger's stored remittance of the item's document, by the
  context's patient account (``claim``) or payer claim number (``payer_claim_id``).

PDFium is not thread-safe and the app's sync routes run in a thread pool: rendering is serialised
by one lock.
"""

from __future__ import annotations

import io
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

log = logging.getLogger("claimwright.console")
RENDER_SCALE = 2.0  # 144 dpi: the rows' text stays readable on screen
MAX_CACHED = 32  # rendered evidence entries kept in memory
MAX_CACHED_BYTES = 64 * 2**20
_RENDER_LOCK = threading.Lock()


def evidence_file(item, n: int, roots: list[Path]) -> Path | None:
    """The file of ``item.evidence[n]`` when it lies under one of ``roots`` (resolved, so ``..``
    and symbolic links cannot lead out) and exists; else ``None``."""
    evidence = list(item.evidence or [])
    if not 0 <= n < len(evidence) or not evidence[n]:
        return None
    try:
        path = Path(evidence[n]).resolve()
    except (OSError, RuntimeError, ValueError):
        return None
    if not any(path.is_relative_to(root.resolve()) for root in roots):
        log.warning("review item %s evidence %s is outside the project's folders: not served",
                    item.id, n)
        return None
    return path if path.is_file() else None


def kind_of(path: str) -> str:
    suffix = Path(path).suffix.lower()
    return {".png": "screenshot", ".zip": "trace", ".pdf": "pdf"}.get(suffix, "file")


def download_name(path: Path) -> str:
    """A file name safe for a Content-Disposition header."""
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in path.name)
    return name.lstrip(".") or "evidence"


class ImageCache:
    """Rendered images per key, bounded by entries and bytes (LRU). Thread-safe."""

    def __init__(self, entries: int = MAX_CACHED, size: int = MAX_CACHED_BYTES) -> None:
        self.entries, self.size = entries, size
        self._data: OrderedDict[Any, list[bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key) -> list[bytes] | None:
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
            return None

    def put(self, key, images: list[bytes]) -> list[bytes]:
        with self._lock:
            self._data[key] = images
            self._data.move_to_end(key)
            while len(self._data) > self.entries or (
                    len(self._data) > 1 and self._bytes() > self.size):
                self._data.popitem(last=False)
        return images

    def _bytes(self) -> int:
        return sum(len(b) for images in self._data.values() for b in images)

    def __len__(self) -> int:
        return len(self._data)


def find_claim(ledger, context: dict[str, Any]):
    """(remittance, claim) of the item's document whose claim the context names, or None."""
    from ..models import Remittance

    account, number = context.get("claim"), context.get("payer_claim_id")
    document_id = context.get("document_id")
    if not (account or number) or not isinstance(document_id, int):
        return None
    for record in ledger.remittances(document_id):
        remit = Remittance.from_json(record.data)
        for claim in remit.claims:
            if (account and claim.patient_account == account) or (
                    number and claim.payer_claim_id == number):
                return remit, claim
    return None


def wanted_lines(claim, context: dict[str, Any]) -> list[int | None]:
    """The lines to box: the problems' lines (``None`` for a claim-level one), else the
    context's ``line``, else the claim level."""
    numbers = set(range(1, len(claim.lines) + 1))  # 1-based, as locate_lines counts
    lines: list[int | None] = []
    for problem in context.get("problems") or []:
        lines.append(problem.get("line") if problem.get("line") in numbers else None)
    if not lines and context.get("line") in numbers:
        lines.append(context["line"])
    return sorted(set(lines) or {None}, key=lambda n: (n is not None, n or 0))


#: the margin label of a boxed row on a review item's page (packets say "Appealed")
LABEL = "Unbalanced"


def marked_pages(pdf: Path, ledger, context: dict[str, Any]) -> list[bytes]:
    """The claim's pages of ``pdf`` as PNGs with its failing rows boxed; [] when the claim or
    its rows cannot be found (the page then shows the download link only)."""
    from ..errors import ClaimwrightError
    from ..packets.highlight import highlighted_pages, locate_lines

    found = find_claim(ledger, context)
    if found is None:
        return []
    remit, claim = found
    try:
        with _RENDER_LOCK:
            located = locate_lines(pdf, claim, wanted_lines(claim, context),
                                   layout=remit.layout or None)
            if not located.boxes:
                return []
            pages = sorted({box.page for box in located.boxes})
            return _render(highlighted_pages(pdf, pages, located.boxes, label=LABEL))
    except (ClaimwrightError, ValueError, OSError) as exc:
        log.warning("remittance page of a review item not rendered: %s", type(exc).__name__)
        return []


def _render(pdf_bytes: bytes) -> list[bytes]:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf_bytes)
    try:
        out = []
        for index in range(len(doc)):
            page = doc[index]
            try:
                image = page.render(scale=RENDER_SCALE).to_pil().convert("RGB")
            finally:
                page.close()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", optimize=False)
            out.append(buffer.getvalue())
        return out
    finally:
        doc.close()
