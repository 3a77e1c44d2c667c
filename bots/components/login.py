"""``LoginForm``: the portal's sign-in page: username and password, then an optional one-time
code (TOTP MFA) made from the shared secret; a CAPTCHA or a rejection is a permanent fault."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from claimwright.types import FaultCode

if TYPE_CHECKING:
    from ..credentials import Credentials
    from ..locators import Resolved
    from .page import PortalPage

#: A code is not sent with fewer seconds than this left in its 30 s window.
MIN_SECONDS_LEFT = 5


class LoginForm:
    """Signs ``portal`` in with ``credentials``. ``clock`` (wall time, for TOTP windows) and
    ``sleep`` are injectable so tests never really wait."""

    def __init__(self, portal: PortalPage, credentials: Credentials, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.portal = portal
        self.credentials = credentials
        self.clock = clock
        self.sleep = sleep or portal.rt.sleep
        self._last_window: int | None = None  # the TOTP window whose code was sent last

    def sign_in(self) -> None:
        """Step ``login``: fill and submit the form, answer the one-time code when asked."""
        self.portal.rt.step("login", self._sign_in)

    def still_signed_in(self) -> bool:
        """Step ``resume-session``: does a saved sign-in still open the search page?"""
        portal = self.portal

        def action() -> bool:
            portal.goto("resume-session", portal.config.portal.search_path, allow_login=True)
            return not portal.on_login_page() and portal.present("logged_in") is not None

        return portal.rt.step("resume-session", action)

    def _sign_in(self) -> None:
        portal, config = self.portal, self.portal.config
        portal.use_frame(None)  # the sign-in form is a top-level page (a frame may be gone)
        portal.goto("login", config.portal.login_path, allow_login=True)
        portal.check_captcha("login")
        portal.require("login", "username").locator.fill(self.credentials.username)
        portal.require("login", "password").locator.fill(self.credentials.password)
        portal.submit("login", portal.require("login", "submit_login"), allow_login=True)
        outcome, found = portal.await_any("login", ["captcha", "login_error", "otp", "logged_in"])
        if outcome == "captcha":
            portal.check_captcha("login")
        if outcome == "otp":
            outcome, found = self._answer_code()
        if outcome == "login_error":
            raise portal.rt.fault(
                f"portal rejected the login from {config.credentials.source('username')} / "
                f"{config.credentials.source('password')}", step="login",
                code=FaultCode.LOGIN_REJECTED, retryable=False,
                portal_message=portal.message(found))

    def _answer_code(self) -> tuple[str, Resolved]:
        portal, config = self.portal, self.portal.config
        if not self.credentials.totp_secret:
            raise portal.rt.fault("the portal asks for a one-time code but the payer config names "
                                  "no credentials.totp_secret_env or totp_secret_block",
                                  step="mfa", code=FaultCode.MFA_NOT_CONFIGURED, retryable=False)
        portal.require("mfa", "otp").locator.fill(self.one_time_code())
        portal.submit("mfa", portal.require("mfa", "submit_otp"), allow_login=True)
        outcome, found = portal.await_any("mfa", ["captcha", "otp_error", "logged_in"])
        if outcome == "captcha":
            portal.check_captcha("mfa")
        if outcome == "otp_error":
            raise portal.rt.fault(
                f"portal rejected the one-time code made from "
                f"{config.credentials.source('totp_secret')} (check the secret and this "
                "machine's clock)", step="mfa", code=FaultCode.MFA_REJECTED, retryable=False,
                portal_message=portal.message(found))
        return outcome, found

    def one_time_code(self) -> str:
        """The current TOTP code; waits for the next 30 s window when under
        :data:`MIN_SECONDS_LEFT` s remain or when this window's code was already sent (a code
        is never sent twice)."""
        import pyotp

        totp = pyotp.TOTP(self.credentials.totp_secret)
        now = self.clock()
        window = int(now // totp.interval)
        remaining = totp.interval - now % totp.interval
        if remaining < MIN_SECONDS_LEFT or window == self._last_window:
            self.sleep(remaining + 0.2)
            now = self.clock()
            window = int(now // totp.interval)
        self._last_window = window
        return totp.at(now)
