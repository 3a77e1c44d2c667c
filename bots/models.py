"""What the bots report: listed rows, downloaded and failed documents, a pull's result, and the
queries and answers of status checks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal


@dataclass(frozen=True)
class ListedRemittance:
    """One row of the portal's results table."""

    remittance_id: str
    payment_date: dt.date
    trace_number: str
    amount: Decimal
    url: str
    page: int


@dataclass(frozen=True)
class DownloadedDocument:
    payer: str
    remittance_id: str
    path: Path
    sha256: str
    size: int
    payment_date: dt.date
    trace_number: str
    amount: Decimal
    url: str
    #: what ``path`` holds: "pdf" or "x12-835" (the document the pipeline parses)
    kind: str = "pdf"
    #: other files of the same remittance, by kind (e.g. the PDF beside an 835), for people
    renditions: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class FailedDocument:
    """A listed remittance that could not be taken (a ``BusinessError``); others went on."""

    payer: str
    remittance_id: str
    reason: str
    code: str
    url: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class PullResult:
    payer: str
    start: dt.date
    end: dt.date
    downloaded: list[DownloadedDocument] = field(default_factory=list)
    skipped_known: list[str] = field(default_factory=list)
    failed: list[FailedDocument] = field(default_factory=list)
    skipped_out_of_range: list[str] = field(default_factory=list)
    pages_visited: int = 0
    listed: int = 0


Kind = Literal["claim", "appeal"]
KINDS: tuple[str, ...] = ("claim", "appeal")


@dataclass(frozen=True)
class StatusQuery:
    """One claim or appeal whose status the portal is asked for."""

    kind: Kind
    payer_claim_id: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"status query kind must be one of {KINDS}, not {self.kind!r}")
        if not self.payer_claim_id.strip():
            raise ValueError("status query needs a payer claim number")


@dataclass(frozen=True)
class StatusReport:
    """What the portal said about one query (``found=False``: its "not found" message)."""

    kind: str
    payer_claim_id: str
    found: bool
    status: str = ""
    status_date: dt.date | None = None
    notes: str = ""
    appeal_number: str = ""
    #: the result row as the portal printed it (cells joined by " | "), or the not-found message
    raw: str = ""
