"""``StatusPage``: a claim or appeal status page (``status.claim_path`` / ``status.appeal_path``):
type the payer claim number, search, read the answer.

"No claim found" is a *result* (``found=False``), not an error. The result table is read by
:class:`ResultsTable` over the config's ``status`` section (its ``status`` and ``status_date``
columns are required); a status date that does not parse is a ``BusinessError``
(``bad-status-row``); a table without one full row is ``table-changed``.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from claimwright.errors import BusinessError
from claimwright.types import FaultCode

from ..models import StatusQuery, StatusReport
from .results import ResultsTable

if TYPE_CHECKING:
    from playwright.sync_api import Locator

    from .page import PortalPage


class StatusPage:
    def __init__(self, portal: PortalPage) -> None:
        self.portal = portal
        self.status = portal.config.status
        if self.status is None:
            raise ValueError(f"{portal.config.payer}: the payer config has no 'status:' section")
        self.table = ResultsTable(portal, self.status, name="status_result")

    def ask(self, query: StatusQuery) -> StatusReport:
        """Search ``query`` on its status page and read the portal's answer (one step's work:
        the caller runs it inside a step)."""
        portal, status = self.portal, self.status
        step = f"{query.kind}-status"
        path = status.claim_path if query.kind == "claim" else status.appeal_path
        # The result page repeats the search form: stay on it (one request per query, not two).
        if not portal.path_is(path) or portal.present("status_claim_number") is None:
            portal.goto(step, path)
        portal.require(step, "status_claim_number").locator.fill(query.payer_claim_id)
        portal.submit(step, portal.require(step, "status_submit"))
        outcome, found = portal.await_any(step, ["captcha", "status_result", "status_not_found"])
        if outcome == "captcha":
            portal.check_captcha(step)
        if outcome == "status_not_found":
            return StatusReport(query.kind, query.payer_claim_id, False,
                                raw=portal.rt.redact(portal.message(found)))
        return self.read(query, found.locator, step)

    def read(self, query: StatusQuery, table: Locator, step: str) -> StatusReport:
        """The first full row of the status result ``table``."""
        status, redact = self.status, self.portal.rt.redact
        index = self.table.column_index(table, step, required=("status", "status_date"))
        rows = self.table.rows(table, index)
        if not rows:
            raise self.portal.rt.fault("status result table has no readable row", step=step,
                                       code=FaultCode.TABLE_CHANGED, retryable=False,
                                       rows=len(table.locator(f"css={status.row_css}").all()))
        cells = rows[0].cells
        raw = redact(" | ".join(cells))
        text_date = cells[index["status_date"]]
        try:
            day = dt.datetime.strptime(text_date, status.date_format).date() if text_date else None
        except ValueError:
            raise BusinessError(f"{self.portal.config.payer}: {query.kind} status of "
                                f"{query.payer_claim_id}: status date {text_date!r} is not "
                                f"{status.date_format}", code=FaultCode.BAD_STATUS_ROW,
                                raw=raw) from None
        return StatusReport(
            query.kind, query.payer_claim_id, True, status=cells[index["status"]],
            status_date=day, notes=redact(cells[index["notes"]]) if "notes" in index else "",
            appeal_number=cells[index["appeal_number"]] if "appeal_number" in index else "",
            raw=raw)
