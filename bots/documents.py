"""Naming, checking and saving downloaded documents.

File names are chosen here from the remittance id, never from the server's suggested filename,
and always land inside ``<dest_dir>/<payer>/``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

from claimwright.errors import BusinessError, DocumentError
from claimwright.parsing.x12_segments import decode, missing_envelope, read_separators
from claimwright.types import FaultCode

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
#: how every hashed stem ends; an id that already ends so is hashed too, never kept as it is
_HASHED = re.compile(r"-[0-9a-f]{10}\Z")
MAX_STEM = 80


def safe_stem(remittance_id: str) -> str:
    """A file-name stem for ``remittance_id`` made only of ``[A-Za-z0-9._-]``.

    Ids that are already safe are kept as they are; any other id is cleaned and suffixed with a
    short hash of the original (``NW 1`` -> ``NW_1-<10 hex>``). An id that merely looks like such
    a stem (``NW_1-<10 hex>`` itself) is hashed as well, so two different ids never share a
    file: kept stems never end in ``-<10 hex>``, hashed ones always do.
    """
    cleaned = _UNSAFE.sub("_", remittance_id).strip("._-")[:MAX_STEM]
    if cleaned and cleaned == remittance_id and not _HASHED.search(cleaned):
        return cleaned
    digest = hashlib.sha256(remittance_id.encode("utf-8")).hexdigest()[:10]
    return f"{cleaned}-{digest}" if cleaned else f"remittance-{digest}"


#: document kind -> file suffix the bot saves it under
SUFFIXES = {"pdf": ".pdf", "x12-835": ".835"}


def _unsafe(payer: str, what: str, root: Path, real: Path) -> BusinessError:
    return BusinessError(f"{payer}: refusing to write {what} outside the download root {root} "
                         f"(it leads to {real}: a symbolic link?); nothing was saved",
                         code=FaultCode.DOWNLOAD_PATH_UNSAFE, payer=payer, root=str(root),
                         resolved=str(real))


def payer_folder(dest_dir: Path, payer: str) -> Path:
    """``<dest_dir>/<safe payer>``, resolved, checked to lie inside the download root (a payer
    folder that is a symbolic link leading elsewhere is refused: ``BusinessError``
    ``download-path-unsafe``)."""
    root = Path(dest_dir).resolve()
    folder = (root / safe_stem(payer)).resolve()
    if folder == root or not folder.is_relative_to(root):
        raise _unsafe(payer, "its download folder", root, folder)
    return folder


def document_path(dest_dir: Path, payer: str, remittance_id: str, kind: str = "pdf") -> Path:
    """``<dest_dir>/<payer>/<safe stem>.pdf`` (``.835`` for an 835), checked against the
    download root (:func:`payer_folder`); a file there that is a link elsewhere is refused."""
    root = Path(dest_dir).resolve()
    folder = payer_folder(root, payer)
    path = (folder / f"{safe_stem(remittance_id)}{SUFFIXES[kind]}").resolve()
    if not path.is_relative_to(root) or path.parent != folder:
        raise _unsafe(payer, f"remittance {remittance_id}", root, path)
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
    """Why ``data`` is not an acceptable X12 835 download, or ``None`` when it is.

    Read with the delimiters its ISA declares (the parser's own reader,
    :func:`claimwright.parsing.x12_segments.read_separators`): the interchange must hold an
    ``ST<element>835`` segment and end with its ``IEA`` segment; trailing blanks, line breaks,
    NUL or Ctrl-Z padding are ignored, as the parser ignores them. A file without its envelope
    (it starts with a bare ``ST`` or ``GS``, as some clearinghouse exports do) is read with the
    delimiters the parser infers, and must end with an ``SE`` (``GE`` when it starts with GS)."""
    start = data[:106].lstrip(b"\xef\xbb\xbf\r\n\t ")
    if not start.startswith(b"ISA") and not missing_envelope(start.decode("latin-1")):
        return _kind_of(data, "not an X12 file")
    if problem := _size_problem(data, "835", min_bytes, max_bytes):
        return problem
    try:
        text = decode(data, "")
        seps = read_separators(text)
    except DocumentError as exc:
        return f"X12 file is unreadable: {exc.message}"
    trailer = _TRAILERS[seps.bare]
    if not _ends_with(text, seps.element, seps.segment, trailer):
        return f"835 is truncated (no {trailer} trailer)"
    if not _has_835(text, seps.element, seps.segment):
        return "X12 file holds no 835 transaction"
    return None


#: the last segment of an interchange (by what the file starts with: ISA, or a bare GS or ST)
_TRAILERS = {"": "IEA", "GS": "GE", "ST": "SE"}
_PADDING = "\x00\x1a \t\r\n"


def _unwrapped(text: str, terminator: str) -> str:
    """``text`` without CR/LF when they are not the terminator (as the parser reads it)."""
    return text if terminator in "\r\n" else text.replace("\r", "").replace("\n", "")


def _ends_with(text: str, element: str, terminator: str, trailer: str = "IEA") -> bool:
    """The last segment (padding after it ignored) is a ``trailer`` (IEA)."""
    tail = _unwrapped(text[-4096:], terminator).rstrip(_PADDING)
    if not tail:  # more than 4 KB of padding: look at all of it (bounded by max_bytes)
        tail = _unwrapped(text, terminator).rstrip(_PADDING)[-4096:]
    last = tail.rstrip(terminator).rsplit(terminator, 1)[-1].lstrip(_PADDING)
    return last.startswith(f"{trailer}{element}")


def _has_835(text: str, element: str, terminator: str) -> bool:
    """Some segment is ``ST<element>835``: at the start or right after a terminator (padding
    between), ``835`` not the start of a longer code; also in a file wrapped at a width."""
    needle = f"ST{element}835"
    for candidate in _readings(text, terminator):
        at = candidate.find(needle)
        while at >= 0:
            i = at - 1
            while i >= 0 and candidate[i] in _PADDING and candidate[i] != terminator:
                i -= 1
            if (i < 0 or candidate[i] == terminator) \
                    and not candidate[at + len(needle):at + len(needle) + 1].isdigit():
                return True
            at = candidate.find(needle, at + 1)
    return False


def _readings(text: str, terminator: str) -> Iterator[str]:
    yield text
    if terminator not in "\r\n" and ("\n" in text or "\r" in text):
        yield _unwrapped(text, terminator)


def document_problem(data: bytes, kind: str, *, min_bytes: int, max_bytes: int) -> str | None:
    check = x12_problem if kind == "x12-835" else pdf_problem
    return check(data, min_bytes=min_bytes, max_bytes=max_bytes)
