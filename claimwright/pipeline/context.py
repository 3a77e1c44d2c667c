"""What every stage gets: settings, the ledger, the review queue, and a run's counts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..phi import mask_item
from ..review import ReviewQueue
from ..settings import Settings
from ..storage import Ledger
from ..types import UnitKind
from ..units import Unit, WorkUnits

#: how a failed unit is named in a run's list of errors (counts only: no PHI)
_ERROR_LABEL = {UnitKind.PULL: "pull", UnitKind.PARSE: "document", UnitKind.OUTPUTS: "outputs",
                UnitKind.WORKLIST: "worklist", UnitKind.STATUS_QUERY: "status check"}


class RunCounts:
    """What run-count dataclasses share: review items opened or seen again, the errors of the
    units that failed, and a plain dict."""

    review_opened: int
    review_seen_again: int
    errors: list[str]
    review_items: list[dict]
    unfiled: list[str]

    def problem(self, text: str) -> None:
        """A problem that has no review item (a task that crashed, a payer another run holds):
        listed in ``errors`` and ``unfiled``. ``text`` is the run's own words: no PHI."""
        self.errors.append(text)
        self.unfiled.append(text)

    def note_review(self, opened, *, failed: str = "") -> None:
        """Count a review item this run opened (or met again): ``opened`` is the queue's
        ``Opened``/``Captured`` (its item is listed in ``review_items``) or just ``created``.
        ``failed``: what could not be finished (e.g. "document"), when the item says that."""
        created = opened if isinstance(opened, bool) else opened.created
        if created:
            self.review_opened += 1
        else:
            self.review_seen_again += 1
        item = getattr(opened, "item", None)
        if item is not None:
            self.review_items.append(review_entry(item, created=created, failed=failed))

    def unit_failed(self, unit: Unit) -> None:
        """``WorkUnits.on_failure``: the unit's review item counted, its error listed."""
        label = unit.context.get("remittance_id") or unit.payer or unit.key
        context = {**unit.context, **(getattr(unit.error, "context", None) or {})}
        self.errors.append(mask_item(f"{_ERROR_LABEL[unit.kind]} {label}: {unit.error}",
                                     context))  # the run's errors reach terminals, artifacts
        if unit.review is not None:
            self.note_review(unit.review, failed=_ERROR_LABEL[unit.kind])

    def as_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class Counts(RunCounts):
    """What one payer's run did; every field is a plain count (safe for logs and artifacts)."""

    payer: str
    listed: int = 0
    downloaded: int = 0
    already_had: int = 0
    documents_parsed: int = 0
    remittances: int = 0
    claims: int = 0
    denial_findings: int = 0
    denied_claims: int = 0
    # where the denial findings went: each to exactly one place (pipeline.routing)
    to_packets: int = 0
    to_coding: int = 0
    to_registration: int = 0
    to_clinical_documentation: int = 0
    to_billing: int = 0
    to_review: int = 0
    packets_written: int = 0
    packets_existing: int = 0
    packets_incomplete: int = 0
    worklist_added: int = 0
    worklist_updated: int = 0
    review_opened: int = 0
    review_seen_again: int = 0
    errors: list[str] = field(default_factory=list)
    # denial findings per category of the rules (claimwright/rules/ruleset.py CATEGORIES)
    denials_by_category: dict[str, int] = field(default_factory=dict)
    review_items: list[dict] = field(default_factory=list)  # review_entry() of each item
    unfiled: list[str] = field(default_factory=list)  # problems without a review item

    def progress(self) -> str:
        """One payer's run in words, counts only (no PHI): the run's log line, e.g. "northwind:
        16 listed, 16 downloaded, 16 parsed; 9 denials -> coding 3, billing 2, packets 4; 4
        packets written; 2 review items opened"."""
        pulled = f"{self.listed} listed, {self.downloaded} downloaded"
        if self.already_had:
            pulled += f" ({self.already_had} already had)"
        pulled += f", {self.documents_parsed} parsed"
        routed = [f"{queue} {getattr(self, key)}" for key, queue in ROUTES
                  if getattr(self, key)]
        denials = (f"{_n(self.denial_findings, 'denial')} -> {', '.join(routed)}" if routed
                   else _n(self.denial_findings, "denial"))
        packets = _n(self.packets_written, "packet") + " written"
        if self.packets_incomplete:
            packets += f" ({self.packets_incomplete} incomplete)"
        review = _n(self.review_opened, "review item") + " opened"
        if self.review_seen_again:
            review += f" ({self.review_seen_again} already open)"
        parts = [pulled, denials, packets, review]
        if self.errors:
            parts.append(_n(len(self.errors), "error"))
        return f"{self.payer}: " + "; ".join(parts)


#: where a denial can go (each to exactly one), as the progress line names it
ROUTES = [("to_coding", "coding"), ("to_registration", "registration"),
          ("to_clinical_documentation", "clinical documentation"), ("to_billing", "billing"),
          ("to_packets", "packets"), ("to_review", "review")]


def review_entry(item, *, created: bool, failed: str = "") -> dict:
    """What a run's artifacts may say of a review item: id, kind, payer, the machine code of
    its error, new or met again, and what could not be finished. Never its reason or context
    values (they may hold PHI)."""
    return {"id": item.id, "kind": str(item.kind), "payer": item.payer or "",
            "code": str((item.context or {}).get("error") or ""), "new": created,
            "failed": failed}


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


@dataclass
class Context:
    settings: Settings
    ledger: Ledger
    queue: ReviewQueue

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Context:
        settings = settings or Settings.from_env()
        settings.ensure_dirs()
        ledger = Ledger(settings.database_url)
        return cls(settings, ledger, ReviewQueue(ledger))

    def units(self, counts: RunCounts | None = None) -> WorkUnits:
        """The units of work of this run; failures are counted in ``counts``."""
        return WorkUnits(self.ledger, self.queue,
                         on_failure=counts.unit_failed if counts is not None else None)
