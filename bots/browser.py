"""Which Chromium the bots launch, and how.

Order: ``$CLAIMWRIGHT_CHROMIUM`` (must exist), else ``/usr/bin/chromium`` when present, else the
browser bundled by ``playwright install`` when present, else a clear, non-retryable fault.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from claimwright.errors import SystemFault
from claimwright.types import FaultCode

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

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
    env = os.environ if env is None else env
    configured = env.get(CHROMIUM_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise BrowserMissing(f"{CHROMIUM_ENV}={configured} is not an executable file",
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
