"""Code tables: CARC, RARC, group, claim status (CLP02) and PLB reason codes.

Each table is a CSV shipped in this package (``code,status,start,stop,meaning``; dates ISO) and
described in ``tables.yaml`` (table version, sources). The meanings are short and in our own
words. A code is *known* when it is in its table, whatever its dates: an old remittance worked
today legitimately carries a retired code. ``CodeEntry.active_on(day)`` tells whether the code was
valid on a given day.

Admins may point ``CLAIMWRIGHT_CODES`` (``Settings.codes``) at a directory holding their own copy
of the tables; the tables are re-read whenever a file of the directory changes
(:func:`claimwright.datafiles.load`), so an edit takes effect on the next run without restarting
anything.

Every load validates every row; a bad row raises :class:`CodeTableError` naming the file, the line
and the field.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .. import datafiles
from ..errors import BusinessError
from ..settings import Settings
from ..types import FaultCode

PACKAGE_DIR = Path(__file__).resolve().parent
COLUMNS = ["code", "status", "start", "stop", "meaning"]
STATUSES = ("current", "deactivated")
TABLE_NAMES = ("carc", "rarc", "groups", "claim_status", "plb")

# What a well-formed code of each table looks like (after normalisation).
CODE_PATTERNS = {
    "carc": re.compile(r"^(?:[1-9]\d{0,2}|[A-Z][0-9]{1,2})$"),
    "rarc": re.compile(r"^(?:M|MA|N)[0-9]{1,3}$"),
    "groups": re.compile(r"^[A-Z]{2}$"),
    "claim_status": re.compile(r"^[1-9]\d?$"),
    "plb": re.compile(r"^[A-Z0-9]{2}$"),
}


class CodeTableError(BusinessError):
    """A code table file is malformed: never guessed around, always named precisely."""

    code = FaultCode.CODE_TABLE_INVALID


def normalize(table: str, code: str) -> str:
    """Canonical spelling of a code: upper case, no spaces, numeric codes without leading zeros."""
    text = str(code).strip().upper().replace(" ", "")
    if table in ("carc", "claim_status") and text.isdigit():
        return str(int(text))
    return text


@dataclass(frozen=True)
class CodeEntry:
    code: str
    meaning: str
    status: str = "current"  # "current" | "deactivated"
    start: dt.date | None = None  # None: start date not recorded
    stop: dt.date | None = None  # first day the code is no longer valid; None: open or unknown
    line: int = 0  # line in the CSV (1-based, header is line 1)

    @property
    def deactivated(self) -> bool:
        return self.status == "deactivated"

    def active_on(self, day: dt.date | None = None) -> bool:
        """Was the code valid on ``day``? Without a day: is it current now?"""
        if day is None:
            if self.deactivated:
                return False
            return self.stop is None or dt.date.today() < self.stop
        if self.start is not None and day < self.start:
            return False
        if self.stop is not None:
            return day < self.stop
        return not self.deactivated


@dataclass
class CodeTable:
    name: str
    path: Path
    entries: dict[str, CodeEntry] = field(default_factory=dict)
    source: str = ""

    def get(self, code: str) -> CodeEntry | None:
        return self.entries.get(normalize(self.name, code))

    def meaning(self, code: str) -> str:
        entry = self.get(code)
        return entry.meaning if entry else ""

    def is_known(self, code: str) -> bool:
        return self.get(code) is not None

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.is_known(code)

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[CodeEntry]:
        return iter(self.entries.values())

    def codes(self) -> list[str]:
        return list(self.entries)


@dataclass
class CodeTables:
    version: str
    directory: Path
    carc: CodeTable
    rarc: CodeTable
    groups: CodeTable
    claim_status: CodeTable
    plb: CodeTable

    def table(self, name: str) -> CodeTable:
        if name not in TABLE_NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def counts(self) -> dict[str, int]:
        return {name: len(self.table(name)) for name in TABLE_NAMES}


def _parse_date(value: str, path: Path, line: int, column: str) -> dt.date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CodeTableError(
            f"{path.name}:{line}: field '{column}': not an ISO date (YYYY-MM-DD): {value!r}",
            file=str(path), line=line, field=column) from None


def load_table(path: str | Path, name: str, *, source: str = "") -> CodeTable:
    """Read and validate one code table CSV."""
    path = Path(path)
    if name not in CODE_PATTERNS:
        raise CodeTableError(f"unknown code table {name!r}", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CodeTableError(f"cannot read code table {path}: {exc.strerror}",
                             file=str(path)) from exc
    rows = csv.reader(text.splitlines())
    header = next(rows, None)
    if header is None or [h.strip() for h in header] != COLUMNS:
        raise CodeTableError(
            f"{path.name}:1: header must be {','.join(COLUMNS)}, found {','.join(header or [])!r}",
            file=str(path), line=1, field="header")
    table = CodeTable(name=name, path=path, source=source)
    for line, row in enumerate(rows, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            raise CodeTableError(
                f"{path.name}:{line}: expected {len(COLUMNS)} fields "
                f"({','.join(COLUMNS)}), found {len(row)} (quote meanings that hold commas)",
                file=str(path), line=line, field="row")
        raw_code, status, start, stop, meaning = (cell.strip() for cell in row)
        code = normalize(name, raw_code)
        if not CODE_PATTERNS[name].match(code):
            raise CodeTableError(f"{path.name}:{line}: field 'code': {raw_code!r} is not a "
                                 f"well-formed {name} code", file=str(path), line=line,
                                 field="code")
        if code in table.entries:
            first = table.entries[code].line
            raise CodeTableError(f"{path.name}:{line}: field 'code': {code} already defined on "
                                 f"line {first}", file=str(path), line=line, field="code")
        if status not in STATUSES:
            raise CodeTableError(f"{path.name}:{line}: field 'status': {status!r} must be one of "
                                 f"{', '.join(STATUSES)}", file=str(path), line=line,
                                 field="status")
        start_d = _parse_date(start, path, line, "start")
        stop_d = _parse_date(stop, path, line, "stop")
        if start_d and stop_d and stop_d <= start_d:
            raise CodeTableError(f"{path.name}:{line}: field 'stop': {stop_d} is not after start "
                                 f"{start_d}", file=str(path), line=line, field="stop")
        if stop_d and status == "current" and stop_d <= dt.date.today():
            # A stop date in the past means the code is retired: say so explicitly.
            raise CodeTableError(f"{path.name}:{line}: field 'status': code {code} stopped on "
                                 f"{stop_d} but is marked current (use 'deactivated')",
                                 file=str(path), line=line, field="status")
        if not meaning:
            raise CodeTableError(f"{path.name}:{line}: field 'meaning': empty",
                                 file=str(path), line=line, field="meaning")
        table.entries[code] = CodeEntry(code, meaning, status, start_d, stop_d, line)
    return table


def _error(problem: str, *, file: str, line: int | None = None, field: str = "") -> CodeTableError:
    return CodeTableError(datafiles.located(problem, file=file, line=line), file=file, line=line,
                          field=field)


def _manifest(directory: Path) -> dict:
    path = directory / "tables.yaml"
    data = datafiles.read_yaml(path, _error).data
    if not isinstance(data, dict) or not str(data.get("version") or "").strip():
        raise CodeTableError("tables.yaml: field 'version' is required", file=str(path),
                             field="version")
    tables = data.get("tables") or {}
    missing = [n for n in TABLE_NAMES if n not in tables]
    if missing:
        raise CodeTableError(f"tables.yaml: field 'tables': missing {', '.join(missing)}",
                             file=str(path), field="tables")
    return data


def load_tables(directory: str | Path | None = None) -> CodeTables:
    """Read every table of ``directory`` (default: $CLAIMWRIGHT_CODES or the packaged tables)."""
    directory = Path(directory) if directory else default_directory()
    manifest = _manifest(directory)
    loaded = {}
    for name in TABLE_NAMES:
        spec = manifest["tables"][name] or {}
        loaded[name] = load_table(directory / str(spec.get("file") or f"{name}.csv"), name,
                                  source=str(spec.get("source") or ""))
    return CodeTables(version=str(manifest["version"]), directory=directory, **loaded)


def default_directory() -> Path:
    """``Settings.codes``: $CLAIMWRIGHT_CODES or the packaged tables."""
    return Settings.from_env().codes


def tables() -> CodeTables:
    """The current code tables, re-read when a file in the table directory changed."""
    return datafiles.load(default_directory(), load_tables)


__all__ = [
    "CodeEntry", "CodeTable", "CodeTableError", "CodeTables", "TABLE_NAMES",
    "default_directory", "load_table", "load_tables", "normalize", "tables",
]
