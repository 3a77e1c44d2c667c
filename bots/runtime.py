"""The bot runtime: named steps with ONE retry layer, evidence on faults, redaction, the circuit
breaker and the re-login budget of one portal session (pulls and status checks alike).

Failure model (``claimwright.errors``):

- transient (timeout, network error, HTTP 5xx, maintenance) -> ``SystemFault(retryable=True)``,
  retried here only (tenacity: exponential backoff with jitter, ``retry.attempts`` tries,
  ``stop=`` always, ``reraise=True``); nothing else in ``bots`` retries;
- permanent (login rejected, CAPTCHA, a locator that matches nothing, a changed table, bad
  config, a session lost more than :data:`MAX_RELOGINS` times) -> ``SystemFault(retryable=False)``;
- a lost session (``session-lost``) signs in again (``Runtime.sign_in``) and redoes only the step;
- a bad item (not a PDF, an unreadable row) -> ``BusinessError``, recorded by :meth:`Runtime.take`;
  the batch goes on. Transient faults that outlived their retries are recorded too, until
  ``retry.circuit_breaker_after`` in a row open the circuit (``circuit-open``, permanent).

Every ``SystemFault`` leaving a step carries ``step``, ``url``, ``attempts`` and, when they could
be captured, ``trace`` and ``screenshot``. Credentials never enter messages, context or logs.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from claimwright.errors import BusinessError, ClaimwrightError, SystemFault
from claimwright.types import FaultCode

if TYPE_CHECKING:
    from .config import PayerConfig
    from .evidence import Evidence

log = logging.getLogger("claimwright.bots")
T = TypeVar("T")

#: How many times one session may sign in again after its session was lost mid-run.
MAX_RELOGINS = 3
_NETWORK_ERROR = re.compile(r"net::ERR_|ECONNREFUSED|ECONNRESET|socket hang up|EPIPE",
                            re.IGNORECASE)


def first_line(exc: BaseException) -> str:
    """The first line of an exception's text (Playwright errors carry a long call log)."""
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` items in a row failed with a transient system fault that
    outlived its retries (an item taken resets the count)."""

    threshold: int
    consecutive: list[Any] = field(default_factory=list)

    def success(self) -> None:
        self.consecutive.clear()

    def failure(self, failed: Any) -> bool:
        """Count a failure; True when the circuit opens now."""
        self.consecutive.append(failed)
        return len(self.consecutive) >= self.threshold


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, SystemFault) and exc.retryable


class Runtime:
    """Steps, faults, evidence and budgets of one portal session.

    ``url`` says where the session is now (for faults); ``evidence`` (set once a browser page
    exists) records traces and screenshots; ``sign_in`` (set by the session) signs in again
    after a lost session. ``sleep`` and ``clock`` are injectable so tests never really wait.
    """

    def __init__(self, config: PayerConfig, *, secrets: tuple[str | None, ...] = (),
                 url: Callable[[], str | None] = lambda: None,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.payer = config.payer
        self.sleep = sleep
        self.clock = clock
        self.evidence: Evidence | None = None
        self.sign_in: Callable[[], None] | None = None
        self.relogins = 0  # how often this session signed in again (flows notice a fresh page)
        self.breaker = CircuitBreaker(config.retry.circuit_breaker_after)
        self.secrets = [s for s in secrets if s]
        self._url = url
        self._last_request: float | None = None  # politeness (portal.min_interval_ms)

    # safety -----------------------------------------------------------------------------------
    def redact(self, value: Any) -> Any:
        """``value`` (a string, or dicts/lists/tuples of them) with every credential masked."""
        if isinstance(value, str):
            for secret in self.secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact(v) for v in value)
        return value

    def current_url(self) -> str | None:
        try:
            return self.redact(self._url())
        except Exception:  # noqa: BLE001 - the page may be gone
            return None

    def fault(self, message: str, *, step: str, code: FaultCode, retryable: bool,
              **context: Any) -> SystemFault:
        """A ``SystemFault`` of this payer at ``step``, redacted, naming the current URL."""
        return SystemFault(self.redact(f"{self.payer}: {step}: {message}"),
                           retryable=retryable, code=code, payer=self.payer, step=step,
                           url=self.current_url(), **self.redact(context))

    def polite(self) -> None:
        """Wait until ``portal.min_interval_ms`` has passed since this session's last request."""
        gap = self.config.portal.min_interval_ms / 1000
        if gap and self._last_request is not None:
            wait = self._last_request + gap - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.clock()

    # steps ------------------------------------------------------------------------------------
    def step(self, name: str, action: Callable[[], T]) -> T:
        """Run ``action`` as step ``name``: transient faults retried with backoff, then raised;
        a lost session signs in again (within :data:`MAX_RELOGINS`) and redoes the step."""
        retry = self.config.retry
        retrying = Retrying(
            stop=stop_after_attempt(retry.attempts),
            wait=wait_exponential(multiplier=retry.backoff_initial_s, max=retry.backoff_max_s)
            + wait_random(0, retry.jitter_s),
            retry=retry_if_exception(_is_retryable),
            reraise=True,
            sleep=self.sleep,
            before_sleep=lambda state: self._log_retry(name, state),
        )
        while True:
            try:
                return retrying(self._guarded, name, action)
            except SystemFault as fault:
                if fault.code == FaultCode.PORTAL_MAINTENANCE and fault.retryable:
                    # Still down after the whole retry budget: stop this payer (not one item).
                    fault.retryable = False
                    fault.message += " (still down after the retry budget)"
                    fault.args = (fault.message,)
                if fault.code != FaultCode.SESSION_LOST or name == "login" \
                        or self.sign_in is None or self.relogins >= MAX_RELOGINS:
                    self._finish_fault(fault, name, retrying)
                    raise
                # Session expired mid-run: sign in again and redo only this step.
                self.relogins += 1
                log.warning("%s: session lost at step %s; signing in again (%d of %d) and "
                            "resuming", self.payer, name, self.relogins, MAX_RELOGINS)
                if self.evidence is not None:
                    self.evidence.pause_trace()  # the sign-in (password, code) is never traced
                self.sign_in()

    def _finish_fault(self, fault: SystemFault, name: str, retrying: Retrying) -> None:
        """Add the evidence a person needs to a fault that leaves step ``name``."""
        fault.context.setdefault("step", name)
        fault.context.setdefault("url", self.current_url())
        fault.context["attempts"] = fault.context.get("attempts") or int(
            retrying.statistics.get("attempt_number", 1))
        if self.evidence is None:
            return
        if "trace" not in fault.context:  # before the screenshot, whose masking names secrets
            fault.context["trace"] = self.evidence.save_trace(name)
        if "screenshot" not in fault.context:
            fault.context["screenshot"] = self.evidence.screenshot(name)

    def _log_retry(self, name: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: step %s failed (attempt %d of %d, %s); retrying in %.2fs",
                    self.payer, name, state.attempt_number, self.config.retry.attempts,
                    getattr(exc, "code", type(exc).__name__),
                    state.next_action.sleep if state.next_action else 0.0)

    def _guarded(self, name: str, action: Callable[[], T]) -> T:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            return action()
        except ClaimwrightError as exc:
            exc.message = self.redact(exc.message)
            exc.args = (exc.message,)
            exc.context = self.redact(exc.context)
            raise
        except PlaywrightTimeout as exc:
            raise self.fault("timed out", step=name, code=FaultCode.TIMEOUT, retryable=True,
                             detail=first_line(exc)) from None
        except PlaywrightError as exc:
            if _NETWORK_ERROR.search(str(exc)):
                raise self.fault("portal unreachable", step=name,
                                 code=FaultCode.PORTAL_UNREACHABLE, retryable=True,
                                 detail=first_line(exc)) from None
            raise self.fault("browser error", step=name, code=FaultCode.BROWSER_ERROR,
                             retryable=False, detail=first_line(exc)) from None

    # batches ----------------------------------------------------------------------------------
    def take(self, what: str, action: Callable[[], T],
             record: Callable[[ClaimwrightError, bool], Any],
             label: dict[str, Any] | None = None) -> T | None:
        """Take one item of a batch (``what``: e.g. "remittance R1") under the circuit breaker.

        Taken: its value (the breaker's count resets). A ``BusinessError`` (a bad item):
        ``record(exc, False)``, None; the batch goes on. A transient ``SystemFault`` that
        outlived its retries: ``record(fault, True)``, None, until ``retry.circuit_breaker_after``
        such failures in a row open the circuit: ``SystemFault(code=circuit-open)`` naming each
        (``label`` plus its code, reason and evidence). A permanent fault is raised at once.
        """
        try:
            value = action()
        except BusinessError as exc:
            log.warning("%s: %s not taken: %s", self.payer, what, exc.message)
            record(exc, False)
            return None
        except SystemFault as fault:
            if not fault.retryable:
                raise
            record(fault, True)
            if self.breaker.failure((label or {}, fault)):
                raise self.circuit_open() from None
            log.warning("%s: %s not taken after %s attempt(s) (%s); going on (%d of %d failures "
                        "in a row before the circuit opens)", self.payer, what,
                        fault.context.get("attempts"), fault.code,
                        len(self.breaker.consecutive), self.breaker.threshold)
            if self.evidence is not None:
                self.evidence.resume_trace()  # that failure's trace was saved; record what follows
            return None
        self.breaker.success()
        return value

    def circuit_open(self) -> SystemFault:
        failures: list[tuple[dict[str, Any], SystemFault]] = list(self.breaker.consecutive)
        last = failures[-1][1].context
        codes = ", ".join(sorted({str(f.code) for _, f in failures}))
        items = [{**label, "code": f.code, "reason": f.message,
                  **{k: f.context.get(k) for k in ("step", "url", "screenshot", "trace")}}
                 for label, f in failures]
        fault = self.fault(f"circuit open: {len(failures)} items in a row failed with portal "
                           f"faults ({codes}) after their retries; payer stopped",
                           step="circuit-breaker", code=FaultCode.CIRCUIT_OPEN, retryable=False,
                           failed_items=items, last_step=last.get("step"),
                           attempts=sum(int(f.context.get("attempts") or 1) for _, f in failures))
        for key in ("url", "screenshot", "trace"):
            fault.context[key] = last.get(key) or (fault.context.get(key) if key == "url" else None)
        log.error("%s: %s", self.payer, fault.message)
        return fault
