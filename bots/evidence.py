"""Evidence of a failed step: a Playwright trace chunk and a masked full-page screenshot.

The trace starts only once signed in and is dropped before every sign-in (a trace's network log
spans all its chunks, so only a fresh trace keeps a password or one-time code out of it). The
screenshot clears the page's inputs and masks every credential and ``screenshot_mask`` locator.
Both are best effort: a fault matters more than its pictures. Both are owner-only (0600), and a
trace is kept only once scrubbed of cookies and authorization headers (:mod:`bots.traces`).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from claimwright.fileio import make_private, private_dir

from .locators import combined
from .traces import scrub_trace

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

    from .runtime import Runtime

log = logging.getLogger("claimwright.bots")

_CLEAR_INPUTS = """(secrets) => {
    for (const el of document.querySelectorAll('input, textarea')) {
        if (el.type === 'password' || secrets.includes(el.value)) el.value = '';
    }
}"""


class Evidence:
    """Traces and screenshots of one browser context, saved in ``evidence_dir``."""

    def __init__(self, rt: Runtime, context: BrowserContext, page: Page,
                 evidence_dir: Path) -> None:
        self.rt = rt
        self.context = context
        self.page = page
        self.evidence_dir = Path(evidence_dir)
        self.tracing = False      # tracing.start() called (after the first sign-in)
        self.chunk_open = False   # a trace chunk is recording now

    def _path(self, step: str, suffix: str) -> Path:
        private_dir(self.evidence_dir)
        stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
        name = re.sub(r"[^a-z0-9-]", "-", step)
        return self.evidence_dir / f"{self.rt.payer}-{stamp}-{name}{suffix}"

    def resume_trace(self) -> None:
        """Record a Playwright trace from here on (called only once signed in)."""
        try:
            if not self.tracing:
                self.context.tracing.start(screenshots=True, snapshots=True, sources=False)
                self.tracing = True
                self.chunk_open = True
            elif not self.chunk_open:
                self.context.tracing.start_chunk()
                self.chunk_open = True
        except Exception as exc:  # noqa: BLE001 - evidence is best effort
            log.warning("%s: no trace (%s)", self.rt.payer, type(exc).__name__)

    def pause_trace(self) -> None:
        """Stop tracing and drop what it holds (a sign-in follows, or the session ends)."""
        self.chunk_open = False
        if self.tracing:
            self.tracing = False
            try:
                self.context.tracing.stop()
            except Exception:  # noqa: BLE001
                pass

    def save_trace(self, step: str) -> str | None:
        """Save the current trace chunk (since the last sign-in); its path or None."""
        if not self.chunk_open:
            return None
        self.chunk_open = False
        try:
            path = self._path(step, ".trace.zip")
            self.context.tracing.stop_chunk(path=str(path))
        except Exception as exc:  # noqa: BLE001 - evidence is best effort; the fault matters
            log.warning("%s: no trace for step %s (%s)", self.rt.payer, step, type(exc).__name__)
            return None
        return self._keep_scrubbed(path, step)

    def _keep_scrubbed(self, path: Path, step: str) -> str | None:
        """Keep the trace at ``path`` only scrubbed of cookies, authorization headers and the
        session's cookie values (:func:`bots.traces.scrub_trace`), owner-only; else delete it."""
        try:
            values = [c.get("value", "") for c in self.context.cookies()]
        except Exception:  # noqa: BLE001 - the context may be gone; headers are still dropped
            values = []
        try:
            make_private(path)
            scrub_trace(path, [*values, *self.rt.secrets])
            return str(path)
        except Exception as exc:  # noqa: BLE001 - never keep a trace that was not scrubbed
            path.unlink(missing_ok=True)
            log.warning("%s: trace of step %s not kept: it could not be scrubbed (%s)",
                        self.rt.payer, step, type(exc).__name__)
            return None

    def screenshot(self, step: str) -> str | None:
        """Save a PNG of the page with inputs cleared and credentials masked; its path or None."""
        try:
            path = self._path(step, ".png")
            secrets = self.rt.secrets
            self.page.evaluate(_CLEAR_INPUTS, secrets)
            locators = self.rt.config.locators
            mask: list[Any] = [combined(self.page, locators[n])
                               for n in self.rt.config.screenshot_mask]
            mask += [self.page.get_by_text(s) for s in secrets]
            self.page.screenshot(path=str(path), full_page=True, mask=mask, timeout=10_000)
            return str(make_private(path))
        except Exception as exc:  # noqa: BLE001 - evidence is best effort; the fault matters
            log.warning("%s: no screenshot for step %s (%s)", self.rt.payer, step,
                        self.rt.redact(type(exc).__name__))
            return None
