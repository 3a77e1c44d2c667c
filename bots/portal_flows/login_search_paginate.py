"""``login-search-paginate``: sign in (password, optional TOTP), search a date range, read every
page of a results table, download each remittance's PDF from its row's link — or, when the config
has a ``documents_link`` locator, open each row's documents page first and take the PDF from its
``download_link`` there (other documents on that page are left alone).

Each document is taken under the pull's circuit breaker (``Bot.take``): a bad document or a
document whose transient fault outlived its retries is recorded in ``result.failed`` and the pull
goes on; ``retry.circuit_breaker_after`` such portal failures in a row stop the payer.

The commercial-payer pattern (mock: ``fixtures/portals/northwind.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from urllib.parse import urljoin

from ..engine import Bot, DownloadedDocument, ListedRemittance, PullResult
from claimwright.types import FaultCode

log = logging.getLogger("claimwright.bots")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "date_from",
    "date_to", "submit_search", "results_table", "no_results", "next_page", "download_link",
)
#: Optional: ``documents_link`` (in each results row) leads to a documents page holding the
#: ``download_link``; without it ``download_link`` is looked up in the row itself.
OPTIONAL_LOCATORS = ("documents_link",)


def pull(bot: Bot, result: PullResult, dest_dir: Path, is_known: Callable[[str], bool]) -> None:
    bot.search(result.start, result.end)
    for item in walk_results(bot, result, result.start, result.end, is_known):
        bot.take(result, item, lambda item=item: take_document(bot, item, dest_dir))


def take_document(bot: Bot, item: ListedRemittance, dest_dir: Path) -> DownloadedDocument:
    """The row's PDF: straight from its link, or via its documents page."""
    if "documents_link" not in bot.config.locators:
        return bot.download(item, dest_dir)
    return bot.download(item, dest_dir, document_url(bot, item))


def document_url(bot: Bot, item: ListedRemittance) -> str:
    """Open the remittance's documents page (``item.url``); the href of its ``download_link``."""
    step = "documents-page"

    def action() -> str:
        bot.goto(step, item.url)
        link = bot.require(step, "download_link")
        href = link.locator.get_attribute("href")
        if not href:
            raise bot._fault("the download link has no address", step=step,
                             code=FaultCode.LOCATOR_NOT_FOUND, retryable=False,
                             remittance_id=item.remittance_id)
        return urljoin(bot.page.url, href)

    return bot.step(step, action)


def walk_results(bot: Bot, result: PullResult, start: dt.date, end: dt.date,
                  is_known: Callable[[str], bool]) -> list[ListedRemittance]:
    """Read every results page; return the listed remittances still to download."""
    todo: list[ListedRemittance] = []
    seen: set[str] = set()
    seen_urls: set[str] = set()
    number = 1
    while True:
        result.pages_visited += 1
        seen_urls.add(bot.page.url)
        rows, bad_rows, next_url = bot.read_page(number)
        result.failed.extend(bad_rows)
        for row in rows:
            if row.remittance_id in seen:
                continue
            seen.add(row.remittance_id)
            result.listed += 1
            if not start <= row.payment_date <= end:
                result.skipped_out_of_range.append(row.remittance_id)
            elif is_known(row.remittance_id):
                result.skipped_known.append(row.remittance_id)
            else:
                todo.append(row)
        result.listed += len(bad_rows)
        if next_url is None or next_url in seen_urls:
            return todo
        if number >= bot.config.search.max_pages:
            log.warning("%s: stopped after search.max_pages=%d pages", bot.config.payer, number)
            return todo
        number += 1
        bot.open_page(number, next_url)
