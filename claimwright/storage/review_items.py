"""The ledger's side of the review queue (``review_items``, ``review_events``).

One row per problem, by key; its state (the ``status`` column,
:class:`~claimwright.types.ReviewState`) moves open -> in-review -> resolved | dismissed (and
back to open when reopened). Every state change writes one audit event in the same transaction,
so the trail cannot miss a change.

Dedupe: a problem met again counts another occurrence on the one item with its key, whatever its
state. An open or in-review item keeps its state and assignee; a resolved or dismissed item stays
closed (as before states existed): its occurrence count and last-seen time say it came back, and
a person may reopen it. A "seen-again" event is written at most once per item per UTC day (the
first sighting of the day), so a nightly rerun of 10,000 items adds at most 10,000 events a day
and none on the day an item is opened; the occurrence count on the item counts every sighting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from .conflicts import retry_on_conflict
from ..types import ReviewState
from .records import ReviewEventRecord, ReviewItemRecord, utcnow

SYSTEM_ACTOR = "claimwright"  # the actor of what the pipeline does by itself
ACTIVE = (ReviewState.OPEN.value, ReviewState.IN_REVIEW.value)
DETAIL_MAX = 200


class ReviewStateError(ValueError):
    """A review item cannot make this change from the state it is in (or a required reason or
    name is missing)."""


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= DETAIL_MAX else text[:DETAIL_MAX - 1] + "…"


class ReviewLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for review items and their events."""

    @retry_on_conflict
    def upsert_review_item(self, *, key: str, kind: str, reason: str, payer: str,
                           context: dict[str, Any], evidence: list[str],
                           at: dt.datetime | None = None) -> tuple[ReviewItemRecord, bool]:
        """Add the item, or count another occurrence of the one with ``key`` (its evidence
        extended; its state and assignee kept); ``(item, created)``."""
        from .ledger import jsonable

        at = at or utcnow()
        with self.session() as s:  # type: ignore[attr-defined]
            # locked (PostgreSQL): two runs meeting the problem at once count two occurrences
            item = s.scalar(select(ReviewItemRecord).where(ReviewItemRecord.key == key)
                            .with_for_update())
            if item is not None:
                first_today = item.last_seen_at.date() != at.date()
                item.occurrences += 1
                item.last_seen_at = at
                if evidence:
                    item.evidence = list(dict.fromkeys([*item.evidence, *evidence]))
                if first_today:
                    closed = "" if item.status in ACTIVE else f"; stays {item.status}"
                    s.add(ReviewEventRecord(item_id=item.id, at=at, actor=SYSTEM_ACTOR,
                                            action="seen-again",
                                            detail=f"occurrence {item.occurrences}{closed}"))
                return item, False
            item = ReviewItemRecord(key=key, kind=kind, reason=reason, payer=payer,
                                    context=jsonable(context), evidence=list(evidence),
                                    created_at=at, last_seen_at=at)
            s.add(item)
            s.flush()
            s.add(ReviewEventRecord(item_id=item.id, at=at, actor=SYSTEM_ACTOR, action="opened",
                                    detail=f"{kind}" + (f" ({payer})" if payer else "")))
            return item, True

    def review_items(self, status: str | tuple[str, ...] | list[str] | None = "open",
                     kind: str | None = None, *, payer: str | None = None,
                     assignee: str | None = None) -> list[ReviewItemRecord]:
        """Items in ``status`` (one state or several; ``None``: every state), oldest first."""
        with self.session() as s:  # type: ignore[attr-defined]
            q = select(ReviewItemRecord).order_by(ReviewItemRecord.id)
            if isinstance(status, str):
                q = q.where(ReviewItemRecord.status == status)
            elif status:
                q = q.where(ReviewItemRecord.status.in_(list(status)))
            if kind:
                q = q.where(ReviewItemRecord.kind == kind)
            if payer:
                q = q.where(ReviewItemRecord.payer == payer)
            if assignee is not None:
                q = q.where(ReviewItemRecord.assignee == assignee)
            return list(s.scalars(q))

    def review_item(self, item_id: int) -> ReviewItemRecord | None:
        with self.session() as s:  # type: ignore[attr-defined]
            return s.get(ReviewItemRecord, item_id)

    def change_review_item(self, item_id: int, action: str, *, actor: str,
                           allowed_from: tuple[str, ...], to: str | None = None,
                           assignee: str | None = None, resolution: str | None = None,
                           detail: str = "", at: dt.datetime | None = None
                           ) -> ReviewItemRecord:
        """Move item ``item_id`` (from one of ``allowed_from``) to state ``to`` and/or set its
        assignee or resolution, writing one ``action`` event; :class:`ReviewStateError` when
        the item is in another state, ``KeyError`` when there is no such item."""
        at = at or utcnow()
        with self.session() as s:  # type: ignore[attr-defined]
            item = s.get(ReviewItemRecord, item_id, with_for_update=True)
            if item is None:
                raise KeyError(f"no review item {item_id}")
            if item.status not in allowed_from:
                raise ReviewStateError(
                    f"review item {item_id} is {item.status}: it cannot be {action} "
                    f"(only when {' or '.join(allowed_from)})")
            if to is not None:
                item.status = to
                item.resolved_at = None if to in ACTIVE else at
            if assignee is not None:
                item.assignee = assignee
            if resolution is not None:
                item.resolution = resolution
            s.add(ReviewEventRecord(item_id=item_id, at=at, actor=actor, action=action,
                                    detail=_short(detail)))
            return item

    def add_review_event(self, item_id: int, action: str, *, actor: str, detail: str = "",
                         at: dt.datetime | None = None) -> ReviewEventRecord:
        """An event that changes no state (``viewed-phi``, ``corrected``, ``retried`` ...)."""
        with self.session() as s:  # type: ignore[attr-defined]
            if s.get(ReviewItemRecord, item_id) is None:
                raise KeyError(f"no review item {item_id}")
            event = ReviewEventRecord(item_id=item_id, at=at or utcnow(), actor=actor,
                                      action=action, detail=_short(detail))
            s.add(event)
            s.flush()
            return event

    def review_events(self, item_id: int) -> list[ReviewEventRecord]:
        """An item's audit trail, oldest first."""
        with self.session() as s:  # type: ignore[attr-defined]
            return list(s.scalars(select(ReviewEventRecord)
                                  .where(ReviewEventRecord.item_id == item_id)
                                  .order_by(ReviewEventRecord.at, ReviewEventRecord.id)))

    def resolve_review_item(self, item_id: int, resolution: str, *,
                            actor: str = SYSTEM_ACTOR) -> ReviewItemRecord:
        """Resolve an open or in-review item (:class:`ReviewStateError` when closed)."""
        return self.change_review_item(item_id, "resolved", actor=actor, allowed_from=ACTIVE,
                                       to=ReviewState.RESOLVED, resolution=resolution,
                                       detail=resolution)

    def resolve_open_item(self, key: str, resolution: str) -> bool:
        """Resolve the active (open or in-review) item with ``key``, if any: the pipeline saw
        the problem clear. True when one was resolved."""
        with self.session() as s:  # type: ignore[attr-defined]
            item_id = s.scalar(select(ReviewItemRecord.id).where(
                ReviewItemRecord.key == key, ReviewItemRecord.status.in_(ACTIVE)))
        if item_id is None:
            return False
        try:
            self.resolve_review_item(item_id, resolution)
        except ReviewStateError:  # closed meanwhile by someone else
            return False
        return True
