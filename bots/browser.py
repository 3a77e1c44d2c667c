"""Which Chromium the bots launch, how, and the browser each thread shares across its pulls.

Order: ``$CLAIMWRIGHT_CHROMIUM`` (must exist), else ``/usr/bin/chromium`` when present, else the
browser bundled by ``playwright install`` when present, else a clear, non-retryable fault.

Sharing (:func:`thread_browser`): starting Playwright + Chromium costs seconds, so a browser is
started once and reused by later pulls and status checks, each in a fresh context (its own
cookies, storage and trace). Playwright's sync API is bound to the thread that started it and the
nightly flow runs payers in parallel threads (Prefect ``ThreadPoolTaskRunner``), so the unit of
sharing is the *thread*: one browser per thread, reused across the pulls that thread runs,
closed when the thread ends (its thread-local holder is finalised in that thread), by
:func:`close_thread_browser`, or at exit (main thread: ``atexit``; in any case the Playwright
driver exits with the process and takes its Chromium along). A browser that disconnected
(crashed) is replaced on next use. Callers may inject their own browser instead.

The asyncio mark: while the sync API works, it marks its own event loop as *running* in the
thread (and re-marks it after every call). A thread whose Playwright stays alive between pulls
would then look "inside an event loop" to everything else it runs — Prefect's sync-or-async
APIs (``Secret.load``, ``Block.save``) would hand back coroutines, ``asyncio.run`` would refuse.
So the shared browser is driven only inside :func:`driving` (``bots.session.open_session`` does
that), which sets the mark on entry and removes it on exit; between sessions the thread is
plain sync again. Code that uses the shared browser directly wraps its calls the same way.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from claimwright.errors import SystemFault
from claimwright.types import FaultCode

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

log = logging.getLogger("claimwright.bots")

CHROMIUM_ENV = "CLAIMWRIGHT_CHROMIUM"
SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)


class BrowserMissing(SystemFault):
    code = FaultCode.BROWSER_MISSING
    retryable = False


def resolve_chromium(playwright: Playwright | None = None, *,
                     env: dict[str, str] | None = None) -> str | None:
    """Executable to pass as ``executable_path``; ``None`` means Playwright's bundled Chromium."""
    from claimwright.settings import Settings

    path = Settings.from_env(env).chromium
    if path is not None:
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserMissing(f"{CHROMIUM_ENV}={path} is not an executable file",
                                 variable=CHROMIUM_ENV, path=str(path))
        return str(path)
    if SYSTEM_CHROMIUM.is_file() and os.access(SYSTEM_CHROMIUM, os.X_OK):
        return str(SYSTEM_CHROMIUM)
    if playwright is not None:
        bundled = Path(playwright.chromium.executable_path)
        if bundled.is_file():
            return None
    raise BrowserMissing(
        f"no Chromium found: set {CHROMIUM_ENV} to a Chromium executable, install the system "
        f"package (expected {SYSTEM_CHROMIUM}) or run `playwright install chromium`",
        variable=CHROMIUM_ENV)


def launch_browser(playwright: Playwright, *, headless: bool = True) -> Browser:
    """Launch Chromium headless with the flags this project runs it with."""
    executable = resolve_chromium(playwright)
    return playwright.chromium.launch(executable_path=executable, headless=headless,
                                      args=list(CHROMIUM_ARGS))


def _launch_failed(what: str, detail: str, payer: str | None) -> SystemFault:
    prefix = f"{payer}: " if payer else ""
    return SystemFault(f"{prefix}{what} failed to start: {detail}", retryable=False,
                       code=FaultCode.BROWSER_LAUNCH_FAILED, payer=payer, step="launch")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _refuse_event_loop(payer: str | None, own: asyncio.AbstractEventLoop | None = None) -> None:
    """A permanent fault when an asyncio loop (other than Playwright's ``own``) runs here."""
    loop = _running_loop()
    if loop is not None and loop is not own:
        raise _launch_failed("Playwright", "the sync API cannot run inside an asyncio loop "
                             "(run the bot in a thread or a sync flow)", payer)


def start_browser(*, headless: bool = True, payer: str | None = None) -> tuple[Playwright, Browser]:
    """Start Playwright and Chromium in this thread; a permanent fault when either cannot."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    _refuse_event_loop(payer)
    try:
        pw = sync_playwright().start()
    except PlaywrightError as exc:
        raise _launch_failed("Playwright", str(exc).splitlines()[0], payer) from None
    try:
        return pw, launch_browser(pw, headless=headless)
    except PlaywrightError as exc:
        pw.stop()
        raise _launch_failed("Chromium", str(exc).splitlines()[0], payer) from None
    except BaseException:
        pw.stop()
        raise


class _ThreadBrowser:
    """The Playwright + Chromium of one thread (see the module doc)."""

    def __init__(self, playwright: Playwright, browser: Browser, headless: bool) -> None:
        self.playwright = playwright
        self.browser = browser
        self.headless = headless
        self.thread = threading.get_ident()
        self.loop = _running_loop()  # the sync API's own loop (it runs while Playwright does)
        self.depth = 0               # nesting of driving() blocks now open

    def close(self) -> None:
        if self.thread != threading.get_ident():
            return  # another thread's browser: only its own thread may drive it
        browser, self.browser = self.browser, None
        if self.loop is not None:
            asyncio._set_running_loop(self.loop)  # the sync API needs its mark while it works
        try:
            if browser is not None and browser.is_connected():
                browser.close()
        except Exception:  # noqa: BLE001 - closing is best effort
            pass
        finally:
            if self.playwright is not None:
                self.playwright, pw = None, self.playwright
                try:
                    pw.stop()
                except Exception:  # noqa: BLE001
                    pass
            if _running_loop() is self.loop:
                asyncio._set_running_loop(None)

    def __del__(self) -> None:  # the thread ended: its locals are released in that thread
        self.close()


_local = threading.local()


def thread_browser(*, headless: bool = True, payer: str | None = None) -> Browser:
    """This thread's shared Chromium, started on first use (or again after it disconnected)."""
    held: _ThreadBrowser | None = getattr(_local, "held", None)
    _refuse_event_loop(payer, held.loop if held is not None else None)
    if held is not None and held.browser is not None and held.headless == headless \
            and held.browser.is_connected():
        return held.browser
    close_thread_browser()
    pw, browser = start_browser(headless=headless, payer=payer)
    _local.held = _ThreadBrowser(pw, browser, headless)
    asyncio._set_running_loop(None)  # not driving now: see driving()
    log.debug("started this thread's shared Chromium (headless=%s)", headless)
    return browser


@contextlib.contextmanager
def driving(browser: Browser | None = None) -> Iterator[None]:
    """Use this thread's shared browser inside the block (see "The asyncio mark" above). Any
    other browser (``browser`` given and not the shared one) needs nothing: a no-op."""
    held: _ThreadBrowser | None = getattr(_local, "held", None)
    if held is None or held.loop is None or held.browser is None \
            or (browser is not None and browser is not held.browser):
        yield
        return
    held.depth += 1
    asyncio._set_running_loop(held.loop)
    try:
        yield
    finally:
        held.depth -= 1
        if held.depth == 0 and _running_loop() is held.loop:
            asyncio._set_running_loop(None)


def close_thread_browser() -> None:
    """Close this thread's shared browser, if any (the next use starts a new one)."""
    held: _ThreadBrowser | None = getattr(_local, "held", None)
    _local.held = None
    if held is not None:
        held.close()


atexit.register(close_thread_browser)  # the main thread's; worker threads close on their end
