"""The practice's claim export: what the practice-management system knows of each claim and
remittances rarely print -- the patient's date of birth, the diagnosis codes, the rendering
provider -- read to complete claims for appeal packets and the Medicare redetermination form.

The file is a CSV (UTF-8, a byte-order mark allowed) at ``CLAIMWRIGHT_CLAIM_EXPORT`` (default
``$CLAIMWRIGHT_HOME/claim-export.csv``); no file means no enrichment. A header row names the
columns, in any order and any case; other columns are ignored:

| column | required | what |
| --- | --- | --- |
| ``patient_account`` | yes | the claim's patient account number (835 CLP01): the key |
| ``payer_claim_id`` | no | the payer's claim number (CLP07, ICN): the row is that claim's only; a row without it is every claim of the account's |
| ``patient_dob`` | no | the patient's date of birth, ``YYYY-MM-DD`` |
| ``diagnoses`` | no | ICD-10-CM codes separated by spaces, commas or semicolons, principal first (``E119`` or ``E11.9``) |
| ``rendering_npi`` | no | the rendering provider's NPI (10 digits, check digit verified) |
| ``rendering_name`` | no | the rendering provider's name |

The file is validated when loaded (:func:`load_claim_export`); a bad file raises
:class:`ClaimExportError` naming file, line and column -- ``claim-export.csv:17: patient_dob:
not a date: expected YYYY-MM-DD`` -- and how many more problems follow. No message quotes a
date of birth or an account number. Files over :data:`MAX_BYTES` or :data:`MAX_ROWS` rows are
refused. A loaded export is kept until the file changes (:func:`claimwright.datafiles.load`).
Claimwright only reads this file (files it writes are owner-only).

:meth:`ClaimExport.enrich` fills only what a claim lacks and never overwrites what the remittance
printed; where both say something and disagree, it returns a note that says which field, never
the values.
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Iterator, Mapping

from . import datafiles
from .models import Claim, Party, add_diagnoses, is_npi

COLUMNS = ("patient_account", "payer_claim_id", "patient_dob", "diagnoses", "rendering_npi",
           "rendering_name")
MAX_BYTES = 64 * 1024 * 1024  # ~500,000 claims at a generous 120 bytes a row
MAX_ROWS = 1_000_000
MAX_CELL = 200  # characters in one cell of a known column
EARLIEST_BIRTH = dt.date(1900, 1, 1)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SPACES = re.compile(r"\s+")
MAX_PROBLEMS_KEPT = 100  # problems listed in ClaimExportError.problems (all are counted)

DOB_DIFFERS = "date of birth on the remittance differs from the claim export"
DIAGNOSES_DIFFER = "diagnosis codes on the remittance differ from the claim export"
NPI_DIFFERS = "rendering provider NPI on the remittance differs from the claim export"
NAME_DIFFERS = "rendering provider name on the remittance differs from the claim export"


class ClaimExportError(ValueError):
    """The claim export cannot be used: ``file:line: column: problem`` for the first problem
    and how many more there are; ``problems`` lists them (the first hundred)."""

    def __init__(self, message: str, *, file: str = "", line: int | None = None,
                 field: str = "", problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.file, self.line, self.field = file, line, field
        self.problems = problems if problems is not None else [message]

    @classmethod
    def at(cls, problem: str, *, file: str, line: int | None = None,
           field: str = "") -> ClaimExportError:
        return cls(datafiles.located(problem, file=file, line=line, field=field), file=file,
                   line=line, field=field)


@dataclass(frozen=True)
class ExportRow:
    """One claim (or, without ``payer_claim_id``, every claim of an account) of the export."""

    line: int  # 1-based line of the file where the row starts
    patient_account: str
    payer_claim_id: str = ""
    patient_dob: dt.date | None = None
    diagnoses: tuple[str, ...] = ()
    rendering_provider: Party = field(default_factory=Party)  # name, NPI; empty parts unknown


@dataclass(frozen=True)
class ClaimExport:
    """The rows of a claim export by ``(patient_account, payer_claim_id or "")``."""

    path: Path | None = None  # None: no file (nothing to enrich from)
    rows: Mapping[tuple[str, str], ExportRow] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)

    def row_for(self, claim: Claim) -> ExportRow | None:
        """The row of ``claim``: its account and payer claim number, else its account alone."""
        account = claim.patient_account.strip()
        if claim.payer_claim_id.strip():
            row = self.rows.get((account, claim.payer_claim_id.strip()))
            if row is not None:
                return row
        return self.rows.get((account, ""))

    def enrich(self, claim: Claim) -> tuple[Claim, list[str]]:
        """A copy of ``claim`` with what it lacks -- ``patient_dob``, ``diagnoses``, the
        rendering provider's name or NPI -- filled from its row; what the remittance printed is
        kept. The notes say where the two disagree (which field, and the export's line; never a
        value). Without a row: an unchanged copy and no notes."""
        out = copy.deepcopy(claim)
        row = self.row_for(claim)
        if row is None:
            return out, []
        where = f" ({datafiles.where(self.path or '', row.line)})"
        notes = []
        if row.patient_dob is not None:
            if out.patient_dob is None:
                out.patient_dob = row.patient_dob
            elif out.patient_dob != row.patient_dob:
                notes.append(DOB_DIFFERS + where)
        if row.diagnoses:
            if not out.diagnoses:
                out.diagnoses = list(row.diagnoses)
            elif out.diagnoses != list(row.diagnoses):
                notes.append(DIAGNOSES_DIFFER + where)
        printed, known = out.rendering_provider, row.rendering_provider
        npi_differs = bool(printed.id and known.id and printed.id != known.id)
        name_differs = bool(printed.name and known.name
                            and _name_key(printed.name) != _name_key(known.name))
        notes += [n + where for n, d in ((NPI_DIFFERS, npi_differs), (NAME_DIFFERS, name_differs))
                  if d]
        if not (npi_differs or name_differs):  # the same provider: complete what is missing
            out.rendering_provider = Party(printed.name or known.name, printed.id or known.id)
        return out, notes


def load_claim_export(path: str | Path | None = None) -> ClaimExport:
    """The claim export at ``path`` (None: ``Settings.from_env().claim_export``), validated,
    read again only when the file changed; an empty :class:`ClaimExport` when there is no file.

    :raises ClaimExportError: the file is unreadable, too large or has a bad row.
    """
    if path is None:
        from .settings import Settings

        path = Settings.from_env().claim_export
    return datafiles.load(Path(path), read_claim_export)


def read_claim_export(path: Path) -> ClaimExport:
    """Read and validate one claim export (no cache; see :func:`load_claim_export`)."""
    path = Path(path)
    name = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return ClaimExport()
    except IsADirectoryError:
        raise ClaimExportError.at("is a directory, not a CSV file", file=name) from None
    except OSError as exc:
        raise ClaimExportError.at(f"cannot read the file: {exc.strerror}", file=name) from None
    if len(data) > MAX_BYTES:
        raise ClaimExportError.at(f"larger than {MAX_BYTES // (1024 * 1024)} MB: refused (is it "
                                  "the claim export? export fewer months)", file=name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ClaimExportError.at("not UTF-8 text (save the export as 'CSV UTF-8')", file=name,
                                  line=line) from None
    return ClaimExport(path, MappingProxyType(_Reader(name).rows(text)))


def _name_key(name: str) -> str:
    """A provider name compared as people read it: case, punctuation and spacing aside."""
    return _SPACES.sub(" ", re.sub(r"[^\w\s]", " ", name)).strip().upper()


class _Reader:
    """Header and rows of one export; every problem collected, the first raised with a count."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[tuple[int | None, str, str]] = []  # (line, column, problem)
        self.count = 0  # problems found (only the first MAX_PROBLEMS_KEPT are kept)
        self.width = 0  # cells of the header row
        self.line_at_error = 1

    def fail(self, line: int | None, column: str, problem: str) -> None:
        self.count += 1
        if len(self.problems) < MAX_PROBLEMS_KEPT:
            self.problems.append((line, column, problem))

    def rows(self, text: str) -> dict[tuple[str, str], ExportRow]:
        records = self.records(text)
        header = None
        rows: dict[tuple[str, str], ExportRow] = {}
        try:
            for line, cells in records:
                if not any(c.strip() for c in cells):
                    continue  # blank lines
                if header is None:
                    header = self.header(line, cells)
                    if header is None:
                        break
                    continue
                if len(rows) >= MAX_ROWS:
                    self.fail(line, "", f"more than {MAX_ROWS:,} rows: refused")
                    break
                row = self.row(line, header, cells)
                if row is None:
                    continue
                key = (row.patient_account, row.payer_claim_id)
                if key in rows:
                    self.fail(line, "patient_account", "a second row for the same "
                              "patient_account and payer_claim_id (the first is on line "
                              f"{rows[key].line})")
                    continue
                rows[key] = row
        except csv.Error as exc:
            self.fail(self.line_at_error, "", f"not a CSV file the reader understands ({exc})")
        if header is None and not self.count:
            self.fail(None, "", "empty: no header row (it names the columns: "
                      f"{', '.join(COLUMNS)})")
        self.raise_first()
        return rows

    def records(self, text: str) -> Iterator[tuple[int, list[str]]]:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        while True:
            start = reader.line_num + 1
            self.line_at_error = start
            try:
                cells = next(reader)
            except StopIteration:
                return
            yield start, cells

    def header(self, line: int, cells: list[str]) -> dict[str, int] | None:
        names = [c.strip().lower() for c in cells]
        self.width = len(names)
        index: dict[str, int] = {}
        for i, title in enumerate(names):
            if title in COLUMNS:
                if title in index:
                    self.fail(line, title, "named twice in the header")
                index.setdefault(title, i)
        if "patient_account" not in index:
            shown = ", ".join(repr(n[:30]) for n in names[:12])
            self.fail(line, "", f"the header names no patient_account column (it names {shown}; "
                      f"the columns: {', '.join(COLUMNS)})")
            return None
        return index

    def row(self, line: int, header: dict[str, int], cells: list[str]) -> ExportRow | None:
        count = self.count
        if any(c.strip() for c in cells[self.width:]):
            self.fail(line, "", f"{len(cells)} cells but the header names {self.width} columns "
                      "(a comma inside a value needs the value in double quotes)")
            return None
        values = {}
        for column, i in header.items():
            value = _SPACES.sub(" ", cells[i]).strip() if i < len(cells) else ""
            if len(value) > MAX_CELL:
                self.fail(line, column, f"longer than {MAX_CELL} characters")
                value = ""
            values[column] = value
        account = values["patient_account"]
        if not account:
            self.fail(line, "patient_account", "missing (every row needs the claim's patient "
                      "account)")
        born = None
        if values.get("patient_dob"):
            born = self.birth_date(line, values["patient_dob"])
        codes: list[str] = []
        for bad in add_diagnoses(codes, values.get("diagnoses", "")):
            self.fail(line, "diagnoses", f"not an ICD-10-CM code {bad[:20]!r} (a letter, a "
                      "digit, then 1-5 letters or digits)")
        npi = values.get("rendering_npi", "")
        if npi and not is_npi(npi):
            self.fail(line, "rendering_npi", f"not an NPI {npi[:20]!r} (10 digits with a valid "
                      "check digit)")
        if self.count > count:
            return None
        return ExportRow(line, account, values.get("payer_claim_id", ""), born, tuple(codes),
                         Party(values.get("rendering_name", ""), npi))

    def birth_date(self, line: int, text: str) -> dt.date | None:
        try:
            if not _ISO_DATE.fullmatch(text):
                raise ValueError
            born = dt.date.fromisoformat(text)
        except ValueError:  # the value is not quoted: it is (nearly) a date of birth
            self.fail(line, "patient_dob", "not a date: expected YYYY-MM-DD")
            return None
        if born > dt.date.today():
            self.fail(line, "patient_dob", "in the future")
        elif born < EARLIEST_BIRTH:
            self.fail(line, "patient_dob", f"before {EARLIEST_BIRTH.year}")
        else:
            return born
        return None

    def raise_first(self) -> None:
        if not self.count:
            return
        messages = [datafiles.located(p, file=self.file, line=line, field=column)
                    for line, column, p in self.problems]
        line, column, _ = self.problems[0]
        more = self.count - 1
        text = messages[0] + (f" (and {more} more problem{'s' if more > 1 else ''})"
                              if more else "")
        raise ClaimExportError(text, file=self.file, line=line, field=column, problems=messages)
