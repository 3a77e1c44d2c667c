"""``PortalPage``: the browser tab of one portal session, the ground every component stands on.

Locators resolve inside ``root``: the page itself, or a frame of it (``use_frame``). Navigation
(``goto``, ``submit``) is polite (``portal.min_interval_ms``) and checks the document it lands on
with :meth:`PortalPage.check_response`: a maintenance page or HTTP 5xx is transient, another 4xx
permanent, a landing on ``portal.login_path`` a lost session.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from claimwright.types import FaultCode

from ..locators import Resolved, combined, first_present

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page, Response

    from ..runtime import Runtime

#: Text of a "down for maintenance" page (used when the config has no ``maintenance`` locator).
MAINTENANCE_TEXT = re.compile(r"\bmaintenance\b", re.IGNORECASE)


def squeeze(text: str) -> str:
    """``text`` with runs of whitespace made one space."""
    return " ".join(text.split())


class PortalPage:
    """One signed-in (or signing-in) tab: navigation, locators and the session's runtime."""

    def __init__(self, rt: Runtime, context: BrowserContext, page: Page, base_url: str) -> None:
        self.rt = rt
        self.config = rt.config
        self.context = context
        self.page = page
        self.base_url = base_url
        self.root: Any = page  # where locators are looked up: the page, or a frame of it
        self._fallbacks_reported: set[str] = set()

    # where ------------------------------------------------------------------------------------
    def use_frame(self, frame: Any | None) -> None:
        """Look locators up inside ``frame`` (a Playwright Frame); None: the page itself."""
        self.root = frame if frame is not None else self.page

    @property
    def url(self) -> str:
        return self.page.url

    @property
    def frame_url(self) -> str | None:
        """The URL of the frame locators resolve in, when it is not the page."""
        return getattr(self.root, "url", None) if self.root is not self.page else None

    def absolute(self, href: str | None, base: str | None = None) -> str | None:
        """``href`` made absolute against ``base`` (default: the page's URL)."""
        return urljoin(base or self.page.url, href) if href else None

    def path_is(self, path: str, url: str | None = None) -> bool:
        """The page (or ``url``) is at ``path`` of the portal."""
        return urlsplit(url or self.page.url).path.rstrip("/") == path.rstrip("/")

    def on_login_page(self) -> bool:
        """The page, or the frame locators resolve in, shows the sign-in page."""
        login = self.config.portal.login_path
        urls = [self.page.url, self.frame_url or ""]
        return any(self.path_is(login, u) for u in urls if u)

    # navigation -------------------------------------------------------------------------------
    def is_document_response(self, response: Response, frame: Any = None) -> bool:
        """``response`` is the document loaded into ``frame`` (default: the main frame)."""
        return (response.request.is_navigation_request()
                and response.frame == (frame or self.page.main_frame)
                and not 300 <= response.status < 400)

    def goto(self, step: str, url: str, *, allow_login: bool = False) -> None:
        """Open ``url`` (a path is taken relative to the portal's base URL) and check it."""
        self.rt.polite()
        response = self.page.goto(self.base_url + url if url.startswith("/") else url,
                                  wait_until="domcontentloaded",
                                  timeout=self.config.timeouts.navigation_ms)
        self.check_response(step, response, allow_login=allow_login)

    def submit(self, step: str, target: Resolved, *, frame: Any = None,
               allow_login: bool = False) -> None:
        """Click ``target`` and wait for the document it loads (into ``frame``, default the
        page); check its status. With a frame, locators then resolve inside it."""
        timeout = self.config.timeouts.navigation_ms
        self.rt.polite()
        with self.page.expect_response(lambda r: self.is_document_response(r, frame),
                                       timeout=timeout) as info:
            target.locator.click()
        (frame or self.page).wait_for_load_state("domcontentloaded", timeout=timeout)
        if frame is not None:
            self.use_frame(frame)
        self.check_response(step, info.value, allow_login=allow_login)

    def check_response(self, step: str, response: Response | None, *,
                       allow_login: bool = False) -> None:
        """The document a navigation landed on: maintenance or 5xx transient, another 4xx
        permanent, the sign-in page (unless ``allow_login``) a lost session."""
        if response is None:
            return
        status = response.status
        self.check_status(step, status, "portal answered",
                          maintenance=self.maintenance_shown(status), session_lost=False,
                          when_4xx=lambda: self.rt.fault(
                              f"portal answered HTTP {status}", step=step,
                              code=FaultCode.HTTP_4XX, retryable=False, status=status),
                          retry_after=response.headers.get("retry-after"))
        if not allow_login and self.on_login_page():
            raise self.rt.fault("portal sent the bot back to the login page (session lost)",
                                step=step, code=FaultCode.SESSION_LOST, retryable=False)

    def check_status(self, step: str, status: int, what: str, *, maintenance: bool,
                     session_lost: bool, when_4xx: Callable[[], Exception],
                     **context: Any) -> None:
        """The one rule set for an HTTP answer (``what``: e.g. "download answered"): a
        maintenance page -> ``portal-maintenance`` and another 5xx -> ``http-5xx`` (both
        transient); ``session_lost`` -> ``session-lost`` (sign in again); another 4xx -> what
        ``when_4xx`` makes (a permanent fault, or a ``BusinessError`` for one document)."""
        if maintenance:
            raise self.rt.fault(f"portal is down for maintenance ({what} HTTP {status})",
                                step=step, code=FaultCode.PORTAL_MAINTENANCE, retryable=True,
                                status=status, **context)
        if status >= 500:
            raise self.rt.fault(f"{what} HTTP {status}", step=step, code=FaultCode.HTTP_5XX,
                                retryable=True, status=status, **context)
        if session_lost:
            raise self.rt.fault(f"{what} HTTP {status} (session lost)", step=step,
                                code=FaultCode.SESSION_LOST, retryable=False, status=status,
                                **context)
        if status >= 400:
            raise when_4xx()

    def maintenance_shown(self, status: int) -> bool:
        """The page on screen (where locators resolve) is the portal's maintenance page: the
        ``maintenance`` locator when configured, else (on an HTTP 5xx) the word "maintenance"
        in its title or text."""
        where = self.root
        if self.present("maintenance") is not None:
            return True
        if status < 500:
            return False
        try:
            title = where.title() if hasattr(where, "title") else ""
            text = title + " " + where.locator("body").inner_text(timeout=2000)
        except Exception:  # noqa: BLE001 - an empty or broken error page: a plain 5xx
            return False
        return bool(MAINTENANCE_TEXT.search(text[:5000]))

    # locators ---------------------------------------------------------------------------------
    def present(self, name: str, scope: Any = None) -> Resolved | None:
        """The element for locator ``name`` if it is on the page now (no waiting)."""
        chain = self.config.locators.get(name)
        if not chain:
            return None
        return first_present(scope or self.root, name, chain, self._fallbacks_reported)

    def require(self, step: str, name: str) -> Resolved:
        """Wait for locator ``name``; a permanent fault when none of its candidates appears."""
        return self.await_any(step, [name])[1]

    def describe(self, *names: str) -> dict[str, list[str]]:
        """The configured candidates of each locator (for a fault's context)."""
        return {n: [s.describe() for s in self.config.locators[n]] for n in names}

    def await_any(self, step: str, names: Iterable[str]) -> tuple[str, Resolved]:
        """Wait until one of the named locators is visible; return the first in ``names`` order."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        names = [n for n in names if n in self.config.locators]
        chains = [c for n in names for c in self.config.locators[n]]
        try:
            combined(self.root, chains).first.wait_for(state="visible",
                                                       timeout=self.config.timeouts.action_ms)
        except PlaywrightTimeout:
            raise self.rt.fault(f"none of {', '.join(names)} found on the page", step=step,
                                code=FaultCode.LOCATOR_NOT_FOUND, retryable=False,
                                locators=self.describe(*names)) from None
        for name in names:
            found = self.present(name)
            if found is not None:
                return name, found
        raise self.rt.fault(f"{', '.join(names)} vanished while being read", step=step,
                            code=FaultCode.LOCATOR_NOT_FOUND, retryable=False)

    def wait_hidden(self, name: str, timeout_ms: int) -> None:
        """Wait until no candidate of locator ``name`` is visible (e.g. a loading spinner)."""
        combined(self.root, self.config.locators[name]).first.wait_for(state="hidden",
                                                                       timeout=timeout_ms)

    def check_captcha(self, step: str) -> None:
        if self.present("captcha") is not None:
            raise self.rt.fault("the portal shows a CAPTCHA; a person must sign in", step=step,
                                code=FaultCode.CAPTCHA, retryable=False)

    @staticmethod
    def message(found: Resolved) -> str:
        """The text the portal shows in ``found`` (an error or notice), at most 200 characters."""
        return squeeze(found.locator.inner_text())[:200]
