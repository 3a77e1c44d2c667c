"""``medicare-frames``: old Medicare-contractor portals whose pages live in a named frame.

The pattern (mock: ``fixtures/portals/keystone.py``): a plain top-level sign-in form (the
engine's generic :meth:`Bot.login`), then a shell page (``portal.search_path``) with a menu beside
a content frame (``flow_options.frame``, default ``main``). The menu entry ``remittance_menu``
opens the remittance search *inside the frame*; the search (check/EFT issue date range) is a form
``POST``; results are a plain table, one row per check/EFT, each with a ``pdf_link`` and an
``x12_link``; further pages come from a ``next_page`` button that is itself a form ``POST``.

Per new remittance the bot downloads BOTH files and appends one
``DownloadedDocument(kind="x12-835", path=<835>, renditions={"pdf": <pdf>})``: the pipeline
parses the 835 (the record) and keeps the PDF for appeal packets. A remittance is taken whole or
not at all: when either file is refused (a ``BusinessError``) it lands in ``result.failed`` and
nothing of it is kept, so the next run tries both again.

The remittance id is the table's ``results.columns.remittance_id`` column (Keystone's
"Remit ID"), the same id the portal's data (the manifest) uses; the Check/EFT number is the
``trace_number`` column. Check numbers alone are not unique across payment types and years.

Frames: every navigation after sign-in happens inside the content frame, so this module waits for
the frame's own document responses (:func:`frame_submit`); the engine's ``_check`` then maps the
status (5xx transient, 4xx permanent) and notices a frame that landed on ``portal.login_path``
(session expired) as ``session-lost``: the engine signs in again and redoes only the current
step. Pages are reached by form posts, which cannot be reopened by URL, so a step that finds its
page gone (after a re-login or a failed attempt) replays the search and the "Next" posts up to
the page before it. Documents are fetched by URL with the session's cookies, so a download step
resumes on its own and nothing already saved is fetched again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from pydantic import BaseModel, ConfigDict, Field

from claimwright.errors import SystemFault

from ..engine import (Bot, DownloadedDocument, FailedDocument, ListedRemittance, PullResult,
                      _parse_amount)
from ..locators import Resolved
from claimwright.types import FaultCode

log = logging.getLogger("claimwright.bots")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "remittance_menu",
    "date_from", "date_to", "submit_search", "results_table", "no_results", "next_page",
    "pdf_link", "x12_link",
)


class Options(BaseModel):
    """``flow_options`` of a ``medicare-frames`` payer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``name`` attribute of the frame (``<frame>`` or ``<iframe>``) that holds the content
    frame: str = Field(default="main", pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def options(bot: Bot) -> Options:
    return Options.model_validate(bot.config.flow_options)


# frame primitives ------------------------------------------------------------------------------
def content_frame(bot: Bot, step: str) -> Any:
    """The content frame of the shell on screen (a Playwright ``Frame``); a permanent fault when
    the page has no frame of that name (the portal changed)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    name = options(bot).frame
    selector = f'css=iframe[name="{name}"], frame[name="{name}"]'
    try:
        bot.page.locator(selector).first.wait_for(state="attached",
                                                  timeout=bot.config.timeouts.action_ms)
    except PlaywrightTimeout:
        raise bot._fault(f"the page has no frame named {name!r}", step=step,
                         code=FaultCode.LOCATOR_NOT_FOUND, retryable=False,
                         locators={"frame": [f"name={name!r}"]}) from None
    # the page's load event waits for its frames: the frame's first document is in
    bot.page.wait_for_load_state("load", timeout=bot.config.timeouts.navigation_ms)
    frame = bot.page.frame(name=name)
    if frame is None:
        raise bot._fault(f"frame {name!r} is not loaded", step=step, code=FaultCode.TIMEOUT,
                         retryable=True)
    return frame


def frame_submit(bot: Bot, step: str, frame: Any, target: Resolved) -> None:
    """Click ``target`` (a link with ``target=<frame>`` or a form button inside the frame) and
    wait for the document it loads into ``frame``; check its status and whether the frame was
    sent to the sign-in page (``session-lost``)."""
    timeout = bot.config.timeouts.navigation_ms

    def loads_frame(response: Any) -> bool:
        return (response.request.is_navigation_request() and response.frame == frame
                and not 300 <= response.status < 400)

    bot.polite()
    with bot.page.expect_response(loads_frame, timeout=timeout) as info:
        target.locator.click()
    frame.wait_for_load_state("domcontentloaded", timeout=timeout)
    bot.use_frame(frame)
    bot._check(step, info.value)


# steps --------------------------------------------------------------------------------------
class _Walker:
    """Where the content frame is: which results page it shows, under which sign-in."""

    def __init__(self, bot: Bot, start: dt.date, end: dt.date) -> None:
        self.bot = bot
        self.start = start
        self.end = end
        self.page_shown: int | None = None  # results page the frame shows now
        self.relogins = bot.relogins        # the sign-in it was shown under

    def _current(self, number: int) -> bool:
        return self.page_shown == number and self.relogins == self.bot.relogins

    def _search(self, step: str) -> str:
        """Open the shell, the search in the frame, submit the date range; the outcome."""
        bot = self.bot
        self.page_shown = None
        fmt = bot.config.search.date_format
        bot.use_frame(None)
        bot.goto(step, bot.base_url + bot.config.portal.search_path)
        frame = content_frame(bot, step)
        frame_submit(bot, step, frame, bot.require(step, "remittance_menu"))  # menu: on the page
        bot.require(step, "date_from").locator.fill(self.start.strftime(fmt))  # now in the frame
        bot.require(step, "date_to").locator.fill(self.end.strftime(fmt))
        frame_submit(bot, step, frame, bot.require(step, "submit_search"))
        outcome = bot._await_results(step)
        self.relogins = bot.relogins
        self.page_shown = 1
        return outcome

    def _next(self, step: str, number: int) -> None:
        """From results page ``number - 1`` on screen, post "Next" to page ``number``."""
        bot = self.bot
        self.page_shown = None
        frame = bot.root
        button = bot.present("next_page")
        if button is None:
            raise bot._fault(f"no next_page button on results page {number - 1}", step=step,
                             code=FaultCode.TABLE_CHANGED, retryable=False)
        frame_submit(bot, step, frame, button)
        bot._await_results(step)
        self.page_shown = number

    def search(self) -> str:
        return self.bot.step("search", lambda: self._search("search"))

    def open_page(self, number: int) -> None:
        """Show results page ``number`` (its "Next" post; the search replayed when lost)."""
        step = f"results-page-{number}"

        def action() -> None:
            if not self._current(number - 1):
                log.info("%s: results page %d is gone (re-login or failed attempt); replaying "
                         "the search to page %d", self.bot.config.payer, number - 1, number - 1)
                self._search(step)
                for page in range(2, number):
                    self._next(step, page)
            self._next(step, number)

        self.bot.step(step, action)


def _read_page(bot: Bot, number: int) -> tuple[list[tuple[ListedRemittance, str]],
                                               list[FailedDocument], bool]:
    """Rows (each with its 835 URL), unreadable rows, and whether a next page exists."""
    step = f"read-page-{number}"
    frame = bot.root
    table = bot.present("results_table")
    if table is None:
        return [], [], False  # the "no results" message is on screen
    res = bot.config.results
    index = bot.column_index(table, step)
    base = frame.url if hasattr(frame, "url") else bot.page.url
    listed: list[tuple[ListedRemittance, str]] = []
    failed: list[FailedDocument] = []
    for row in table.locator.locator(f"css={res.row_css}").all():
        cells = [" ".join(c.split()) for c in row.locator(f"css={res.cell_css}").all_inner_texts()]
        if len(cells) <= max(index.values()):
            continue  # a spacer or summary row
        rid = cells[index["remittance_id"]]
        hrefs = {}
        for name in ("pdf_link", "x12_link"):
            link = bot.present(name, scope=row)
            href = link.locator.get_attribute("href") if link else None
            hrefs[name] = urljoin(base, href) if href else None
        try:
            if not rid:
                raise ValueError("empty remittance id")
            missing = [n for n, url in hrefs.items() if url is None]
            if missing:
                raise ValueError(f"no {' or '.join(missing)}")
            item = ListedRemittance(
                remittance_id=rid,
                payment_date=dt.datetime.strptime(cells[index["payment_date"]],
                                                  res.date_format).date(),
                trace_number=cells[index["trace_number"]],
                amount=_parse_amount(cells[index["amount"]]),
                url=hrefs["pdf_link"], page=number)
            listed.append((item, hrefs["x12_link"]))
        except (ValueError, InvalidOperation) as exc:
            failed.append(FailedDocument(bot.config.payer, rid or f"(row on page {number})",
                                         f"listing row cannot be read: {exc}", FaultCode.BAD_LISTING,
                                         hrefs["pdf_link"], {"page": number, "cells": cells}))
    if failed and not listed:
        raise bot._fault(f"no row of results page {number} could be read: {failed[0].reason}",
                         step=step, code=FaultCode.TABLE_CHANGED, retryable=False, rows=len(failed),
                         locators={n: [s.describe() for s in bot.config.locators[n]]
                                   for n in ("pdf_link", "x12_link")})
    return listed, failed, bot.present("next_page") is not None


def walk_results(bot: Bot, result: PullResult,
                 is_known: Callable[[str], bool]) -> list[tuple[ListedRemittance, str]]:
    """Search, read every page; the listed remittances still to download (with 835 URLs)."""
    walker = _Walker(bot, result.start, result.end)
    walker.search()
    todo: list[tuple[ListedRemittance, str]] = []
    seen: set[str] = set()
    number = 1
    while True:
        result.pages_visited += 1
        rows, bad_rows, more = bot.step(f"read-page-{number}", lambda: _read_page(bot, number))
        result.failed.extend(bad_rows)
        result.listed += len(bad_rows)
        fresh = 0
        for item, x12_url in rows:
            if item.remittance_id in seen:
                continue
            seen.add(item.remittance_id)
            fresh += 1
            result.listed += 1
            if not result.start <= item.payment_date <= result.end:
                result.skipped_out_of_range.append(item.remittance_id)
            elif is_known(item.remittance_id):
                result.skipped_known.append(item.remittance_id)
            else:
                todo.append((item, x12_url))
        if not more or (rows and not fresh):  # last page, or a portal repeating a page
            return todo
        if number >= bot.config.search.max_pages:
            log.warning("%s: stopped after search.max_pages=%d pages", bot.config.payer, number)
            return todo
        number += 1
        walker.open_page(number)


def download(bot: Bot, item: ListedRemittance, x12_url: str, dest_dir: Path) -> DownloadedDocument:
    """Fetch the 835 and the PDF of one remittance (each its own retried step); both or neither."""
    x12_path, sha, size = bot.fetch_document(item, dest_dir, x12_url, "x12-835")
    try:
        pdf_path, _, _ = bot.fetch_document(item, dest_dir, item.url, "pdf")
    except BaseException:
        x12_path.unlink(missing_ok=True)  # taken whole or not at all
        raise
    return DownloadedDocument(
        payer=bot.config.payer, remittance_id=item.remittance_id, path=x12_path, sha256=sha,
        size=size, payment_date=item.payment_date, trace_number=item.trace_number,
        amount=item.amount, url=x12_url, kind="x12-835", renditions={"pdf": pdf_path})


def pull(bot: Bot, result: PullResult, dest_dir: Path, is_known: Callable[[str], bool]) -> None:
    try:
        todo = walk_results(bot, result, is_known)
    except SystemFault as fault:
        # the page URL is the shell's; where it happened is the content frame's document
        frame_url = getattr(bot.root, "url", None) if bot.root is not bot.page else None
        if frame_url:
            fault.context.setdefault("frame_url", bot.redact(frame_url))
        raise
    for item, x12_url in todo:
        # bad files -> result.failed; transient faults past their retries -> failed, under the
        # pull's circuit breaker; permanent faults stop the payer
        bot.take(result, item, lambda item=item, x12_url=x12_url:
                 download(bot, item, x12_url, dest_dir))
