"""Units of work: get -> process -> release, one state machine for every stage.

Every stage works on explicit units (a payer's pull, a document's parse, a document's outputs,
the rows waiting for a worklist, a payer's status queries of a day). A unit is taken under a
**lease** and released only by the context manager that processed it::

    work = WorkUnits(ledger, queue)
    for unit in work.take_each(UnitKind.PARSE, payer="northwind"):
        with unit:                      # released here, whatever happens inside
            parse(unit.key)             # every output written before the block ends

- the block ends normally: **done** (the stage wrote all its outputs inside the block);
- a :class:`~claimwright.errors.BusinessError` (bad data): **failed-business**, one review item,
  never taken again by a run (a person decides, then :meth:`WorkUnits.retry`);
- any other exception (a :class:`~claimwright.errors.SystemFault` after its one bounded retry
  layer, or a bug): **failed-system**, one review item, and taken again by the next runs, at most
  ``max_attempts`` times in all;
- the process dies (SIGKILL, power cut): the unit stays **in-progress** under a lease that the
  next run takes over once it expired, or at once when the owner was a process of this machine
  that no longer exists. Stages write idempotently (upserts by natural key, atomic files), so a
  unit processed twice leaves the same ledger and files as one processed once.

The error is swallowed after it was filed, so one bad unit never stops the batch.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import BusinessError, ClaimwrightError
from .fileio import pid_alive
from .review import Opened, ReviewQueue
from .storage import Ledger, WorkUnitRecord, utcnow
from .types import ReviewKind, UnitKind, UnitState

log = logging.getLogger(__name__)

#: how long a run may hold a unit before another run may take it over (renewed on progress)
LEASES = {UnitKind.PULL: dt.timedelta(minutes=60), UnitKind.PARSE: dt.timedelta(minutes=15),
          UnitKind.OUTPUTS: dt.timedelta(minutes=15), UnitKind.WORKLIST: dt.timedelta(minutes=15),
          UnitKind.STATUS_QUERY: dt.timedelta(minutes=60)}
#: a unit failing with system faults is taken again by later runs at most this often in all
MAX_ATTEMPTS = 5
#: units taken again every run whatever their last state (a pull lists the portal anew; the
#: worklist writes whatever rows wait; the status check asks what is due): the lease still
#: keeps two runs from working one at once
REARMED = frozenset({UnitKind.PULL, UnitKind.WORKLIST, UnitKind.STATUS_QUERY})


def run_owner() -> str:
    """``host:pid:token``: who holds a lease (the pid lets this host see a dead owner)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_dead(owner: str) -> bool:
    """True when ``owner`` was a process of this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    return not pid_alive(int(pid))


def takeable(unit: WorkUnitRecord, now: dt.datetime) -> bool:
    """May a run take ``unit`` now? In progress: only when its lease expired or its owner is
    gone. Re-armed kinds: whatever their last state. Others: pending, or failed-system under
    the attempt limit."""
    if unit.state == UnitState.IN_PROGRESS:
        return (unit.lease_expires_at is None or unit.lease_expires_at <= now
                or owner_dead(unit.owner))
    if unit.kind in REARMED:
        return True
    return unit.state == UnitState.PENDING or (unit.state == UnitState.FAILED_SYSTEM
                                               and unit.attempts < MAX_ATTEMPTS)


@dataclass
class Unit:
    """One taken unit. Use it as a context manager: it is released on leaving the block."""

    work: WorkUnits
    kind: UnitKind
    key: str
    payer: str
    attempt: int
    review_key: str
    review_kind: ReviewKind | None = None
    context: dict[str, Any] = field(default_factory=dict)
    state: UnitState = UnitState.IN_PROGRESS
    error: BaseException | None = None
    review: Opened | None = None
    # the review item of the unit's last (system) failure: resolved when this attempt succeeds
    earlier_review: str = ""

    def renew(self) -> None:
        """Extend the lease (long units call this as they make progress)."""
        self.work.renew(self)

    def note(self, **data: Any) -> None:
        """Keep ``data`` with the unit for later runs (merged into what it was queued with)."""
        self.context.update(data)
        current = self.work.ledger.unit(self.kind, self.key)
        self.work.ledger.note_unit(self.kind, self.key, self.work.owner,
                                   {**((current.data if current else None) or {}), **data})

    def __enter__(self) -> Unit:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is None:
            self.work.release(self, UnitState.DONE)
            return False
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: the lease expires
            return False
        self.error = exc
        business = isinstance(exc, BusinessError)
        if not isinstance(exc, ClaimwrightError):
            log.exception("unexpected failure in %s %s", self.kind, self.key)
        self.review = self.work.queue.file(exc, key=self.review_key, payer=self.payer,
                                           kind=self.review_kind, context=self.context)
        self.work.release(self, UnitState.FAILED_BUSINESS if business
                          else UnitState.FAILED_SYSTEM, error_code=getattr(
                              exc, "code", type(exc).__name__))
        if self.work.on_failure is not None:
            self.work.on_failure(self)
        return True  # filed: the batch goes on


class WorkUnits:
    """Takes and releases units for one run (``owner``)."""

    def __init__(self, ledger: Ledger, queue: ReviewQueue, *, owner: str | None = None,
                 clock: Callable[[], dt.datetime] = utcnow,
                 on_failure: Callable[[Unit], None] | None = None) -> None:
        self.ledger = ledger
        self.queue = queue
        self.owner = owner or run_owner()
        self.clock = clock
        self.on_failure = on_failure

    def add(self, kind: UnitKind, key: str, *, payer: str = "",
            data: dict[str, Any] | None = None) -> bool:
        """Queue a pending unit (nothing when it exists); True when new."""
        return self.ledger.add_unit(kind, key, payer=payer, data=data)

    def take(self, kind: UnitKind, key: str, *, payer: str = "", review_key: str | None = None,
             review_kind: ReviewKind | None = None,
             context: dict[str, Any] | None = None) -> Unit | None:
        """Lease one unit to this run, or None when it is not to be taken now (done, failed
        for a business reason, out of attempts, or held by a live run). The unit's context
        (what its review item carries) is the data it was queued with, plus ``context``."""
        now = self.clock()
        if kind in REARMED:
            self.ledger.add_unit(kind, key, payer=payer)
        current = self.ledger.unit(kind, key)
        if current is None or not takeable(current, now):
            return None
        rec = self.ledger.take_unit(current, self.owner, lease_until=now + LEASES[kind], now=now)
        if rec is None:
            return None
        if current.state == UnitState.IN_PROGRESS:
            log.warning("%s %s: taken over from %s (its run died or its lease expired)",
                        kind, key, current.owner.split(":")[0])
        return Unit(self, kind, key, payer or rec.payer, rec.attempts,
                    review_key or f"{kind}:{key}", review_kind,
                    {**(rec.data or {}), **(context or {})},
                    earlier_review=current.review_key
                    if current.state == UnitState.FAILED_SYSTEM else "")

    def take_each(self, kind: UnitKind, *, payer: str | None = None,
                  **take: Any) -> Iterator[Unit]:
        """Take every takeable unit of ``kind`` (of ``payer``), one at a time, oldest first."""
        for rec in self.due(kind, payer=payer):
            unit = self.take(kind, rec.key, payer=rec.payer, **take)
            if unit is not None:
                yield unit

    def due(self, kind: UnitKind, *, payer: str | None = None) -> list[WorkUnitRecord]:
        """Units of ``kind`` a run could take now (pending, failed-system under the attempt
        limit, or in progress under a lease that is gone)."""
        now = self.clock()
        return [u for u in self.ledger.units(kind, payer=payer) if takeable(u, now)]

    def renew(self, unit: Unit) -> None:
        if not self.ledger.renew_unit(unit.kind, unit.key, self.owner,
                                      self.clock() + LEASES[unit.kind]):
            log.warning("%s %s: lease lost (another run took the unit over)", unit.kind, unit.key)

    def release(self, unit: Unit, state: UnitState, *, error_code: str = "") -> None:
        unit.state = state
        if not self.ledger.release_unit(unit.kind, unit.key, self.owner, state,
                                        error_code=error_code,
                                        review_key=unit.review.item.key if unit.review else "",
                                        reset_attempts=state == UnitState.DONE
                                        and unit.kind in REARMED):
            log.warning("%s %s: not released as %s: the lease was taken over meanwhile",
                        unit.kind, unit.key, state)
        elif state == UnitState.DONE and unit.earlier_review:
            # a system failure that cleared: its review item needs no one any more
            if self.ledger.resolve_open_item(
                    unit.earlier_review, f"cleared: attempt {unit.attempt} of {unit.kind} "
                    f"{unit.key} succeeded on {self.clock():%Y-%m-%d %H:%M} UTC"):
                log.info("%s %s: review item %s resolved (the failure cleared)", unit.kind,
                         unit.key, unit.earlier_review)

    def retry(self, kind: UnitKind, key: str, *, done: bool = False) -> bool:
        """A person's "retry now": a failed unit is pending again, its attempts cleared; with
        ``done``, a done unit too (its outputs are made again: a categorized code)."""
        return self.ledger.reset_unit(kind, key, done=done)
