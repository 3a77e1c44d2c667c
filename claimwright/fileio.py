"""Atomic file writes shared by the bots, packets and reports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, skip_if_same: bool = False) -> bool:
    """Replace ``path`` with ``data`` in one step (temp file in the same folder, fsync, rename),
    so a crash never leaves half a file. With ``skip_if_same``, identical content is not
    rewritten. Returns True when the file was written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if skip_if_same:
        try:
            if path.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
