"""The text of an 835 read chunk by chunk: from a string, from bytes, or from a file on disk.

A hospital's 835 can be hundreds of MB: the parser never needs the whole text at once (nor a
list of all its segments). :func:`open_text` decodes the data one chunk (:data:`CHUNK`
characters) at a time, with the same rules :func:`.x12_segments.decode` applies to a whole
file -- UTF-8 with ``surrogateescape`` (invalid bytes flagged element by element later), a UTF-16
byte order mark honoured, a leading UTF-8 BOM and blanks dropped, an empty or binary file
refused -- and gives the head (for the delimiters) and the chunks (for
:func:`.x12_segments.iter_segments`).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Iterator
from typing import BinaryIO, Union

from ..errors import DocumentError
from ..types import FaultCode
from .x12_segments import INFER_SCAN_LIMIT, ISA_SCAN_LIMIT

#: characters (or bytes) read and decoded at a time
CHUNK = 1 << 16
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_PADDING = "\x00\x1a \t\r\n"

Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]", BinaryIO]


def _raw_chunks(data: Source, source: str) -> Iterator[bytes | str]:
    if isinstance(data, str):
        for start in range(0, len(data), CHUNK):
            yield data[start:start + CHUNK]
    elif isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)
        for start in range(0, len(view), CHUNK):
            yield bytes(view[start:start + CHUNK])
    elif isinstance(data, os.PathLike):
        with open(data, "rb") as stream:
            while block := stream.read(CHUNK):
                yield block
    elif hasattr(data, "read"):
        while block := data.read(CHUNK):
            yield block
    else:
        raise DocumentError(f"cannot read an 835 from {type(data).__name__}",
                            code=FaultCode.NOT_X12, file=source)


def _decoded(raw: Iterator[bytes | str]) -> Iterator[str]:
    decoder = None
    for block in raw:
        if isinstance(block, str):
            yield block
            continue
        if decoder is None:
            encoding, errors = (("utf-16", "replace") if block[:2] in _UTF16_BOMS
                                else ("utf-8", "surrogateescape"))
            decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
        yield decoder.decode(block)
    if decoder is not None:
        yield decoder.decode(b"", final=True)


def open_text(data: Source, source: str = "") -> tuple[str, Iterator[str]]:
    """``(head, chunks)``: the first characters of the 835 (at least :data:`INFER_SCAN_LIMIT`
    unless the file is shorter; leading BOM and blanks removed) and an iterator over the whole
    text in chunks, the head first.

    :raises DocumentError: ``empty-document`` when there is nothing but blanks and padding;
        ``not-x12`` for binary data (NUL near the start) or an unreadable source type.
    """
    chunks = _decoded(_raw_chunks(data, source))
    head = ""
    for chunk in chunks:
        head = (head + chunk) if head else chunk.lstrip("\ufeff \t\r\n")
        if len(head) >= INFER_SCAN_LIMIT and head.strip(_PADDING):
            break
    if not head or not head.strip(_PADDING):
        raise DocumentError("empty document", code=FaultCode.EMPTY_DOCUMENT, file=source)
    if "\x00" in head[:ISA_SCAN_LIMIT]:
        raise DocumentError("binary data, not an X12 interchange", code=FaultCode.NOT_X12,
                            file=source)

    def whole() -> Iterator[str]:
        yield head
        yield from chunks

    return head, whole()
