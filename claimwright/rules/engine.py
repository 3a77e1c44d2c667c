"""Rules as data: ``rules.yaml`` decides, per adjustment, denial or not, category, owner, action.

Matching (docs/rules.md has the admin's version):

1. Unknown group, CARC or remark code (not in the code tables) -> the file's ``unknown`` decision,
   ``known=False`` and ``unknown_codes`` listing them; the pipeline opens a review item from that.
   Except: a local rule (:mod:`.local`, a code a person categorized) that matches the adjustment
   makes the codes it names known for this practice; only codes still unknown after that count.
2. Otherwise the local rules, then the rules, are tried top to bottom; the first whose ``when``
   matches decides and its ``id`` is recorded on the decision.
3. Then every matching ``overrides`` entry (in file order) may change fields of a *denial*
   decision; their ids are recorded in ``Decision.overrides``.

The rules come from :mod:`claimwright.rules.ruleset` (``rules.yaml`` loaded and validated),
the ``when`` matching from :mod:`claimwright.rules.match`. :func:`categorize_remittance` applies
them to every adjustment of a remittance, with due dates (:mod:`.deadlines`) and priority
(:mod:`.priority`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable

from .. import codes as codes_mod
from ..models import Adjustment, Claim, Remittance, ServiceLine
from .deadlines import current_deadlines
from .findings import Decision, Finding
from .match import Context
from .priority import score
from .ruleset import Rule, RuleSet, current_rules
from .source import RulesError


@dataclass
class Explanation:
    decision: Decision
    rule: Rule | None  # None when the unknown decision applied
    overrides: list[Rule] = field(default_factory=list)
    meanings: dict[str, str] = field(default_factory=dict)  # "CARC 16" -> meaning


def _decision(outcome: dict[str, Any], rule_id: str, why: str) -> Decision:
    appealable = outcome["appealable"]
    return Decision(is_denial=outcome["denial"], category=outcome["category"],
                    owner=outcome["owner"], action=outcome["action"], appealable=appealable,
                    condition=outcome.get("condition", ""), rule_id=rule_id, why=why)


def unknown_codes(ctx: Context, tables: codes_mod.CodeTables) -> list[str]:
    found = []
    if not tables.groups.is_known(ctx.group):
        found.append(f"group {ctx.group or '(blank)'}")
    if not tables.carc.is_known(ctx.carc):
        found.append(f"CARC {ctx.carc or '(blank)'}")
    for rarc in ctx.rarcs:
        if not tables.rarc.is_known(rarc):
            found.append(f"RARC {rarc}")
    return found


def named_codes(rule: Rule) -> set[str]:
    """The codes a rule names exactly, as :func:`unknown_codes` spells them ("CARC Z98")."""
    when = rule.when
    return ({f"group {g}" for g in when.group or ()} | {f"CARC {c}" for c in when.carc or ()}
            | {f"RARC {r}" for r in when.rarc or ()})


def retired_codes(ctx: Context, tables: codes_mod.CodeTables, on: dt.date) -> list[str]:
    """Known codes that were not valid on ``on`` (retired, or not yet started): worth a look."""
    found = []
    for label, table, code in ([("CARC", tables.carc, ctx.carc)]
                               + [("RARC", tables.rarc, r) for r in ctx.rarcs]):
        entry = table.get(code)
        if entry is not None and not entry.active_on(on):
            when = f" since {entry.stop.isoformat()}" if entry.stop else ""
            found.append(f"{label} {entry.code} ({entry.status}{when})")
    return found


def explain(ctx: Context, *, ruleset: RuleSet | None = None,
            tables: codes_mod.CodeTables | None = None) -> Explanation:
    """Decide one adjustment and say which rule(s) did it."""
    tables = tables or codes_mod.tables()
    ruleset = ruleset or current_rules()
    ctx = Context(group=ctx.group.strip().upper(), carc=codes_mod.normalize("carc", ctx.carc),
                  rarcs=tuple(codes_mod.normalize("rarc", r) for r in ctx.rarcs if r.strip()),
                  payer=ctx.payer.strip().upper(), procedure=ctx.procedure.strip().upper(),
                  amount=ctx.amount)
    meanings = {f"group {ctx.group}": tables.groups.meaning(ctx.group),
                f"CARC {ctx.carc}": tables.carc.meaning(ctx.carc)}
    for rarc in ctx.rarcs:
        meanings[f"RARC {rarc}"] = tables.rarc.meaning(rarc)
    unknown = unknown_codes(ctx, tables)
    local = next((r for r in ruleset.local if r.when.matches(ctx)), None)
    if unknown and local is not None:
        unknown = [code for code in unknown if code not in named_codes(local)]
    if unknown:
        decision = _decision(ruleset.unknown, "unknown-code", ruleset.unknown_why)
        decision.known = False
        decision.unknown_codes = unknown
        return Explanation(decision, None, [], meanings)
    for rule in [*ruleset.local, *ruleset.rules]:
        if rule.when.matches(ctx):
            decision = _decision(rule.then, rule.id, rule.why)
            applied = []
            if decision.is_denial:
                for override in ruleset.overrides:
                    if override.when.matches(ctx):
                        merged = {"denial": decision.is_denial, "category": decision.category,
                                  "owner": decision.owner, "action": decision.action,
                                  "appealable": decision.appealable,
                                  "condition": decision.condition, **override.then}
                        if merged["appealable"] != "conditional" and "condition" not in \
                                override.then:
                            merged["condition"] = ""
                        decision = _decision(merged, rule.id, rule.why)
                        applied.append(override)
                decision.overrides = [o.id for o in applied]
            return Explanation(decision, rule, applied, meanings)
    raise RulesError("no rule matched and the file has no catch-all rule (add one with "
                     "'when: {}' at the end)", file=str(ruleset.path))


def decide(ctx: Context, *, ruleset: RuleSet | None = None,
           tables: codes_mod.CodeTables | None = None) -> Decision:
    return explain(ctx, ruleset=ruleset, tables=tables).decision



# --------------------------------------------------------------------------------------------
# A whole remittance


def claim_adjustments(claim: Claim) -> Iterable[tuple[int | None, ServiceLine | None,
                                                      Adjustment, list[str]]]:
    """Every adjustment of ``claim`` as the rules see it: (line number or None for claim level,
    the line, the adjustment, the remarks that apply: line remarks first, then the claim's)."""
    for adj in claim.adjustments:
        yield None, None, adj, list(claim.remarks)
    for number, line in enumerate(claim.lines, start=1):
        remarks = list(line.remarks) + [r for r in claim.remarks if r not in line.remarks]
        for adj in line.adjustments:
            yield number, line, adj, remarks


def categorize_remittance(remit: Remittance, *, as_of: dt.date | None = None) -> list[Finding]:
    """Every adjustment of ``remit`` (denial or not) with decision, due dates and priority."""
    tables = codes_mod.tables()
    ruleset = current_rules()
    deadlines = current_deadlines()
    as_of = as_of or dt.date.today()
    denial_date = remit.payment.date
    findings: list[Finding] = []
    for claim in remit.claims:
        for number, line, adj, remarks in claim_adjustments(claim):
            ctx = Context(group=adj.group, carc=adj.carc, rarcs=tuple(remarks),
                          payer=remit.payer.id, procedure=line.procedure if line else "",
                          amount=adj.amount)
            decision = decide(ctx, ruleset=ruleset, tables=tables)
            if denial_date is not None:
                decision.retired_codes = retired_codes(ctx, tables, denial_date)
            finding = Finding(
                payer_id=remit.payer.id, payer_name=remit.payer.name, claim=claim,
                line_number=number, line=line, adjustment=adj, remarks=list(remarks),
                decision=decision, carc_meaning=tables.carc.meaning(adj.carc),
                rarc_meanings={r: tables.rarc.meaning(r) for r in remarks},
                denial_date=denial_date)
            if decision.is_denial:
                due = deadlines.due_dates(remit.payer.id, remit.payer.name, decision.action,
                                          denial_date, claim.dates_of_service)
                finding.appeal_due = due.due
                finding.internal_target = due.target
                finding.deadline_basis = due.basis
                finding.priority = score(finding, ruleset.priority, as_of=as_of)
                finding.prioritized_on = as_of
            findings.append(finding)
    return findings
