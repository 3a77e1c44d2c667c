"""The ledger: what Claimwright has downloaded, parsed, decided, written and queued.

SQLAlchemy 2 ORM; SQLite by default, any SQLAlchemy URL (e.g. PostgreSQL) works. Every output
has a natural key here so reruns add nothing twice. Money columns are exact: stored as NUMERIC on
databases with a decimal type, as text on SQLite (which would otherwise round through float).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
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
    status: Mapped[str] = mapped_column(String(16), default="downloaded")  # parsed / failed
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
    priority: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class OutputRecord(Base):
    """An output already produced, by kind and natural key: packets, worklist rows."""

    __tablename__ = "outputs"
    __table_args__ = (UniqueConstraint("kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # "packet", "worklist-row"
    key: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ReviewItemRecord(Base):
    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)  # dedupe key
    kind: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    payer: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    evidence: Mapped[list] = mapped_column(JSON, default=list)  # file paths
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    resolution: Mapped[str] = mapped_column(Text, default="")


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
    status: Mapped[str] = mapped_column(String(40))         # normalized (claimwright.status)
    portal_status: Mapped[str] = mapped_column(String(200), default="")
    status_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    final: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_action: Mapped[bool] = mapped_column(Boolean, default=False)
    owner: Mapped[str] = mapped_column(String(32), default="")
    checked_on: Mapped[dt.date] = mapped_column(Date)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    next_follow_up: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


_SCHEMA_LOCK = threading.Lock()


def _create_schema(engine: Engine, attempts: int = 5) -> None:
    """Create missing tables. Pulls run in parallel threads (and workers in parallel processes)
    may race to create a fresh database's tables: a lock covers this process, and a table that
    another process created between the check and the CREATE is simply checked again."""
    with _SCHEMA_LOCK:
        for attempt in range(attempts):
            try:
                Base.metadata.create_all(engine)
                return
            except OperationalError as exc:
                if "already exists" not in str(exc) or attempt == attempts - 1:
                    raise


class Ledger:
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_schema(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()

    # documents -----------------------------------------------------------------------------
    def has_document(self, payer: str, remittance_id: str) -> bool:
        with self.session() as s:
            return s.scalar(select(Document.id).where(
                Document.payer == payer, Document.remittance_id == remittance_id)) is not None

    def known_remittance_ids(self, payer: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(Document.remittance_id).where(Document.payer == payer)))

    def add_document(self, *, payer: str, remittance_id: str, sha256: str, path: str, size: int,
                     listed: dict[str, Any] | None = None) -> tuple[Document, bool]:
        """Record a downloaded file; returns (document, created). Same bytes twice: not added."""
        with self.session() as s:
            existing = s.scalar(select(Document).where(
                (Document.sha256 == sha256)
                | ((Document.payer == payer) & (Document.remittance_id == remittance_id))))
            if existing is not None:
                return existing, False
            doc = Document(payer=payer, remittance_id=remittance_id, sha256=sha256, path=path,
                           size=size, listed=_jsonable(listed or {}))
            s.add(doc)
            s.flush()
            return doc, True

    def documents(self, status: str | None = None, payer: str | None = None) -> list[Document]:
        with self.session() as s:
            q = select(Document).order_by(Document.id)
            if status:
                q = q.where(Document.status == status)
            if payer:
                q = q.where(Document.payer == payer)
            return list(s.scalars(q))

    def set_document_status(self, document_id: int, status: str) -> None:
        with self.session() as s:
            s.get(Document, document_id).status = status

    # remittances and findings --------------------------------------------------------------
    def save_remittance(self, document_id: int, index: int, data: dict) -> RemittanceRecord:
        with self.session() as s:
            rec = s.scalar(select(RemittanceRecord).where(
                RemittanceRecord.document_id == document_id, RemittanceRecord.index == index))
            if rec is None:
                rec = RemittanceRecord(document_id=document_id, index=index)
                s.add(rec)
            rec.payer_id = data["payer"]["id"]
            rec.trace_number = data["payment"]["trace_number"]
            rec.payment_date = (dt.date.fromisoformat(data["payment"]["date"])
                                if data["payment"]["date"] else None)
            rec.amount = Decimal(data["payment"]["amount"])
            rec.balanced = bool(data["balanced"])
            rec.claim_count = len(data["claims"])
            rec.data = data
            s.flush()
            return rec

    def remittances(self, document_id: int) -> list[RemittanceRecord]:
        with self.session() as s:
            return list(s.scalars(select(RemittanceRecord)
                                  .where(RemittanceRecord.document_id == document_id)
                                  .order_by(RemittanceRecord.index)))

    def save_findings(self, remittance_record_id: int, rows: list[dict[str, Any]]) -> int:
        """Insert findings not yet known (by key); returns how many were new."""
        if not rows:
            return 0
        with self.session() as s:
            known = set(s.scalars(select(FindingRecord.key).where(
                FindingRecord.key.in_([r["key"] for r in rows]))))
            new = [r for r in rows if r["key"] not in known]
            for row in new:
                s.add(FindingRecord(remittance_id=remittance_record_id, **row))
            return len(new)

    def findings(self, *, denials_only: bool = False) -> list[FindingRecord]:
        with self.session() as s:
            q = select(FindingRecord).order_by(FindingRecord.id)
            if denials_only:
                q = q.where(FindingRecord.is_denial.is_(True))
            return list(s.scalars(q))

    # outputs -------------------------------------------------------------------------------
    def output_keys(self, kind: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(OutputRecord.key).where(OutputRecord.kind == kind)))

    def record_outputs(self, kind: str, items: list[tuple[str, str, str]]) -> int:
        """Record (key, path, sha256) outputs; returns how many were new."""
        with self.session() as s:
            known = set(s.scalars(select(OutputRecord.key).where(
                OutputRecord.kind == kind, OutputRecord.key.in_([k for k, _, _ in items]))))
            added = 0
            for key, path, sha in items:
                if key not in known:
                    s.add(OutputRecord(kind=kind, key=key, path=path, sha256=sha))
                    known.add(key)
                    added += 1
            return added

    def outputs(self, kind: str) -> list[OutputRecord]:
        with self.session() as s:
            return list(s.scalars(select(OutputRecord).where(OutputRecord.kind == kind)
                                  .order_by(OutputRecord.id)))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
