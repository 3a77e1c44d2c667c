"""``LoginForm``: the portal's sign-in: user name and password on one page (``login.shape:
one-page``) or the user name page, "Next", then the password page (``identifier-first``); then
the challenges the portal may put up, in any order: a one-time code (``login.mfa``: ``totp``
made from the shared secret, or ``sms`` / ``email``: a code sent to a person, asked for through
``ask_code``) and security questions (answered from ``credentials.security_answers``, never from
YAML). A CAPTCHA or a rejection is a permanent fault."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from claimwright.types import FaultCode

from ..config_login import PERSON_CODES

if TYPE_CHECKING:
    from ..credentials import Credentials
    from ..locators import Resolved
    from .page import PortalPage

#: A code is not sent with fewer seconds than this left in its 30 s window.
MIN_SECONDS_LEFT = 5
#: At most this many challenges (codes, questions) in a row after the password.
MAX_CHALLENGES = 4


@dataclass(frozen=True)
class CodeRequest:
    """A one-time code the portal sent to a person (``channel``: ``sms`` or ``email``); whoever
    answers has ``timeout_s`` seconds. Holds no credential and no code."""

    payer: str
    channel: str
    timeout_s: int


#: Asks a person for the code of a :class:`CodeRequest`: the code, or None (no one entered
#: one in time). The browser page stays open meanwhile: the code belongs to this session.
AskCode = Callable[[CodeRequest], "str | None"]


class LoginForm:
    """Signs ``portal`` in with ``credentials``. ``clock`` (wall time, for TOTP windows) and
    ``sleep`` are injectable so tests never really wait."""

    def __init__(self, portal: PortalPage, credentials: Credentials, *,
                 clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None,
                 ask_code: AskCode | None = None) -> None:
        self.portal = portal
        self.credentials = credentials
        self.ask_code = ask_code
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
        if config.login.shape == "identifier-first":  # "Next", then the password page
            portal.submit("login", portal.require("login", "submit_username"), allow_login=True)
            outcome, found = portal.await_any("login", ["captcha", "login_error", "password"])
            self._not_stopped("login", outcome, found)
        portal.require("login", "password").locator.fill(self.credentials.password)
        portal.submit("login", portal.require("login", "submit_login"), allow_login=True)
        outcome, found = portal.await_any("login", ["captcha", "login_error", "otp",
                                                    "security_question", "logged_in"])
        for _ in range(MAX_CHALLENGES):
            self._not_stopped("login", outcome, found)
            if outcome == "otp":
                outcome, found = self._answer_code()
            elif outcome == "security_question":
                outcome, found = self._answer_question(found)
            else:
                break
        self._not_stopped("login", outcome, found)
        if outcome != "logged_in":
            raise portal.rt.fault(f"still asked for {outcome} after {MAX_CHALLENGES} answers",
                                  step="login", code=FaultCode.LOGIN_REJECTED, retryable=False)

    def _not_stopped(self, step: str, outcome: str, found: Resolved) -> None:
        """A CAPTCHA or the portal's "wrong login" message: a permanent fault."""
        portal, config = self.portal, self.portal.config
        if outcome == "captcha":
            portal.check_captcha(step)
        if outcome == "login_error":
            raise portal.rt.fault(
                f"portal rejected the login from {config.credentials.source('username')} / "
                f"{config.credentials.source('password')}", step=step,
                code=FaultCode.LOGIN_REJECTED, retryable=False,
                portal_message=portal.message(found))

    def _after(self, step: str, target: str, error: str) -> tuple[str, Resolved]:
        portal = self.portal
        portal.submit(step, portal.require(step, target), allow_login=True)
        outcome, found = portal.await_any(step, ["captcha", error, "otp", "security_question",
                                                 "logged_in"])
        if outcome == "captcha":
            portal.check_captcha(step)
        return outcome, found

    def _answer_code(self) -> tuple[str, Resolved]:
        portal, config = self.portal, self.portal.config
        mfa = config.mfa
        if mfa in PERSON_CODES:
            code, source = self._person_code(mfa), f"the code a person entered ({mfa})"
        elif mfa == "totp" and self.credentials.totp_secret:
            code = self.one_time_code()
            source = (f"the one-time code made from {config.credentials.source('totp_secret')} "
                      "(check the secret and this machine's clock)")
        else:
            raise portal.rt.fault("the portal asks for a one-time code but the payer config names "
                                  "no credentials.totp_secret_env or totp_secret_block (or "
                                  "login.mfa: sms / email)",
                                  step="mfa", code=FaultCode.MFA_NOT_CONFIGURED, retryable=False)
        portal.require("mfa", "otp").locator.fill(code)
        outcome, found = self._after("mfa", "submit_otp", "otp_error")
        if outcome in ("otp_error", "otp"):  # rejected, or asked again
            raise portal.rt.fault(f"portal rejected {source}", step="mfa",
                                  code=FaultCode.MFA_REJECTED, retryable=False,
                                  portal_message=portal.message(found))
        return outcome, found

    def _person_code(self, channel: str) -> str:
        """The code a person read from their phone or mailbox (``ask_code``), kept out of every
        log, fault, trace and screenshot; a permanent ``mfa-code-needed`` fault when no one can
        be asked or no one answered within ``login.code_timeout_s``."""
        portal, config = self.portal, self.portal.config
        if self.ask_code is None:
            raise portal.rt.fault(
                f"the portal sent a one-time code by {channel} and no one can enter it here "
                "(the nightly flow waits for a person to enter it); payer skipped",
                step="mfa", code=FaultCode.MFA_CODE_NEEDED, retryable=False, channel=channel)
        code = self.ask_code(CodeRequest(config.payer, channel, config.login.code_timeout_s))
        code = (code or "").strip()
        if not code:
            raise portal.rt.fault(
                f"no one entered the one-time code sent by {channel} in time; payer skipped "
                "for tonight", step="mfa", code=FaultCode.MFA_CODE_NEEDED,
                retryable=False, channel=channel, timed_out=True)
        portal.rt.secrets.append(code)  # redacted from faults, traces and screenshots
        return code

    def _answer_question(self, found: Resolved) -> tuple[str, Resolved]:
        """Answer the security question on screen from its credential reference."""
        portal, config = self.portal, self.portal.config
        asked = portal.message(found)
        answer = next((a for q, a in self.credentials.answers if q.lower() in asked.lower()),
                      None)
        if answer is None:
            known = "; ".join(a.question for a in config.credentials.security_answers) or "none"
            raise portal.rt.fault("the portal asks a security question that no "
                                  "credentials.security_answers entry matches (configured: "
                                  f"{known})", step="security-question",
                                  code=FaultCode.SECURITY_QUESTION_UNKNOWN, retryable=False,
                                  portal_message=asked)
        portal.require("security-question", "security_answer").locator.fill(answer)
        outcome, found = self._after("security-question", "submit_answer", "login_error")
        if outcome == "security_question" and portal.message(found) == asked:
            raise portal.rt.fault("portal rejected the security answer (check its credential "
                                  "reference)", step="security-question",
                                  code=FaultCode.LOGIN_REJECTED, retryable=False)
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
