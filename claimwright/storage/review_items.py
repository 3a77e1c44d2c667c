"""The ledger's side of the review queue (``review_items``): one row per problem, by key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from .records import ReviewItemRecord, utcnow


class ReviewLedger:
    """Methods of :class:`~claimwright.storage.Ledger` for review items."""

    def upsert_review_item(self, *, key: str, kind: str, reason: str, payer: str,
                           context: dict[str, Any], evidence: list[str]
                           ) -> tuple[ReviewItemRecord, bool]:
        """Add the item, or count another occurrence of the one with ``key`` (its evidence
        extended); ``(item, created)``."""
        from .ledger import jsonable

        with self.session() as s:  # type: ignore[attr-defined]
            item = s.scalar(select(ReviewItemRecord).where(ReviewItemRecord.key == key))
            if item is not None:
                item.occurrences += 1
                item.last_seen_at = utcnow()
                if evidence:
                    item.evidence = list(dict.fromkeys([*item.evidence, *evidence]))
                return item, False
            item = ReviewItemRecord(key=key, kind=kind, reason=reason, payer=payer,
                                    context=jsonable(context), evidence=list(evidence))
            s.add(item)
            s.flush()
            return item, True

    def review_items(self, status: str | None = "open",
                     kind: str | None = None) -> list[ReviewItemRecord]:
        with self.session() as s:  # type: ignore[attr-defined]
            q = select(ReviewItemRecord).order_by(ReviewItemRecord.id)
            if status:
                q = q.where(ReviewItemRecord.status == status)
            if kind:
                q = q.where(ReviewItemRecord.kind == kind)
            return list(s.scalars(q))

    def review_item(self, item_id: int) -> ReviewItemRecord | None:
        with self.session() as s:  # type: ignore[attr-defined]
            return s.get(ReviewItemRecord, item_id)

    def resolve_review_item(self, item_id: int, resolution: str) -> ReviewItemRecord:
        with self.session() as s:  # type: ignore[attr-defined]
            item = s.get(ReviewItemRecord, item_id)
            if item is None:
                raise KeyError(f"no review item {item_id}")
            item.status = "resolved"
            item.resolution = resolution
            item.resolved_at = utcnow()
            return item

    def resolve_open_item(self, key: str, resolution: str) -> bool:
        """Resolve the open item with ``key`` (if any); True when one was resolved."""
        with self.session() as s:  # type: ignore[attr-defined]
            item = s.scalars(select(ReviewItemRecord).where(
                ReviewItemRecord.key == key, ReviewItemRecord.status == "open")).first()
            if item is None:
                return False
            item.status, item.resolution, item.resolved_at = "resolved", resolution, utcnow()
            return True
