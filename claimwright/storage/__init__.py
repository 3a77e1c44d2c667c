"""The ledger: what Claimwright has downloaded, parsed, decided, written and queued.

:class:`Ledger` is the one interface to it; the ORM rows (:mod:`.records`) it returns are
detached snapshots, read-only to callers. Tables: documents, remittances, findings, outputs
(packets, worklist rows), work_units (states and leases), review_items and review_events
(their audit trail: :mod:`.review_items`), status_checks, worklist_marks (what people wrote in
the worklists), appeals (one record per appeal and level: :mod:`.appeals`), corrections
(values people corrected: :mod:`.corrections`); the reports read them (:mod:`.reports`).
"""

from .appeals import (CHANNELS, OUTCOMES, STATUSES, AppealLedger, AppealUpdateError,
                      UnknownAppeal, appeal_key)
from .followup import OpenItem, StatusAnswer
from .ledger import Ledger, SchemaOutdated, jsonable
from .review_items import ReviewStateError
from .reports import AppealDecision, FindingDecision, StoredRemittance
from .records import (AppealRecord, CorrectionRecord, Document, FindingRecord, OutputRecord,
                      RemittanceRecord, ReviewEventRecord, ReviewItemRecord, StatusCheckRecord,
                      WorkMarkRecord, WorkUnitRecord, utcnow)

__all__ = ["AppealDecision", "AppealLedger", "AppealRecord", "AppealUpdateError", "CHANNELS",
           "CorrectionRecord",
           "Document", "FindingDecision", "FindingRecord", "Ledger", "OUTCOMES", "OpenItem",
           "OutputRecord", "RemittanceRecord", "ReviewEventRecord",
           "ReviewItemRecord", "ReviewStateError", "STATUSES", "SchemaOutdated",
           "StatusAnswer", "StatusCheckRecord", "StoredRemittance", "UnknownAppeal",
           "WorkMarkRecord", "WorkUnitRecord", "appeal_key", "jsonable", "utcnow"]
