"""The persistent review queue: everything a bot cannot finish, with the evidence a person needs.

Items are deduplicated by a key, so a rerun that meets the same problem does not open it twice;
it counts another occurrence instead. ``capture()`` turns the failure of one unit of work (a
document, a payer) into one review item so the batch goes on.

An item's life (:class:`~claimwright.types.ReviewState`): open -> in-review -> resolved |
dismissed, reopened when needed; every change is one event of its audit trail (``history``),
with who did it (``by``) and when (UTC). Nothing ever deletes an item's evidence or context.

=========  ===========================  ====================================
method     from                         to
=========  ===========================  ====================================
assign     open, in-review              (same state; the assignee changes)
start      open                         in-review (assigned to ``by`` if no one is)
resolve    open, in-review              resolved (a resolution text is required)
dismiss    open, in-review              dismissed (a reason is required)
reopen     resolved, dismissed          open (why is required)
record     any                          (same state; a free action such as ``viewed-phi``)
=========  ===========================  ====================================
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import ClaimwrightError
from .phi import phi_values, remember
from .storage import Ledger, ReviewEventRecord, ReviewItemRecord, ReviewStateError, utcnow
from .storage.review_items import ACTIVE, SYSTEM_ACTOR
from .types import FaultCode, ReviewKind, ReviewState

__all__ = ["ACTIVE", "Captured", "LIFECYCLE_ACTIONS", "Opened", "ReviewQueue",
           "ReviewStateError", "SYSTEM_ACTOR"]

#: The actions only the lifecycle methods write (``record`` refuses them).
LIFECYCLE_ACTIONS = frozenset({"opened", "seen-again", "assigned", "started", "resolved",
                               "dismissed", "reopened"})
_ACTION = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

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
    def __init__(self, ledger: Ledger, *, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.ledger = ledger
        self.clock = clock  # naive UTC, as the ledger stores times

    def open(self, kind: ReviewKind | str, reason: str, *, key: str, payer: str = "",
             context: dict[str, Any] | None = None, evidence: list[str] | None = None) -> Opened:
        """Open an item, or count another occurrence of the open/resolved item with this key.
        The PHI of its context is remembered for masking logs and artifacts (claimwright.phi)."""
        remember(phi_values(context or {}))
        item, created = self.ledger.upsert_review_item(
            key=key, kind=ReviewKind(kind), reason=reason, payer=payer, context=context or {},
            evidence=list(evidence or []), at=self.clock())
        if created:
            log.info("review item %s opened: %s (%s)", item.id, kind, payer or "-")
        return Opened(item, created)

    def items(self, status: str | Iterable[str] | None = "open",
              kind: ReviewKind | str | None = None, *, payer: str | None = None,
              assignee: str | None = None) -> list[ReviewItemRecord]:
        """Items in ``status``: one state ("open" means open, not in review), several (e.g.
        :data:`ACTIVE`), or ``None`` for all."""
        if status is not None and not isinstance(status, str):
            status = tuple(status)
        return self.ledger.review_items(status, kind, payer=payer, assignee=assignee)

    def get(self, item_id: int) -> ReviewItemRecord | None:
        return self.ledger.review_item(item_id)

    # the life of an item -------------------------------------------------------------------
    def assign(self, item_id: int, user: str, *, by: str) -> ReviewItemRecord:
        user = _required(user, "a user to assign it to")
        return self._change(item_id, "assigned", by, ACTIVE, assignee=user, detail=f"to {user}")

    def start(self, item_id: int, *, by: str) -> ReviewItemRecord:
        """In review (by ``by``, who becomes the assignee if the item has none)."""
        item = self.get(item_id)
        return self._change(item_id, "started", by, (ReviewState.OPEN,),
                            to=ReviewState.IN_REVIEW,
                            assignee=None if item is None or item.assignee else _actor(by))

    def resolve(self, item_id: int, resolution: str, *, by: str = "") -> ReviewItemRecord:
        resolution = _required(resolution, "a resolution (what was done)")
        return self._change(item_id, "resolved", by or "unknown", ACTIVE,
                            to=ReviewState.RESOLVED, resolution=resolution, detail=resolution)

    def dismiss(self, item_id: int, reason: str, *, by: str) -> ReviewItemRecord:
        reason = _required(reason, "a reason to dismiss it")
        return self._change(item_id, "dismissed", by, ACTIVE, to=ReviewState.DISMISSED,
                            resolution=reason, detail=reason)

    def reopen(self, item_id: int, *, by: str, why: str) -> ReviewItemRecord:
        """Open again (the earlier resolution stays in the history); the assignee is kept."""
        why = _required(why, "why it is reopened")
        return self._change(item_id, "reopened", by,
                            (ReviewState.RESOLVED, ReviewState.DISMISSED), to=ReviewState.OPEN,
                            resolution="", detail=why)

    def record(self, item_id: int, action: str, *, by: str,
               detail: str = "") -> ReviewEventRecord:
        """Add an event that changes no state, e.g. ``viewed-phi``, ``corrected``,
        ``document-attached``, ``retried``. ``detail`` must hold no PHI."""
        if not _ACTION.match(action or ""):
            raise ValueError(f"action {action!r}: lowercase words joined by dashes")
        if action in LIFECYCLE_ACTIONS:
            raise ValueError(f"action {action!r} is written by the queue's own methods")
        return self.ledger.add_review_event(item_id, action, actor=_actor(by), detail=detail,
                                            at=self.clock())

    def history(self, item_id: int) -> list[ReviewEventRecord]:
        """The item's audit trail, oldest first (``KeyError`` for no such item)."""
        if self.get(item_id) is None:
            raise KeyError(f"no review item {item_id}")
        return self.ledger.review_events(item_id)

    def _change(self, item_id: int, action: str, by: str, allowed_from: tuple[str, ...], *,
                to: str | None = None, assignee: str | None = None,
                resolution: str | None = None, detail: str = "") -> ReviewItemRecord:
        item = self.ledger.change_review_item(
            item_id, action, actor=_actor(by), allowed_from=tuple(map(str, allowed_from)),
            to=to, assignee=assignee, resolution=resolution, detail=detail, at=self.clock())
        log.info("review item %s %s by %s", item_id, action, _actor(by))
        return item

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


def _required(text: str, what: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ReviewStateError(f"{what} is required")
    return text


def _actor(by: str) -> str:
    return _required(by, "who does it (by)")[:64]
