"""The appeal figures the team and leadership ask for, from the ledger's ``appeals`` table, as of
a day (each record read as it stood that day: prepared from ``prepared_on``, sent from
``sent_on``, decided from ``decided_on``). Plain numbers: no patient, member or account.

- **Decided** = overturned + partial + upheld, one per appeal and level (a claim upheld at level 1
  and overturned at level 2 is two decided appeals).
- **Overturn rate** = overturned / decided: full overturns only. A partial decision (the payer
  paid part of what it denied) is counted on its own, and in the **any-recovery rate** =
  (overturned + partial) / decided.
- By category: an appeal counts toward each of its categories (a record's categories are the
  denial categories its packet argues), so the categories' decided counts can add up to more
  than the total. By payer: the payer id on the remittance.
- **Days from denial to appeal** = ``sent_on - denial_date`` of level-1 appeals sent by the day
  (median and mean). When the status check found an appeal nobody recorded, ``sent_on`` is the
  portal's status date: an upper bound.
- **Recovered** = the sum of what decided appeals recovered (overturned: the amount paid, by
  default the denied amount; partial: as recorded; upheld: 0).
- **Past due** = appeals prepared but not sent by the day whose due date is before it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from ..metrics import _rate
from ..models import ZERO
from ..storage import STATUSES, AppealRecord

TENTH = Decimal("0.1")


@dataclass
class Tally:
    """Decided appeals of one group (all, a category, a payer)."""

    decided: int = 0
    overturned: int = 0
    partial: int = 0
    upheld: int = 0
    denied: Decimal = ZERO      # what the decided appeals disputed
    recovered: Decimal = ZERO

    def add(self, rec: AppealRecord) -> None:
        self.count(rec.outcome, denied=rec.denied_amount, recovered=rec.recovered)

    def count(self, outcome: str, *, denied: Decimal = ZERO,
              recovered: Decimal | None = None) -> None:
        """One decided appeal (an outcome other than the three counts as decided only)."""
        self.decided += 1
        self.overturned += outcome == "overturned"
        self.partial += outcome == "partial"
        self.upheld += outcome == "upheld"
        self.denied += denied
        self.recovered += recovered or ZERO

    @property
    def overturn_rate(self) -> Decimal | None:
        return _rate(self.overturned, self.decided) if self.decided else None

    @property
    def any_recovery_rate(self) -> Decimal | None:
        return _rate(self.overturned + self.partial, self.decided) if self.decided else None

    def to_json(self) -> dict:
        def text(value):
            return None if value is None else str(value)
        return {"decided": self.decided, "overturned": self.overturned,
                "partial": self.partial, "upheld": self.upheld, "denied": str(self.denied),
                "recovered": str(self.recovered), "overturn_rate": text(self.overturn_rate),
                "any_recovery_rate": text(self.any_recovery_rate)}


@dataclass
class DaysToAppeal:
    count: int = 0
    median: Decimal | None = None
    mean: Decimal | None = None     # one decimal place

    def to_json(self) -> dict:
        return {"count": self.count, "median": None if self.median is None else str(self.median),
                "mean": None if self.mean is None else str(self.mean)}


@dataclass
class AppealFigures:
    as_of: dt.date
    by_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    decided: Tally = field(default_factory=Tally)
    by_category: dict[str, Tally] = field(default_factory=dict)
    by_payer: dict[str, Tally] = field(default_factory=dict)
    days_to_appeal: DaysToAppeal = field(default_factory=DaysToAppeal)
    past_due: int = 0
    past_due_amount: Decimal = ZERO

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def to_json(self) -> dict:
        return {"as_of": self.as_of.isoformat(), "appeals": self.total,
                "by_status": dict(self.by_status), "decided": self.decided.to_json(),
                "by_category": {k: t.to_json() for k, t in sorted(self.by_category.items())},
                "by_payer": {k: t.to_json() for k, t in sorted(self.by_payer.items())},
                "days_from_denial_to_appeal": self.days_to_appeal.to_json(),
                "past_due": {"count": self.past_due, "denied": str(self.past_due_amount)}}


def status_as_of(rec: AppealRecord, as_of: dt.date) -> str | None:
    """The record's status on ``as_of`` (None: not prepared yet)."""
    if rec.prepared_on > as_of:
        return None
    if rec.status == "decided" and rec.decided_on is not None and rec.decided_on <= as_of:
        return "decided"
    if rec.sent_on is not None and rec.sent_on <= as_of:
        return "sent"
    return "prepared"


def _median(values: list[int]) -> Decimal:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Decimal(ordered[middle])
    return (Decimal(ordered[middle - 1] + ordered[middle]) / 2).quantize(TENTH)


def compute_figures(records: list[AppealRecord], as_of: dt.date) -> AppealFigures:
    """The figures of ``records`` as of ``as_of`` (see the module doc)."""
    figures = AppealFigures(as_of)
    days: list[int] = []
    by_category: dict[str, Tally] = defaultdict(Tally)
    by_payer: dict[str, Tally] = defaultdict(Tally)
    for rec in records:
        status = status_as_of(rec, as_of)
        if status is None:
            continue
        figures.by_status[status] += 1
        if status == "decided":
            figures.decided.add(rec)
            by_payer[rec.payer_id].add(rec)
            for category in rec.category_list or ["(none)"]:
                by_category[category].add(rec)
        if status == "prepared" and rec.appeal_due is not None and rec.appeal_due < as_of:
            figures.past_due += 1
            figures.past_due_amount += rec.denied_amount
        if rec.level == 1 and status != "prepared" and rec.sent_on is not None \
                and rec.denial_date is not None and rec.sent_on <= as_of:
            days.append((rec.sent_on - rec.denial_date).days)
    figures.by_category, figures.by_payer = dict(by_category), dict(by_payer)
    if days:
        mean = (Decimal(sum(days)) / len(days)).quantize(TENTH, rounding=ROUND_HALF_UP)
        figures.days_to_appeal = DaysToAppeal(len(days), _median(days), mean)
    return figures


def appeal_figures(ledger, as_of: dt.date | None = None) -> AppealFigures:
    """The figures of every appeal in the ledger as of ``as_of`` (default today)."""
    return compute_figures(ledger.appeals(), as_of or dt.date.today())


def _pct(rate: Decimal | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.1f}%"


def _money(amount: Decimal) -> str:
    return f"${amount:,.2f}"


def appeals_summary_lines(figures: AppealFigures) -> list[str]:
    """A few lines for the run summary: counts, rates, dollars and days (no PHI)."""
    if not figures.total:
        return [f"Appeals (as of {figures.as_of}): none recorded yet"]
    s, d = figures.by_status, figures.decided
    lines = [f"Appeals (as of {figures.as_of}): {s['prepared']} prepared, {s['sent']} sent, "
             f"{s['decided']} decided; {figures.past_due} past due (prepared, not sent, "
             f"{_money(figures.past_due_amount)} denied)"]
    if d.decided:
        lines.append(f"  decided: {d.overturned} overturned, {d.partial} partial, {d.upheld} "
                     f"upheld; overturn rate {_pct(d.overturn_rate)}, any recovery "
                     f"{_pct(d.any_recovery_rate)}; {_money(d.recovered)} recovered")
    t = figures.days_to_appeal
    if t.count:
        lines.append(f"  days from denial to appeal: median {t.median}, mean {t.mean} "
                     f"({t.count} level-1 appeal(s) sent)")
    return lines


def run_summary_lines(settings, as_of: dt.date | None = None) -> list[str]:
    """:func:`appeals_summary_lines` of the ledger ``settings`` names (the run summary)."""
    from ..storage import Ledger

    ledger = Ledger(settings.database_url)
    try:
        return appeals_summary_lines(appeal_figures(ledger, as_of))
    finally:
        ledger.close()
