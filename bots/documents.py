"""Naming, checking and saving downloaded documents.

File names are chosen here from the remittance id, never from the server's suggested filename,
and always land inside ``<dest_dir>/<payer>/``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_STEM = 80


def safe_stem(remittance_id: str) -> str:
    """A file-name stem for ``remittance_id`` made only of ``[A-Za-z0-9._-]``.

    Ids that are already safe are kept as they are; any other id is cleaned and suffixed with a
    short hash of the original, so two different ids never share a file.
    """
    cleaned = _UNSAFE.sub("_", remittance_id).strip("._-")[:MAX_STEM]
    if cleaned and cleaned == remittance_id and cleaned not in {".", ".."}:
        return cleaned
    digest = hashlib.sha256(remittance_id.encode("utf-8")).hexdigest()[:10]
    return f"{cleaned}-{digest}" if cleaned else f"remittance-{digest}"


def document_path(dest_dir: Path, payer: str, remittance_id: str) -> Path:
    """``<dest_dir>/<payer>/<safe stem>.pdf``, checked to stay inside ``dest_dir``."""
    root = Path(dest_dir).resolve()
    folder = (root / safe_stem(payer)).resolve()
    path = (folder / f"{safe_stem(remittance_id)}.pdf").resolve()
    if not path.is_relative_to(folder) or path.parent != folder:
        raise ValueError(f"refusing to write outside {folder}")
    return path


def pdf_problem(data: bytes, *, min_bytes: int, max_bytes: int) -> str | None:
    """Why ``data`` is not an acceptable PDF download, or ``None`` when it is."""
    if not data.startswith(b"%PDF-"):
        head = data[:40].decode("latin-1", "replace").strip()
        kind = "an HTML page" if head.lower().startswith(("<!doctype html", "<html")) else "not a PDF"
        return f"download is {kind} (starts {head[:20]!r})"
    if len(data) < min_bytes:
        return f"PDF is implausibly small ({len(data)} bytes < {min_bytes})"
    if len(data) > max_bytes:
        return f"PDF is too large ({len(data)} bytes > {max_bytes})"
    if b"%%EOF" not in data[-2048:]:
        return "PDF is truncated (no %%EOF trailer)"
    return None
