"""``SearchForm``: a date-range search (``date_from``/``date_to``, ``submit_search``), optionally
with an option picked from a list (``payer_select`` of a clearinghouse), and its outcome: the
results table, the "no results" message, or the portal's rejection (``search-rejected``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from claimwright.types import FaultCode

from .page import squeeze

if TYPE_CHECKING:
    from .page import PortalPage


class SearchForm:
    def __init__(self, portal: PortalPage) -> None:
        self.portal = portal

    def search(self, start: dt.date, end: dt.date) -> str:
        """Step ``search``: open ``portal.search_path``, fill the dates, submit, await the
        outcome (``results_table`` or ``no_results``)."""
        portal = self.portal

        def action() -> str:
            portal.goto("search", portal.config.portal.search_path)
            self.fill_dates("search", start, end)
            portal.submit("search", portal.require("search", "submit_search"))
            return self.await_results("search")

        return portal.rt.step("search", action)

    def fill_dates(self, step: str, start: dt.date, end: dt.date) -> None:
        fmt = self.portal.config.search.date_format
        self.portal.require(step, "date_from").locator.fill(start.strftime(fmt))
        self.portal.require(step, "date_to").locator.fill(end.strftime(fmt))

    def pick(self, step: str, name: str, option: str, **context: Any) -> None:
        """Choose ``option`` (its text) in the ``<select>`` of locator ``name``; a permanent
        ``payer-not-offered`` fault when the list does not offer it."""
        portal = self.portal
        select = portal.require(step, name).locator
        offered = [squeeze(t) for t in select.locator("option").all_inner_texts()]
        if option not in offered:
            raise portal.rt.fault(f"the portal offers no payer {option!r} to pick (check "
                                  "flow_options.payers)", step=step,
                                  code=FaultCode.PAYER_NOT_OFFERED, retryable=False,
                                  offered=offered, **context)
        select.select_option(label=option)

    def await_results(self, step: str) -> str:
        """``results_table`` or ``no_results``, whichever shows; ``search_error``: a fault."""
        portal = self.portal
        outcome, found = portal.await_any(step, ["search_error", "results_table", "no_results"])
        if outcome == "search_error":
            raise portal.rt.fault("portal rejected the search", step=step,
                                  code=FaultCode.SEARCH_REJECTED, retryable=False,
                                  portal_message=portal.message(found))
        return outcome
