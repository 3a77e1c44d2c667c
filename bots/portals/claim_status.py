"""``claim_status``: claim and appeal status checks on a payer portal — one signed-in session,
many queries, composed from the same components as the remittance flows.

:func:`check_statuses` signs in (or reuses the saved sign-in) exactly like a remittance pull, then
for each query opens the configured status page (``status.claim_path`` / ``status.appeal_path``
of ``selectors/<payer>.yaml``), types the payer claim number, searches and reads the result
(:class:`~bots.components.StatusPage`). Any portal flow's payer may have a ``status:`` section.

Failure model (as for pulls; the same runtime, breaker and re-login budget):

- transient faults (timeout, HTTP 5xx, network) are retried inside the step (one layer,
  bounded by the config's ``retry``); a lost session signs in again and redoes only that query;
- "No claim found" is a *result* (``StatusReport.found is False``), not an error;
- a result row that cannot be read (bad date) is a ``BusinessError`` kept in
  ``StatusResult.failed``; the other queries go on;
- a transient fault that outlives its retries fails that query only (``FailedQuery.system``),
  until ``retry.circuit_breaker_after`` queries in a row fail so: then ``SystemFault``
  ``circuit-open`` stops the payer;
- permanent faults (login rejected, CAPTCHA, a locator or column that no longer matches, retry
  budget spent) raise ``SystemFault`` with the step, URL, screenshot and trace as evidence, plus
  ``checked``: how many queries were answered before it (already passed to ``on_report``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from claimwright.errors import ClaimwrightError, SystemFault
from claimwright.types import FaultCode

from ..components import StatusPage
from ..config import PayerConfig, load_payer_config
from ..models import KINDS, StatusQuery, StatusReport
from ..session import open_session

if TYPE_CHECKING:
    from playwright.sync_api import Browser

log = logging.getLogger("claimwright.bots")

__all__ = ["KINDS", "FailedQuery", "StatusQuery", "StatusReport", "StatusResult",
           "check_statuses"]


@dataclass(frozen=True)
class FailedQuery:
    """A query left unanswered: a ``BusinessError`` (``system=False``: the answer could not be
    read) or a transient portal fault that outlived its retries (``system=True``)."""

    query: StatusQuery
    reason: str
    code: str
    system: bool = False
    evidence: dict = field(default_factory=dict)


@dataclass
class StatusResult:
    payer: str
    reports: list[StatusReport] = field(default_factory=list)
    failed: list[FailedQuery] = field(default_factory=list)


def check_statuses(payer: str | PayerConfig, queries: Iterable[StatusQuery], *,
                   base_url: str | None = None, evidence_dir: Path,
                   session_dir: Path | None = None, headless: bool = True,
                   on_report: Callable[[StatusReport], None] | None = None,
                   browser: Browser | None = None) -> StatusResult:
    """Ask ``payer``'s portal for the status of each query, in one signed-in browser session.

    ``on_report`` is called with each report as soon as it is read, so a caller can record
    progress that survives a later fault. ``browser``: run in a fresh context of this browser
    instead of this thread's shared one. Raises ``SystemFault`` as described in the module doc.
    """
    config = payer if isinstance(payer, PayerConfig) else load_payer_config(payer)
    if config.status is None:
        raise SystemFault(f"{config.payer}: the payer config has no 'status:' section; status "
                          "checks are not configured for this portal", retryable=False,
                          code=FaultCode.BAD_CONFIG, payer=config.payer, field="status")
    queries = list(dict.fromkeys(queries))
    result = StatusResult(config.payer)
    if not queries:
        return result
    url = config.resolve_base_url(base_url)
    log.info("%s: checking %d status(es) on %s", config.payer, len(queries), url)
    try:
        with open_session(config, url, evidence_dir=evidence_dir, session_dir=session_dir,
                          headless=headless, browser=browser) as session:
            session.start()
            session.portal.use_frame(None)  # status pages are top-level, even on frame portals
            page = StatusPage(session.portal)
            for query in queries:
                def record(exc: ClaimwrightError, system: bool, query: StatusQuery = query) -> None:
                    keys = ("step", "url", "screenshot", "trace") if system else ()
                    evidence = {k: exc.context.get(k) for k in keys}
                    result.failed.append(FailedQuery(query, exc.message, exc.code, system=system,
                                                     evidence=evidence))

                report = session.rt.take(
                    f"{query.kind} status", record=record, label={"kind": query.kind},
                    action=lambda q=query: session.rt.step(f"{q.kind}-status",
                                                           lambda: page.ask(q)))
                if report is not None:
                    result.reports.append(report)
                    if on_report is not None:
                        on_report(report)
    except SystemFault as fault:
        fault.context.setdefault("payer", config.payer)
        fault.context["checked"] = len(result.reports)
        log.error("%s: status check stopped at step %s: %s (%s)", config.payer,
                  fault.context.get("step"), fault.message, fault.code)
        raise
    log.info("%s: %d status(es) read, %d not found, %d unreadable", config.payer,
             len(result.reports), sum(not r.found for r in result.reports), len(result.failed))
    return result
