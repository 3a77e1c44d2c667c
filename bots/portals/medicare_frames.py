"""``medicare-frames``: old Medicare-contractor portals whose pages live in a named frame.

The pattern (mock: ``fixtures/portals/keystone.py``): a plain top-level sign-in form (the
shared :class:`~bots.components.LoginForm`), then a shell page (``portal.search_path``) with a menu beside
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
the frame's own document responses (:func:`frame_submit`); ``PortalPage.check_response`` then maps the
status (5xx transient, 4xx permanent) and notices a frame that landed on ``portal.login_path``
(session expired) as ``session-lost``: the runtime signs in again and redoes only the current
step. Pages are reached by form posts, which cannot be reopened by URL, so a step that finds its
page gone (after a re-login or a failed attempt) replays the search and the "Next" posts up to
the page before it. Documents are fetched by URL with the session's cookies, so a download step
resumes on its own and nothing already saved is fetched again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from claimwright.errors import SystemFault
from claimwright.types import FaultCode

from ..components import DocumentDownload, ResultsTable, SearchForm
from ..models import DownloadedDocument, ListedRemittance

if TYPE_CHECKING:
    from ..components import PortalPage
    from ..locators import Resolved
    from ..pull import PullRun
    from ..session import BotSession

log = logging.getLogger("claimwright.bots")

REQUIRED_LOCATORS = (
    "username", "password", "submit_login", "logged_in", "login_error", "remittance_menu",
    "date_from", "date_to", "submit_search", "results_table", "no_results", "next_page",
    "pdf_link", "x12_link",
)
LINKS = ("pdf_link", "x12_link")


class Options(BaseModel):
    """``flow_options`` of a ``medicare-frames`` payer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: ``name`` attribute of the frame (``<frame>`` or ``<iframe>``) that holds the content
    frame: str = Field(default="main", pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


# frame primitives ------------------------------------------------------------------------------
def content_frame(portal: PortalPage, step: str) -> Any:
    """The content frame of the shell on screen (a Playwright ``Frame``); a permanent fault when
    the page has no frame of that name (the portal changed)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    name = Options.model_validate(portal.config.flow_options).frame
    selector = f'css=iframe[name="{name}"], frame[name="{name}"]'
    try:
        portal.page.locator(selector).first.wait_for(state="attached",
                                                     timeout=portal.config.timeouts.action_ms)
    except PlaywrightTimeout:
        raise portal.rt.fault(f"the page has no frame named {name!r}", step=step,
                              code=FaultCode.LOCATOR_NOT_FOUND, retryable=False,
                              locators={"frame": [f"name={name!r}"]}) from None
    # the page's load event waits for its frames: the frame's first document is in
    portal.page.wait_for_load_state("load", timeout=portal.config.timeouts.navigation_ms)
    frame = portal.page.frame(name=name)
    if frame is None:
        raise portal.rt.fault(f"frame {name!r} is not loaded", step=step, code=FaultCode.TIMEOUT,
                              retryable=True)
    return frame


def frame_submit(portal: PortalPage, step: str, frame: Any, target: Resolved) -> None:
    """Click ``target`` (a link with ``target=<frame>`` or a form button inside the frame) and
    wait for the document it loads into ``frame``; check its status and whether the frame was
    sent to the sign-in page (``session-lost``). Locators then resolve inside the frame."""
    portal.submit(step, target, frame=frame)


# steps --------------------------------------------------------------------------------------
class _Walker:
    """Where the content frame is: which results page it shows, under which sign-in."""

    def __init__(self, session: BotSession, run: PullRun) -> None:
        self.portal = session.portal
        self.rt = session.rt
        self.run = run
        self.search_form = SearchForm(self.portal)
        self.page_shown: int | None = None  # results page the frame shows now
        self.relogins = self.rt.relogins    # the sign-in it was shown under

    def _current(self, number: int) -> bool:
        return self.page_shown == number and self.relogins == self.rt.relogins

    def _search(self, step: str) -> str:
        """Open the shell, the search in the frame, submit the date range; the outcome."""
        portal, result = self.portal, self.run.result
        self.page_shown = None
        portal.use_frame(None)
        portal.goto(step, portal.config.portal.search_path)
        frame = content_frame(portal, step)
        frame_submit(portal, step, frame, portal.require(step, "remittance_menu"))  # on the page
        self.search_form.fill_dates(step, result.start, result.end)  # now in the frame
        frame_submit(portal, step, frame, portal.require(step, "submit_search"))
        outcome = self.search_form.await_results(step)
        self.relogins = self.rt.relogins
        self.page_shown = 1
        return outcome

    def _next(self, step: str, number: int) -> None:
        """From results page ``number - 1`` on screen, post "Next" to page ``number``."""
        portal = self.portal
        self.page_shown = None
        button = portal.present("next_page")
        if button is None:
            raise portal.rt.fault(f"no next_page button on results page {number - 1}", step=step,
                                  code=FaultCode.TABLE_CHANGED, retryable=False)
        frame_submit(portal, step, portal.root, button)
        self.search_form.await_results(step)
        self.page_shown = number

    def search(self) -> str:
        return self.rt.step("search", lambda: self._search("search"))

    def open_page(self, number: int) -> None:
        """Show results page ``number`` (its "Next" post; the search replayed when lost)."""
        step = f"results-page-{number}"

        def action() -> None:
            if not self._current(number - 1):
                log.info("%s: results page %d is gone (re-login or failed attempt); replaying "
                         "the search to page %d", self.rt.payer, number - 1, number - 1)
                self._search(step)
                for page in range(2, number):
                    self._next(step, page)
            self._next(step, number)

        self.rt.step(step, action)


def walk_results(session: BotSession, run: PullRun) -> list[tuple[ListedRemittance, str]]:
    """Search, read every page; the listed remittances still to download (with 835 URLs)."""
    portal = session.portal
    table = ResultsTable(portal)
    walker = _Walker(session, run)
    walker.search()
    todo: list[tuple[ListedRemittance, str]] = []
    number = 1
    while True:
        run.result.pages_visited += 1

        def read(number: int = number) -> tuple[Any, bool]:
            base = portal.frame_url or portal.url
            return (table.read_remittances(number, LINKS, base=base),
                    table.find() is not None and portal.present("next_page") is not None)

        page, more = session.rt.step(f"read-page-{number}", read)
        fresh_rows, fresh = run.triage(page)
        todo += [(item, links["x12_link"]) for item, links in fresh_rows]
        if not more or (page.rows and not fresh):  # last page, or a portal repeating a page
            return todo
        if number >= portal.config.search.max_pages:
            log.warning("%s: stopped after search.max_pages=%d pages", portal.config.payer, number)
            return todo
        number += 1
        walker.open_page(number)


def download(download: DocumentDownload, item: ListedRemittance,
             x12_url: str) -> DownloadedDocument:
    """Fetch the 835 and the PDF of one remittance (each its own retried step); both or neither."""
    x12 = download.fetch(item, x12_url, "x12-835")
    try:
        pdf = download.fetch(item, item.url, "pdf")
    except BaseException:
        x12.path.unlink(missing_ok=True)  # taken whole or not at all
        raise
    return download.document(item, x12, x12_url, kind="x12-835", renditions={"pdf": pdf.path})


def pull(session: BotSession, run: PullRun) -> None:
    try:
        todo = walk_results(session, run)
    except SystemFault as fault:
        # the page URL is the shell's; where it happened is the content frame's document
        if session.portal.frame_url:
            fault.context.setdefault("frame_url", session.rt.redact(session.portal.frame_url))
        raise
    files = DocumentDownload(session.portal, run.dest_dir)
    for item, x12_url in todo:
        # bad files -> result.failed; transient faults past their retries -> failed, under the
        # session's circuit breaker; permanent faults stop the payer
        run.take(item, lambda item=item, x12_url=x12_url: download(files, item, x12_url))
