"""A bot session: one fresh browser context on one payer's portal, signed in once, with its
runtime (steps, evidence, budgets), its page and its sign-in form.

The browser is injected (``browser=``) or this thread's shared one
(:func:`bots.browser.thread_browser`); the context is always new (own cookies, storage, trace)
and closed on exit. A saved sign-in (``bots.signins``) is loaded when usable. The session holds
one of the portal's ``portal.max_sessions`` slots meanwhile (in-process, across threads).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .browser import driving, thread_browser
from .components.login import AskCode, LoginForm
from .components.page import PortalPage
from .config import PayerConfig
from .credentials import Credentials, read_credentials
from .evidence import Evidence
from .runtime import Runtime
from .signins import default_session_dir, forget_state, save_state, state_path, usable_state

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

log = logging.getLogger("claimwright.bots")

# per-portal concurrency (payers run in parallel; one portal never sees more than its limit) --
_SLOTS: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_SLOTS_LOCK = threading.Lock()


def slot_semaphore(config: PayerConfig) -> threading.BoundedSemaphore:
    """The semaphore counting the open sessions of ``config``'s portal (``portal.max_sessions``)."""
    with _SLOTS_LOCK:
        limit = config.portal.max_sessions
        return _SLOTS.setdefault((config.payer, limit), threading.BoundedSemaphore(limit))


@contextlib.contextmanager
def portal_slot(config: PayerConfig) -> Iterator[None]:
    """Hold one of ``portal.max_sessions`` session slots of this payer's portal (in-process)."""
    slot = slot_semaphore(config)
    if not slot.acquire(blocking=False):
        log.info("%s: waiting for a free portal session slot (portal.max_sessions=%d)",
                 config.payer, config.portal.max_sessions)
        slot.acquire()
    try:
        yield
    finally:
        slot.release()


class BotSession:
    """One browser context on ``config``'s portal: ``rt`` (the runtime), ``portal`` (the page
    every component works on) and ``login`` (its sign-in form)."""

    def __init__(self, config: PayerConfig, base_url: str, credentials: Credentials,
                 context: BrowserContext, page: Page, evidence_dir: Path, *,
                 state_file: Path | None = None, reused: bool = False,
                 sleep: Callable[[float], None] = time.sleep,
                 ask_code: AskCode | None = None) -> None:
        self.config = config
        self.state_file = state_file  # where the sign-in is saved after each login
        self.reused = reused          # the context was opened with a saved sign-in
        self.rt = Runtime(config, secrets=credentials.secrets, url=lambda: page.url, sleep=sleep)
        self.rt.evidence = Evidence(self.rt, context, page, evidence_dir)
        self.rt.sign_in = self.sign_in
        self.portal = PortalPage(self.rt, context, page, base_url)
        self.login = LoginForm(self.portal, credentials, ask_code=ask_code)

    def sign_in(self) -> None:
        """Sign in (step ``login``), save the sign-in, trace what follows."""
        self.login.sign_in()
        log.info("%s: signed in", self.config.payer)
        if self.state_file is not None:
            save_state(self.portal.context.storage_state(), self.state_file)
        self.rt.evidence.resume_trace()

    def start(self) -> None:
        """Resume the saved sign-in when it still works, else sign in."""
        if self.reused:
            if self.login.still_signed_in():
                log.info("%s: saved sign-in still valid; no login needed", self.config.payer)
                self.rt.evidence.resume_trace()
                return
            log.info("%s: saved sign-in expired; signing in", self.config.payer)
            if self.state_file is not None:
                forget_state(self.state_file)
        self.sign_in()


@contextlib.contextmanager
def open_session(config: PayerConfig, url: str, *, evidence_dir: Path,
                 session_dir: Path | None = None, headless: bool = True,
                 browser: Browser | None = None, accept_downloads: bool = False,
                 ask_code: AskCode | None = None) -> Iterator[BotSession]:
    """A :class:`BotSession` in a fresh context of ``browser`` (default: this thread's shared
    one), not signed in yet (call ``session.start()``), holding a portal slot meanwhile.
    ``ask_code`` asks a person for a one-time code sent by SMS or e-mail (``login.mfa``).
    Credentials are read first: missing ones fail before any browser starts. On exit the trace
    is dropped (a clean run keeps none) and the context closed; the browser stays open."""
    credentials = read_credentials(config)
    saved = state_path(session_dir or default_session_dir(), config.payer, url,
                       credentials.username)
    reuse = usable_state(saved)
    with portal_slot(config):
        browser = browser or thread_browser(headless=headless, payer=config.payer)
        with driving(browser):
            yield from _in_context(config, url, browser, credentials, saved, reuse,
                                   Path(evidence_dir), accept_downloads, ask_code)


def _in_context(config: PayerConfig, url: str, browser: Browser, credentials: Credentials,
                saved: Path, reuse: str | None, evidence_dir: Path,
                accept_downloads: bool, ask_code: AskCode | None) -> Iterator[BotSession]:
    context = browser.new_context(accept_downloads=accept_downloads, storage_state=reuse)
    try:
        context.set_default_timeout(config.timeouts.action_ms)
        context.set_default_navigation_timeout(config.timeouts.navigation_ms)
        session = BotSession(config, url, credentials, context, context.new_page(),
                             evidence_dir, state_file=saved, reused=reuse is not None,
                             ask_code=ask_code)
        try:
            yield session
        finally:
            session.rt.evidence.pause_trace()
    finally:
        try:
            context.close()
        except Exception:  # noqa: BLE001 - a crashed browser: nothing left to close
            log.debug("%s: browser context already gone", config.payer)
