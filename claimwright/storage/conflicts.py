"""Check-then-insert under concurrency: two workers (or threads) may both find no row with a
natural key and both insert it. The unique constraint of that key (``records``) lets only one
commit; the other's transaction fails with ``IntegrityError`` and is rolled back whole. Ledger
methods that insert-or-update by key are therefore safe to run again: :func:`retry_on_conflict`
does so, and the second attempt finds the winner's row and updates it (or counts it) instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError

F = TypeVar("F", bound=Callable)

ATTEMPTS = 3  # a key conflicts once per racing writer; a third conflict is a real error


def retry_on_conflict(method: F) -> F:
    """Run ``method`` (one ledger transaction) again when its commit hit a unique constraint."""

    @functools.wraps(method)
    def run(*args, **kwargs):
        for attempt in range(ATTEMPTS):
            try:
                return method(*args, **kwargs)
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    return run  # type: ignore[return-value]
