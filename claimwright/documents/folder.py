"""Supporting documents from a folder tree (``CLAIMWRIGHT_DOCUMENTS``, default
``$CLAIMWRIGHT_HOME/documents``)::

    <root>/
      CR1234567/                          one folder per patient account
        medical_records-2026-11-03.pdf    progress note of 2026-11-03 (a date of service)
        medical_records.pdf               a note without a date: counts for every claim
        authorization-2026-10-01.pdf      the authorization approval (dated 2026-10-01)
        timely_filing.pdf
      _practice/                          practice-wide kinds: enrollment, fee_schedule
        enrollment-2025-01-01.pdf         for every payer
        fee_schedule-for-NWHP1-2026-01-01.pdf   for payer NWHP1 only

- **File names** are ``<kind>[-<anything>].pdf`` (case does not matter): the kind prefix (one of
  :data:`~.source.DOCUMENT_KINDS`) decides the kind. Other files, and names starting with ``.``,
  are not looked at. The first ISO date in the name (``YYYY-MM-DD``) is the document's ``date``;
  for ``medical_records`` it is the date of service, and a dated note counts only for a claim
  with that date of service (a claim with no known date of service gets undated notes only).
- **Account folders**: the patient account (surrounding blanks removed) percent-encoded: every
  character but ASCII letters, digits, ``-``, ``_`` and ``.`` becomes ``%XX`` (its UTF-8 bytes,
  upper-case hex), and so does a leading ``.`` or ``_`` (``_practice`` and hidden names stay
  out of reach). ``CR 12/7`` is ``CR%2012%2F7``; ``..`` is ``%2E.``. Two accounts never share a
  folder, and no account can name a path outside the root. :func:`folder_name` computes it.
- **Practice-wide kinds** come from ``<root>/_practice/``, never from an account folder. A name
  whose part after the kind starts with ``-for-<payer id>-`` (or ends there) is for that payer
  only (the payer id encoded as above, and a ``-`` in it written ``%2D``).
- **Links**: a symbolic link (to a file, or an account folder that is one) is followed only when
  it stays inside the root; one that leaves it is refused and reported.
- **Checks**: each file must open as a PDF (PDFium) with at least one page, every page loading,
  and be at most :data:`MAX_DOCUMENT_BYTES` (``FolderSource(max_bytes=...)``); a file failing a
  check is reported in ``problems`` (by file name only) and left out.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import string
from pathlib import Path
from typing import Iterable

import pypdfium2 as pdfium

from .source import (
    DATE_OF_SERVICE_KINDS,
    DOCUMENT_KINDS,
    KIND_TITLES,
    PRACTICE_KINDS,
    ClaimRef,
    DocumentsError,
    DocumentsSource,
    Found,
    SupportingDocument,
    check_kinds,
)

#: Largest supporting document accepted (bytes): payers' portals and fax services refuse much
#: bigger uploads, and a bigger file is usually a whole chart exported by mistake.
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
PRACTICE_FOLDER = "_practice"
_SAFE = frozenset(string.ascii_letters + string.digits + "-_.")
_MAX_NAME_BYTES = 255  # longest file name on common file systems
_DATE = re.compile(r"(?<![0-9])([0-9]{4})-([0-9]{2})-([0-9]{2})(?![0-9])")
# longest kinds first, so a kind that starts another's name can never shadow it
_BY_LENGTH = sorted(DOCUMENT_KINDS, key=len, reverse=True)


def folder_name(value: str) -> str:
    """The folder name of a patient account (or payer id): percent-encoded, see the module doc.
    Raises :class:`DocumentsError` for an empty value or one too long for a file name."""
    text = str(value or "").strip()
    if not text:
        raise DocumentsError("it is empty")
    out: list[str] = []
    for index, char in enumerate(text):
        if char in _SAFE and not (index == 0 and char in "._"):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    name = "".join(out)
    if len(name.encode("ascii")) > _MAX_NAME_BYTES:
        raise DocumentsError(f"it is longer than a folder name can be ({_MAX_NAME_BYTES} "
                             f"characters encoded)")
    return name


def payer_token(payer_id: str) -> str:
    """How ``-for-<payer id>`` writes a payer id in a practice file's name."""
    return folder_name(payer_id).replace("-", "%2D")


def kind_of(file_name: str) -> tuple[str, str] | None:
    """``(kind, rest of the stem)`` of a ``<kind>[-<anything>].pdf`` name, else ``None``."""
    if file_name.startswith(".") or not file_name.lower().endswith(".pdf"):
        return None
    stem = file_name[:-4]
    lowered = stem.lower()
    for kind in _BY_LENGTH:
        if lowered == kind or lowered.startswith(kind + "-"):
            return kind, stem[len(kind):]
    return None


class FolderSource(DocumentsSource):
    """Supporting documents from ``root`` laid out as the module doc says."""

    name = "folder"

    def __init__(self, root: str | Path, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> None:
        self.root = Path(root).expanduser()
        if max_bytes < 1:
            raise DocumentsError("max_bytes must be at least 1")
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"FolderSource({str(self.root)!r})"

    def find(self, claim: ClaimRef, kinds: Iterable[str]) -> Found:
        kinds = check_kinds(kinds)
        found = Found({kind: [] for kind in kinds})
        if not kinds:
            return found
        try:
            root = self.root.resolve(strict=True)
        except OSError:
            found.problems.append(f"the documents folder {self.root} does not exist")
            return found
        if not root.is_dir():
            found.problems.append(f"the documents folder {self.root} is not a folder")
            return found
        patient = tuple(k for k in kinds if k not in PRACTICE_KINDS)
        practice = tuple(k for k in kinds if k in PRACTICE_KINDS)
        if patient:
            try:
                name = folder_name(claim.patient_account)
            except DocumentsError as exc:
                found.problems.append(f"the claim's patient account cannot name a documents "
                                      f"folder: {exc}")
            else:
                folder = self._folder(root, name, "the patient's documents folder", found)
                if folder is not None:
                    self._scan(root, folder, patient, claim, found, practice=False)
        if practice:
            folder = self._folder(root, PRACTICE_FOLDER, f"the {PRACTICE_FOLDER} folder", found)
            if folder is not None:
                self._scan(root, folder, practice, claim, found, practice=True)
        for docs in found.documents.values():
            docs.sort(key=lambda d: (d.date is None, d.date or dt.date.min, d.path.name))
        return found

    # -----------------------------------------------------------------------------------------

    def _folder(self, root: Path, name: str, label: str, found: Found) -> Path | None:
        path = root / name
        if not os.path.lexists(path):
            return None  # nothing filed yet: every kind is simply missing
        resolved = path.resolve()
        if resolved != root and root not in resolved.parents:
            found.problems.append(f"{label} is a link that leads outside the documents "
                                  f"folder: not used")
            return None
        if not resolved.is_dir():
            found.problems.append(f"{label} is not a folder: not used")
            return None
        return resolved

    def _scan(self, root: Path, folder: Path, kinds: tuple[str, ...], claim: ClaimRef,
              found: Found, *, practice: bool) -> None:
        try:
            names = sorted(entry.name for entry in os.scandir(folder))
        except OSError as exc:
            found.problems.append(f"a documents folder cannot be read: {exc.strerror}")
            return
        undated_claim = False
        for file_name in names:
            parsed = kind_of(file_name)
            if parsed is None or parsed[0] not in kinds:
                continue
            kind, rest = parsed
            if practice and rest.lower().startswith("-for-"):
                token, _, rest = rest[len("-for-"):].partition("-")
                if not claim.payer_id or token.lower() != payer_token(claim.payer_id).lower():
                    continue  # another payer's document
            date, bad = _date_in(rest)
            if bad:
                found.problems.append(f"{file_name}: {bad} in the name is not a date: not used")
                continue
            if kind in DATE_OF_SERVICE_KINDS and date is not None:
                if not claim.dates_of_service:
                    undated_claim = True
                    continue
                if date not in claim.dates_of_service:
                    continue  # a note of another visit
            doc = self._document(root, folder / file_name, kind, date, found)
            if doc is not None:
                found.documents[kind].append(doc)
        if undated_claim:
            found.problems.append("the claim has no date of service: dated progress notes "
                                  "were not matched to it")

    def _document(self, root: Path, path: Path, kind: str, date: dt.date | None,
                  found: Found) -> SupportingDocument | None:
        name = path.name
        try:
            target = path.resolve(strict=True)
        except (OSError, RuntimeError):
            found.problems.append(f"{name} is a link to nothing: not used")
            return None
        if root not in target.parents:
            found.problems.append(f"{name} is a link that leads outside the documents folder: "
                                  f"not used")
            return None
        try:
            if not target.is_file():
                found.problems.append(f"{name} is not a file: not used")
                return None
            size = target.stat().st_size
            if size > self.max_bytes:
                found.problems.append(f"{name} is larger than the {_size(self.max_bytes)} limit "
                                      f"({_size(size)}): not used")
                return None
            with open(target, "rb") as handle:
                data = handle.read(self.max_bytes + 1)
        except OSError as exc:
            found.problems.append(f"{name} cannot be read: {exc.strerror}: not used")
            return None
        if len(data) > self.max_bytes:  # grew since it was measured
            found.problems.append(f"{name} is larger than the {_size(self.max_bytes)} limit: "
                                  f"not used")
            return None
        pages, problem = pdf_pages(data)
        if problem:
            found.problems.append(f"{name} is not a readable PDF: {problem}")
            return None
        title = KIND_TITLES[kind] + (f" {date.isoformat()}" if date else "")
        return SupportingDocument(kind=kind, title=title, path=target,
                                  sha256=hashlib.sha256(data).hexdigest(), pages=pages,
                                  date=date)


def pdf_pages(data: bytes) -> tuple[int, str]:
    """``(page count, "")`` when PDFium opens ``data`` and loads every page, else
    ``(0, what is wrong)``."""
    if not data:
        return 0, "the file is empty"
    try:
        pdf = pdfium.PdfDocument(data)
    except (pdfium.PdfiumError, ValueError, TypeError) as exc:
        return 0, str(exc) or type(exc).__name__
    try:
        count = len(pdf)
        if count < 1:
            return 0, "it has no pages"
        for number in range(count):
            try:
                pdf[number].close()
            except pdfium.PdfiumError as exc:
                return 0, f"page {number + 1} cannot be read ({exc})"
        return count, ""
    finally:
        pdf.close()


def _date_in(rest: str) -> tuple[dt.date | None, str]:
    """The first ISO date in a name's rest, and the text when it looks like a date but is
    none (``2026-13-01``)."""
    match = _DATE.search(rest)
    if not match:
        return None, ""
    try:
        return dt.date(*(int(g) for g in match.groups())), ""
    except ValueError:
        return None, match.group(0)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n} bytes"
