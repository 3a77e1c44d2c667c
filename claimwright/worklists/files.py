"""The workbook file: features openpyxl would drop (warned about, with a backup), atomic save
under a lock."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError

from ..output_store import StoreBusy, store_at
from .rows import WorklistError


_PART_FEATURES = (
    ("xl/drawings/", "drawings (shapes, text boxes, pictures or charts)"),
    ("xl/charts/", "charts"),
    ("xl/pivotTables/", "pivot tables"),
    ("xl/pivotCache/", "pivot tables"),
    ("xl/slicers/", "slicers"),
    ("xl/slicerCaches/", "slicers"),
    ("xl/timelines/", "timelines"),
    ("xl/threadedComments/", "threaded comments (replies are lost; the first note stays)"),
    ("xl/vbaProject.bin", "macros (VBA)"),
    ("xl/ctrlProps/", "form controls"),
    ("xl/activeX/", "ActiveX controls"),
    ("xl/embeddings/", "embedded objects"),
    ("xl/queryTables/", "data queries"),
    ("xl/connections.xml", "data connections"),
    ("xl/model/", "a data model"),
    ("xl/richData/", "pictures in cells or linked data types"),
)
_EXT_FEATURES = (
    ("x14:conditionalFormatting", "newer conditional formatting (data bars, icon sets, or "
                                  "rules that refer to other sheets)"),
    ("x14:dataValidation", "data validation lists that refer to other sheets"),
    ("x14:sparklineGroup", "sparklines"),
    ("x14:slicerList", "slicers"),
    ("timelineRefs", "timelines"),
)


#: Every way reading a damaged workbook fails: not a zip or a damaged one (bad CRC, cut-off
#: or undecodable deflate stream, an encrypted or unsupported member), a part missing, XML that
#: is not well-formed (expat also refuses entity bombs), or well-formed XML openpyxl cannot map.
UNREADABLE_WORKBOOK = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                       RuntimeError, KeyError, IndexError, ParseError, ValueError, TypeError,
                       OSError)


@contextlib.contextmanager
def readable(path: Path) -> Iterator[None]:
    """Turn any cause in :data:`UNREADABLE_WORKBOOK` raised while reading ``path`` into the one
    :class:`WorklistError` naming the file and the reason (the file is never changed)."""
    try:
        yield
    except WorklistError:
        raise
    except UNREADABLE_WORKBOOK as exc:
        kind = type(exc)
        name = kind.__qualname__
        if kind.__module__ != "builtins":  # zlib.error, xml.etree.ElementTree.ParseError
            name = f"{kind.__module__}.{name}"
        reason = " ".join(f"{name}: {exc}".split())[:200]
        raise WorklistError(f"{path.name} is damaged or not an xlsx workbook ({reason}); it "
                            "was left untouched") from exc


def unsupported_features(path: Path) -> list[str]:
    """Features of the workbook at ``path`` that an openpyxl load+save would drop."""
    with readable(path):
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            sheets = [n for n in names if re.fullmatch(r"xl/worksheets/[^/]+\.xml", n)]
            sheet_xml = [_extensions(zf, n) for n in sheets]
    found: list[str] = []

    def add(feature: str) -> None:
        if feature not in found:
            found.append(feature)

    for prefix, feature in _PART_FEATURES:
        if any(n.startswith(prefix) for n in names):
            add(feature)
    for xml in sheet_xml:
        ext = xml[xml.find("<extLst"):] if "<extLst" in xml else ""
        if not ext:
            continue
        known = False
        for marker, feature in _EXT_FEATURES:
            if marker in ext:
                add(feature)
                known = True
        if not known:
            add("Excel extension data in a sheet (extLst)")
    return found


def _extensions(zf: zipfile.ZipFile, name: str, chunk: int = 1 << 20) -> str:
    """The sheet's ``<extLst>`` part and what follows (it is the worksheet's last child),
    read as a stream: a 50 MB sheet is never held whole."""
    marker = b"<extLst"
    tail = b""
    found = bytearray()
    with zf.open(name) as fh:
        while block := fh.read(chunk):
            if found:
                found += block
                continue
            data = tail + block
            at = data.find(marker)
            if at >= 0:
                found += data[at:]
            else:
                tail = data[-(len(marker) - 1):]
    return found.decode("utf-8", "replace")


def keep_backup(path: Path) -> Path:
    store, key = store_at(path)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.stem}.backup-{stamp}{path.suffix}")
    n = 2
    while store.exists(sibling_key(key, target.name)):
        target = path.with_name(f"{path.stem}.backup-{stamp}-{n}{path.suffix}")
        n += 1
    store.put_file(sibling_key(key, target.name), path)
    return target


VERSIONS_DIR = ".versions"


def sibling_key(key: str, name: str) -> str:
    """The key of ``name`` in the folder of ``key``."""
    head = key.rsplit("/", 1)[0] + "/" if "/" in key else ""
    return head + name


def keep_version(path: Path, keep: int) -> Path | None:
    """Copy the workbook about to be replaced into ``.versions/`` beside it, keeping the ``keep``
    newest copies (0: none). Returns the copy."""
    if keep <= 0 or not path.exists():
        return None
    target = version_path(path)
    store, key = store_at(path)
    store.put_file(sibling_key(key, f"{VERSIONS_DIR}/{target.name}"), path)
    # this workbook's versions only (a merged side file, "<stem>.waiting.merged-...", is not one)
    mine = re.compile(rf"{re.escape(path.stem)}\.[0-9][^/]*{re.escape(path.suffix)}")
    folder = sibling_key(key, f"{VERSIONS_DIR}/")
    old = [k for k in store.list(folder) if mine.fullmatch(k[len(folder):])]
    for stale in old[:-keep]:
        store.delete(stale)
    return target


def version_path(path: Path, label: str = "") -> Path:
    """A new name in ``.versions/`` (owner-only) for a copy of ``path``:
    ``<stem>.<label><time><suffix>``."""
    folder = path.parent / VERSIONS_DIR
    folder.mkdir(mode=0o700, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    return folder / f"{path.stem}.{label}{stamp}{path.suffix}"


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def excel_owner_file(path: Path) -> Path | None:
    """Excel's ``~$`` owner file beside the workbook while someone has it open (Excel shortens
    long names: ``~$`` replaces the first two characters when the name is long)."""
    for name in (f"~${path.name}", f"~${path.name[2:]}"):
        candidate = path.with_name(name)
        if candidate.exists():
            return candidate
    return None


def save_atomic(wb, path: Path) -> None:
    """Save the workbook ``wb`` as ``path`` through the output store: all or nothing,
    owner-only (:meth:`claimwright.output_store.OutputStore.writing`)."""
    store, key = store_at(path)
    with store.writing(key) as tmp:
        wb.save(tmp)


class WorkbookBusy(WorklistError):
    """Another run kept the workbook's lock for longer than this run would wait."""


@contextlib.contextmanager
def locked(path: Path, *, wait: float = 300.0) -> Iterator[None]:
    """One writer at a time: parallel runs (payers, workers) share the workbooks. Waits up to
    ``wait`` seconds for another run to finish, then raises :class:`WorkbookBusy` (the store's
    lock, :meth:`claimwright.output_store.OutputStore.lock`)."""
    store, key = store_at(path)
    try:
        with store.lock(key, wait=wait):
            yield
    except StoreBusy as exc:
        raise WorkbookBusy(f"{exc}; it was left untouched") from None
