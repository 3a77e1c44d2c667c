"""Cheap checks of an untrusted PDF before PDFium parses a page: decompressed content per page.

A decompression bomb is a small content stream that inflates to hundreds of MB of text
operators; PDFium's page parse then needs about twelve times that in memory. :func:`page_content_sizes`
walks each page's content streams and the form XObjects it draws (pypdf reads the objects, no
decoding), inflating FlateDecode streams in bounded steps and *counting* the bytes, never keeping
them, and stops as soon as a page passes ``limit``: the bomb is refused in milliseconds with a
clear :class:`~claimwright.errors.DocumentError` (``parse-limit-exceeded``).

Streams in other filters (LZW, run-length, ASCII hex ...; rare in remittances) are decoded by
pypdf to be measured; the worker's memory limit (:mod:`claimwright.parsing.isolation`) stays the
backstop for whatever this check cannot see. A structure pypdf cannot read is not judged here:
PDFium's own errors say what is wrong with it.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import DocumentError
from ..types import FaultCode

log = logging.getLogger(__name__)

#: decompressed content streams one page may hold (the parse worker's setting replaces it)
MAX_PAGE_CONTENT = 16 << 20
_STEP = 1 << 20  # bytes inflated at a time
_MAX_FORM_DEPTH = 12  # form XObjects inside form XObjects followed this deep


def check_page_content(data: bytes, *, source: str = "", limit: int | None = None) -> None:
    """Raise ``parse-limit-exceeded`` when a page's decompressed content passes ``limit``
    bytes (default :data:`MAX_PAGE_CONTENT`; 0: no check)."""
    limit = MAX_PAGE_CONTENT if limit is None else limit
    if not limit:
        return
    name = Path(source).name if source else "document"
    for number, size in page_content_sizes(data, limit):
        if size > limit:
            raise DocumentError(
                f"{name}: page {number} holds more than {limit >> 20} MB of decompressed content "
                f"(a decompression bomb or a damaged PDF); refused before parsing",
                code=FaultCode.PARSE_LIMIT_EXCEEDED, file=source, page=number,
                limit_mb=limit >> 20)


def page_content_sizes(data: bytes, limit: int) -> Iterator[tuple[int, int]]:
    """(page number, decompressed content bytes, counted up to just past ``limit``)."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        pages = reader.pages
        count = len(pages)
    except (PyPdfError, ValueError, KeyError, TypeError, RecursionError) as exc:
        log.debug("content check skipped: pypdf cannot read the document (%s)", type(exc).__name__)
        return
    for index in range(count):
        try:
            page = pages[index]
            yield index + 1, _page_size(page, limit)
        except (PyPdfError, ValueError, KeyError, TypeError, AttributeError,
                RecursionError) as exc:
            log.debug("content check of page %d skipped (%s)", index + 1, type(exc).__name__)


def _page_size(page, limit: int) -> int:
    seen: set[int] = set()
    total = 0
    for stream in _streams(page.get("/Contents")):
        total += _stream_size(stream, limit - total + 1)
        if total > limit:
            return total
    return total + _forms_size(page.get("/Resources"), limit - total, seen, 0)


def _forms_size(resources, budget: int, seen: set[int], depth: int) -> int:
    """Decompressed bytes of the form XObjects a resource dictionary names (recursively)."""
    resources = _resolve(resources)
    if depth > _MAX_FORM_DEPTH or not hasattr(resources, "get"):
        return 0
    xobjects = _resolve(resources.get("/XObject"))
    total = 0
    for name in list(xobjects.keys()) if hasattr(xobjects, "keys") else []:
        ref = xobjects.raw_get(name)
        key = getattr(ref, "idnum", None)
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
        form = _resolve(ref)
        if not hasattr(form, "get") or form.get("/Subtype") != "/Form":
            continue  # images are not decoded to extract text
        total += _stream_size(form, budget - total + 1)
        if total <= budget:
            total += _forms_size(form.get("/Resources"), budget - total, seen, depth + 1)
        if total > budget:
            break
    return total


def _streams(contents) -> list:
    contents = _resolve(contents)
    if contents is None:
        return []
    if isinstance(contents, list):
        return [_resolve(c) for c in contents]
    return [contents]


def _resolve(obj):
    return obj.get_object() if hasattr(obj, "get_object") else obj


def _filters(stream) -> list[str]:
    filters = _resolve(stream.get("/Filter"))
    if filters is None:
        return []
    if isinstance(filters, list):
        return [str(_resolve(f)) for f in filters]
    return [str(filters)]


def _stream_size(stream, budget: int) -> int:
    """Decompressed length of one stream, counted up to ``budget`` (then a little past it)."""
    raw = getattr(stream, "_data", None)
    if not isinstance(raw, bytes):
        return 0
    filters = _filters(stream)
    if not filters:
        return len(raw)
    if any(f not in ("/FlateDecode", "/Fl") for f in filters):
        return len(stream.get_data())  # bounded by the worker's memory limit
    pieces: Iterable[bytes] = [raw]
    for _ in filters:
        pieces = _inflate(pieces)
    size = 0
    for piece in pieces:
        size += len(piece)
        if size > budget:
            break
    return size


def _inflate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """Inflate ``pieces`` at most :data:`_STEP` bytes at a time; stops quietly at damaged data
    (PDFium says what is wrong with it)."""
    inflater = zlib.decompressobj()
    try:
        for piece in pieces:
            while piece:
                out = inflater.decompress(piece, _STEP)
                piece = inflater.unconsumed_tail
                if out:
                    yield out
                if inflater.eof:
                    return
        tail = inflater.flush()
        if tail:
            yield tail
    except zlib.error:
        return
