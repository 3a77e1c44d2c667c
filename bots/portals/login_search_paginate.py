"""``login-search-paginate``: sign in (password, optional TOTP), search a date range, read every
page of a results table, download each remittance's PDF from its row's link — or, when the config
has a ``documents_link`` locator, open each row's documents page first and take the PDF from its
``download_link`` there (other documents on that page are left alone).

Each document is taken under the session's circuit breaker (``PullRun.take``): a bad document or
one whose transient fault outlived its retries is recorded in ``result.failed`` and the pull goes
on; ``retry.circuit_breaker_after`` such portal failures in a row stop the payer.

The commercial-payer pattern (mock: ``fixtures/portals/northwind.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from claimwright.types import FaultCode

from ..components import DocumentDownload, ResultsTable, SearchForm
from ..models import DownloadedDocument, ListedRemittance

if TYPE_CHECKING:
    from ..components.results import ResultsPage
    from ..pull import PullRun
    from ..session import BotSession

log = logging.getLogger("claimwright.bots")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "date_from",
    "date_to", "submit_search", "results_table", "no_results", "next_page", "download_link",
)
#: Optional: ``documents_link`` (in each results row) leads to a documents page holding the
#: ``download_link``; without it ``download_link`` is looked up in the row itself.
OPTIONAL_LOCATORS = ("documents_link",)


def pull(session: BotSession, run: PullRun) -> None:
    portal, result = session.portal, run.result
    table = ResultsTable(portal)
    download = DocumentDownload(portal, run.dest_dir)
    # a row links to the document, or (``documents_link``) to its documents page
    via_page = "documents_link" in portal.config.locators
    row_link = "documents_link" if via_page else "download_link"

    SearchForm(portal).search(result.start, result.end)
    todo: list[ListedRemittance] = []
    seen_urls: set[str] = set()
    number = 1
    while True:
        result.pages_visited += 1
        seen_urls.add(portal.url)
        page, next_url = session.rt.step(f"read-page-{number}",
                                         lambda: read_page(session, table, number, row_link))
        todo += [item for item, _ in run.triage(page)[0]]
        if next_url is None or next_url in seen_urls:
            break
        if number >= portal.config.search.max_pages:
            log.warning("%s: stopped after search.max_pages=%d pages", portal.config.payer, number)
            break
        number += 1
        open_page(session, number, next_url)
    for item in todo:
        run.take(item, lambda item=item: take_document(session, download, item, via_page))


def read_page(session: BotSession, table: ResultsTable, number: int,
              row_link: str) -> tuple[ResultsPage, str | None]:
    """Results page ``number`` on screen, and the URL of the next page (None: the last)."""
    page = table.read_remittances(number, (row_link,))
    if table.find() is None:
        return page, None  # the "no results" message is on screen
    found = session.portal.present("next_page")
    return page, session.portal.absolute(found.locator.get_attribute("href") if found else None)


def open_page(session: BotSession, number: int, url: str) -> None:
    step = f"results-page-{number}"

    def action() -> None:
        session.portal.goto(step, url)
        SearchForm(session.portal).await_results(step)

    session.rt.step(step, action)


def take_document(session: BotSession, download: DocumentDownload, item: ListedRemittance,
                  via_page: bool) -> DownloadedDocument:
    """The row's PDF: straight from its link, or via its documents page."""
    url = document_url(session, item) if via_page else item.url
    return download.document(item, download.fetch(item, url), item.url)


def document_url(session: BotSession, item: ListedRemittance) -> str:
    """Step ``documents-page``: open the remittance's documents page (``item.url``); the
    address of its ``download_link``."""
    portal, step = session.portal, "documents-page"

    def action() -> str:
        portal.goto(step, item.url)
        href = portal.require(step, "download_link").locator.get_attribute("href")
        if not href:
            raise portal.rt.fault("the download link has no address", step=step,
                                  code=FaultCode.LOCATOR_NOT_FOUND, retryable=False,
                                  remittance_id=item.remittance_id)
        return portal.absolute(href)

    return session.rt.step(step, action)
