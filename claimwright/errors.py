"""The two kinds of failure (as RPA frameworks model them) and their common base.

- :class:`SystemFault`: the world misbehaved (portal down, timeout, changed page). Retried in
  exactly one bounded layer when ``retryable``; then queued for review. Permanent system faults
  (bad credentials, CAPTCHA, a locator that no longer matches) set ``retryable=False``.
- :class:`BusinessError`: the data is wrong (unbalanced amounts, unknown code, unreadable or
  unknown document). Never retried: it goes straight to the review queue.

Every error carries a short machine ``code`` and a ``context`` dict holding the evidence a person
needs (URL, step, page, file, amounts). Context must never hold credentials or unmasked PHI.
"""

from __future__ import annotations

from typing import Any

from .types import Failure, FaultCode


class ClaimwrightError(Exception):
    """``code`` is a :class:`~claimwright.types.FaultCode` (a string not in it is refused)."""

    code: FaultCode = FaultCode.ERROR

    def __init__(self, message: str, *, code: FaultCode | str | None = None,
                 **context: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = FaultCode(code)
        self.context: dict[str, Any] = context

    @property
    def failure(self) -> Failure:
        """System or business, by the class (a ``SystemFault`` is always system)."""
        return Failure.SYSTEM if isinstance(self, SystemFault) else Failure.BUSINESS


class BusinessError(ClaimwrightError):
    """Bad data: never retried, straight to review."""

    code = FaultCode.BUSINESS_ERROR


class SystemFault(ClaimwrightError):
    """The environment failed. ``retryable`` says whether one bounded retry layer may try again."""

    code = FaultCode.SYSTEM_FAULT
    retryable = True

    def __init__(self, message: str, *, retryable: bool | None = None,
                 code: FaultCode | str | None = None,
                 **context: Any) -> None:
        super().__init__(message, code=code, **context)
        if retryable is not None:
            self.retryable = retryable


class DocumentError(BusinessError):
    """A document cannot be read at all (corrupt, encrypted, not a PDF/835, image-only)."""

    code = FaultCode.UNREADABLE_DOCUMENT


class UnknownLayout(BusinessError):
    """A PDF remittance whose layout matches no layout file: never guessed."""

    code = FaultCode.UNKNOWN_LAYOUT
