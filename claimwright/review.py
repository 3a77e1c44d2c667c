"""The persistent review queue: everything a bot cannot finish, with the evidence a person needs.

Items are deduplicated by a key, so a rerun that meets the same problem does not open it twice;
it counts another occurrence instead. ``capture()`` turns the failure of one unit of work (a
document, a payer) into one review item so the batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import ClaimwrightError
from .storage import Ledger, ReviewItemRecord
from .types import FaultCode, ReviewKind

log = logging.getLogger(__name__)


@dataclass
class Opened:
    item: ReviewItemRecord
    created: bool


@dataclass
class Captured:
    """What ``capture()`` saw: ``error`` is set when the guarded block failed."""

    error: ClaimwrightError | Exception | None = None
    item: ReviewItemRecord | None = None
    created: bool = False
    context: dict[str, Any] = field(default_factory=dict)


class ReviewQueue:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def open(self, kind: ReviewKind | str, reason: str, *, key: str, payer: str = "",
             context: dict[str, Any] | None = None, evidence: list[str] | None = None) -> Opened:
        """Open an item, or count another occurrence of the open/resolved item with this key."""
        item, created = self.ledger.upsert_review_item(
            key=key, kind=ReviewKind(kind), reason=reason, payer=payer, context=context or {},
            evidence=list(evidence or []))
        if created:
            log.info("review item %s opened: %s (%s)", item.id, kind, payer or "-")
        return Opened(item, created)

    def items(self, status: str | None = "open",
              kind: ReviewKind | str | None = None) -> list[ReviewItemRecord]:
        return self.ledger.review_items(status, kind)

    def get(self, item_id: int) -> ReviewItemRecord | None:
        return self.ledger.review_item(item_id)

    def resolve(self, item_id: int, resolution: str) -> ReviewItemRecord:
        return self.ledger.resolve_review_item(item_id, resolution)

    @contextmanager
    def capture(self, *, key: str, payer: str = "", kind: ReviewKind | None = None,
                context: dict[str, Any] | None = None) -> Iterator[Captured]:
        """Run a block; if it fails, open one review item and swallow the error.

        A Claimwright error opens an item of ``kind``, else of its code's review kind
        (:attr:`FaultCode.review_kind`); an unexpected exception opens a ``document-failed``
        item (unless ``kind`` says otherwise) with its type and message, so one bad unit never
        crashes the batch and nothing is lost silently.
        """
        captured = Captured(context=dict(context or {}))
        try:
            yield captured
        except Exception as exc:  # noqa: BLE001 - the batch must survive any one failure
            if not isinstance(exc, ClaimwrightError):
                log.exception("unexpected failure in %s", key)
            opened = self.file(exc, key=key, payer=payer, kind=kind,
                               context=captured.context)
            captured.error, captured.item, captured.created = exc, opened.item, opened.created

    def file(self, exc: Exception, *, key: str, payer: str = "", kind: ReviewKind | None = None,
             context: dict[str, Any] | None = None) -> Opened:
        """Open (or count again) the one review item for ``exc``, the failure of unit ``key``."""
        ctx = dict(context or {})
        if isinstance(exc, ClaimwrightError):
            code: str = exc.code
            kind = kind or FaultCode(exc.code).review_kind
            ctx.update(exc.context)
        else:
            code = type(exc).__name__
            kind = kind or ReviewKind.DOCUMENT_FAILED
        ctx["error"] = code
        evidence = [str(v) for k, v in ctx.items() if k in ("screenshot", "trace") and v]
        return self.open(kind, str(exc), key=f"{key}:{code}", payer=payer, context=ctx,
                         evidence=evidence)
