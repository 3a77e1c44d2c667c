"""``clearinghouse``: a multi-payer clearinghouse app (mock: ``fixtures/portals/clearpath.py``).

After the shared sign-in, for each payer named in ``flow_options.payers``:

1. open ``search_path``, pick the payer in ``payer_select`` (a ``<select>``; a payer the portal
   does not offer stops the pull: ``payer-not-offered``), fill ``date_from``/``date_to``, press
   ``submit_search``;
2. the results load by script: wait for the JSON response of ``flow_options.results_api``
   (401/403 -> ``session-lost``; 5xx -> transient; another 4xx -> ``search-rejected``), then for
   the ``loading`` spinner to go and ``results_table`` / ``no_results`` / ``search_error``;
3. read the rows of the page (columns as configured in ``results``), press each new row's
   ``download_button`` and capture the file: the browser download event (``attachment``), or,
   when the portal answers ``inline`` (the page would show the PDF viewer, whose page body is
   not the PDF), the same request replayed with the context's request client (same cookies),
   and from then on each Download navigation intercepted (``route.fetch``, the browser told
   "204 No Content") so the results stay on screen; files are checked and saved under a name
   the bot chooses (``Bot.save_document``), under the pull's circuit breaker (``Bot.take``);
4. press ``next_page`` (a button; absent or disabled on the last page) and repeat.

The app keeps no state in its URLs: when the page is gone (a re-login after session loss, an
inline document on screen, a failed step) the flow searches again and pages forward to where it
was. Every action runs inside ``bot.step``: transient faults are retried there, once-layered;
documents already saved are never fetched again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from decimal import InvalidOperation
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StringConstraints, field_validator

from claimwright.errors import BusinessError

from ..engine import (_MAINTENANCE_TEXT, Bot, DownloadedDocument, FailedDocument,
                      ListedRemittance, PullResult, _norm, _parse_amount)
from ..locators import combined
from claimwright.types import FaultCode

log = logging.getLogger("claimwright.bots")
T = TypeVar("T")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "payer_select",
    "date_from", "date_to", "submit_search", "loading", "results_table", "no_results",
    "next_page", "download_button",
)
#: Documents arrive as browser downloads: the engine opens the context with downloads accepted.
ACCEPT_DOWNLOADS = True

PayerName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Options(BaseModel):
    """``flow_options`` of a ``clearinghouse`` payer config."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: payers to pick in the portal's payer list, in this order (their option text)
    payers: Annotated[list[PayerName], Field(min_length=1)]
    #: path of the JSON endpoint the results page loads its rows from
    results_api: str
    #: how long a search or a page of results may take to load
    results_timeout_ms: PositiveInt = 30_000

    @field_validator("payers")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        repeated = sorted({p for p in value if value.count(p) > 1})
        if repeated:
            raise ValueError(f"payer(s) listed twice: {', '.join(repeated)}")
        return value

    @field_validator("results_api")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must be a path starting with '/'")
        return value


def pull(bot: Bot, result: PullResult, dest_dir: Path, is_known: Callable[[str], bool]) -> None:
    walk = _Walk(bot, Options.model_validate(bot.config.flow_options), result, dest_dir, is_known)
    for payer in walk.options.payers:
        walk.pull_payer(payer)


class _Walk:
    """One pull through the clearinghouse app; remembers which results page is on screen."""

    def __init__(self, bot: Bot, options: Options, result: PullResult, dest_dir: Path,
                 is_known: Callable[[str], bool]) -> None:
        self.bot = bot
        self.options = options
        self.result = result
        self.dest_dir = dest_dir
        self.is_known = is_known
        self.seen: set[str] = set()
        self.shown: tuple[str, int] | None = None  # (payer, page number) on screen
        self._relogins = bot.relogins
        #: the portal served a document inline: take the rest without leaving the page
        self.intercept = False

    # the walk ---------------------------------------------------------------------------------
    def pull_payer(self, payer: str) -> None:
        bot, result = self.bot, self.result
        log.info("%s: searching remittances relayed from %s", bot.config.payer, payer)
        self._step("search", lambda: self.show("search", payer, 1))
        number = 1
        while True:
            result.pages_visited += 1
            rows, bad_rows, has_next = self._step(f"read-page-{number}",
                                                  lambda: self._read(payer, number))
            result.failed.extend(bad_rows)
            result.listed += len(bad_rows)
            for row in rows:
                if row.remittance_id in self.seen:
                    continue
                self.seen.add(row.remittance_id)
                result.listed += 1
                if not result.start <= row.payment_date <= result.end:
                    result.skipped_out_of_range.append(row.remittance_id)
                elif self.is_known(row.remittance_id):
                    result.skipped_known.append(row.remittance_id)
                else:
                    self._download(payer, row)
            if not has_next:
                return
            if number >= bot.config.search.max_pages:
                log.warning("%s: stopped after search.max_pages=%d pages of %s",
                            bot.config.payer, number, payer)
                return
            number += 1
            self._step(f"results-page-{number}",
                       lambda: self.show(f"results-page-{number}", payer, number))

    def _step(self, name: str, action: Callable[[], T]) -> T:
        """``bot.step`` whose failed attempts forget the page on screen (it may be gone)."""
        def guarded() -> T:
            try:
                return action()
            except BaseException:
                self.shown = None
                raise

        return self.bot.step(name, guarded)

    # results pages ----------------------------------------------------------------------------
    def _on_screen(self) -> tuple[str, int] | None:
        if self.bot.relogins != self._relogins:  # signed in again: a fresh page
            self._relogins = self.bot.relogins
            self.shown = None
        path = urlsplit(self.bot.page.url).path.rstrip("/")
        if path != self.bot.config.portal.search_path.rstrip("/"):
            self.shown = None
        return self.shown

    def show(self, step: str, payer: str, number: int) -> None:
        """Make results page ``number`` of ``payer``'s search be on screen."""
        shown = self._on_screen()
        if shown == (payer, number):
            return
        if shown != (payer, number - 1):
            self._search(step, payer)
        while self.shown is not None and self.shown[1] < number:
            button = self._next_button()
            if button is None:
                raise self.bot._fault(f"results page {number} of {payer} is no longer listed",
                                      step=step, code=FaultCode.TABLE_CHANGED, retryable=False,
                                      relayed_payer=payer)
            target = self.shown[1] + 1
            self._load(step, button.locator.click, payer, target)

    def _search(self, step: str, payer: str) -> None:
        bot = self.bot
        self.shown = None
        bot.goto(step, bot.base_url + bot.config.portal.search_path)
        self._relogins = bot.relogins
        select = bot.require(step, "payer_select").locator
        offered = [" ".join(t.split()) for t in select.locator("option").all_inner_texts()]
        if payer not in offered:
            raise bot._fault(f"the portal offers no payer {payer!r} to pick (check "
                             "flow_options.payers)", step=step, code=FaultCode.PAYER_NOT_OFFERED,
                             retryable=False, relayed_payer=payer, offered=offered)
        select.select_option(label=payer)
        fmt = bot.config.search.date_format
        bot.require(step, "date_from").locator.fill(self.result.start.strftime(fmt))
        bot.require(step, "date_to").locator.fill(self.result.end.strftime(fmt))
        self._load(step, bot.require(step, "submit_search").locator.click, payer, 1)

    def _is_results_response(self, response: Any) -> bool:
        return (response.request.resource_type in ("fetch", "xhr")
                and urlsplit(response.url).path == self.options.results_api)

    def _load(self, step: str, click: Callable[[], None], payer: str, number: int) -> None:
        """Click, wait for the JSON results and for the page to render them."""
        bot = self.bot
        timeout = self.options.results_timeout_ms
        bot.polite()
        with bot.page.expect_response(self._is_results_response, timeout=timeout) as info:
            click()
        response = info.value
        status = response.status
        if status >= 500 and _MAINTENANCE_TEXT.search(_body_head(response)):
            raise bot._fault(f"portal is down for maintenance (results answered HTTP {status})",
                             step=step, code=FaultCode.PORTAL_MAINTENANCE, retryable=True, status=status,
                             retry_after=response.headers.get("retry-after"))
        if status in (401, 403):
            raise bot._fault(f"results answered HTTP {status} (session lost)", step=step,
                             code=FaultCode.SESSION_LOST, retryable=False, status=status)
        if status >= 500:
            raise bot._fault(f"results answered HTTP {status}", step=step, code=FaultCode.HTTP_5XX,
                             retryable=True, status=status, relayed_payer=payer)
        if status >= 400:
            raise bot._fault(f"portal rejected the search (HTTP {status})", step=step,
                             code=FaultCode.SEARCH_REJECTED, retryable=False, status=status,
                             relayed_payer=payer, portal_message=_error_text(response))
        combined(bot.root, bot.config.locators["loading"]).first.wait_for(
            state="hidden", timeout=timeout)
        bot._await_results(step)
        self.shown = (payer, number)

    def _next_button(self) -> Any:
        found = self.bot.present("next_page")
        if found is None or not found.locator.is_enabled():
            return None
        return found

    def _read(self, payer: str, number: int) -> tuple[list[ListedRemittance],
                                                      list[FailedDocument], bool]:
        bot = self.bot
        step = f"read-page-{number}"
        self.show(step, payer, number)
        table = bot.present("results_table")
        if table is None:
            return [], [], False  # "no results" is on screen
        res = bot.config.results
        index = bot.column_index(table, step)
        listed: list[ListedRemittance] = []
        failed: list[FailedDocument] = []
        for row in table.locator.locator(f"css={res.row_css}").all():
            cells = [" ".join(c.split()) for c in
                     row.locator(f"css={res.cell_css}").all_inner_texts()]
            if len(cells) <= max(index.values()):
                continue  # a spacer or summary row
            rid = cells[index["remittance_id"]]
            try:
                if not rid:
                    raise ValueError("empty remittance id")
                if bot.present("download_button", scope=row) is None:
                    raise ValueError("no download button")
                listed.append(ListedRemittance(
                    remittance_id=rid,
                    payment_date=dt.datetime.strptime(cells[index["payment_date"]],
                                                      res.date_format).date(),
                    trace_number=cells[index["trace_number"]],
                    amount=_parse_amount(cells[index["amount"]]),
                    url=bot.page.url, page=number))
            except (ValueError, InvalidOperation) as exc:
                failed.append(FailedDocument(bot.config.payer, rid or f"(row on page {number})",
                                             f"listing row cannot be read: {exc}", FaultCode.BAD_LISTING,
                                             bot.page.url, {"page": number, "cells": cells,
                                                            "relayed_payer": payer}))
        if failed and not listed:
            raise bot._fault(f"no row of results page {number} could be read: "
                             f"{failed[0].reason}", step=step, code=FaultCode.TABLE_CHANGED,
                             retryable=False, rows=len(failed), relayed_payer=payer,
                             locators={"download_button": [s.describe() for s in
                                                           bot.config.locators["download_button"]]})
        return listed, failed, self._next_button() is not None

    # documents --------------------------------------------------------------------------------
    def _download(self, payer: str, item: ListedRemittance) -> None:
        """Take one document under the pull's circuit breaker (``Bot.take``): a bad document or
        one whose transient fault outlived its retries lands in ``result.failed``."""
        bot = self.bot

        def action() -> DownloadedDocument:
            self.show("download", payer, item.page)
            button = self._row_button(item.remittance_id)
            data, url = self._capture(button, item)
            path, sha, size = bot.save_document(item, self.dest_dir, data, url)
            return DownloadedDocument(
                payer=bot.config.payer, remittance_id=item.remittance_id, path=path, sha256=sha,
                size=size, payment_date=item.payment_date, trace_number=item.trace_number,
                amount=item.amount, url=url)

        # Not self._step: a failed download leaves the results on screen unless the page left the
        # app (an error page, the sign-in page, a document shown inline), which _on_screen sees.
        bot.take(self.result, item, lambda: bot.step("download", action))

    def _row_button(self, remittance_id: str) -> Any:
        bot = self.bot
        res = bot.config.results
        table = bot.present("results_table")
        rows = table.locator.locator(f"css={res.row_css}").all() if table else []
        headers = ([_norm(h) for h in
                    table.locator.locator(f"css={res.header_css}").all_inner_texts()]
                   if table else [])
        column = headers.index(_norm(res.columns["remittance_id"])) \
            if _norm(res.columns["remittance_id"]) in headers else 0
        for row in rows:
            cells = [" ".join(c.split()) for c in
                     row.locator(f"css={res.cell_css}").all_inner_texts()]
            if len(cells) > column and cells[column] == remittance_id:
                button = bot.present("download_button", scope=row)
                if button is not None:
                    return button
        raise BusinessError(f"{bot.config.payer}: remittance {remittance_id}: no longer listed "
                            "with a download button", code=FaultCode.DOCUMENT_UNAVAILABLE,
                            url=bot.page.url)

    def _is_document_response(self, response: Any) -> bool:
        page = self.bot.page
        return (response.request.is_navigation_request() and response.frame == page.main_frame
                and not 300 <= response.status < 400)

    def _capture(self, button: Any, item: ListedRemittance) -> tuple[bytes, str]:
        """Press the row's download button; the document's bytes and URL.

        ``attachment``: the browser download (its file, never its suggested name).
        ``inline``: the page now shows the browser's PDF viewer, whose response body is the
        viewer's page, not the PDF: the same request is replayed with the context's cookies,
        and the rest of the pull's documents are intercepted (:meth:`_intercepted`) so that the
        results stay on screen (no search again per document).
        """
        if self.intercept:
            return self._intercepted(button, item)
        bot = self.bot
        page = bot.page
        timeout = bot.config.timeouts.download_ms
        downloads: list[Any] = []

        def listener(download: Any) -> None:
            downloads.append(download)

        page.on("download", listener)
        try:
            bot.polite()
            with page.expect_response(self._is_document_response, timeout=timeout) as info:
                button.locator.click()
            response = info.value
            self._check_document(response.status, response.url, item)
            disposition = (response.headers.get("content-disposition") or "").lower()
            if downloads or disposition.startswith("attachment"):
                download = downloads[0] if downloads else page.wait_for_event("download",
                                                                              timeout=timeout)
                return self._saved_download(download, item), response.url
            self.shown = None  # the page left the app for the document
            self.intercept = True
            log.info("%s: remittance %s served inline; fetching the file itself (and taking "
                     "the next documents without leaving the results page)", bot.config.payer,
                     item.remittance_id)
            return self._replay(response, item), response.url
        finally:
            page.remove_listener("download", listener)

    def _intercepted(self, button: Any, item: ListedRemittance) -> tuple[bytes, str]:
        """Press the button with the page's document navigation intercepted: the request is
        sent by Playwright (``route.fetch``: same method, form fields and cookies), its answer
        kept, and the browser told "204 No Content", so it stays on the results page."""
        from playwright.sync_api import Error as PlaywrightError

        bot = self.bot
        page = bot.page
        timeout = bot.config.timeouts.download_ms
        got: dict[str, Any] = {}

        def handler(route: Any, request: Any) -> None:
            if got or not (request.is_navigation_request() and request.frame == page.main_frame):
                route.fallback()
                return
            got["url"] = request.url
            try:
                answer = route.fetch(max_redirects=0, timeout=timeout)
                got.update(status=answer.status, url=answer.url, headers=answer.headers)
                got["body"] = answer.body()
            except PlaywrightError as exc:
                got["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            finally:
                try:
                    route.fulfill(status=204)
                except PlaywrightError:
                    pass
                got["done"] = True

        page.route("**/*", handler)
        try:
            bot.polite()
            button.locator.click()
            deadline = time.monotonic() + timeout / 1000
            while "done" not in got:  # the handler runs while Playwright waits
                if time.monotonic() > deadline:
                    raise bot._fault(f"no document came for remittance {item.remittance_id}",
                                     step="download", code=FaultCode.TIMEOUT, retryable=True,
                                     remittance_id=item.remittance_id)
                page.wait_for_timeout(50)
        finally:
            page.unroute("**/*", handler)
        url = got.get("url") or page.url
        if "error" in got:
            raise bot._fault(f"document of remittance {item.remittance_id} did not arrive whole",
                             step="download", code=FaultCode.DOWNLOAD_INTERRUPTED, retryable=True,
                             remittance_id=item.remittance_id, detail=got["error"])
        data: bytes = got["body"]
        status = got["status"]
        self._check_document(401 if 300 <= status < 400 else status, url, item, page_shown=False,
                             body=data)
        announced = got["headers"].get("content-length", "")
        if announced.isdigit() and int(announced) != len(data):
            raise bot._fault(f"document of remittance {item.remittance_id} was cut off "
                             f"({len(data)} of {announced} bytes)", step="download",
                             code=FaultCode.DOWNLOAD_TRUNCATED, retryable=True,
                             remittance_id=item.remittance_id)
        return data, url

    def _check_document(self, status: int, url: str, item: ListedRemittance, *,
                        page_shown: bool = True, body: bytes | None = None) -> None:
        bot = self.bot
        login = bot.config.portal.login_path.rstrip("/")
        if status in (401, 403) or urlsplit(url).path.rstrip("/") == login:
            raise bot._fault(f"download answered HTTP {status} (session lost)", step="download",
                             code=FaultCode.SESSION_LOST, retryable=False, status=status,
                             remittance_id=item.remittance_id)
        if status >= 500:
            if page_shown:
                maintenance = bot._maintenance_shown(status)
            else:
                text = (body or b"")[:5000].decode("utf-8", "replace")
                maintenance = bool(_MAINTENANCE_TEXT.search(text))
            raise bot._fault(f"download answered HTTP {status}"
                             + (" (down for maintenance)" if maintenance else ""),
                             step="download", retryable=True, status=status,
                             code=FaultCode.PORTAL_MAINTENANCE if maintenance else "http-5xx",
                             remittance_id=item.remittance_id)
        if status == 404:
            raise BusinessError(f"{bot.config.payer}: remittance {item.remittance_id}: "
                                f"download answered HTTP {status}", code=FaultCode.DOCUMENT_UNAVAILABLE,
                                status=status, url=url)
        if status >= 400:
            raise bot._fault(f"download answered HTTP {status}", step="download",
                             code=FaultCode.HTTP_4XX, retryable=False, status=status,
                             remittance_id=item.remittance_id)

    def _saved_download(self, download: Any, item: ListedRemittance) -> bytes:
        failure = download.failure()  # waits for the download to end
        if failure:
            raise self.bot._fault(f"download of remittance {item.remittance_id} did not finish "
                                  f"({failure})", step="download", code=FaultCode.DOWNLOAD_INTERRUPTED,
                                  retryable=True, remittance_id=item.remittance_id)
        try:
            return Path(download.path()).read_bytes()
        finally:
            download.delete()

    def _replay(self, response: Any, item: ListedRemittance) -> bytes:
        from playwright.sync_api import Error as PlaywrightError

        bot = self.bot
        request = response.request
        headers = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        bot.polite()
        try:
            answer = bot.context.request.fetch(
                response.url, method=request.method, headers=headers,
                data=request.post_data_buffer, max_redirects=0, fail_on_status_code=False,
                timeout=bot.config.timeouts.download_ms)
        except PlaywrightError as exc:
            raise bot._fault(f"inline document of remittance {item.remittance_id} could not be "
                             "fetched", step="download", code=FaultCode.DOWNLOAD_INTERRUPTED,
                             retryable=True,
                             remittance_id=item.remittance_id,
                             detail=str(exc).splitlines()[0] if str(exc) else "") from None
        try:
            status = answer.status
            if 300 <= status < 400:
                status = 401  # sent to the sign-in page
            try:
                data = answer.body()
            except PlaywrightError as exc:
                self._check_document(status, answer.url, item, page_shown=False)
                raise bot._fault(f"inline document of remittance {item.remittance_id} was cut "
                                 "off", step="download", code=FaultCode.DOWNLOAD_INTERRUPTED,
                                 retryable=True,
                                 remittance_id=item.remittance_id,
                                 detail=str(exc).splitlines()[0] if str(exc) else "") from None
            self._check_document(status, answer.url, item, page_shown=False, body=data)
            announced = answer.headers.get("content-length")
            if announced and announced.isdigit() and int(announced) != len(data):
                raise bot._fault(f"inline document of remittance {item.remittance_id} was cut "
                                 f"off ({len(data)} of {announced} bytes)", step="download",
                                 code=FaultCode.DOWNLOAD_TRUNCATED, retryable=True,
                                 remittance_id=item.remittance_id)
            return data
        finally:
            answer.dispose()


def _body_head(response: Any) -> str:
    try:
        return response.body()[:5000].decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - no body to read
        return ""


def _error_text(response: Any) -> str:
    try:
        data = response.json()
    except Exception:  # noqa: BLE001 - not JSON: no message to quote
        return ""
    if isinstance(data, dict):
        for key in ("error", "message", "detail"):
            if isinstance(data.get(key), str):
                return " ".join(data[key].split())[:200]
    return ""
