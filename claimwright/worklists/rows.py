"""What a worklist row holds, the sheet's columns, and the row made from a denial finding."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..rules.findings import Finding


SHEET_TITLE = "Coding worklist"
STATUSES = ("New", "In progress", "Corrected", "Resubmitted", "Done")
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
                      "modifiers": tuple(d["modifiers"]), "rarcs": tuple(d["rarcs"]),
                      "amount": Decimal(d["amount"]), "priority": Decimal(d["priority"])})


@dataclass
class WorklistResult:
    added: int
    updated: int
    unchanged: int
    warnings: list[str] = field(default_factory=list)
    written: bool = False  # False when the file was left untouched
    backup: Path | None = None  # copy of the original, kept before a lossy save


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
)
CODER_COLUMNS = (("Status", 14), ("Assigned to", 16), ("Notes", 45))


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
    )
