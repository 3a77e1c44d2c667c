"""The ledger: what Claimwright has downloaded, parsed, decided, written and queued.

SQLAlchemy 2; SQLite by default, any SQLAlchemy URL works; PostgreSQL
(``postgresql+psycopg://``) for several workers. Every output has a natural key here (a unique
constraint) so reruns add nothing twice, and two workers writing the same key at once cannot
both commit it (:mod:`.conflicts`; units are taken by compare-and-set, :mod:`.units`). Every other module reads and writes the ledger
through these methods (and those of :mod:`.units`, :mod:`.followup`, :mod:`.review_items`,
:mod:`.reports`, :mod:`.appeals`); none writes SQL of its own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from .appeals import AppealLedger
from .conflicts import retry_on_conflict
from .corrections import CorrectionLedger
from .followup import FollowUpLedger
from ..timing import timed
from ..types import UnitKind, UnitState
from .records import (Base, Document, FindingRecord, OutputRecord, RemittanceRecord,
                      WorkUnitRecord, utcnow)
from .reports import ReportLedger
from .review_items import ReviewLedger
from .units import UnitLedger
from .worklists import WorklistLedger


class SchemaOutdated(RuntimeError):
    """The database was made by an older Claimwright: columns this version needs are missing."""


_SCHEMA_LOCK = threading.Lock()
_SCHEMA_LOCK_KEY = 0x636C6D77  # "clmw": the advisory lock of the ledger's CREATE TABLEs


def _create_schema(engine: Engine, attempts: int = 5) -> None:
    """Create missing tables. Pulls run in parallel threads (and workers in parallel processes)
    may race to create a fresh database's tables: a lock covers this process; on PostgreSQL a
    transaction-scoped advisory lock serializes every process's create_all, and anywhere a table
    another process created between the check and the CREATE (SQLite: "already exists"; PostgreSQL
    without the lock: DuplicateTable, or a unique violation in its catalog) is simply checked
    again."""
    with _SCHEMA_LOCK:
        for attempt in range(attempts):
            try:
                with engine.begin() as conn:
                    if engine.dialect.name == "postgresql":
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                     {"key": _SCHEMA_LOCK_KEY})
                    Base.metadata.create_all(conn)
                break
            except (OperationalError, ProgrammingError, IntegrityError) as exc:
                concurrent = "already exists" in str(exc) or "duplicate key" in str(exc)
                if not concurrent or attempt == attempts - 1:
                    raise
    missing = [f"{table.name}.{column.name}" for table in Base.metadata.sorted_tables
               for column in table.columns
               if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}]
    if missing:
        raise SchemaOutdated(f"the ledger at {engine.url.render_as_string(hide_password=True)} was "
                             f"made by an older Claimwright (missing {', '.join(missing[:5])}); "
                             "move it aside and run again to rebuild it")


class Ledger(UnitLedger, FollowUpLedger, ReviewLedger, WorklistLedger, ReportLedger,
             AppealLedger, CorrectionLedger):
    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            _private_sqlite_file(Path(url.removeprefix("sqlite:///")))
        self.url = url
        # a server database may restart under a long-lived worker: check pooled connections
        self.engine: Engine = create_engine(url, future=True,
                                            pool_pre_ping=not url.startswith("sqlite"))
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_schema(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with timed("ledger"), self._sessions() as session, session.begin():
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
        """Record a downloaded file and queue its parse unit; returns (document, created).
        Same bytes twice: not added. Two workers adding the same document at once: the unique
        constraints let one insert win; the other gets the winner's ``(document, False)``."""
        try:
            return self._add_document(payer, remittance_id, sha256, path, size, listed)
        except IntegrityError:
            existing = self._existing_document(payer, remittance_id, sha256)
            if existing is None:
                raise
            return existing, False

    def _existing_document(self, payer: str, remittance_id: str, sha256: str) -> Document | None:
        with self.session() as s:
            return s.scalar(select(Document).where(
                (Document.sha256 == sha256)
                | ((Document.payer == payer) & (Document.remittance_id == remittance_id)))
                .order_by(Document.id).limit(1))

    def _add_document(self, payer: str, remittance_id: str, sha256: str, path: str, size: int,
                      listed: dict[str, Any] | None) -> tuple[Document, bool]:
        with self.session() as s:
            existing = s.scalar(select(Document).where(
                (Document.sha256 == sha256)
                | ((Document.payer == payer) & (Document.remittance_id == remittance_id)))
                .order_by(Document.id).limit(1))
            if existing is not None:
                return existing, False
            doc = Document(payer=payer, remittance_id=remittance_id, sha256=sha256, path=path,
                           size=size, listed=jsonable(listed or {}))
            s.add(doc)
            s.flush()
            # recorded with its parse unit in one transaction: no document is ever left unworked
            s.add(WorkUnitRecord(kind=UnitKind.PARSE, key=doc.unit_key, payer=payer,
                                 state=UnitState.PENDING, data=doc.context()))
            return doc, True

    def documents(self, payer: str | None = None) -> list[Document]:
        with self.session() as s:
            q = select(Document).order_by(Document.id)
            if payer:
                q = q.where(Document.payer == payer)
            return list(s.scalars(q))

    def document(self, document_id: int) -> Document | None:
        with self.session() as s:
            return s.get(Document, document_id)

    # remittances and findings --------------------------------------------------------------
    @retry_on_conflict
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

    @retry_on_conflict
    def save_findings(self, remittance_record_id: int, rows: list[dict[str, Any]]) -> int:
        """Insert new findings and refresh known ones (by key) with this decision; returns how
        many were new. A finding keeps the remittance that first reported it."""
        if not rows:
            return 0
        with self.session() as s:
            known = {rec.key: rec for rec in s.scalars(select(FindingRecord).where(
                FindingRecord.key.in_([r["key"] for r in rows])))}
            for row in rows:
                rec = known.get(row["key"])
                if rec is None:
                    s.add(FindingRecord(remittance_id=remittance_record_id, **row))
                else:
                    for name, value in row.items():
                        setattr(rec, name, value)
            return sum(r["key"] not in known for r in rows)

    def findings(self, *, denials_only: bool = False) -> list[FindingRecord]:
        with self.session() as s:
            q = select(FindingRecord).order_by(FindingRecord.id)
            if denials_only:
                q = q.where(FindingRecord.is_denial.is_(True))
            return list(s.scalars(q))

    def findings_with_carcs(self, carcs: list[str]) -> list[tuple[FindingRecord, Document]]:
        """The findings whose CARC is one of ``carcs``, each with the document that first
        reported it (oldest first)."""
        if not carcs:
            return []
        with self.session() as s:
            return [tuple(row) for row in s.execute(  # type: ignore[misc]
                select(FindingRecord, Document)
                .join(RemittanceRecord, RemittanceRecord.id == FindingRecord.remittance_id)
                .join(Document, Document.id == RemittanceRecord.document_id)
                .where(FindingRecord.carc.in_(list(carcs))).order_by(FindingRecord.id))]

    def set_priorities(self, priorities: dict[str, Decimal], as_of: dt.date) -> int:
        """Store each finding's priority (by key) as of ``as_of``; returns how many changed."""
        changed = 0
        keys = list(priorities)
        with self.session() as s:
            for start in range(0, len(keys), 500):  # bounded IN lists at any volume
                for rec in s.scalars(select(FindingRecord).where(
                        FindingRecord.key.in_(keys[start:start + 500]))):
                    if rec.priority != priorities[rec.key]:
                        rec.priority = priorities[rec.key]
                        changed += 1
                    rec.prioritized_on = as_of
        return changed

    # outputs -------------------------------------------------------------------------------
    def output_keys(self, kind: str) -> set[str]:
        with self.session() as s:
            return set(s.scalars(select(OutputRecord.key).where(OutputRecord.kind == kind)))

    @retry_on_conflict
    def record_outputs(self, kind: str, items: list[tuple[str, str, str]]) -> int:
        """Record (key, path, sha256) outputs written; returns how many were new."""
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

    @retry_on_conflict
    def save_packet(self, key: str, path: str, sha256: str) -> bool:
        """Record the packet written for ``key`` (its path and hash replace an earlier build's);
        True when it is new."""
        with self.session() as s:
            rec = s.scalar(select(OutputRecord).where(OutputRecord.kind == "packet",
                                                      OutputRecord.key == key))
            if rec is None:
                s.add(OutputRecord(kind="packet", key=key, path=path, sha256=sha256))
                return True
            rec.path, rec.sha256 = path, sha256
            return False

    def remittance_data(self, remittance_record_id: int) -> dict:
        """The parse contract JSON of one stored remittance."""
        with self.session() as s:
            rec = s.get(RemittanceRecord, remittance_record_id)
            if rec is None:
                raise KeyError(f"no remittance {remittance_record_id} in the ledger")
            return rec.data

    def outputs(self, kind: str) -> list[OutputRecord]:
        with self.session() as s:
            return list(s.scalars(select(OutputRecord).where(OutputRecord.kind == kind)
                                  .order_by(OutputRecord.id)))

    @retry_on_conflict
    def queue_outputs(self, kind: str, path: str, rows: dict[str, dict], *,
                      source: str = "") -> None:
        """Queue outputs of ``kind`` for ``path`` to be written (an outbox): each key's data is
        stored and marked not yet written, unless the same ``source`` (e.g. the remittance)
        queued it before and it was written: working a remittance again re-queues nothing."""
        keys = list(rows)
        with self.session() as s:
            known: dict[str, OutputRecord] = {}
            for start in range(0, len(keys), 500):
                known |= {rec.key: rec for rec in s.scalars(select(OutputRecord).where(
                    OutputRecord.kind == kind, OutputRecord.key.in_(keys[start:start + 500])))}
            for key, data in rows.items():
                rec = known.get(key)
                if rec is not None and source and rec.source == source and rec.written:
                    continue
                if rec is None:
                    rec = OutputRecord(kind=kind, key=key)
                    s.add(rec)
                rec.path, rec.data, rec.written, rec.source = path, jsonable(data), False, source

    def queued_outputs(self, kind: str, path: str) -> list[OutputRecord]:
        """Every output of ``kind`` for ``path``, written or not (oldest first)."""
        with self.session() as s:
            return list(s.scalars(select(OutputRecord).where(
                OutputRecord.kind == kind, OutputRecord.path == path).order_by(OutputRecord.id)))

    def pending_outputs(self, kind: str, path: str) -> list[OutputRecord]:
        """Outputs of ``kind`` for ``path`` recorded but not yet written (oldest first)."""
        with self.session() as s:
            return list(s.scalars(select(OutputRecord).where(
                OutputRecord.kind == kind, OutputRecord.path == path,
                OutputRecord.written.is_(False)).order_by(OutputRecord.id)))

    def mark_written(self, kind: str, keys: list[str]) -> None:
        with self.session() as s:
            for start in range(0, len(keys), 500):
                for rec in s.scalars(select(OutputRecord).where(
                        OutputRecord.kind == kind, OutputRecord.key.in_(keys[start:start + 500]))):
                    rec.written = True


def _private_sqlite_file(path: Path) -> None:
    """The ledger's SQLite file, made before SQLite opens it: owner-only (0600) in an owner-only
    folder. SQLite gives its -wal, -shm and -journal files the database file's mode."""
    from ..fileio import PRIVATE_FILE, private_dir

    if str(path) in ("", ":memory:"):
        return
    private_dir(path.parent)
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE))


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
