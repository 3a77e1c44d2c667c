"""The generic portal bot: one browser per pull, steps with bounded retries, documents saved safely.

Failure model (``claimwright.errors``):

- transient (timeout, network error, HTTP 5xx) -> ``SystemFault`` retried here, in the step layer
  only (tenacity: exponential backoff with jitter, ``retry.attempts`` tries, then re-raised);
- permanent (login rejected, CAPTCHA, a locator that matches nothing, a changed table, a lost
  session, bad config) -> ``SystemFault(retryable=False)`` at once;
- a bad document (not a PDF, truncated, missing, unreadable listing row) -> ``BusinessError``
  recorded in ``PullResult.failed``; the batch goes on.

Every ``SystemFault`` leaving :func:`pull_remittances` carries ``step``, ``url`` and, when the page
could be captured, ``screenshot`` (a PNG in ``evidence_dir``, inputs cleared and credentials
masked). Credentials never enter messages, context, logs or screenshots.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urljoin, urlsplit

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from claimwright.errors import BusinessError, ClaimwrightError, SystemFault

from .browser import launch_browser
from .config import PayerConfig, load_payer_config
from claimwright.fileio import write_atomic

from .documents import document_path, document_problem
from .locators import Resolved, combined, first_present
from .sessions import default_session_dir, forget_state, save_state, state_path, usable_state
from claimwright.types import FaultCode

if TYPE_CHECKING:
    from playwright.sync_api import APIResponse, Browser, BrowserContext, Page, Playwright, Response

log = logging.getLogger("claimwright.bots")
T = TypeVar("T")

#: How many times one pull may sign in again after its session was lost mid-run.
MAX_RELOGINS = 3
#: Text of a "down for maintenance" page (used when the config has no ``maintenance`` locator).
_MAINTENANCE_TEXT = re.compile(r"\bmaintenance\b", re.IGNORECASE)
_NETWORK_ERROR = re.compile(r"net::ERR_|ECONNREFUSED|ECONNRESET|socket hang up|EPIPE",
                            re.IGNORECASE)


# results ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ListedRemittance:
    """One row of the portal's results table."""

    remittance_id: str
    payment_date: dt.date
    trace_number: str
    amount: Decimal
    url: str
    page: int


@dataclass(frozen=True)
class DownloadedDocument:
    payer: str
    remittance_id: str
    path: Path
    sha256: str
    size: int
    payment_date: dt.date
    trace_number: str
    amount: Decimal
    url: str
    #: what ``path`` holds: "pdf" or "x12-835" (the document the pipeline parses)
    kind: str = "pdf"
    #: other files of the same remittance, by kind (e.g. the PDF beside an 835), for people
    renditions: dict[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class FailedDocument:
    """A listed remittance that could not be taken (a ``BusinessError``); others went on."""

    payer: str
    remittance_id: str
    reason: str
    code: str
    url: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class PullResult:
    payer: str
    start: dt.date
    end: dt.date
    downloaded: list[DownloadedDocument] = field(default_factory=list)
    skipped_known: list[str] = field(default_factory=list)
    failed: list[FailedDocument] = field(default_factory=list)
    skipped_out_of_range: list[str] = field(default_factory=list)
    pages_visited: int = 0
    listed: int = 0


@dataclass
class CircuitBreaker:
    """Per pull: opens after ``threshold`` documents in a row failed with a transient system
    fault that outlived its retries (a document taken resets the count)."""

    threshold: int
    consecutive: list[FailedDocument] = field(default_factory=list)

    def success(self) -> None:
        self.consecutive.clear()

    def failure(self, failed: FailedDocument) -> bool:
        """Count a failure; True when the circuit opens now."""
        self.consecutive.append(failed)
        return len(self.consecutive) >= self.threshold


# per-portal concurrency (payers run in parallel; one portal never sees more than its limit) --
_SLOTS: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


@contextmanager
def portal_slot(config: PayerConfig) -> Iterator[None]:
    """Hold one of ``portal.max_sessions`` session slots of this payer's portal (in-process)."""
    with _SLOTS_LOCK:
        limit = config.portal.max_sessions
        slot = _SLOTS.setdefault((config.payer, limit), threading.BoundedSemaphore(limit))
    if not slot.acquire(blocking=False):
        log.info("%s: waiting for a free portal session slot (portal.max_sessions=%d)",
                 config.payer, config.portal.max_sessions)
        slot.acquire()
    try:
        yield
    finally:
        slot.release()


# helpers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Credentials:
    username: str
    password: str
    totp_secret: str | None = None

    def __repr__(self) -> str:
        return "_Credentials(***)"


def _secret_block_value(name: str) -> str:
    """The value of Prefect Secret block ``name`` ("" when it cannot be read)."""
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as exc:  # noqa: BLE001 - missing block, no API: reported as missing
        log.warning("Prefect Secret block %r not readable (%s)", name, type(exc).__name__)
        return ""
    return value if isinstance(value, str) else ""


def _read_credentials(config: PayerConfig) -> _Credentials:
    """The login from ``credentials``: a set environment variable, else the Prefect Secret block."""
    creds = config.credentials
    items = ["username", "password"] + (["totp_secret"] if creds.has_totp else [])
    values: list[str] = []
    missing: list[str] = []
    names: list[str] = []
    for item in items:
        env, block = getattr(creds, f"{item}_env"), getattr(creds, f"{item}_block")
        value = os.environ.get(env, "") if env else ""
        if not value and block:
            value = _secret_block_value(block)
        if not value:
            missing.append(creds.source(item))
            names.append(env or f"block:{block}")
        values.append(value)
    if missing:
        raise SystemFault(f"{config.payer}: portal credentials not set: {', '.join(missing)} "
                          "empty or missing", retryable=False, code=FaultCode.CREDENTIALS_MISSING,
                          payer=config.payer, step="credentials", variables=names)
    return _Credentials(*values)


def _parse_amount(text: str) -> Decimal:
    cleaned = text.strip().replace(",", "").replace("$", "").replace(" ", "")
    negative = cleaned.startswith("(") and cleaned.endswith(")")
    cleaned = cleaned.strip("()")
    value = Decimal(cleaned)
    return -value if negative else value


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, SystemFault) and exc.retryable


class Bot:
    """One logged-in browser session on one payer's portal, run as named steps.

    Portal flows (``bots.portal_flows``) drive it; locators resolve inside ``self.root``, the page
    itself unless a flow points it at a frame (``bot.use_frame(...)``).
    """

    def __init__(self, config: PayerConfig, base_url: str, credentials: _Credentials,
                 context: BrowserContext, page: Page, evidence_dir: Path,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self.base_url = base_url
        self.credentials = credentials
        self.context = context
        self.page = page
        self.evidence_dir = evidence_dir
        self.sleep = sleep
        self._secrets = [s for s in (credentials.username, credentials.password,
                                     credentials.totp_secret) if s]
        self._last_otp_step: int | None = None
        self.relogins = 0
        self.state_file: Path | None = None  # where the sign-in is saved after each login
        self.reused = False        # the browser context was opened with a saved sign-in
        self._tracing = False      # tracing.start() called (after the first sign-in)
        self._chunk_open = False   # a trace chunk is recording now
        self._fallbacks_reported: set[str] = set()
        self.root: Any = page      # where locators are looked up: the page, or a frame of it
        self.breaker = CircuitBreaker(config.retry.circuit_breaker_after)
        self._last_request: float | None = None  # politeness (portal.min_interval_ms)
        #: called with each document as soon as it is saved (the caller records it at once)
        self.on_downloaded: Callable[[DownloadedDocument], None] | None = None

    def use_frame(self, frame: Any | None) -> None:
        """Look locators up inside ``frame`` (a Playwright Frame/FrameLocator); None: the page."""
        self.root = frame if frame is not None else self.page

    # safety ---------------------------------------------------------------------------------
    def redact(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, "***")
            return value
        if isinstance(value, dict):
            return {k: self.redact(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.redact(v) for v in value)
        return value

    def _current_url(self) -> str | None:
        try:
            return self.redact(self.page.url)
        except Exception:  # noqa: BLE001 - the page may be gone
            return None

    def _fault(self, message: str, *, step: str, code: str, retryable: bool,
               **context: Any) -> SystemFault:
        return SystemFault(self.redact(f"{self.config.payer}: {step}: {message}"),
                           retryable=retryable, code=code, payer=self.config.payer, step=step,
                           url=self._current_url(), **self.redact(context))

    # steps ----------------------------------------------------------------------------------
    def step(self, name: str, action: Callable[[], T]) -> T:
        """Run ``action`` as step ``name``: transient faults retried with backoff, then raised."""
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
                if fault.code == "portal-maintenance" and fault.retryable:
                    # Still down after the whole retry budget: stop this payer (not one item).
                    fault.retryable = False
                    fault.message += " (still down after the retry budget)"
                    fault.args = (fault.message,)
                if fault.code != "session-lost" or name == "login" \
                        or self.relogins >= MAX_RELOGINS:
                    self._finish_fault(fault, name, retrying)
                    raise
                # Session expired mid-run: sign in again and redo only this step.
                self.relogins += 1
                log.warning("%s: session lost at step %s; signing in again (%d of %d) and "
                            "resuming", self.config.payer, name, self.relogins, MAX_RELOGINS)
                self.pause_trace()  # the sign-in (password, code) is never traced
                self.login()

    def _finish_fault(self, fault: SystemFault, name: str, retrying: Retrying) -> None:
        """Add the evidence a person needs to a fault that leaves step ``name``."""
        fault.context.setdefault("step", name)
        fault.context.setdefault("url", self._current_url())
        fault.context["attempts"] = fault.context.get("attempts") or self._attempts(retrying)
        if "trace" not in fault.context:  # before the screenshot, whose masking names secrets
            fault.context["trace"] = self.save_trace(name)
        if "screenshot" not in fault.context:
            fault.context["screenshot"] = self.screenshot(name)

    @staticmethod
    def _attempts(retrying: Retrying) -> int:
        return int(retrying.statistics.get("attempt_number", 1))

    def _log_retry(self, name: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning("%s: step %s failed (attempt %d of %d, %s); retrying in %.2fs",
                    self.config.payer, name, state.attempt_number, self.config.retry.attempts,
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
            raise self._fault("timed out", step=name, code=FaultCode.TIMEOUT, retryable=True,
                              detail=str(exc).splitlines()[0]) from None
        except PlaywrightError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if _NETWORK_ERROR.search(str(exc)):
                raise self._fault("portal unreachable", step=name, code=FaultCode.PORTAL_UNREACHABLE,
                                  retryable=True, detail=first) from None
            raise self._fault("browser error", step=name, code=FaultCode.BROWSER_ERROR, retryable=False,
                              detail=first) from None

    # evidence -------------------------------------------------------------------------------
    def resume_trace(self) -> None:
        """Record a Playwright trace from here on (called only once signed in)."""
        try:
            if not self._tracing:
                self.context.tracing.start(screenshots=True, snapshots=True, sources=False)
                self._tracing = True
                self._chunk_open = True
            elif not self._chunk_open:
                self.context.tracing.start_chunk()
                self._chunk_open = True
        except Exception as exc:  # noqa: BLE001 - evidence is best effort
            log.warning("%s: no trace (%s)", self.config.payer, type(exc).__name__)

    def pause_trace(self) -> None:
        """Stop tracing and drop what it holds: a sign-in (password, code) follows, and a trace's
        network log spans all its chunks, so only a fresh trace keeps the sign-in out."""
        self._chunk_open = False
        if self._tracing:
            self._tracing = False
            try:
                self.context.tracing.stop()
            except Exception:  # noqa: BLE001
                pass

    def save_trace(self, step: str) -> str | None:
        """Save the current trace chunk (since the last sign-in) as evidence; its path or None."""
        if not self._chunk_open:
            return None
        self._chunk_open = False
        try:
            self.evidence_dir.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
            path = self.evidence_dir / f"{self.config.payer}-{stamp}-{re.sub(r'[^a-z0-9-]', '-', step)}.trace.zip"
            self.context.tracing.stop_chunk(path=str(path))
            return str(path)
        except Exception as exc:  # noqa: BLE001 - evidence is best effort; the fault matters
            log.warning("%s: no trace for step %s (%s)", self.config.payer, step,
                        type(exc).__name__)
            return None

    def stop_trace(self) -> None:
        self.pause_trace()

    def screenshot(self, step: str) -> str | None:
        """Save a PNG of the page with inputs cleared and credentials masked; its path or None."""
        try:
            self.evidence_dir.mkdir(parents=True, exist_ok=True)
            stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
            path = self.evidence_dir / f"{self.config.payer}-{stamp}-{re.sub(r'[^a-z0-9-]', '-', step)}.png"
            self.page.evaluate(
                """(secrets) => {
                    for (const el of document.querySelectorAll('input, textarea')) {
                        if (el.type === 'password' || secrets.includes(el.value)) el.value = '';
                    }
                }""",
                self._secrets,
            )
            mask = [combined(self.page, self.config.locators[n]) for n in self.config.screenshot_mask]
            mask += [self.page.get_by_text(s) for s in self._secrets]
            self.page.screenshot(path=str(path), full_page=True, mask=mask, timeout=10_000)
            return str(path)
        except Exception as exc:  # noqa: BLE001 - evidence is best effort; the fault matters
            log.warning("%s: no screenshot for step %s (%s)", self.config.payer, step,
                        self.redact(type(exc).__name__))
            return None

    # page primitives ------------------------------------------------------------------------
    def _is_document_response(self, response: Response) -> bool:
        return (response.request.is_navigation_request()
                and response.frame == self.page.main_frame
                and not 300 <= response.status < 400)

    def _check(self, step: str, response: Response | None, *, allow_login: bool = False) -> None:
        if response is None:
            return
        status = response.status
        if self._maintenance_shown(status):
            raise self._fault(f"portal is down for maintenance (HTTP {status})", step=step,
                              code=FaultCode.PORTAL_MAINTENANCE, retryable=True, status=status,
                              retry_after=response.headers.get("retry-after"))
        if status >= 500:
            raise self._fault(f"portal answered HTTP {status}", step=step, code=FaultCode.HTTP_5XX,
                              retryable=True, status=status)
        if status >= 400:
            raise self._fault(f"portal answered HTTP {status}", step=step, code=FaultCode.HTTP_4XX,
                              retryable=False, status=status)
        if not allow_login and self._on_login_page():
            raise self._fault("portal sent the bot back to the login page (session lost)",
                              step=step, code=FaultCode.SESSION_LOST, retryable=False)

    def _on_login_page(self) -> bool:
        """The page, or the frame locators resolve in (``use_frame``), shows the sign-in page."""
        login = self.config.portal.login_path.rstrip("/")
        urls = [self.page.url]
        if self.root is not self.page:
            urls.append(getattr(self.root, "url", ""))  # a Frame has a url, a FrameLocator none
        return any(urlsplit(u).path.rstrip("/") == login for u in urls if u)

    def _maintenance_shown(self, status: int) -> bool:
        """The page on screen is the portal's maintenance page: the ``maintenance`` locator when
        configured, else (on an HTTP 5xx) the word "maintenance" in its title or text. Looked
        for where the bot works: the page, or the frame of ``use_frame``."""
        where = self.root
        if "maintenance" in self.config.locators and first_present(
                where, "maintenance", self.config.locators["maintenance"]) is not None:
            return True
        if status < 500:
            return False
        try:
            title = where.title() if hasattr(where, "title") else ""
            text = title + " " + where.locator("body").inner_text(timeout=2000)
        except Exception:  # noqa: BLE001 - an empty or broken error page: a plain 5xx
            return False
        return bool(_MAINTENANCE_TEXT.search(text[:5000]))

    def polite(self) -> None:
        """Wait until ``portal.min_interval_ms`` has passed since this session's last request."""
        gap = self.config.portal.min_interval_ms / 1000
        if gap and self._last_request is not None:
            wait = self._last_request + gap - time.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last_request = time.monotonic()

    def goto(self, step: str, url: str, *, allow_login: bool = False) -> None:
        self.polite()
        response = self.page.goto(url, wait_until="domcontentloaded",
                                  timeout=self.config.timeouts.navigation_ms)
        self._check(step, response, allow_login=allow_login)

    def submit(self, step: str, button: Resolved, *, allow_login: bool = False) -> None:
        """Click ``button`` and wait for the document it navigates to; check its status."""
        self.polite()
        with self.page.expect_response(self._is_document_response,
                                       timeout=self.config.timeouts.navigation_ms) as info:
            button.locator.click()
        self.page.wait_for_load_state("domcontentloaded",
                                      timeout=self.config.timeouts.navigation_ms)
        self._check(step, info.value, allow_login=allow_login)

    def present(self, name: str, scope: Any = None) -> Resolved | None:
        """The element for locator ``name`` if it is on the page now (no waiting)."""
        chain = self.config.locators.get(name)
        if not chain:
            return None
        return first_present(scope or self.root, name, chain, self._fallbacks_reported)

    def require(self, step: str, name: str) -> Resolved:
        """Wait for locator ``name``; a permanent fault when none of its candidates appears."""
        return self.await_any(step, [name])[1]

    def await_any(self, step: str, names: Iterable[str]) -> tuple[str, Resolved]:
        """Wait until one of the named locators is visible; return the first in ``names`` order."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        names = [n for n in names if n in self.config.locators]
        chains = [c for n in names for c in self.config.locators[n]]
        try:
            combined(self.root, chains).first.wait_for(state="visible",
                                                       timeout=self.config.timeouts.action_ms)
        except PlaywrightTimeout:
            tried = {n: [s.describe() for s in self.config.locators[n]] for n in names}
            raise self._fault(f"none of {', '.join(names)} found on the page", step=step,
                              code=FaultCode.LOCATOR_NOT_FOUND, retryable=False, locators=tried) from None
        for name in names:
            found = self.present(name)
            if found is not None:
                return name, found
        raise self._fault(f"{', '.join(names)} vanished while being read", step=step,
                          code=FaultCode.LOCATOR_NOT_FOUND, retryable=False)

    def _check_captcha(self, step: str) -> None:
        if self.present("captcha") is not None:
            raise self._fault("the portal shows a CAPTCHA; a person must sign in", step=step,
                              code=FaultCode.CAPTCHA, retryable=False)

    # sign-in (shared by every portal flow) -----------------------------------------------------------
    def login(self) -> None:
        def action() -> None:
            self.use_frame(None)  # the sign-in form is a top-level page (a frame may be gone)
            self.goto("login", self.base_url + self.config.portal.login_path, allow_login=True)
            self._check_captcha("login")
            self.require("login", "username").locator.fill(self.credentials.username)
            self.require("login", "password").locator.fill(self.credentials.password)
            self.submit("login", self.require("login", "submit_login"), allow_login=True)
            outcome, found = self.await_any("login", ["captcha", "login_error", "otp", "logged_in"])
            if outcome == "captcha":
                self._check_captcha("login")
            if outcome == "otp":
                outcome, found = self._one_time_code()
            if outcome == "login_error":
                message = " ".join(found.locator.inner_text().split())[:200]
                raise self._fault(
                    f"portal rejected the login from {self.config.credentials.source('username')}"
                    f" / {self.config.credentials.source('password')}", step="login",
                    code=FaultCode.LOGIN_REJECTED, retryable=False, portal_message=message)

        self.step("login", action)
        log.info("%s: signed in", self.config.payer)
        if self.state_file is not None:
            save_state(self.context.storage_state(), self.state_file)
        self.resume_trace()

    def start_session(self, reused: bool) -> None:
        """Resume a saved sign-in when it still works, else sign in."""
        if reused:
            def action() -> bool:
                self.goto("resume-session", self.base_url + self.config.portal.search_path,
                          allow_login=True)
                return not self._on_login_page() and self.present("logged_in") is not None

            if self.step("resume-session", action):
                log.info("%s: saved sign-in still valid; no login needed", self.config.payer)
                self.resume_trace()
                return
            log.info("%s: saved sign-in expired; signing in", self.config.payer)
            if self.state_file is not None:
                forget_state(self.state_file)
        self.login()

    def _one_time_code(self) -> tuple[str, Resolved]:
        """Answer the portal's one-time-code prompt with a fresh TOTP from the shared secret."""
        if not self.credentials.totp_secret:
            raise self._fault("the portal asks for a one-time code but the payer config names no "
                              "credentials.totp_secret_env or totp_secret_block", step="mfa",
                              code=FaultCode.MFA_NOT_CONFIGURED, retryable=False)
        code = self._totp_now()
        self.require("mfa", "otp").locator.fill(code)
        self.submit("mfa", self.require("mfa", "submit_otp"), allow_login=True)
        outcome, found = self.await_any("mfa", ["captcha", "otp_error", "logged_in"])
        if outcome == "captcha":
            self._check_captcha("mfa")
        if outcome == "otp_error":
            message = " ".join(found.locator.inner_text().split())[:200]
            raise self._fault(f"portal rejected the one-time code made from "
                              f"{self.config.credentials.source('totp_secret')} (check the secret and "
                              "this machine's clock)", step="mfa", code=FaultCode.MFA_REJECTED,
                              retryable=False, portal_message=message)
        return outcome, found

    def _totp_now(self) -> str:
        """The current code; waits for the next 30 s window when under 5 s remain or when this
        window's code was already used (a code is never sent twice)."""
        import pyotp

        totp = pyotp.TOTP(self.credentials.totp_secret)
        now = time.time()
        window = int(now // totp.interval)
        remaining = totp.interval - now % totp.interval
        if remaining < 5 or window == self._last_otp_step:
            self.sleep(remaining + 0.2)
            now = time.time()
            window = int(now // totp.interval)
        self._last_otp_step = window
        return totp.at(now)

    def search(self, start: dt.date, end: dt.date) -> None:
        fmt = self.config.search.date_format

        def action() -> None:
            self.goto("search", self.base_url + self.config.portal.search_path)
            self.require("search", "date_from").locator.fill(start.strftime(fmt))
            self.require("search", "date_to").locator.fill(end.strftime(fmt))
            self.submit("search", self.require("search", "submit_search"))
            self._await_results("search")

        self.step("search", action)

    def _await_results(self, step: str) -> str:
        outcome, found = self.await_any(step, ["search_error", "results_table", "no_results"])
        if outcome == "search_error":
            message = " ".join(found.locator.inner_text().split())[:200]
            raise self._fault("portal rejected the search", step=step, code=FaultCode.SEARCH_REJECTED,
                              retryable=False, portal_message=message)
        return outcome

    def open_page(self, number: int, url: str) -> None:
        def action() -> None:
            self.goto(f"results-page-{number}", url)
            self._await_results(f"results-page-{number}")

        self.step(f"results-page-{number}", action)

    def read_page(self, number: int) -> tuple[list[ListedRemittance], list[FailedDocument], str | None]:
        """Rows of the results page on screen, rows that could not be read, and the next URL."""
        return self.step(f"read-page-{number}", lambda: self._read_page(number))

    def column_index(self, table: Resolved, step: str) -> dict[str, int]:
        """Position of each configured ``results.columns`` header in the results ``table``; a
        permanent ``table-changed`` fault naming the headers seen when one is missing."""
        res = self.config.results
        headers = [_norm(h) for h in
                   table.locator.locator(f"css={res.header_css}").all_inner_texts()]
        index: dict[str, int] = {}
        for key, header in res.columns.items():
            if _norm(header) not in headers:
                raise self._fault(f"results table has no column {header!r}", step=step,
                                  code=FaultCode.TABLE_CHANGED, retryable=False, headers=headers)
            index[key] = headers.index(_norm(header))
        return index

    def _read_page(self, number: int) -> tuple[list[ListedRemittance], list[FailedDocument], str | None]:
        step = f"read-page-{number}"
        table = self.present("results_table")
        if table is None:
            return [], [], None  # the "no results" message is on screen
        res = self.config.results
        index = self.column_index(table, step)
        listed: list[ListedRemittance] = []
        failed: list[FailedDocument] = []
        # a row links to the document, or (``documents_link``) to its documents page
        row_link = "documents_link" if "documents_link" in self.config.locators else "download_link"
        for row in table.locator.locator(f"css={res.row_css}").all():
            cells = [" ".join(c.split()) for c in row.locator(f"css={res.cell_css}").all_inner_texts()]
            if len(cells) <= max(index.values()):
                continue  # a spacer or summary row
            rid = cells[index["remittance_id"]]
            link = self.present(row_link, scope=row)
            href = link.locator.get_attribute("href") if link else None
            url = urljoin(self.page.url, href) if href else None
            try:
                if not rid:
                    raise ValueError("empty remittance id")
                if url is None:
                    raise ValueError(f"no {row_link.replace('_', ' ')}")
                listed.append(ListedRemittance(
                    remittance_id=rid,
                    payment_date=dt.datetime.strptime(cells[index["payment_date"]], res.date_format).date(),
                    trace_number=cells[index["trace_number"]],
                    amount=_parse_amount(cells[index["amount"]]),
                    url=url, page=number))
            except (ValueError, InvalidOperation) as exc:
                failed.append(FailedDocument(self.config.payer, rid or f"(row on page {number})",
                                             f"listing row cannot be read: {exc}", FaultCode.BAD_LISTING,
                                             url, {"page": number, "cells": cells}))
        if failed and not listed:
            # Not one row readable: the page changed (or the config is wrong), not the data.
            raise self._fault(f"no row of results page {number} could be read: "
                              f"{failed[0].reason}", step=step, code=FaultCode.TABLE_CHANGED,
                              retryable=False, rows=len(failed),
                              locators={row_link: [s.describe() for s in
                                                   self.config.locators[row_link]]})
        next_link = self.present("next_page")
        next_href = next_link.locator.get_attribute("href") if next_link else None
        return listed, failed, urljoin(self.page.url, next_href) if next_href else None

    def download(self, item: ListedRemittance, dest_dir: Path,
                 url: str | None = None) -> DownloadedDocument:
        """Fetch the row's PDF (``url``, default the row's link; one step, retried on transient
        faults) and save it."""
        path, sha, size = self.fetch_document(item, dest_dir, url or item.url, "pdf")
        return DownloadedDocument(
            payer=self.config.payer, remittance_id=item.remittance_id, path=path, sha256=sha,
            size=size, payment_date=item.payment_date, trace_number=item.trace_number,
            amount=item.amount, url=item.url)

    def take(self, result: PullResult, item: ListedRemittance,
             fetch: Callable[[], DownloadedDocument]) -> DownloadedDocument | None:
        """Take one listed document with ``fetch`` under the pull's circuit breaker.

        Taken: added to ``result.downloaded`` (the breaker's count resets). A ``BusinessError``
        (bad document): ``result.failed``, the batch goes on. A transient ``SystemFault`` that
        outlived its retries: ``result.failed`` too (its code and evidence), the batch goes on,
        until ``retry.circuit_breaker_after`` such failures in a row open the circuit:
        ``SystemFault(code=FaultCode.CIRCUIT_OPEN, retryable=False)`` listing them. A permanent fault is
        raised at once.
        """
        payer = self.config.payer
        try:
            doc = fetch()
        except BusinessError as exc:
            log.warning("%s: remittance %s not taken: %s", payer, item.remittance_id, exc.message)
            result.failed.append(FailedDocument(payer, item.remittance_id, exc.message, exc.code,
                                                item.url, dict(exc.context)))
            return None
        except SystemFault as fault:
            if not fault.retryable:
                raise
            failed = FailedDocument(payer, item.remittance_id, fault.message, fault.code,
                                    item.url, dict(fault.context))
            result.failed.append(failed)
            if self.breaker.failure(failed):
                raise self._circuit_open() from None
            log.warning("%s: remittance %s not taken after %s attempt(s) (%s); going on (%d of "
                        "%d failures in a row before the circuit opens)", payer,
                        item.remittance_id, fault.context.get("attempts"), fault.code,
                        len(self.breaker.consecutive), self.breaker.threshold)
            self.resume_trace()  # that failure's trace was saved; record what comes next
            return None
        self.breaker.success()
        result.downloaded.append(doc)
        if self.on_downloaded is not None:
            self.on_downloaded(doc)
        return doc

    def _circuit_open(self) -> SystemFault:
        failures = list(self.breaker.consecutive)
        last = failures[-1]
        codes = ", ".join(sorted({f.code for f in failures}))
        items = [{"remittance_id": f.remittance_id, "code": f.code, "reason": f.reason,
                  "step": f.context.get("step"), "url": f.context.get("url"),
                  "screenshot": f.context.get("screenshot"), "trace": f.context.get("trace")}
                 for f in failures]
        fault = self._fault(f"circuit open: {len(failures)} documents in a row failed with "
                            f"portal faults ({codes}) after their retries; payer stopped",
                            step="circuit-breaker", code=FaultCode.CIRCUIT_OPEN, retryable=False,
                            failed_items=items, last_step=last.context.get("step"),
                            attempts=sum(int(f.context.get("attempts") or 1) for f in failures))
        fault.context["url"] = last.context.get("url") or fault.context.get("url")
        fault.context["screenshot"] = last.context.get("screenshot")
        fault.context["trace"] = last.context.get("trace")
        log.error("%s: %s", self.config.payer, fault.message)
        return fault

    def fetch_document(self, item: ListedRemittance, dest_dir: Path, url: str,
                       kind: str = "pdf") -> tuple[Path, str, int]:
        """GET ``url`` with the session's cookies, check it is a ``kind`` document, save it under
        a name the bot chooses; ``(path, sha256, size)``. One step, retried on transient faults."""
        return self.step("download", lambda: self._fetch(item, dest_dir, url, kind))

    def save_document(self, item: ListedRemittance, dest_dir: Path, data: bytes, url: str,
                      kind: str = "pdf") -> tuple[Path, str, int]:
        """Check ``data`` is a ``kind`` document and save it; a ``BusinessError`` when not."""
        docs = self.config.documents
        problem = document_problem(data, kind, min_bytes=docs.min_bytes, max_bytes=docs.max_bytes)
        if problem:
            raise BusinessError(f"{self.config.payer}: remittance {item.remittance_id}: {problem}",
                                code=FaultCode.NOT_A_PDF if kind == "pdf" else FaultCode.NOT_835, url=url,
                                size=len(data))
        path = document_path(dest_dir, self.config.payer, item.remittance_id, kind)
        write_atomic(path, data)
        return path, hashlib.sha256(data).hexdigest(), len(data)

    def _fetch(self, item: ListedRemittance, dest_dir: Path, url: str,
               kind: str) -> tuple[Path, str, int]:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        step = "download"
        self.polite()
        try:
            response: APIResponse = self.context.request.get(
                url, timeout=self.config.timeouts.download_ms, max_redirects=0,
                fail_on_status_code=False)
        except PlaywrightTimeout:
            raise
        except PlaywrightError as exc:
            # e.g. "APIRequestContext.get: aborted": the connection dropped mid-body. Nothing
            # of it is kept; the step retries.
            raise self._fault("download interrupted (the connection dropped)", step=step,
                              code=FaultCode.DOWNLOAD_INTERRUPTED, retryable=True,
                              detail=str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                              document_url=url, remittance_id=item.remittance_id) from None
        try:
            status = response.status
            if status >= 500 and _MAINTENANCE_TEXT.search(_text_head(response)):
                raise self._fault(f"portal is down for maintenance (download answered HTTP "
                                  f"{status})", step=step, code=FaultCode.PORTAL_MAINTENANCE,
                                  retryable=True, status=status, document_url=url,
                                  remittance_id=item.remittance_id)
            if status >= 500:
                raise self._fault(f"download answered HTTP {status}", step=step, code=FaultCode.HTTP_5XX,
                                  retryable=True, status=status, document_url=url,
                                  remittance_id=item.remittance_id)
            if 300 <= status < 400 or status in (401, 403):
                raise self._fault(f"download answered HTTP {status} (session lost)", step=step,
                                  code=FaultCode.SESSION_LOST, retryable=False, status=status,
                                  document_url=url, remittance_id=item.remittance_id)
            if status >= 400:
                raise BusinessError(f"{self.config.payer}: remittance {item.remittance_id}: "
                                    f"download answered HTTP {status}",
                                    code=FaultCode.DOCUMENT_UNAVAILABLE, status=status, url=url)
            data = response.body()
            expected = response.headers.get("content-length", "")
            if expected.isdigit() and len(data) < int(expected):
                # The connection dropped half-way: never saved, retried.
                raise self._fault(f"download cut off after {len(data)} of {expected} bytes",
                                  step=step, code=FaultCode.DOWNLOAD_TRUNCATED, retryable=True,
                                  document_url=url, remittance_id=item.remittance_id)
        finally:
            response.dispose()
        return self.save_document(item, dest_dir, data, url, kind)


def _text_head(response: APIResponse) -> str:
    try:
        return response.body()[:5000].decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - a body that cannot be read: no text
        return ""


def _start_browser(config: PayerConfig, headless: bool) -> tuple[Playwright, Browser]:
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    try:
        pw = sync_playwright().start()
    except PlaywrightError as exc:  # e.g. the sync API called inside a running asyncio loop
        raise SystemFault(f"{config.payer}: Playwright failed to start: {str(exc).splitlines()[0]}",
                          retryable=False, code=FaultCode.BROWSER_LAUNCH_FAILED, payer=config.payer,
                          step="launch") from None
    try:
        return pw, launch_browser(pw, headless=headless)
    except PlaywrightError as exc:
        pw.stop()
        raise SystemFault(f"{config.payer}: Chromium failed to start: {str(exc).splitlines()[0]}",
                          retryable=False, code=FaultCode.BROWSER_LAUNCH_FAILED, payer=config.payer,
                          step="launch") from None
    except BaseException:
        pw.stop()
        raise


def run_pull(bot: Bot, result: PullResult, dest_dir: Path, is_known: Callable[[str], bool],
             reused: bool = False) -> None:
    """Run the payer's portal flow; a ``SystemFault`` leaving it names what was already taken."""
    from .portal_flows import get_flow

    payer = bot.config.payer
    try:
        bot.start_session(reused)
        get_flow(bot.config.flow).pull(bot, result, dest_dir, is_known)
    except SystemFault as fault:
        fault.context.setdefault("payer", payer)
        fault.context["downloaded"] = [d.remittance_id for d in result.downloaded]
        # What was taken before the fault is kept: the caller records it, so the next run does
        # not download it again.
        fault.partial_result = result
        log.error("%s: pull stopped at step %s: %s (%s)", payer, fault.context.get("step"),
                  fault.message, fault.code)
        raise


def pull_remittances(payer: str | PayerConfig, start: dt.date, end: dt.date, dest_dir: Path, *,
                     is_known: Callable[[str], bool] = lambda rid: False,
                     base_url: str | None = None, evidence_dir: Path | None = None,
                     headless: bool = True, session_dir: Path | None = None,
                     on_downloaded: Callable[[DownloadedDocument], None] | None = None
                     ) -> PullResult:
    """Download ``payer``'s remittance PDFs paid between ``start`` and ``end`` (inclusive).

    Remittances for which ``is_known(remittance_id)`` is true are listed but not downloaded.
    Files go to ``<dest_dir>/<payer>/<safe remittance id>.pdf``; screenshots of faults to
    ``evidence_dir`` (default ``<dest_dir>/_evidence``). Raises ``SystemFault`` when the portal
    fails (after bounded retries for transient faults); bad documents land in ``result.failed``.
    The sign-in is saved in ``session_dir`` (default :func:`bots.sessions.default_session_dir`,
    outside the project, 0600) and reused by the next pull while the portal accepts it.
    """
    config = payer if isinstance(payer, PayerConfig) else load_payer_config(payer)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    url = config.resolve_base_url(base_url)
    dest_dir = Path(dest_dir)
    evidence_dir = Path(evidence_dir) if evidence_dir is not None else dest_dir / "_evidence"
    result = PullResult(config.payer, start, end)
    log.info("%s: pulling remittances paid %s..%s from %s", config.payer, start, end, url)

    with bot_session(config, url, evidence_dir=evidence_dir, session_dir=session_dir,
                     headless=headless) as bot:
        bot.on_downloaded = on_downloaded
        run_pull(bot, result, dest_dir, is_known, reused=bot.reused)
    log.info("%s: listed %d on %d page(s); downloaded %d, already known %d, failed %d",
             config.payer, result.listed, result.pages_visited, len(result.downloaded),
             len(result.skipped_known), len(result.failed))
    return result


@contextlib.contextmanager
def bot_session(config: PayerConfig, url: str, *, evidence_dir: Path,
                session_dir: Path | None = None, headless: bool = True) -> Iterator[Bot]:
    """A :class:`Bot` on its own browser, not signed in yet (``bot.reused``: a saved sign-in was
    loaded; call ``bot.start_session(bot.reused)``), holding one of the portal's session slots
    (``portal.max_sessions``) meanwhile. The trace is dropped and the browser closed on exit.
    Credentials are read first: missing ones fail before any browser starts."""
    from .portal_flows import get_flow

    credentials = _read_credentials(config)
    saved = state_path(session_dir or default_session_dir(), config.payer, url,
                       credentials.username)
    reuse = usable_state(saved)
    # Only flows that take documents from browser download events (ACCEPT_DOWNLOADS) get them.
    downloads = bool(getattr(get_flow(config.flow), "ACCEPT_DOWNLOADS", False))
    with portal_slot(config):
        pw, browser = _start_browser(config, headless)
        try:
            context = browser.new_context(accept_downloads=downloads, storage_state=reuse)
            context.set_default_timeout(config.timeouts.action_ms)
            context.set_default_navigation_timeout(config.timeouts.navigation_ms)
            bot = Bot(config, url, credentials, context, context.new_page(), Path(evidence_dir))
            bot.state_file = saved
            bot.reused = reuse is not None
            try:
                yield bot
            finally:
                bot.stop_trace()  # a clean run keeps no trace
        finally:
            try:
                browser.close()
            finally:
                pw.stop()
