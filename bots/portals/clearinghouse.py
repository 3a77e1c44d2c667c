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
   the bot chooses (``DocumentDownload.save``), under the circuit breaker (``PullRun.take``);
4. press ``next_page`` (a button; absent or disabled on the last page) and repeat.

The app keeps no state in its URLs: when the page is gone (a re-login after session loss, an
inline document on screen, a failed step) the flow searches again and pages forward to where it
was. Every action runs inside ``rt.step``: transient faults are retried there, once-layered;
documents already saved are never fetched again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, StringConstraints, field_validator

from claimwright.errors import BusinessError
from claimwright.types import FaultCode

from ..components import DocumentDownload, DownloadButton, ResultsTable, SearchForm
from ..components.download import body_head
from ..components.page import MAINTENANCE_TEXT
from ..models import DownloadedDocument, ListedRemittance

if TYPE_CHECKING:
    from ..components import ResultsPage
    from ..locators import Resolved
    from ..pull import PullRun
    from ..session import BotSession

log = logging.getLogger("claimwright.bots")
T = TypeVar("T")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "payer_select",
    "date_from", "date_to", "submit_search", "loading", "results_table", "no_results",
    "next_page", "download_button",
)
#: Documents arrive as browser downloads: the session's context accepts downloads.
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


def pull(session: BotSession, run: PullRun) -> None:
    walk = _Walk(session, run, Options.model_validate(session.config.flow_options))
    for payer in walk.options.payers:
        walk.pull_payer(payer)


class _Walk:
    """One pull through the clearinghouse app; remembers which results page is on screen."""

    def __init__(self, session: BotSession, run: PullRun, options: Options) -> None:
        self.portal = session.portal
        self.rt = session.rt
        self.run = run
        self.options = options
        self.search_form = SearchForm(self.portal)
        self.table = ResultsTable(self.portal)
        self.files = DocumentDownload(self.portal, run.dest_dir)
        self.button = DownloadButton(self.files)
        self.shown: tuple[str, int] | None = None  # (payer, page number) on screen
        self._relogins = self.rt.relogins

    # the walk ---------------------------------------------------------------------------------
    def pull_payer(self, payer: str) -> None:
        result = self.run.result
        log.info("%s: searching remittances relayed from %s", self.rt.payer, payer)
        self._step("search", lambda: self.show("search", payer, 1))
        number = 1
        while True:
            result.pages_visited += 1
            page, has_next = self._step(f"read-page-{number}", lambda: self._read(payer, number))
            for item, _ in self.run.triage(page)[0]:
                self._download(payer, item)
            if not has_next:
                return
            if number >= self.portal.config.search.max_pages:
                log.warning("%s: stopped after search.max_pages=%d pages of %s",
                            self.rt.payer, number, payer)
                return
            number += 1
            self._step(f"results-page-{number}",
                       lambda: self.show(f"results-page-{number}", payer, number))

    def _step(self, name: str, action: Callable[[], T]) -> T:
        """``rt.step`` whose failed attempts forget the page on screen (it may be gone)."""
        def guarded() -> T:
            try:
                return action()
            except BaseException:
                self.shown = None
                raise

        return self.rt.step(name, guarded)

    # results pages ----------------------------------------------------------------------------
    def _on_screen(self) -> tuple[str, int] | None:
        if self.rt.relogins != self._relogins:  # signed in again: a fresh page
            self._relogins = self.rt.relogins
            self.shown = None
        if not self.portal.path_is(self.portal.config.portal.search_path):
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
                raise self.rt.fault(f"results page {number} of {payer} is no longer listed",
                                    step=step, code=FaultCode.TABLE_CHANGED, retryable=False,
                                    relayed_payer=payer)
            self._load(step, button.locator.click, payer, self.shown[1] + 1)

    def _search(self, step: str, payer: str) -> None:
        portal = self.portal
        self.shown = None
        portal.goto(step, portal.config.portal.search_path)
        self._relogins = self.rt.relogins
        self.search_form.pick(step, "payer_select", payer, relayed_payer=payer)
        self.search_form.fill_dates(step, self.run.result.start, self.run.result.end)
        self._load(step, portal.require(step, "submit_search").locator.click, payer, 1)

    def _is_results_response(self, response: Any) -> bool:
        return (response.request.resource_type in ("fetch", "xhr")
                and self.portal.path_is(self.options.results_api, response.url))

    def _load(self, step: str, click: Callable[[], None], payer: str, number: int) -> None:
        """Click, wait for the JSON results and for the page to render them."""
        portal = self.portal
        timeout = self.options.results_timeout_ms
        self.rt.polite()
        with portal.page.expect_response(self._is_results_response, timeout=timeout) as info:
            click()
        self._check_results(step, info.value, payer)
        portal.wait_hidden("loading", timeout)
        self.search_form.await_results(step)
        self.shown = (payer, number)

    def _check_results(self, step: str, response: Any, payer: str) -> None:
        status = response.status
        self.portal.check_status(
            step, status, "results answered",
            maintenance=status >= 500 and bool(MAINTENANCE_TEXT.search(
                body_head(response).decode("utf-8", "replace"))),
            session_lost=status in (401, 403),
            when_4xx=lambda: self.rt.fault(
                f"portal rejected the search (HTTP {status})", step=step,
                code=FaultCode.SEARCH_REJECTED, retryable=False, status=status,
                relayed_payer=payer, portal_message=_error_text(response)),
            relayed_payer=payer, retry_after=response.headers.get("retry-after"))

    def _next_button(self) -> Resolved | None:
        found = self.portal.present("next_page")
        if found is None or not found.locator.is_enabled():
            return None
        return found

    def _read(self, payer: str, number: int) -> tuple[ResultsPage, bool]:
        self.show(f"read-page-{number}", payer, number)
        page = self.table.read_remittances(number, ("download_button",), buttons=True,
                                           relayed_payer=payer)
        # no table: "no results" is on screen
        return page, self.table.find() is not None and self._next_button() is not None

    # documents --------------------------------------------------------------------------------
    def _download(self, payer: str, item: ListedRemittance) -> None:
        """Take one document under the circuit breaker (``PullRun.take``): a bad document or
        one whose transient fault outlived its retries lands in ``result.failed``."""
        def action() -> DownloadedDocument:
            self.show("download", payer, item.page)
            button = self.table.row_of(item.remittance_id, "download_button")
            if button is None:
                raise BusinessError(f"{self.rt.payer}: remittance {item.remittance_id}: no "
                                    "longer listed with a download button",
                                    code=FaultCode.DOCUMENT_UNAVAILABLE, url=self.portal.url)
            data, url = self.button.capture(button, item)
            if self.button.page_left:
                self.shown = None
            return self.files.document(item, self.files.save(item, data, url), url)

        # Not self._step: a failed download leaves the results on screen unless the page left the
        # app (an error page, the sign-in page, a document shown inline), which _on_screen sees.
        self.run.take(item, lambda: self.rt.step("download", action))


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
