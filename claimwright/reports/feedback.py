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
- **Appeal overturn rate** = appeals fully overturned / appeals decided, in the month of the
  decision, from the appeals ledger (one per appeal and level; a claim without appeal records:
  the status check's first final answer). Partial decisions are counted apart, in the Appeals
  table (by category and payer: decided, overturned, partial, rates, recovered as recorded on
  the appeal). **Rework cost** = denied claims x the cost per reworked claim (a setting).

Nothing here names a patient, member or account: the report is about patterns.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from ..metrics import REVERSAL, Rate
from ..models import ZERO, Claim, Remittance
from ..rules.documentation import DocumentationElements, load_documentation
from ..rules.engine import claim_adjustments
from ..rules.findings import finding_key
from ..settings import DEFAULT_REWORK_COST
from ..storage import Ledger
from .months import Month

#: categories (claimwright.rules.ruleset.CATEGORIES) counted as coding-related denials
from .figures import (CHART_MONTHS, CLAIM_LEVEL, CODING_CATEGORIES, KPIS, NO_PROVIDER,  # noqa: F401
                      OVERTURNED, TOP_PATTERNS, CategoryTotal, FeedbackReport, Kpi,
                      MonthFigures, Pattern, PatternKey, Trend)


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
            figures[m].add_appeal(decision)
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
