"""``DownloadButton``: documents that come from pressing a button in a results row (a form post),
not from a link the bot can fetch by URL.

``attachment``: the browser's download event gives the file (its bytes; never its suggested
name). ``inline``: the page now shows the browser's PDF viewer, whose response body is the
viewer's page, not the PDF: the same request is replayed with the context's cookies, and from
then on each press is intercepted (``route.fetch``, the browser told "204 No Content") so the
results stay on screen. Every answer is classified by :class:`DocumentDownload` (one rule set).
The browser context must accept downloads (a flow's ``ACCEPT_DOWNLOADS = True``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimwright.types import FaultCode

from ..models import ListedRemittance
from ..runtime import first_line
from .download import STEP

if TYPE_CHECKING:
    from ..locators import Resolved
    from .download import DocumentDownload

log = logging.getLogger("claimwright.bots")


class DownloadButton:
    def __init__(self, download: DocumentDownload) -> None:
        self.download = download
        self.portal = download.portal
        #: the portal served a document inline: take the rest without leaving the page
        self.intercept = False
        #: the last press navigated the page away from the results (to an inline document)
        self.page_left = False

    def capture(self, button: Resolved, item: ListedRemittance) -> tuple[bytes, str]:
        """Press ``button``; the document's bytes and URL (checked, not saved yet)."""
        self.page_left = False
        if self.intercept:
            return self._intercepted(button, item)
        portal = self.portal
        page = portal.page
        timeout = portal.config.timeouts.download_ms
        downloads: list[Any] = []

        def listener(download: Any) -> None:
            downloads.append(download)

        page.on("download", listener)
        try:
            portal.rt.polite()
            with page.expect_response(portal.is_document_response, timeout=timeout) as info:
                button.locator.click()
            response = info.value
            if not 200 <= response.status < 300 or portal.path_is(
                    portal.config.portal.login_path, response.url):
                self.download.check_status(response.status, response.url, item, page_shown=True)
            disposition = (response.headers.get("content-disposition") or "").lower()
            if downloads or disposition.startswith("attachment"):
                download = downloads[0] if downloads else page.wait_for_event("download",
                                                                              timeout=timeout)
                return self._saved_download(download, item), response.url
            self.page_left = True  # the page left the app for the document
            self.intercept = True
            log.info("%s: remittance %s served inline; fetching the file itself (and taking "
                     "the next documents without leaving the results page)", portal.config.payer,
                     item.remittance_id)
            return self._replay(response, item), response.url
        finally:
            page.remove_listener("download", listener)

    def _intercepted(self, button: Resolved, item: ListedRemittance) -> tuple[bytes, str]:
        """Press the button with the page's document navigation intercepted: the request is
        sent by Playwright (same method, form fields and cookies), its answer kept, and the
        browser told "204 No Content", so it stays on the results page."""
        from playwright.sync_api import Error as PlaywrightError

        portal = self.portal
        page = portal.page
        timeout = portal.config.timeouts.download_ms
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
                got["error"] = first_line(exc)
            finally:
                try:
                    route.fulfill(status=204)
                except PlaywrightError:
                    pass
                got["done"] = True

        page.route("**/*", handler)
        try:
            portal.rt.polite()
            button.locator.click()
            deadline = portal.rt.clock() + timeout / 1000
            while "done" not in got:  # the handler runs while Playwright waits
                if portal.rt.clock() > deadline:
                    raise portal.rt.fault(f"no document came for remittance {item.remittance_id}",
                                          step=STEP, code=FaultCode.TIMEOUT, retryable=True,
                                          remittance_id=item.remittance_id)
                page.wait_for_timeout(50)
        finally:
            page.unroute("**/*", handler)
        if "error" in got:
            raise self.download.interrupted(item, got["error"])
        return self._checked(got["status"], got.get("url") or page.url, got["body"],
                             got["headers"].get("content-length"), item)

    def _checked(self, status: int, url: str, data: bytes, announced: str | None,
                 item: ListedRemittance) -> tuple[bytes, str]:
        if not 200 <= status < 300 or self.portal.path_is(self.portal.config.portal.login_path,
                                                          url):
            self.download.check_status(status, url, item, body=data)
        self.download.check_length(data, announced, item)
        return data, url

    def _saved_download(self, download: Any, item: ListedRemittance) -> bytes:
        failure = download.failure()  # waits for the download to end
        if failure:
            raise self.download.interrupted(item, str(failure))
        try:
            return Path(download.path()).read_bytes()
        finally:
            download.delete()

    def _replay(self, response: Any, item: ListedRemittance) -> bytes:
        from playwright.sync_api import Error as PlaywrightError

        portal = self.portal
        request = response.request
        headers = {k: v for k, v in request.headers.items() if k.lower() == "content-type"}
        portal.rt.polite()
        try:
            answer = portal.context.request.fetch(
                response.url, method=request.method, headers=headers,
                data=request.post_data_buffer, max_redirects=0, fail_on_status_code=False,
                timeout=portal.config.timeouts.download_ms)
        except PlaywrightError as exc:
            raise self.download.interrupted(item, exc) from None
        try:
            try:
                data = answer.body()
            except PlaywrightError as exc:
                if not 200 <= answer.status < 300:
                    self.download.check_status(answer.status, answer.url, item)
                raise self.download.interrupted(item, exc) from None
            return self._checked(answer.status, answer.url, data,
                                 answer.headers.get("content-length"), item)[0]
        finally:
            answer.dispose()
