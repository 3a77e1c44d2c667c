"""The feedback report's figures: patterns, a month's totals, the KPIs and their trend (what
:mod:`.feedback` computes from the ledger, and the xlsx, PDF and charts show)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from ..appeals.figures import Tally
from ..metrics import Rate, _rate
from ..models import ZERO
from ..rules.documentation import ElementMatch
from ..settings import DEFAULT_REWORK_COST
from .months import Month

CODING_CATEGORIES = ("coding/bundling", "modifier")
OVERTURNED = "overturned"
PARTIAL = "partial"
NOT_RECORDED = "(not recorded)"
TOP_PATTERNS = 10
CHART_MONTHS = 12
NO_PROVIDER = "(not on the remittance)"
CLAIM_LEVEL = "(claim level)"


@dataclass(frozen=True, order=True)
class PatternKey:
    provider_npi: str
    provider_name: str
    procedure: str          # "" for a claim-level adjustment
    modifiers: tuple[str, ...]
    group: str
    carc: str
    rarcs: tuple[str, ...]  # sorted

    @property
    def provider(self) -> str:
        if not (self.provider_name or self.provider_npi):
            return NO_PROVIDER
        npi = f" (NPI {self.provider_npi})" if self.provider_npi else ""
        return f"{self.provider_name or 'NPI'}{npi}" if self.provider_name else \
            f"NPI {self.provider_npi}"

    @property
    def service(self) -> str:
        if not self.procedure:
            return CLAIM_LEVEL
        return "-".join((self.procedure, *self.modifiers))

    @property
    def reason(self) -> str:
        return " ".join((f"{self.group}-{self.carc}", *self.rarcs))


@dataclass
class Pattern:
    key: PatternKey
    category: str
    element: ElementMatch
    count: int = 0                  # denial adjustments (lines; claim-level ones count once)
    claim_ids: set[tuple[str, str]] = field(default_factory=set, repr=False)
    denied: Decimal = ZERO
    recovered: Decimal = ZERO
    lines_billed: int | None = None  # the month's lines of this provider, procedure, modifiers

    @property
    def claims(self) -> int:
        return len(self.claim_ids)

    def label(self, width: int = 60) -> str:
        """One line for a chart: ``99214 · CO-50 N115 · Rivera, Ana MD``."""
        who = self.key.provider_name or self.key.provider
        text = f"{self.key.service} · {self.key.reason} · {who}"
        return text if len(text) <= width else text[:width - 1] + "…"


@dataclass
class CategoryTotal:
    count: int = 0          # denial adjustments
    denied: Decimal = ZERO


@dataclass
class MonthFigures:
    month: Month
    remittances: int = 0
    claims: int = 0
    denied_claims: int = 0
    lines: int = 0
    denied_lines: int = 0
    billed: Decimal = ZERO
    denied: Decimal = ZERO
    coding_claims: int = 0
    coding_denied: Decimal = ZERO
    undecided: int = 0      # adjustments the ledger has no decision for (left out)
    recovered: Decimal = ZERO
    appeals_decided: int = 0
    appeals_overturned: int = 0     # fully overturned
    appeals_partial: int = 0
    #: the month's decided appeals by (category, payer id): an appeal counts toward each of its
    #: categories ("(not recorded)" when the ledger has none)
    appeals: dict[tuple[str, str], Tally] = field(default_factory=dict)
    rework_cost_per_claim: Decimal = DEFAULT_REWORK_COST
    by_category: dict[str, CategoryTotal] = field(default_factory=dict)
    by_payer: dict[str, Rate] = field(default_factory=dict)
    by_reason: dict[str, Rate] = field(default_factory=dict)
    payer_names: dict[str, str] = field(default_factory=dict)

    @property
    def has_data(self) -> bool:
        return self.remittances > 0

    @property
    def denial_rate_by_count(self) -> Decimal:
        return _rate(self.denied_claims, self.claims)

    @property
    def denial_rate_by_dollars(self) -> Decimal:
        return _rate(self.denied, self.billed)

    @property
    def coding_share(self) -> Decimal:
        """Coding-related denied dollars / all denied dollars."""
        return _rate(self.coding_denied, self.denied)

    @property
    def recovery_rate(self) -> Decimal:
        return _rate(self.recovered, self.denied)

    @property
    def overturn_rate(self) -> Decimal | None:
        return _rate(self.appeals_overturned, self.appeals_decided) if self.appeals_decided \
            else None

    @property
    def rework_cost(self) -> Decimal:
        return (self.denied_claims * self.rework_cost_per_claim).quantize(Decimal("0.01"))

    def add_appeal(self, decision) -> None:
        """One decided appeal (:class:`claimwright.storage.AppealDecision`) of the month."""
        self.appeals_decided += 1
        self.appeals_overturned += decision.status == OVERTURNED
        self.appeals_partial += decision.status == PARTIAL
        for category in decision.categories or (NOT_RECORDED,):
            self.appeals.setdefault((category, decision.payer_id), Tally()).count(
                decision.status, recovered=decision.recovered)

    def appeal_rows(self) -> list[tuple[str, str, Tally]]:
        """(category, payer id, tally), most decided first."""
        return [(c, p, t) for (c, p), t in sorted(
            self.appeals.items(), key=lambda kv: (-kv[1].decided, kv[0]))]

    def payer_label(self, payer_id: str) -> str:
        name = self.payer_names.get(payer_id, "")
        return f"{name} ({payer_id})" if name and payer_id else (name or payer_id or "(unknown)")


@dataclass(frozen=True)
class Kpi:
    name: str
    kind: str               # "count", "money", "rate"
    value: Callable[[MonthFigures], int | Decimal | None]
    definition: str
    needs_remittances: bool = True  # False: has its own data (appeal decisions)


KPIS: tuple[Kpi, ...] = (
    Kpi("Claims", "count", lambda f: f.claims,
        "Claims on the month's remittances (reversals left out)."),
    Kpi("Denied claims", "count", lambda f: f.denied_claims,
        "Claims with at least one denial adjustment (is_denial, amount above zero)."),
    Kpi("Denial rate by count", "rate", lambda f: f.denial_rate_by_count,
        "Denied claims / claims."),
    Kpi("Billed", "money", lambda f: f.billed, "Billed charges of those claims."),
    Kpi("Denied", "money", lambda f: f.denied, "Sum of the denial adjustments' amounts."),
    Kpi("Denial rate by dollars", "rate", lambda f: f.denial_rate_by_dollars,
        "Denied dollars / billed dollars."),
    Kpi("Service lines", "count", lambda f: f.lines, "Service lines of those claims."),
    Kpi("Denied service lines", "count", lambda f: f.denied_lines,
        "Service lines with at least one denial adjustment."),
    Kpi("Coding-related denied claims", "count", lambda f: f.coding_claims,
        "Claims with a denial of category " + " or ".join(CODING_CATEGORIES) + "."),
    Kpi("Coding-related denied", "money", lambda f: f.coding_denied,
        "Dollars of those coding-related denial adjustments."),
    Kpi("Coding-related share of denied dollars", "rate", lambda f: f.coding_share,
        "Coding-related denied dollars / denied dollars."),
    Kpi("Recovered so far", "money", lambda f: f.recovered,
        "Paid on the same service by later remittances of the same payer, net of reversals, "
        "up to the denied amount."),
    Kpi("Recovery rate", "rate", lambda f: f.recovery_rate,
        "Recovered so far / denied dollars."),
    Kpi("Appeals decided", "count", lambda f: f.appeals_decided,
        "Appeals decided in the month, one per appeal and level (the appeals ledger; an appeal "
        "from before appeal records: as the status check first saw it decided).",
        needs_remittances=False),
    Kpi("Appeals overturned", "count", lambda f: f.appeals_overturned,
        "Of those, fully overturned (partial decisions are in the Appeals table).",
        needs_remittances=False),
    Kpi("Appeal overturn rate", "rate", lambda f: f.overturn_rate,
        "Appeals fully overturned / appeals decided (no data when none was decided).",
        needs_remittances=False),
    Kpi("Rework cost estimate", "money", lambda f: f.rework_cost,
        "Denied claims x the cost of reworking one claim (CLAIMWRIGHT_REWORK_COST)."),
)


@dataclass(frozen=True)
class Trend:
    """One KPI for the report month, the previous month and the same month last year; a value is
    None when its month has no data."""

    kpi: Kpi
    current: int | Decimal | None
    previous: int | Decimal | None
    last_year: int | Decimal | None

    @staticmethod
    def _delta(now, then):
        return None if now is None or then is None else now - then

    @property
    def change_from_previous(self):
        return self._delta(self.current, self.previous)

    @property
    def change_from_last_year(self):
        return self._delta(self.current, self.last_year)


@dataclass
class FeedbackReport:
    month: Month
    figures: dict[Month, MonthFigures]      # the report month, the chart months, last year's
    patterns: list[Pattern]                 # the report month's, most frequent first
    chart_months: list[Month]               # months with data up to the report month (<= 12)
    data_through: dt.date | None            # latest payment date the ledger holds
    rework_cost_per_claim: Decimal
    generated_on: dt.date
    top: int = TOP_PATTERNS

    @property
    def current(self) -> MonthFigures:
        return self.figures[self.month]

    @property
    def previous(self) -> MonthFigures:
        return self.figures[self.month.previous]

    @property
    def last_year(self) -> MonthFigures:
        return self.figures[self.month.minus(12)]

    def value(self, kpi: Kpi, figures: MonthFigures) -> int | Decimal | None:
        if kpi.needs_remittances and not figures.has_data:
            return None
        if not kpi.needs_remittances and not (figures.has_data or figures.appeals_decided):
            return None
        return kpi.value(figures)

    def trends(self) -> list[Trend]:
        return [Trend(k, self.value(k, self.current), self.value(k, self.previous),
                      self.value(k, self.last_year)) for k in KPIS]

    @property
    def top_patterns(self) -> list[Pattern]:
        return self.patterns[:self.top]

    def categories(self) -> list[str]:
        """Denial categories of the chart months, largest denied dollars first."""
        totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for m in self.chart_months:
            for cat, t in self.figures[m].by_category.items():
                totals[cat] += t.denied
        return sorted(totals, key=lambda c: (-totals[c], c))


# ---------------------------------------------------------------------------------------------
# Building the report
