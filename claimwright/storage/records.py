"""The ledger's tables (SQLAlchemy 2 ORM rows). Only ``claimwright.storage`` queries them.

Money columns are exact: NUMERIC on databases with a decimal type, text on SQLite (which would
otherwise round through float).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class Money(TypeDecorator):
    """Exact money: NUMERIC(18, 2) where the database has it, a decimal string on SQLite."""

    impl = Numeric(18, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(24))
        return dialect.type_descriptor(Numeric(14, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = Decimal(value).quantize(Decimal("0.01"))
        return str(value) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Document(Base):
    """A file a bot downloaded (or an operator imported)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("payer", "remittance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payer: Mapped[str] = mapped_column(String(64))
    remittance_id: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    listed: Mapped[dict] = mapped_column(JSON, default=dict)

    @property
    def unit_key(self) -> str:
        """The key of the document's parse and outputs units of work."""
        return f"{self.payer}:{self.remittance_id}"

    def context(self) -> dict:
        """What the document's units and review items carry to find it again."""
        return {"payer": self.payer, "remittance_id": self.remittance_id, "file": self.path,
                "sha256": self.sha256, "document_id": self.id}

    downloaded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class RemittanceRecord(Base):
    __tablename__ = "remittances"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    index: Mapped[int] = mapped_column(Integer, default=0)  # ST/SE transaction within the file
    payer_id: Mapped[str] = mapped_column(String(64))
    trace_number: Mapped[str] = mapped_column(String(64))
    payment_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    balanced: Mapped[bool] = mapped_column(Boolean)
    claim_count: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict] = mapped_column(JSON)  # the parse contract JSON
    parsed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("document_id", "index"),)


class FindingRecord(Base):
    """One adjustment with its decision (denials and non-denials: denial rates need both)."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"))
    payer_id: Mapped[str] = mapped_column(String(64))
    payer_claim_id: Mapped[str] = mapped_column(String(64))
    patient_account: Mapped[str] = mapped_column(String(64))
    line_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    procedure: Mapped[str] = mapped_column(String(32), default="")
    modifiers: Mapped[list] = mapped_column(JSON, default=list)
    provider_npi: Mapped[str] = mapped_column(String(16), default="")  # rendering provider
    provider_name: Mapped[str] = mapped_column(String(128), default="")
    billed: Mapped[Decimal | None] = mapped_column(Money, nullable=True)  # the line's (claim's)
    denial_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # remittance date
    group_code: Mapped[str] = mapped_column(String(4))
    carc: Mapped[str] = mapped_column(String(8))
    rarcs: Mapped[list] = mapped_column(JSON, default=list)
    amount: Mapped[Decimal] = mapped_column(Money)
    is_denial: Mapped[bool] = mapped_column(Boolean)
    category: Mapped[str] = mapped_column(String(64))
    owner: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    appealable: Mapped[str] = mapped_column(String(16))
    rule_id: Mapped[str] = mapped_column(String(64))
    appeal_due: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    internal_target: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    priority: Mapped[Decimal] = mapped_column(Money)  # as of ``prioritized_on``
    prioritized_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class OutputRecord(Base):
    """An output by kind and natural key: packets, worklist rows.

    A worklist row is recorded with its ``data`` and ``written=False`` by the document that found
    it, and marked written once it is in the workbook (an outbox: a workbook that cannot be
    written loses no row; the next good run writes it)."""

    __tablename__ = "outputs"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "packet", "worklist-row"
    key: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    written: Mapped[bool] = mapped_column(Boolean, default=True)
    # what queued it (e.g. "remittance:12"): the same remittance worked again re-queues nothing,
    # so a row a person deleted comes back only when the denial recurs on a new remittance
    source: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class WorkMarkRecord(Base):
    """What people wrote in a worklist row's person-owned columns, as the last run read it.

    Keyed like the finding (and the row). ``in_workbook`` False: the row is no longer in the
    workbook (a person deleted it). ``status_since`` is the day a run first saw the status.
    Notes are a person's text: kept here (the ledger is owner-only), never logged.
    """

    __tablename__ = "worklist_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    workbook: Mapped[str] = mapped_column(String(255))  # file name, e.g. coding-worklist.xlsx
    status: Mapped[str] = mapped_column(String(64), default="")
    assignee: Mapped[str] = mapped_column(String(128), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    corrected_code: Mapped[str] = mapped_column(String(64), default="")
    date_worked: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    in_workbook: Mapped[bool] = mapped_column(Boolean, default=True)
    status_since: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    read_on: Mapped[dt.date] = mapped_column(Date)


class WorkUnitRecord(Base):
    """One unit of work (``claimwright.units``): its state and, while taken, its lease.

    ``owner`` names the run holding the lease (host, process id, run); ``lease_expires_at`` is
    when another run may take the unit over if the owner never released it (a killed run)."""

    __tablename__ = "work_units"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))    # UnitKind
    key: Mapped[str] = mapped_column(String(255))
    payer: Mapped[str] = mapped_column(String(64), default="")
    state: Mapped[str] = mapped_column(String(24))  # UnitState
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str] = mapped_column(String(128), default="")
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    error_code: Mapped[str] = mapped_column(String(64), default="")
    review_key: Mapped[str] = mapped_column(String(255), default="")
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReviewItemRecord(Base):
    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # dedupe key
    kind: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    payer: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")  # types.ReviewState
    assignee: Mapped[str] = mapped_column(String(64), default="")
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    evidence: Mapped[list] = mapped_column(JSON, default=list)  # file paths
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    resolution: Mapped[str] = mapped_column(Text, default="")  # or the reason it was dismissed


class ReviewEventRecord(Base):
    """One entry of a review item's audit trail: who did what when (``at`` in UTC).

    ``detail`` is short and holds no PHI (no names, member ids, accounts, dates of birth)."""

    __tablename__ = "review_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("review_items.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="")


class StatusCheckRecord(Base):
    """One status check of an open claim or appeal on its portal (nightly status check).

    One row per (payer, kind, payer claim id, day): a rerun the same day updates nothing twice.
    Notes are the portal's status notes (no names or member ids are stored here).
    """

    __tablename__ = "status_checks"
    __table_args__ = (UniqueConstraint("payer", "kind", "payer_claim_id", "checked_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payer: Mapped[str] = mapped_column(String(64))          # portal payer (selectors/<payer>.yaml)
    payer_id: Mapped[str] = mapped_column(String(64), default="")  # payer id on the remittance
    kind: Mapped[str] = mapped_column(String(16))           # "claim" / "appeal"
    payer_claim_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(40))         # normalized (claimwright.rules.followup)
    portal_status: Mapped[str] = mapped_column(String(200), default="")
    status_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_action: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(32), default="")
    checked_on: Mapped[dt.date] = mapped_column(Date)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    next_follow_up: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class AppealRecord(Base):
    """One appeal of one claim at one level (``claimwright.storage.appeals``): its packet, when
    and how it was sent, the payer's decision and what it recovered.

    ``key`` is ``<payer id>:<payer claim id>:L<level>``. Status moves prepared -> sent -> decided
    and never back. ``patient_account`` finds the claim's documents; it is never logged, printed
    or put in an artifact. ``categories`` are the denial categories the appeal argues, "; "-joined.
    """

    __tablename__ = "appeals"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    payer: Mapped[str] = mapped_column(String(64))           # portal payer (selectors/<payer>.yaml)
    payer_id: Mapped[str] = mapped_column(String(64))        # payer id on the remittance
    payer_claim_id: Mapped[str] = mapped_column(String(64))
    patient_account: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="prepared")
    outcome: Mapped[str] = mapped_column(String(16), default="")
    categories: Mapped[str] = mapped_column(Text, default="")
    denied_amount: Mapped[Decimal] = mapped_column(Money)
    recovered: Mapped[Decimal | None] = mapped_column(Money, nullable=True)
    denial_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    appeal_due: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    prepared_on: Mapped[dt.date] = mapped_column(Date)
    sent_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    channel: Mapped[str] = mapped_column(String(16), default="")
    decided_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    packet_path: Mapped[str] = mapped_column(Text, default="")
    inputs_hash: Mapped[str] = mapped_column(String(64), default="")
    complete: Mapped[bool] = mapped_column(Boolean, default=False)
    missing: Mapped[list] = mapped_column(JSON, default=list)  # missing document kinds
    previous_key: Mapped[str] = mapped_column(String(255), default="")
    sent_by: Mapped[str] = mapped_column(String(128), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @property
    def category_list(self) -> list[str]:
        return [c for c in (part.strip() for part in self.categories.split(";")) if c]


class CorrectionRecord(Base):
    """A person's correction of values of one stored remittance's claim (or one of its lines).

    The stored remittance (``remittances.data``) is never changed: the pipeline applies the
    corrections to a copy (:mod:`claimwright.corrections`). ``changes`` maps field -> new value
    and ``original`` field -> the value before (both as text); ``at`` is UTC; ``why`` holds no
    PHI. ``item_id`` is the review item it answers, when there is one."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(primary_key=True)
    remittance_id: Mapped[int] = mapped_column(ForeignKey("remittances.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("review_items.id"), nullable=True)
    patient_account: Mapped[str] = mapped_column(String(64))
    payer_claim_id: Mapped[str] = mapped_column(String(64))
    line: Mapped[int | None] = mapped_column(Integer, nullable=True)  # 1-based; None: claim
    changes: Mapped[dict] = mapped_column(JSON)
    original: Mapped[dict] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    why: Mapped[str] = mapped_column(Text)
