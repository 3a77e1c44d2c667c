"""Where the outputs people use are written: one storage interface for every writer.

Packets, worklists, the appeals queue and batch index, the feedback reports and the review
digest are written by several workers at once. They go through an :class:`OutputStore`, so the
local folder of today (:class:`LocalFolderStore` over ``CLAIMWRIGHT_OUT``) can be replaced by a
shared volume or an object store without touching the writers. The interface is small, in the
manner of Robocorp's work-item storage adapters: an abstract base with a few methods.

Keys are relative POSIX paths (``packets/northwind/...pdf``); ``..``, absolute paths, empty
segments and backslashes are refused with :class:`StoreKeyError`. Every write is all or nothing
and owner-only: a reader never sees half a file, a writer that fails leaves the previous content.

``output_store(settings)`` returns the configured store: ``CLAIMWRIGHT_OUTPUT_STORE`` names its
kind (default ``local``: the folder ``CLAIMWRIGHT_OUT``); :func:`register_store` adds a kind.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

from .fileio import PART, PRIVATE_FILE, private_dir, remove_stale_parts, temp_path, write_atomic

LOCK_SUFFIX = ".lock"


class StoreError(Exception):
    """The output store cannot do what was asked; the message says what and why."""


class StoreKeyError(StoreError, ValueError):
    """A key that is not a plain relative path inside the store (``../x``, ``/etc/x`` ...)."""


class StoreBusy(StoreError):
    """Another process kept a key's lock for longer than this one would wait."""


class StoreConfigError(StoreError, ValueError):
    """``CLAIMWRIGHT_OUTPUT_STORE`` names a kind of store this installation does not have."""


def check_key(key: str) -> str:
    """``key`` when it is a relative POSIX path of plain names; else :class:`StoreKeyError`."""
    if not isinstance(key, str) or not key:
        raise StoreKeyError(f"an output key must be a non-empty relative path, not {key!r}")
    if "\\" in key or "\0" in key:
        raise StoreKeyError(f"output key {key!r}: backslashes and NUL are not allowed")
    if key.startswith("/") or PurePosixPath(key).is_absolute() or (len(key) > 1 and key[1] == ":"):
        raise StoreKeyError(f"output key {key!r}: absolute paths are not allowed")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise StoreKeyError(f"output key {key!r}: '..', '.' and empty parts are not allowed")
    return key


class OutputStore(ABC):
    """The storage interface every output writer uses (see the module doc)."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes, *, skip_if_same: bool = False) -> bool:
        """Replace ``key`` with ``data``, all or nothing, owner-only. With ``skip_if_same``
        identical content is not rewritten. True when written."""

    @abstractmethod
    def writing(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A context manager yielding a local path to write (openpyxl and the PDF writers save
        to paths); published atomically as ``key`` on success, discarded on error."""

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The content of ``key`` (:class:`FileNotFoundError` when there is none)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """The keys starting with ``prefix``, sorted (temporary and lock files left out)."""

    @abstractmethod
    def reading(self, key: str) -> contextlib.AbstractContextManager[Path]:
        """A context manager yielding a local path holding ``key``'s content (openpyxl load)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; no error when it is not there."""

    @abstractmethod
    def lock(self, key: str, *, wait: float = 300.0) -> contextlib.AbstractContextManager[None]:
        """One writer of ``key`` at a time, across processes; :class:`StoreBusy` after ``wait``
        seconds."""

    @abstractmethod
    def url(self, key: str) -> str:
        """A link to ``key`` for artifacts and indexes (``file://`` for a local folder)."""

    def put_file(self, key: str, local_path: Path) -> None:
        """Copy the local file ``local_path`` to ``key`` (atomically, owner-only)."""
        with self.writing(key) as tmp:
            shutil.copyfile(local_path, tmp)

    def move(self, key: str, to: str) -> None:
        """Rename ``key`` to ``to`` (a copy then a delete where the store cannot rename)."""
        self.put_bytes(to, self.get_bytes(key))
        self.delete(key)

    def sweep(self, prefix: str = "") -> int:
        """Remove what killed writers left under ``prefix``; how many (nothing to do: 0)."""
        return 0

    def key_of(self, path: Path) -> str:
        """The key of a local ``path`` inside this store (:class:`StoreKeyError` outside)."""
        raise StoreKeyError(f"{Path(path).name}: this store has no local paths")


class LocalFolderStore(OutputStore):
    """The store as a local folder (``CLAIMWRIGHT_OUT`` by default): files 0600, folders 0700,
    written by :func:`claimwright.fileio.write_atomic` (temp file beside it, fsync, rename)."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    def path(self, key: str) -> Path:
        """The local file of ``key``."""
        return self.root.joinpath(*check_key(key).split("/"))

    local_path = path

    def key_of(self, path: Path) -> str:
        try:
            rel = Path(path).resolve().relative_to(self.root)
        except ValueError:
            raise StoreKeyError(f"{Path(path).name} is outside the output folder") from None
        return check_key(rel.as_posix())

    def put_bytes(self, key: str, data: bytes, *, skip_if_same: bool = False) -> bool:
        return write_atomic(self.path(key), data, skip_if_same=skip_if_same)

    @contextlib.contextmanager
    def writing(self, key: str) -> Iterator[Path]:
        target = self.path(key)
        private_dir(target.parent)
        tmp = temp_path(target)
        try:
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, PRIVATE_FILE)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def get_bytes(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        if prefix:
            check_key(prefix[:-1] if prefix.endswith("/") else prefix)
        folder = self.root
        head = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        if head:
            folder = self.path(head)
        if not folder.is_dir():
            return []
        keys = []
        for path in folder.rglob("*"):
            if not path.is_file() or path.name.endswith(PART) or (
                    path.name.startswith(".") and path.name.endswith(LOCK_SUFFIX)):
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                keys.append(key)
        return sorted(keys)

    @contextlib.contextmanager
    def reading(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(f"no output {key!r}")
        yield path

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def move(self, key: str, to: str) -> None:
        target = self.path(to)
        private_dir(target.parent)
        os.replace(self.path(key), target)

    def sweep(self, prefix: str = "") -> int:
        return remove_stale_parts(self.path(prefix) if prefix else self.root)

    def url(self, key: str) -> str:
        return self.path(key).as_uri()

    @contextlib.contextmanager
    def lock(self, key: str, *, wait: float = 300.0) -> Iterator[None]:
        """An advisory ``fcntl`` lock on ``.<name>.lock`` beside the key's file (no lock where
        the system has no ``fcntl``)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no advisory lock available
            yield
            return
        from .fileio import open_private

        target = self.path(key)
        private_dir(target.parent)
        lock_path = target.with_name(f".{target.name}{LOCK_SUFFIX}")
        deadline = time.monotonic() + wait
        with open_private(lock_path, "a+b") as fh:
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StoreBusy(f"{target.name} is being written by another run (its "
                                        f"lock was held for more than {wait:g} s)") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


#: kind -> factory(settings, root) of a store; ``local`` is the folder ``root``.
Factory = Callable[[object, Path], OutputStore]
_KINDS: dict[str, Factory] = {"local": lambda settings, root: LocalFolderStore(root)}
ENV = "CLAIMWRIGHT_OUTPUT_STORE"


def register_store(kind: str, factory: Factory) -> None:
    """Make ``CLAIMWRIGHT_OUTPUT_STORE=<kind>`` build its stores with ``factory(settings,
    root)`` (an object store adapter, a shared volume's; the tests' recording store)."""
    _KINDS[kind.lower()] = factory


def store_kind(settings) -> str:
    """The configured kind: ``settings.output_store`` (``CLAIMWRIGHT_OUTPUT_STORE``, ``local``
    when unset); its scheme when it is a URL (``s3://bucket`` -> ``s3``)."""
    value = (getattr(settings, "output_store", "") or "").strip() or "local"
    kind = value.split("://", 1)[0].lower() if "://" in value else value.lower()
    if kind == "file":
        kind = "local"
    if kind not in _KINDS:
        raise StoreConfigError(f"{ENV}={value!r}: no such output store; supported: "
                               + ", ".join(sorted(_KINDS)) + " (local: the folder "
                               "CLAIMWRIGHT_OUT)")
    return kind


def output_store(settings=None, root: Path | None = None) -> OutputStore:
    """The configured store over ``root`` (default ``settings.out``, ``CLAIMWRIGHT_OUT``)."""
    if settings is None:
        from .settings import Settings

        settings = Settings.from_env()
    return _KINDS[store_kind(settings)](settings, Path(root or settings.out).resolve())


def store_at(path: Path, settings=None) -> tuple[OutputStore, str]:
    """The store and key of an output a writer was given as a local ``path``: its key under
    ``CLAIMWRIGHT_OUT``, else under the reports folder, else the configured store over the
    file's own folder (a test's or a caller's own place)."""
    if settings is None:
        from .settings import Settings

        settings = Settings.from_env()
    path = Path(path).resolve()
    for root in (settings.out, getattr(settings, "reports", None)):
        if root is not None and path.is_relative_to(Path(root).resolve()) \
                and path != Path(root).resolve():
            store = output_store(settings, root)
            return store, path.relative_to(Path(root).resolve()).as_posix()
    return output_store(settings, path.parent), path.name


__all__ = ["LocalFolderStore", "OutputStore", "StoreBusy", "StoreConfigError", "StoreError",
           "StoreKeyError", "check_key", "output_store", "register_store", "store_at",
           "store_kind"]
