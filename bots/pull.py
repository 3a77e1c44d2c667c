"""Remittance pulls: :func:`pull_remittances` opens a bot session, lets the payer's portal flow
(``bots.portals``) walk it, and returns a :class:`PullResult`.

A flow module's ``pull(session, run)`` composes components (``bots.components``) and reports
through :class:`PullRun`: :meth:`PullRun.triage` counts a results page and says which rows to
take, :meth:`PullRun.take` takes one document under the session's circuit breaker.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimwright.errors import ClaimwrightError, SystemFault
from claimwright.types import FaultCode

from .config import PayerConfig, load_payer_config
from .documents import payer_folder
from .models import DownloadedDocument, FailedDocument, ListedRemittance, PullResult
from .session import open_session

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from .components.login import AskCode
    from .components.results import ResultsPage
    from .session import BotSession

log = logging.getLogger("claimwright.bots")


class PullRun:
    """What one pull has seen and taken so far (``result``), and where documents go."""

    def __init__(self, session: BotSession, result: PullResult, dest_dir: Path,
                 is_known: Callable[[str], bool],
                 on_downloaded: Callable[[DownloadedDocument], None] | None = None, *,
                 time_limit_s: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.session = session
        self.result = result
        self.dest_dir = Path(dest_dir)
        self.is_known = is_known
        self.on_downloaded = on_downloaded
        self.seen: set[str] = set()
        self.time_limit_s = time_limit_s or None
        self.clock = clock
        self.deadline = clock() + time_limit_s if time_limit_s else None

    def check_time(self) -> None:
        """Past the session's time limit: stop with ``session-deadline`` (a system fault, not
        retried here: the next run takes up what is left); checked before each results page and
        each document, so a pull outlives its limit by one step at most."""
        if self.deadline is not None and self.clock() >= self.deadline:
            raise SystemFault(
                f"{self.result.payer}: the portal session ran past its limit of "
                f"{self.time_limit_s:g} s (CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S); what was "
                "downloaded is kept, the next run takes the rest", retryable=False,
                code=FaultCode.SESSION_DEADLINE, step="deadline")

    def triage(self, page: ResultsPage
               ) -> tuple[list[tuple[ListedRemittance, dict[str, str]]], int]:
        """Count one results page; the rows to take (new, paid in range, not known yet), and
        how many rows were new (0 on a page the portal repeated)."""
        self.check_time()
        result = self.result
        result.failed.extend(page.failed)
        result.listed += len(page.failed)
        todo = []
        fresh = 0
        for item, links in page.rows:
            if item.remittance_id in self.seen:
                continue
            self.seen.add(item.remittance_id)
            fresh += 1
            result.listed += 1
            if not result.start <= item.payment_date <= result.end:
                result.skipped_out_of_range.append(item.remittance_id)
            elif self.is_known(item.remittance_id):
                result.skipped_known.append(item.remittance_id)
            else:
                todo.append((item, links))
        return todo, fresh

    def take(self, item: ListedRemittance,
             fetch: Callable[[], DownloadedDocument]) -> DownloadedDocument | None:
        """Take one listed document with ``fetch`` under the circuit breaker
        (:meth:`bots.runtime.Runtime.take`): taken -> ``result.downloaded`` and
        ``on_downloaded(doc)`` at once; a bad document, or one whose transient fault outlived
        its retries -> ``result.failed``; the batch goes on."""
        self.check_time()
        payer = self.result.payer

        def record(exc: ClaimwrightError, system: bool) -> None:
            self.result.failed.append(FailedDocument(payer, item.remittance_id, exc.message,
                                                     exc.code, item.url, dict(exc.context)))

        doc = self.session.rt.take(f"remittance {item.remittance_id}", fetch, record,
                                   label={"remittance_id": item.remittance_id})
        if doc is not None:
            self.result.downloaded.append(doc)
            if self.on_downloaded is not None:
                self.on_downloaded(doc)
        return doc


def run_pull(session: Any, run: PullRun) -> None:
    """Sign in and run the payer's portal flow; a ``SystemFault`` leaving it carries what was
    already taken (``partial_result``), so the caller records it and the next run skips it."""
    from .portals import get_flow

    result = run.result
    try:
        session.start()
        get_flow(session.config.flow).pull(session, run)
    except SystemFault as fault:
        fault.context.setdefault("payer", result.payer)
        fault.context["downloaded"] = [d.remittance_id for d in result.downloaded]
        fault.partial_result = result
        log.error("%s: pull stopped at step %s: %s (%s)", result.payer, fault.context.get("step"),
                  fault.message, fault.code)
        raise


def pull_remittances(payer: str | PayerConfig, start: dt.date, end: dt.date, dest_dir: Path, *,
                     is_known: Callable[[str], bool] = lambda rid: False,
                     base_url: str | None = None, evidence_dir: Path | None = None,
                     headless: bool = True, session_dir: Path | None = None,
                     on_downloaded: Callable[[DownloadedDocument], None] | None = None,
                     browser: Browser | None = None,
                     ask_code: AskCode | None = None,
                     time_limit_s: float | None = None) -> PullResult:
    """Download ``payer``'s remittance documents paid between ``start`` and ``end`` (inclusive).

    Remittances for which ``is_known(remittance_id)`` is true are listed but not downloaded.
    Files go to ``<dest_dir>/<payer>/<safe remittance id>.pdf`` (``.835``); ``on_downloaded``
    is called with each document as soon as it is saved; screenshots and traces of faults go to
    ``evidence_dir`` (default ``<dest_dir>/_evidence``). Raises ``SystemFault`` when the portal
    fails (after bounded retries for transient faults), with ``partial_result``; bad documents
    land in ``result.failed``. The sign-in is saved in ``session_dir`` (default
    :func:`bots.signins.default_session_dir`, outside the project, 0600) and reused by the next
    pull while the portal accepts it. ``browser``: run in a fresh context of this browser
    instead of this thread's shared one. ``ask_code``: asks a person for a one-time code the
    portal sent by SMS or e-mail (``login.mfa``; without it such a payer stops with
    ``mfa-code-needed``); the page waits open meanwhile. ``time_limit_s``: the whole session's
    limit (``session-deadline`` past it, with what was taken). A payer folder leading outside ``dest_dir`` (a symbolic
    link) raises ``BusinessError`` ``download-path-unsafe`` before the portal is opened.
    """
    from .portals import get_flow

    config = payer if isinstance(payer, PayerConfig) else load_payer_config(payer)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    url = config.resolve_base_url(base_url)
    dest_dir = Path(dest_dir)
    payer_folder(dest_dir, config.payer)  # a payer folder leading outside: refused before sign-in
    evidence_dir = Path(evidence_dir) if evidence_dir is not None else dest_dir / "_evidence"
    result = PullResult(config.payer, start, end)
    log.info("%s: pulling remittances paid %s..%s from %s", config.payer, start, end, url)
    # Only flows that take documents from browser download events (ACCEPT_DOWNLOADS) get them.
    downloads = bool(getattr(get_flow(config.flow), "ACCEPT_DOWNLOADS", False))
    with open_session(config, url, evidence_dir=evidence_dir, session_dir=session_dir,
                      headless=headless, browser=browser, accept_downloads=downloads,
                      ask_code=ask_code) as session:
        run_pull(session, PullRun(session, result, dest_dir, is_known, on_downloaded,
                                  time_limit_s=time_limit_s))
    log.info("%s: listed %d on %d page(s); downloaded %d, already known %d, failed %d",
             config.payer, result.listed, result.pages_visited, len(result.downloaded),
             len(result.skipped_known), len(result.failed))
    return result
