"""``login-search-paginate``: sign in (password, optional TOTP), search a date range, read every
page of a results table, download each remittance's PDF from its row's link.

The commercial-payer pattern (mock: ``fixtures/portals/northwind.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from claimwright.errors import BusinessError

from ..engine import Bot, FailedDocument, ListedRemittance, PullResult

log = logging.getLogger("claimwright.bots")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "date_from",
    "date_to", "submit_search", "results_table", "no_results", "next_page", "download_link",
)


def pull(bot: Bot, result: PullResult, dest_dir: Path, is_known: Callable[[str], bool]) -> None:
    bot.search(result.start, result.end)
    for item in walk_results(bot, result, result.start, result.end, is_known):
        try:
            result.downloaded.append(bot.download(item, dest_dir))
        except BusinessError as exc:
            log.warning("%s: remittance %s not taken: %s", bot.config.payer, item.remittance_id,
                        exc.message)
            result.failed.append(FailedDocument(bot.config.payer, item.remittance_id, exc.message,
                                                exc.code, item.url, dict(exc.context)))


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
