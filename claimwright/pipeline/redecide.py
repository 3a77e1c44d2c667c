"""Re-deciding stored findings after codes were categorized (a local rule, a code table edit).

:func:`redecide` asks the rules in force again about every stored finding with one of the given
CARCs. Where the answer differs from the stored decision, the outputs unit of the document that
reported the finding is put back to pending (the "retry" of :meth:`WorkUnits.retry`, done units
included), so the next run (or a call of :func:`~claimwright.pipeline.write_outputs`) saves the
new decision and routes the denial to its packet or worklist. The worklist outbox then queues
the rows the remittance did not route to a worklist before; rows it already wrote stay written
(``Ledger.queue_outputs``: same key and source). Where the code is now known, the finding's open
``unknown-code`` review item is resolved, naming the rule that decides it.

Idempotent: a second call finds the stored decisions equal to the rules' (once the outputs were
made again) and no open item to resolve, and changes nothing. A document whose outputs unit is
in progress (a run is working it) is left alone and listed in ``Redecided.busy``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable

from .. import codes as codes_mod
from ..rules.engine import explain
from ..rules.findings import Decision
from ..rules.match import Context as RuleContext
from ..rules.ruleset import current_rules
from ..storage import FindingRecord
from ..types import UnitKind
from .context import Context

log = logging.getLogger(__name__)

_COMPARED = ("is_denial", "category", "owner", "action", "appealable", "rule_id")


@dataclass
class Redecided:
    """What :func:`redecide` did: plain counts and keys (payer:remittance id, review item
    keys), no PHI."""

    codes: list[str]
    findings: int = 0  # stored findings with the codes
    changed: int = 0  # of them, those whose decision the rules in force now change
    documents: list[str] = field(default_factory=list)  # outputs units pending again
    resolved: list[str] = field(default_factory=list)  # unknown-code items resolved
    busy: list[str] = field(default_factory=list)  # outputs units in progress: left alone

    def summary(self) -> str:
        text = (f"{self.findings} stored finding(s) with {', '.join(self.codes) or '-'}: "
                f"{self.changed} re-decided, {len(self.documents)} document(s) queued for "
                f"their outputs again, {len(self.resolved)} unknown-code item(s) resolved")
        if self.busy:
            text += f"; {len(self.busy)} document(s) in progress now, retry after that run"
        return text


def redecide(ctx: Context, codes: Iterable[str]) -> Redecided:
    """Re-decide every stored finding whose CARC is in ``codes`` (see the module doc)."""
    carcs = sorted({codes_mod.normalize("carc", c) for c in codes if str(c).strip()})
    out = Redecided(carcs)
    ruleset, tables = current_rules(), codes_mod.tables()
    stale: dict[str, str] = {}  # outputs unit key -> why (for the log: counts only)
    for rec, doc in ctx.ledger.findings_with_carcs(carcs):
        out.findings += 1
        decision = explain(_rule_context(rec), ruleset=ruleset, tables=tables).decision
        if decision.known and ctx.ledger.resolve_open_item(
                f"unknown-code:{rec.key}", _resolution(decision)):
            out.resolved.append(f"unknown-code:{rec.key}")
        if _differs(rec, decision):
            out.changed += 1
            stale[doc.unit_key] = decision.rule_id
    work = ctx.units()
    for key in stale:
        if work.retry(UnitKind.OUTPUTS, key, done=True):
            out.documents.append(key)
        else:
            out.busy.append(key)
    log.info("redecide %s: %d finding(s), %d changed, %d document(s) queued, %d item(s) "
             "resolved, %d busy", ",".join(carcs), out.findings, out.changed,
             len(out.documents), len(out.resolved), len(out.busy))
    return out


def _rule_context(rec: FindingRecord) -> RuleContext:
    """What the rules saw of the stored finding (as ``categorize_remittance`` builds it)."""
    return RuleContext(group=rec.group_code, carc=rec.carc, rarcs=tuple(rec.rarcs or ()),
                       payer=rec.payer_id, procedure=rec.procedure or "", amount=rec.amount)


def _differs(rec: FindingRecord, decision: Decision) -> bool:
    now = {"is_denial": decision.is_denial, "category": decision.category,
           "owner": decision.owner, "action": decision.action,
           "appealable": decision.appealable, "rule_id": decision.rule_id}
    return any(getattr(rec, name) != now[name] for name in _COMPARED)


def _resolution(decision: Decision) -> str:
    return (f"categorized: rule {decision.rule_id} decides it ({decision.category}, owner "
            f"{decision.owner}, action {decision.action}); its outputs are made again")
