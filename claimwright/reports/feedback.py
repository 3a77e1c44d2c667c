"""The monthly feedback report for clinical leadership: denial patterns and the measures leaders
track, computed from the ledger. docs/reports.md defines every figure; in short:

- A month's figures come from the remittances **paid in that month** (their stored model: every
  claim, line and adjustment) and the decision the rules stored for each adjustment (the finding
  with that key). Reversals (claim status 22) are left out, as in :mod:`claimwright.metrics`.
- A **denial** is an adjustment the rules decided is one (``is_denial``) with an amount above
  zero: cost sharing (PR-1/2/3), contractual write-downs (CO-45), sequestration (CO-253), prior
  payer (OA-23) and the like are not. A claim is denied when one of its adjustments is.
- **Denial rate by count** = denied claims / claims; **by dollars** = denied dollars / billed
  dollars (the same definitions as ``claimwright.metrics`` and docs/rules.md); by reason
  (group-CARC) and by payer likewise.
- A **pattern** is rendering provider x procedure (with modifiers) x reason (group-CARC plus the
  remark codes); its documentation or coding element comes from ``documentation.yaml``.
- **Recovered so far**: what later remittances of the same payer paid on the same service (same
  payer claim number, date of service and procedure; for a claim-level denial, the claim), net
  of reversals, up to the denied amount, allocated once. An overturned appeal alone recovers no
  dollars: only a payment does.
- **Appeal overturn rate** = appeals decided "overturned" / appeals decided, in the month of the
  decision. **Rework cost** = denied claims x the cost per reworked claim (a setting).

Nothing here names a patient, member or account: the report is about patterns.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Callable

from ..metrics import REVERSAL, Rate, _rate
from ..models import ZERO, Claim, Remittance
from ..rules.documentation import DocumentationElements, ElementMatch, load_documentation
from ..rules.engine import claim_adjustments
from ..rules.findings import finding_key
from ..settings import DEFAULT_REWORK_COST
from ..storage import Ledger
from .months import Month

#: categories (claimwright.rules.ruleset.CATEGORIES) counted as coding-related denials
CODING_CATEGORIES = ("coding/bundling", "modifier")
OVERTURNED = "overturned"
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
    appeals_overturned: int = 0
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
        "Appeals the status check saw with a final decision in the month.",
        needs_remittances=False),
    Kpi("Appeals overturned", "count", lambda f: f.appeals_overturned,
        "Of those, decided in our favour (status overturned).", needs_remittances=False),
    Kpi("Appeal overturn rate", "rate", lambda f: f.overturn_rate,
        "Appeals overturned / appeals decided (no data when none was decided).",
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


@dataclass
class _Denial:
    """A denial adjustment of a KPI month, waiting for its recovery to be counted."""

    month: Month
    day: dt.date
    key: str
    service: tuple[dt.date | None, str] | None  # (date of service, procedure); None: claim level
    amount: Decimal
    pattern: PatternKey | None  # set for the report month


@dataclass
class _Paid:
    """What one later remittance paid on one watched claim."""

    day: dt.date
    claim: Decimal
    lines: dict[tuple[dt.date | None, str], Decimal]


def build_feedback(ledger: Ledger, month: Month, *,
                   documentation: DocumentationElements | None = None,
                   rework_cost: Decimal = DEFAULT_REWORK_COST, top: int = TOP_PATTERNS,
                   today: dt.date | None = None) -> FeedbackReport:
    """The feedback report of ``month`` from what the ledger holds now."""
    documentation = documentation or load_documentation()
    last_year = month.minus(12)
    kpi_months = {month, month.previous, last_year}
    window = {month.minus(i) for i in range(CHART_MONTHS)} | kpi_months
    figures = {m: MonthFigures(m, rework_cost_per_claim=rework_cost) for m in window}
    patterns: dict[PatternKey, Pattern] = {}
    lines_of: dict[tuple[str, str, tuple[str, ...]], int] = defaultdict(int)
    watched: dict[tuple[str, str], list[_Denial]] = defaultdict(list)
    paid_later: dict[tuple[str, str], list[_Paid]] = defaultdict(list)
    data_through: dt.date | None = None

    for stored in ledger.remittances_paid_from(last_year.first):
        day = stored.payment_date
        data_through = day
        payer_id = (stored.data.get("payer") or {}).get("id", "")
        for raw in stored.data.get("claims") or ():  # payments recovering earlier denials
            ck = (payer_id, raw.get("payer_claim_id"))
            if ck in watched:
                claim = Claim.from_json(raw)
                lines: dict[tuple[dt.date | None, str], Decimal] = defaultdict(lambda: ZERO)
                for ln in claim.lines:
                    lines[(ln.date_of_service, ln.procedure)] += ln.paid
                paid_later[ck].append(_Paid(day, claim.paid, dict(lines)))
        m = Month.of(day)
        if m not in figures or m > month:
            continue  # after the report month: read only for the payments above
        remit = Remittance.from_json(stored.data)
        _add_remittance(ledger, figures[m], remit, day, documentation,
                        patterns if m == month else None,
                        lines_of if m == month else None,
                        watched if m in kpi_months else None)

    for ck, denials in watched.items():
        _recover(denials, paid_later.get(ck, []), figures, patterns)
    for decision in ledger.appeal_decisions():
        m = Month.of(decision.decided_on)
        if m in figures:
            figures[m].appeals_decided += 1
            figures[m].appeals_overturned += decision.status == OVERTURNED
    for p in patterns.values():
        if p.key.procedure:
            p.lines_billed = lines_of[(p.key.provider_npi, p.key.procedure, p.key.modifiers)]
    ordered = sorted(patterns.values(), key=lambda p: (-p.count, -p.denied, p.key))
    chart = [m for m in sorted(window) if m <= month and m > month.minus(CHART_MONTHS)
             and figures[m].has_data]
    return FeedbackReport(month, figures, ordered, chart, data_through, rework_cost,
                          today or dt.date.today(), top)


def _add_remittance(ledger: Ledger, fig: MonthFigures, remit: Remittance, day: dt.date,
                    documentation: DocumentationElements,
                    patterns: dict[PatternKey, Pattern] | None,
                    lines_of: dict | None, watched: dict | None) -> None:
    payer_id = remit.payer.id
    claims = [c for c in remit.claims if c.status_code != REVERSAL]
    keyed = [(claim, *adj, finding_key(payer_id, claim.payer_claim_id, adj[0], adj[2]))
             for claim in claims for adj in claim_adjustments(claim)]
    decisions = ledger.finding_decisions(k for *_, k in keyed)
    fig.remittances += 1
    if remit.payer.name:
        fig.payer_names.setdefault(payer_id, remit.payer.name)
    payer = fig.by_payer.setdefault(payer_id, Rate(payer_id))
    by_claim: dict[int, list] = defaultdict(list)
    for item in keyed:
        by_claim[id(item[0])].append(item)
    for claim in claims:
        fig.claims += 1
        fig.lines += len(claim.lines)
        fig.billed += claim.billed
        payer.total_count += 1
        payer.billed_amount += claim.billed
        provider = claim.rendering_provider
        if lines_of is not None:
            for ln in claim.lines:
                lines_of[(provider.id, ln.procedure, tuple(ln.modifiers))] += 1
        denials = []
        for _, number, line, adj, remarks, key in by_claim[id(claim)]:
            decision = decisions.get(key)
            if decision is None:
                fig.undecided += 1
            elif decision.is_denial and adj.amount > 0:
                denials.append((number, line, adj, remarks, key, decision))
        if not denials:
            continue
        claim_denied = sum((d[2].amount for d in denials), ZERO)
        fig.denied_claims += 1
        fig.denied += claim_denied
        fig.denied_lines += len({d[0] for d in denials if d[0] is not None})
        payer.denied_count += 1
        payer.denied_amount += claim_denied
        coding = [d for d in denials if d[5].category in CODING_CATEGORIES]
        if coding:
            fig.coding_claims += 1
            fig.coding_denied += sum((d[2].amount for d in coding), ZERO)
        for code in sorted({d[2].code for d in denials}):
            fig.by_reason.setdefault(code, Rate(code)).denied_count += 1
        for number, line, adj, remarks, key, decision in denials:
            fig.by_reason[adj.code].denied_amount += adj.amount
            total = fig.by_category.setdefault(decision.category, CategoryTotal())
            total.count += 1
            total.denied += adj.amount
            pkey = None
            if patterns is not None:
                pkey = PatternKey(provider.id, provider.name, line.procedure if line else "",
                                  tuple(line.modifiers) if line else (), adj.group, adj.carc,
                                  tuple(sorted(set(remarks))))
                pattern = patterns.get(pkey)
                if pattern is None:
                    pattern = patterns[pkey] = Pattern(pkey, decision.category,
                                                       documentation.element_for(
                                                           adj.group, adj.carc, remarks,
                                                           pkey.procedure))
                pattern.count += 1
                pattern.claim_ids.add((payer_id, claim.payer_claim_id))
                pattern.denied += adj.amount
            if watched is not None:
                service = (line.date_of_service, line.procedure) if line else None
                watched[(payer_id, claim.payer_claim_id)].append(
                    _Denial(fig.month, day, key, service, adj.amount, pkey))
    for rate in fig.by_reason.values():
        rate.total_count = fig.claims
        rate.billed_amount = fig.billed


def _recover(denials: list[_Denial], payments: list[_Paid], figures: dict[Month, MonthFigures],
             patterns: dict[PatternKey, Pattern]) -> None:
    """Allocate what later remittances paid on one claim to its denials (see the module doc):
    line-level denials first, from their service's payments; claim-level ones from the claim's
    payments that line-level denials did not take. Each month's denials are allocated on their
    own (a re-denial in a later month is that month's denial)."""
    by_month: dict[Month, list[_Denial]] = defaultdict(list)
    for d in denials:
        by_month[d.month].append(d)
    for group in by_month.values():
        taken_lines: dict[tuple, Decimal] = defaultdict(lambda: ZERO)
        taken_claim = ZERO
        for d in sorted(group, key=lambda d: (d.service is None, d.day, d.key)):
            later = [p for p in payments if p.day > d.day]
            if d.service is not None:
                available = sum((p.lines.get(d.service, ZERO) for p in later), ZERO) \
                    - taken_lines[d.service]
            else:
                available = sum((p.claim for p in later), ZERO) - taken_claim
            got = max(ZERO, min(d.amount, available))
            if not got:
                continue
            if d.service is not None:
                taken_lines[d.service] += got
            taken_claim += got
            figures[d.month].recovered += got
            if d.pattern is not None:
                patterns[d.pattern].recovered += got


# ---------------------------------------------------------------------------------------------
# How figures read (PDF, CLI, the Prefect artifact)

NO_DATA = "no data"


def show(kind: str, value: int | Decimal | None) -> str:
    """A figure as people read it: ``12``, ``$1,234.50``, ``12.3%``; ``no data``."""
    if value is None:
        return NO_DATA
    if kind == "money":
        return f"{'-' if value < 0 else ''}${abs(value):,.2f}"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    return f"{value:,}"


def show_change(kind: str, delta: int | Decimal | None) -> str:
    """A change: ``+3``, ``-$12.00``, ``+5.5 pts`` (rates change by percentage points)."""
    if delta is None:
        return NO_DATA
    sign = "+" if delta > 0 else ("-" if delta < 0 else "±")
    if kind == "money":
        return f"{sign}${abs(delta):,.2f}"
    if kind == "rate":
        return f"{sign}{abs(delta) * 100:.1f} pts"
    return f"{sign}{abs(delta):,}"


def kpi_markdown(report: FeedbackReport) -> str:
    """The KPIs with their trend as a markdown table (the Prefect artifact): figures only, no
    claim, patient, member or account."""
    m = report.month
    rows = [f"# Denial feedback report {m}", "",
            f"| measure | {m} | vs {m.previous} | vs {m.minus(12)} |",
            "| --- | ---: | ---: | ---: |"]
    for t in report.trends():
        rows.append(f"| {t.kpi.name} | {show(t.kpi.kind, t.current)} | "
                    f"{show_change(t.kpi.kind, t.change_from_previous)} | "
                    f"{show_change(t.kpi.kind, t.change_from_last_year)} |")
    rows += ["", f"{len(report.patterns)} denial patterns; data through "
                 f"{report.data_through.isoformat() if report.data_through else NO_DATA}."]
    return "\n".join(rows) + "\n"


def headline(report: FeedbackReport) -> list[str]:
    """A few lines for the terminal and the flow's log: figures and the top pattern, no PHI."""
    cur, m = report.current, report.month
    if not cur.has_data:
        return [f"{m}: no remittance paid in the month is in the ledger (every figure: no data)"]
    lines = [f"{m}: {cur.claims:,} claims, {cur.denied_claims:,} denied "
             f"({show('rate', cur.denial_rate_by_count)} by count, "
             f"{show('rate', cur.denial_rate_by_dollars)} by dollars); "
             f"{show('money', cur.denied)} denied, {show('money', cur.recovered)} recovered so "
             f"far; appeal overturn rate {show('rate', cur.overturn_rate)}; rework cost "
             f"estimate {show('money', cur.rework_cost)}"]
    if report.patterns:
        p = report.patterns[0]
        lines.append(f"top pattern: {p.label(200)} ({p.count} denial(s), "
                     f"{show('money', p.denied)})")
    if cur.undecided:
        lines.append(f"note: {cur.undecided} adjustment(s) have no decision yet and are left out")
    return lines
