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


#: document kind -> file suffix the bot saves it under
SUFFIXES = {"pdf": ".pdf", "x12-835": ".835"}


def document_path(dest_dir: Path, payer: str, remittance_id: str, kind: str = "pdf") -> Path:
    """``<dest_dir>/<payer>/<safe stem>.pdf`` (``.835`` for an 835), checked to stay inside."""
    root = Path(dest_dir).resolve()
    folder = (root / safe_stem(payer)).resolve()
    path = (folder / f"{safe_stem(remittance_id)}{SUFFIXES[kind]}").resolve()
    if not path.is_relative_to(folder) or path.parent != folder:
        raise ValueError(f"refusing to write outside {folder}")
    return path


def _kind_of(data: bytes, expected: str) -> str:
    head = data[:40].decode("latin-1", "replace").strip()
    kind = "an HTML page" if head.lower().startswith(("<!doctype html", "<html")) else expected
    return f"download is {kind} (starts {head[:20]!r})"


def _size_problem(data: bytes, name: str, min_bytes: int, max_bytes: int) -> str | None:
    if len(data) < min_bytes:
        return f"{name} is implausibly small ({len(data)} bytes < {min_bytes})"
    if len(data) > max_bytes:
        return f"{name} is too large ({len(data)} bytes > {max_bytes})"
    return None


def pdf_problem(data: bytes, *, min_bytes: int, max_bytes: int) -> str | None:
    """Why ``data`` is not an acceptable PDF download, or ``None`` when it is."""
    if not data.startswith(b"%PDF-"):
        return _kind_of(data, "not a PDF")
    if problem := _size_problem(data, "PDF", min_bytes, max_bytes):
        return problem
    if b"%%EOF" not in data[-2048:]:
        return "PDF is truncated (no %%EOF trailer)"
    return None


def x12_problem(data: bytes, *, min_bytes: int, max_bytes: int) -> str | None:
    """Why ``data`` is not an acceptable X12 835 download, or ``None`` when it is."""
    if not data[:106].lstrip(b"\xef\xbb\xbf\r\n\t ").startswith(b"ISA"):
        return _kind_of(data, "not an X12 file")
    if problem := _size_problem(data, "835", min_bytes, max_bytes):
        return problem
    if b"IEA" not in data[-200:]:
        return "835 is truncated (no IEA trailer)"
    if b"ST*835" not in data:
        return "X12 file holds no 835 transaction"
    return None


def document_problem(data: bytes, kind: str, *, min_bytes: int, max_bytes: int) -> str | None:
    check = x12_problem if kind == "x12-835" else pdf_problem
    return check(data, min_bytes=min_bytes, max_bytes=max_bytes)
