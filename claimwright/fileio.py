"""Atomic file writes shared by the bots, packets, worklists and reports.

A file is written to a temporary ``.<name>.<pid>.<random>.part`` beside it and renamed over it,
so a reader never sees half a file. A process killed mid-write leaves its ``.part`` behind; the
next run sweeps those of dead processes (:func:`remove_stale_parts`).

Everything the project writes is owner-only: folders 0700 (:func:`private_dir`), files 0600
(``mkstemp`` makes the temporary files so; :func:`make_private`, :func:`open_private` for files
other libraries or ``open`` create). The entry points also set a umask of 077
(:func:`claimwright.permissions.private_process`); these helpers do not rely on it.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

PART = ".part"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_PART_PID = re.compile(r"\.(\d+)\.[^.]+\.part$")


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` of this machine runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def private_dir(path: Path) -> Path:
    """``path`` as a folder, every folder this call creates owner-only (0700); returns it.
    An existing folder keeps its mode (the start-up check reports one others can read)."""
    path = Path(path)
    missing = []
    while not path.is_dir() and path != path.parent:
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, PRIVATE_DIR)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        os.chmod(folder, PRIVATE_DIR)  # whatever the umask
    return Path(missing[0]) if missing else path


def make_private(path: Path) -> Path:
    """Make a file another library wrote (a trace, a screenshot) owner-only (0600)."""
    os.chmod(path, PRIVATE_FILE)
    return Path(path)


def open_private(path: Path, mode: str = "ab"):
    """``open(path, mode)`` creating the file owner-only (0600) when it does not exist."""
    flags = os.O_RDWR | os.O_CREAT if "+" in mode else os.O_WRONLY | os.O_CREAT
    if "a" in mode:
        flags |= os.O_APPEND
    fd = os.open(path, flags, PRIVATE_FILE)
    return os.fdopen(fd, mode)


def temp_path(path: Path) -> Path:
    """A new empty temporary file beside ``path``, named for this process (see module doc)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=PART)
    os.close(fd)
    return Path(tmp)


def remove_stale_parts(folder: Path) -> int:
    """Delete the temporary files that dead processes left in ``folder``; how many."""
    removed = 0
    for part in Path(folder).glob(f".*{PART}") if Path(folder).is_dir() else ():
        match = _PART_PID.search(part.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def write_atomic(path: Path, data: bytes, *, skip_if_same: bool = False) -> bool:
    """Replace ``path`` with ``data`` in one step (temp file in the same folder, fsync, rename),
    so a crash never leaves half a file. With ``skip_if_same``, identical content is not
    rewritten. Returns True when the file was written."""
    path = Path(path)
    private_dir(path.parent)
    if skip_if_same:
        try:
            if path.read_bytes() == data:
                return False
        except FileNotFoundError:
            pass
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
