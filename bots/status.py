"""Claim and appeal status checks on a payer portal: one signed-in browser session, many queries.

:func:`check_statuses` signs in (or reuses the saved sign-in) exactly like a remittance pull, then
for each query opens the configured status page (``status.claim_path`` / ``status.appeal_path``
of ``selectors/<payer>.yaml``), types the payer claim number, searches and reads the result.

Failure model (as for pulls):

- transient faults (timeout, HTTP 5xx, network) are retried inside ``bot.step`` (one layer,
  bounded by the config's ``retry``); a lost session signs in again and redoes only that query;
- "No claim found" is a *result* (``StatusReport.found is False``), not an error;
- a result row that cannot be read (bad date) is a ``BusinessError`` kept in
  ``StatusResult.failed``; the other queries go on;
- a transient fault that outlives its retries fails that query only (``FailedQuery.system``),
  until ``retry.circuit_breaker_after`` queries in a row fail so: then ``SystemFault``
  ``circuit-open`` stops the payer (as for pulls);
- permanent faults (login rejected, CAPTCHA, a locator or column that no longer matches, retry
  budget spent) raise ``SystemFault`` with the step, URL, screenshot and trace as evidence, plus
  ``checked``: how many queries were answered before it (already passed to ``on_report``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from claimwright.errors import BusinessError, SystemFault

from .config import PayerConfig, load_payer_config
from .engine import Bot, _norm, bot_session
from claimwright.types import FaultCode

log = logging.getLogger("claimwright.bots")

Kind = Literal["claim", "appeal"]
KINDS: tuple[str, ...] = ("claim", "appeal")


@dataclass(frozen=True)
class StatusQuery:
    kind: Kind
    payer_claim_id: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"status query kind must be one of {KINDS}, not {self.kind!r}")
        if not self.payer_claim_id.strip():
            raise ValueError("status query needs a payer claim number")


@dataclass(frozen=True)
class StatusReport:
    """What the portal said about one query (``found=False``: its "not found" message)."""

    kind: str
    payer_claim_id: str
    found: bool
    status: str = ""
    status_date: dt.date | None = None
    notes: str = ""
    appeal_number: str = ""
    #: the result row as the portal printed it (cells joined by " | "), or the not-found message
    raw: str = ""


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


@contextlib.contextmanager
def signed_in_bot(config: PayerConfig, base_url: str, *, evidence_dir: Path,
                  session_dir: Path | None = None, headless: bool = True) -> Iterator[Bot]:
    """A signed-in :class:`Bot` on its own browser (opened, traced and closed as a pull does),
    holding one of the portal's session slots (``portal.max_sessions``) meanwhile."""
    with bot_session(config, base_url, evidence_dir=evidence_dir, session_dir=session_dir,
                     headless=headless) as bot:
        bot.start_session(bot.reused)
        yield bot


def check_statuses(payer: str | PayerConfig, queries: Iterable[StatusQuery], *,
                   base_url: str | None = None, evidence_dir: Path,
                   session_dir: Path | None = None, headless: bool = True,
                   on_report: Callable[[StatusReport], None] | None = None) -> StatusResult:
    """Ask ``payer``'s portal for the status of each query, in one signed-in browser session.

    ``on_report`` is called with each report as soon as it is read, so a caller can record
    progress that survives a later fault. Raises ``SystemFault`` as described in the module doc.
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
        with signed_in_bot(config, url, evidence_dir=evidence_dir, session_dir=session_dir,
                           headless=headless) as bot:
            bot.use_frame(None)  # status pages are opened as top-level pages, even on frame portals
            in_a_row: list[FailedQuery] = []  # transient faults that outlived their retries
            for query in queries:
                try:
                    report = bot.step(f"{query.kind}-status",
                                      lambda q=query: _ask(bot, q))
                except BusinessError as exc:
                    log.warning("%s: %s status not read: %s", config.payer, query.kind,
                                exc.message)
                    result.failed.append(FailedQuery(query, exc.message, exc.code))
                    continue
                except SystemFault as fault:
                    if not fault.retryable:
                        raise
                    failed = FailedQuery(query, fault.message, fault.code, system=True,
                                         evidence={k: fault.context.get(k)
                                                   for k in ("step", "url", "screenshot", "trace")})
                    result.failed.append(failed)
                    in_a_row.append(failed)
                    if len(in_a_row) >= config.retry.circuit_breaker_after:
                        raise _circuit_open(bot, in_a_row) from None
                    log.warning("%s: %s status not read after its retries (%s); going on",
                                config.payer, query.kind, fault.code)
                    bot.resume_trace()  # that failure's trace was saved; record what follows
                    continue
                in_a_row.clear()
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


def _circuit_open(bot: Bot, failures: list[FailedQuery]) -> SystemFault:
    """The payer stops: ``retry.circuit_breaker_after`` queries in a row failed with portal
    faults after their retries (the same breaker rule as remittance pulls)."""
    last = failures[-1]
    codes = ", ".join(sorted({f.code for f in failures}))
    fault = bot._fault(f"circuit open: {len(failures)} status queries in a row failed with "
                       f"portal faults ({codes}) after their retries; payer stopped",
                       step="circuit-breaker", code=FaultCode.CIRCUIT_OPEN, retryable=False,
                       failed_items=[{"kind": f.query.kind, "code": f.code, **f.evidence}
                                     for f in failures], last_step=last.evidence.get("step"))
    for key in ("url", "screenshot", "trace"):
        fault.context[key] = last.evidence.get(key) or fault.context.get(key)
    return fault


def _ask(bot: Bot, query: StatusQuery) -> StatusReport:
    status = bot.config.status
    assert status is not None
    step = f"{query.kind}-status"
    path = status.claim_path if query.kind == "claim" else status.appeal_path
    # The result page repeats the search form: stay on it (one request per query, not two).
    if urlsplit(bot.page.url).path != path or bot.present("status_claim_number") is None:
        bot.goto(step, bot.base_url + path)
    field_ = bot.require(step, "status_claim_number")
    field_.locator.fill(query.payer_claim_id)
    bot.submit(step, bot.require(step, "status_submit"))
    outcome, found = bot.await_any(step, ["captcha", "status_result", "status_not_found"])
    if outcome == "captcha":
        bot._check_captcha(step)
    if outcome == "status_not_found":
        message = " ".join(found.locator.inner_text().split())[:200]
        return StatusReport(query.kind, query.payer_claim_id, False, raw=bot.redact(message))
    return _read_result(bot, query, found.locator, step)


def _read_result(bot: Bot, query: StatusQuery, table, step: str) -> StatusReport:
    status = bot.config.status
    assert status is not None
    headers = [_norm(h) for h in table.locator(f"css={status.header_css}").all_inner_texts()]
    index: dict[str, int] = {}
    for key, header in status.columns.items():
        if _norm(header) in headers:
            index[key] = headers.index(_norm(header))
        elif key in ("status", "status_date"):
            raise bot._fault(f"status result has no column {header!r}", step=step,
                             code=FaultCode.TABLE_CHANGED, retryable=False, headers=headers)
    rows = table.locator(f"css={status.row_css}").all()
    for row in rows:
        cells = [" ".join(c.split()) for c in row.locator(f"css={status.cell_css}").all_inner_texts()]
        if len(cells) <= max(index.values()):
            continue  # a spacer or summary row
        raw = bot.redact(" | ".join(cells))
        text_date = cells[index["status_date"]]
        try:
            day = dt.datetime.strptime(text_date, status.date_format).date() if text_date else None
        except ValueError:
            raise BusinessError(f"{bot.config.payer}: {query.kind} status of "
                                f"{query.payer_claim_id}: status date {text_date!r} is not "
                                f"{status.date_format}", code=FaultCode.BAD_STATUS_ROW, raw=raw) from None
        return StatusReport(
            query.kind, query.payer_claim_id, True, status=cells[index["status"]],
            status_date=day, notes=bot.redact(cells[index["notes"]]) if "notes" in index else "",
            appeal_number=cells[index["appeal_number"]] if "appeal_number" in index else "",
            raw=raw)
    raise bot._fault("status result table has no readable row", step=step,
                     code=FaultCode.TABLE_CHANGED, retryable=False, rows=len(rows))
