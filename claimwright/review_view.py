"""What the console and the CLI show of review items: one view per item and the overview.

- :func:`about`: what an item is about (remittance, claim, packet, worklist, payer, config),
  from its kind and the context its stage opened it with;
- :class:`ReviewView`: an item with its failure kind (system/business), what it is about, age,
  SLA due date and breach, and no PHI (the reason and ids only; context stays on the item);
- :func:`overview`: active items by kind and age bucket, oldest first, SLA breaches.

Plain data: the console renders it, the CLI prints it.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from .review_sla import ReviewSla, age, breached, load_review_sla, sla_due
from .types import Failure, ReviewAbout, ReviewKind, ReviewState

#: Age buckets of the overview, in whole days since first seen.
BUCKETS = (("0-1", 0, 1), ("2-7", 2, 7), ("8-30", 8, 30), ("31+", 31, None))
_PACKET_KINDS = {ReviewKind.PACKET_CHECK, ReviewKind.MISSING_DOCUMENT}


def about(kind: ReviewKind | str, context: dict[str, Any] | None) -> ReviewAbout:
    """What an item of ``kind`` opened with ``context`` is about.

    The context keys are those the stages open items with (``claimwright.pipeline``): a
    document's ``remittance_id``/``document_id``, a claim's ``payer_claim_id`` (or ``claim``,
    the account of an unbalanced claim), a packet's ``appeal``/``level``, a workbook's
    ``worklist``, a batch index's ``where``; a pull or status check carries only its payer.
    """
    kind, ctx = ReviewKind(kind), context or {}
    if kind is ReviewKind.CONFIG_INVALID:
        return ReviewAbout.CONFIG
    if kind in _PACKET_KINDS or "appeal" in ctx or "where" in ctx:
        return ReviewAbout.PACKET
    if ctx.get("worklist"):
        return ReviewAbout.WORKLIST
    if ctx.get("payer_claim_id") or ctx.get("claim"):
        return ReviewAbout.CLAIM
    if ctx.get("remittance_id") or ctx.get("document_id"):
        return ReviewAbout.REMITTANCE
    return ReviewAbout.PAYER


def bucket(days: int) -> str:
    return next(name for name, low, high in BUCKETS if days >= low and (high is None
                                                                          or days <= high))


@dataclass(frozen=True)
class ReviewView:
    """One review item as the queue shows it (no context: that may hold PHI)."""

    id: int
    kind: str
    failure: Failure
    about: ReviewAbout
    payer: str
    state: ReviewState
    assignee: str
    reason: str
    occurrences: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    age_days: int
    due: dt.datetime
    breached: bool
    evidence: tuple[str, ...] = ()

    @classmethod
    def of(cls, item, now: dt.datetime, sla: ReviewSla | None = None) -> ReviewView:
        sla = sla or load_review_sla()
        return cls(id=item.id, kind=item.kind, failure=ReviewKind(item.kind).failure,
                   about=about(item.kind, item.context), payer=item.payer,
                   state=ReviewState(item.status), assignee=item.assignee or "",
                   reason=item.reason, occurrences=item.occurrences, first_seen=item.created_at,
                   last_seen=item.last_seen_at, age_days=age(item, now),
                   due=sla_due(item, sla), breached=breached(item, now, sla),
                   evidence=tuple(item.evidence))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["evidence"] = list(self.evidence)
        return {k: (v.isoformat() if isinstance(v, dt.datetime) else str(v)
                    if isinstance(v, ReviewState | ReviewAbout | Failure) else v)
                for k, v in data.items()}


@dataclass(frozen=True)
class KindRow:
    kind: str
    failure: Failure
    open: int
    buckets: dict[str, int]
    breached: int
    oldest_days: int


@dataclass(frozen=True)
class Overview:
    """Active (open and in-review) items: per kind (most breaches, then oldest, first), the
    oldest items, and every item in breach (oldest first)."""

    now: dt.datetime
    total: int
    by_state: dict[str, int]
    buckets: dict[str, int]
    kinds: list[KindRow] = field(default_factory=list)
    oldest: list[ReviewView] = field(default_factory=list)
    breaches: list[ReviewView] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "total": self.total, "by_state": self.by_state,
                "buckets": self.buckets,
                "kinds": [asdict(k) | {"failure": str(k.failure)} for k in self.kinds],
                "oldest": [v.to_json() for v in self.oldest],
                "breaches": [v.to_json() for v in self.breaches]}


def overview(items: Iterable, now: dt.datetime, sla: ReviewSla | None = None, *,
             oldest: int = 10) -> Overview:
    """The overview of ``items`` (closed ones are left out) at ``now`` (naive UTC)."""
    sla = sla or load_review_sla()
    views = sorted((ReviewView.of(i, now, sla) for i in items
                    if ReviewState(i.status).active), key=lambda v: (v.first_seen, v.id))
    rows = []
    for kind in sorted({v.kind for v in views}):
        mine = [v for v in views if v.kind == kind]
        counts = Counter(bucket(v.age_days) for v in mine)
        rows.append(KindRow(kind, ReviewKind(kind).failure, len(mine),
                            {name: counts[name] for name, _, _ in BUCKETS},
                            sum(v.breached for v in mine), max(v.age_days for v in mine)))
    rows.sort(key=lambda r: (-r.breached, -r.oldest_days, r.kind))
    counts = Counter(bucket(v.age_days) for v in views)
    states = Counter(str(v.state) for v in views)
    return Overview(now=now, total=len(views),
                    by_state={s.value: states[s.value]
                              for s in (ReviewState.OPEN, ReviewState.IN_REVIEW)},
                    buckets={name: counts[name] for name, _, _ in BUCKETS}, kinds=rows,
                    oldest=views[:oldest], breaches=[v for v in views if v.breached])
