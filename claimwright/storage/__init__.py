"""The ledger: what Claimwright has downloaded, parsed, decided, written and queued.

:class:`Ledger` is the one interface to it; the ORM rows (:mod:`.records`) it returns are
detached snapshots, read-only to callers. Tables: documents, remittances, findings, outputs
(packets, worklist rows), work_units (states and leases), review_items, status_checks,
worklist_marks (what people wrote in the worklists); the reports read them (:mod:`.reports`).
"""

from .followup import OpenItem, StatusAnswer
from .ledger import Ledger, SchemaOutdated, jsonable
from .reports import AppealDecision, FindingDecision, StoredRemittance
from .records import (Document, FindingRecord, OutputRecord, RemittanceRecord, ReviewItemRecord,
                      StatusCheckRecord, WorkMarkRecord, WorkUnitRecord, utcnow)

__all__ = ["AppealDecision", "Document", "FindingDecision", "FindingRecord", "Ledger", "OpenItem",
           "OutputRecord", "RemittanceRecord", "ReviewItemRecord", "SchemaOutdated",
           "StatusAnswer", "StatusCheckRecord", "StoredRemittance", "WorkMarkRecord",
           "WorkUnitRecord", "jsonable", "utcnow"]
