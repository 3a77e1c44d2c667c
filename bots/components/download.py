"""``DocumentDownload``: fetching, checking and saving one remittance's documents, and what a
document's HTTP answer means (the rule set itself is :meth:`PortalPage.check_status`, shared with
page navigations and results APIs):

- HTTP 5xx showing a maintenance page -> ``portal-maintenance`` (transient);
- other 5xx -> ``http-5xx`` (transient);
- 3xx, 401, 403, or an answer from ``portal.login_path`` -> ``session-lost`` (sign in again);
- other 4xx -> ``BusinessError`` ``document-unavailable`` (this document only; the batch goes on);
- a body shorter than its ``Content-Length`` -> ``download-truncated`` (transient, never saved);
- the connection dropped -> ``download-interrupted`` (transient);
- a body that is not the expected kind of document -> ``BusinessError`` (``not-a-pdf``/``not-835``).

Files are named by the bot (:func:`bots.documents.document_path`), never by the server.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from claimwright.errors import BusinessError, SystemFault
from claimwright.fileio import write_atomic
from claimwright.types import FaultCode

from ..documents import document_path, document_problem
from ..models import DownloadedDocument, ListedRemittance
from ..runtime import first_line
from .page import MAINTENANCE_TEXT

if TYPE_CHECKING:
    from .page import PortalPage

STEP = "download"


class SavedFile(NamedTuple):
    path: Path
    sha256: str
    size: int


def body_head(response: Any) -> bytes:
    """The first bytes of a response's body (empty when it cannot be read)."""
    try:
        return response.body()[:5000]
    except Exception:  # noqa: BLE001 - a body that cannot be read: no text
        return b""


class DocumentDownload:
    """Documents of ``portal``'s payer, saved under ``dest_dir``."""

    def __init__(self, portal: PortalPage, dest_dir: Path) -> None:
        self.portal = portal
        self.dest_dir = Path(dest_dir)

    # classification ---------------------------------------------------------------------------
    def check_status(self, status: int, url: str, item: ListedRemittance, *,
                     body: bytes | None = None, page_shown: bool = False) -> None:
        """Raise what a non-2xx answer (``status`` from ``url``) means for this document.
        Maintenance is seen on the page (``page_shown``) or in the answer's ``body``."""
        portal = self.portal
        if status >= 500 and page_shown:
            maintenance = portal.maintenance_shown(status)
        else:
            maintenance = status >= 500 and bool(MAINTENANCE_TEXT.search(
                (body or b"")[:5000].decode("utf-8", "replace")))
        portal.check_status(
            STEP, status, "download answered", maintenance=maintenance,
            session_lost=300 <= status < 400 or status in (401, 403)
            or portal.path_is(portal.config.portal.login_path, url),
            when_4xx=lambda: BusinessError(
                f"{portal.config.payer}: remittance {item.remittance_id}: download answered "
                f"HTTP {status}", code=FaultCode.DOCUMENT_UNAVAILABLE, status=status, url=url),
            document_url=url, remittance_id=item.remittance_id)

    def check_length(self, data: bytes, announced: str | None, item: ListedRemittance) -> None:
        """A body shorter than its ``Content-Length``: cut off half-way, never saved."""
        if announced and announced.isdigit() and len(data) < int(announced):
            raise self.portal.rt.fault(f"download cut off after {len(data)} of {announced} bytes",
                                       step=STEP, code=FaultCode.DOWNLOAD_TRUNCATED,
                                       retryable=True, remittance_id=item.remittance_id)

    def interrupted(self, item: ListedRemittance, detail: BaseException | str) -> SystemFault:
        """The fault of a download whose connection dropped (retried; nothing of it kept)."""
        return self.portal.rt.fault(
            f"download of remittance {item.remittance_id} interrupted (the connection dropped)",
            step=STEP, code=FaultCode.DOWNLOAD_INTERRUPTED, retryable=True,
            remittance_id=item.remittance_id,
            detail=detail if isinstance(detail, str) else first_line(detail))

    # fetching and saving ----------------------------------------------------------------------
    def fetch(self, item: ListedRemittance, url: str | None = None,
              kind: str = "pdf") -> SavedFile:
        """Step ``download``: GET ``url`` (default the row's link) with the session's cookies,
        check it is a ``kind`` document and save it (retried on transient faults)."""
        return self.portal.rt.step(STEP, lambda: self._fetch(item, url or item.url, kind))

    def _fetch(self, item: ListedRemittance, url: str, kind: str) -> SavedFile:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        portal = self.portal
        portal.rt.polite()
        try:
            response = portal.context.request.get(
                url, timeout=portal.config.timeouts.download_ms, max_redirects=0,
                fail_on_status_code=False)
        except PlaywrightTimeout:
            raise
        except PlaywrightError as exc:  # e.g. "aborted": the connection dropped mid-body
            raise self.interrupted(item, exc) from None
        try:
            if not 200 <= response.status < 300:
                self.check_status(response.status, url, item, body=body_head(response))
            data = response.body()
            self.check_length(data, response.headers.get("content-length"), item)
        finally:
            response.dispose()
        return self.save(item, data, url, kind)

    def save(self, item: ListedRemittance, data: bytes, url: str, kind: str = "pdf") -> SavedFile:
        """Check ``data`` is a ``kind`` document and save it; a ``BusinessError`` when not."""
        config = self.portal.config
        docs = config.documents
        problem = document_problem(data, kind, min_bytes=docs.min_bytes, max_bytes=docs.max_bytes)
        if problem:
            raise BusinessError(f"{config.payer}: remittance {item.remittance_id}: {problem}",
                                code=FaultCode.NOT_A_PDF if kind == "pdf" else FaultCode.NOT_835,
                                url=url, size=len(data))
        path = document_path(self.dest_dir, config.payer, item.remittance_id, kind)
        write_atomic(path, data)
        return SavedFile(path, hashlib.sha256(data).hexdigest(), len(data))

    def document(self, item: ListedRemittance, saved: SavedFile, url: str, *,
                 kind: str = "pdf", renditions: dict[str, Path] | None = None
                 ) -> DownloadedDocument:
        """The pull's record of a saved document."""
        return DownloadedDocument(
            payer=self.portal.config.payer, remittance_id=item.remittance_id, path=saved.path,
            sha256=saved.sha256, size=saved.size, payment_date=item.payment_date,
            trace_number=item.trace_number, amount=item.amount, url=url, kind=kind,
            renditions=renditions or {})
