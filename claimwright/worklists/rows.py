"""What a worklist row holds, the sheet's columns, and the row made from a denial finding."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..rules.findings import Finding


SHEET_TITLE = "Coding worklist"
SUMMARY_TITLE = "Summary"
# the Status drop-down; a row is "open" (highlighted when overdue or due soon) while its status
# is blank or one of OPEN_STATUSES
STATUSES = ("New", "In progress", "Corrected claim sent", "Appealed", "Done", "Write-off")
OPEN_STATUSES = ("New", "In progress")
MONEY_FORMAT = '"$"#,##0.00;[Red]-"$"#,##0.00'
DATE_FORMAT = "yyyy-mm-dd"


class WorklistError(ValueError):
    """The worklist file cannot be updated safely (not an xlsx, no worklist sheet ...)."""


@dataclass(frozen=True)
class WorklistRow:
    key: str  # Finding.key: payer:payer claim id:line:group-CARC
    payer: str
    payer_claim_id: str
    patient_account: str
    date_of_service: dt.date | None
    procedure: str
    modifiers: tuple[str, ...]
    adjustment: str  # group-CARC, e.g. "CO-97"
    rarcs: tuple[str, ...]
    reason: str  # in words: CARC meaning, then RARC meanings
    category: str
    owner: str
    action: str  # recommended action
    amount: Decimal  # amount at stake
    appeal_due: dt.date | None
    priority: Decimal
    first_seen: dt.date
    denied_on: dt.date | None = None  # the remittance's date (the denial's age counts from it)

    def to_json(self) -> dict[str, Any]:
        """The row as JSON (money as strings, dates ISO); :meth:`from_json` reads it back."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            if isinstance(value, (dt.date, Decimal)):
                value = str(value)
            out[name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WorklistRow:
        def date(name: str) -> dt.date | None:
            return dt.date.fromisoformat(d[name]) if d.get(name) else None

        return cls(**{**d, "date_of_service": date("date_of_service"),
                      "appeal_due": date("appeal_due"), "first_seen": date("first_seen"),
                      "denied_on": date("denied_on"),
                      "modifiers": tuple(d["modifiers"]), "rarcs": tuple(d["rarcs"]),
                      "amount": Decimal(d["amount"]), "priority": Decimal(d["priority"])})


@dataclass(frozen=True)
class Marks:
    """What people wrote in a row's person-owned columns (read back into the ledger)."""

    status: str = ""
    assignee: str = ""
    notes: str = ""
    corrected_code: str = ""
    date_worked: dt.date | None = None

    @property
    def blank(self) -> bool:
        return not (self.status or self.assignee or self.notes or self.corrected_code
                    or self.date_worked)


@dataclass
class WorklistResult:
    added: int
    updated: int
    unchanged: int
    warnings: list[str] = field(default_factory=list)
    written: bool = False  # False when the file was left untouched
    backup: Path | None = None  # copy of the original, kept before a lossy save
    # the person-owned columns of every row now in the sheet, by key
    marks: dict[str, Marks] = field(default_factory=dict)
    version: Path | None = None  # the previous workbook, kept before this save


@dataclass(frozen=True)
class Column:
    header: str
    attr: str
    width: float
    kind: str  # text | list | date | money | number


SYSTEM_COLUMNS = (
    Column("Key", "key", 34, "text"),
    Column("Payer", "payer", 22, "text"),
    Column("Payer claim #", "payer_claim_id", 18, "text"),
    Column("Patient account", "patient_account", 16, "text"),
    Column("Date of service", "date_of_service", 13, "date"),
    Column("Procedure", "procedure", 11, "text"),
    Column("Modifiers", "modifiers", 10, "list"),
    Column("Group-CARC", "adjustment", 11, "text"),
    Column("RARCs", "rarcs", 12, "list"),
    Column("Reason", "reason", 55, "text"),
    Column("Category", "category", 18, "text"),
    Column("Owner", "owner", 14, "text"),
    Column("Recommended action", "action", 26, "text"),
    Column("Amount at stake", "amount", 15, "money"),
    Column("Appeal due", "appeal_due", 12, "date"),
    Column("Priority", "priority", 9, "number"),
    Column("First seen", "first_seen", 12, "date"),
    Column("Denied on", "denied_on", 12, "date"),
)
# person-owned: never overwritten by a run (Status is set to "New" once, when the row is added)
PERSON_COLUMNS = (
    Column("Status", "status", 16, "text"),
    Column("Assigned to", "assignee", 16, "text"),
    Column("Notes", "notes", 45, "text"),
    Column("Corrected code", "corrected_code", 14, "text"),
    Column("Date worked", "date_worked", 12, "date"),
)
ALL_COLUMNS = SYSTEM_COLUMNS + PERSON_COLUMNS


def worklist_row_from_finding(finding: Finding, *, first_seen: dt.date) -> WorklistRow:
    line, decision = finding.line, finding.decision
    dos = line.date_of_service if line is not None else None
    if dos is None and finding.claim.dates_of_service:
        dos = finding.claim.dates_of_service[0]
    reason = [finding.carc_meaning or f"CARC {finding.adjustment.carc}"]
    reason += [f"{code}: {finding.rarc_meanings[code]}" for code in finding.remarks
               if finding.rarc_meanings.get(code)]
    action = decision.action + (f" (if {decision.condition})" if decision.condition else "")
    return WorklistRow(
        key=finding.key,
        payer=finding.payer_name or finding.payer_id,
        payer_claim_id=finding.claim.payer_claim_id,
        patient_account=finding.claim.patient_account,
        date_of_service=dos,
        procedure=line.procedure if line is not None else "",
        modifiers=tuple(line.modifiers) if line is not None else (),
        adjustment=finding.adjustment.code,
        rarcs=tuple(finding.remarks),
        reason="; ".join(reason),
        category=decision.category,
        owner=decision.owner,
        action=action,
        amount=finding.adjustment.amount,
        appeal_due=finding.appeal_due,
        priority=finding.priority,
        first_seen=first_seen,
        denied_on=finding.denial_date,
    )
