"""Correcting values: a person enters the right amounts or codes of one claim (or one line).

A correction targets one stored remittance (its ledger record id), one claim in it (patient
account and payer claim number) and, optionally, one service line (1-based). It sets a few
fields (:data:`CLAIM_FIELDS`, :data:`LINE_FIELDS`, and an adjustment's ``amount`` / ``group`` /
``carc`` by 1-based index: ``adjustment.2.amount``) and records who, when (UTC), why, and the
values it replaced. The stored remittance is never changed: :func:`apply_corrections` returns a
corrected copy, balanced again (:mod:`claimwright.balancing`), which the outputs stage uses
(``pipeline.outputs``). :func:`correct` records one and puts the document's outputs unit back
to pending, so the next run (or ``write_outputs``) categorizes and routes the corrected claim;
when the claim balances, its ``unbalanced`` review item is resolved naming the correction
(:func:`resolve_corrected`). A correction that does not make the claim balance leaves its
problem open, and the problem's message says it stayed after the correction.

Money is parsed with :func:`claimwright.models.money` (floats refused). Nothing here logs or
writes to the audit trail a name, account or amount: field names, ids and line numbers only.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from .balancing import BALANCING_CODES, check_claim, check_remittance  # codes: re-exported
from .errors import BusinessError
from .models import Remittance, money
from .review import ACTIVE
from .types import ReviewKind, UnitKind

if TYPE_CHECKING:
    from .pipeline.context import Context
    from .storage import CorrectionRecord, Document

__all__ = ["BALANCING_CODES", "CLAIM_FIELDS", "Correction", "CorrectionError", "LINE_FIELDS",
           "ADJUSTMENT_FIELDS", "apply_corrections", "corrected_data", "correct",
           "corrections", "resolve_corrected"]

log = logging.getLogger(__name__)

CLAIM_FIELDS = ("billed", "paid", "patient_responsibility")
LINE_FIELDS = ("billed", "allowed", "paid", "units", "procedure", "modifiers")
ADJUSTMENT_FIELDS = ("amount", "group", "carc")  # as adjustment.<n>.<field>
WHY_MAX = 200
CHECK_FAILED = "layout-check-failed"  # a layout's declared check: run again after a correction
_MONEY = {"billed", "paid", "allowed", "patient_responsibility", "amount"}
_ADJUSTMENT = re.compile(r"^adjustment\.([1-9][0-9]*)\.(amount|group|carc)$")
_PROCEDURE = re.compile(r"^[A-Z0-9]{5}$")
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_GROUP = re.compile(r"^[A-Z]{2}$")
_CARC = re.compile(r"^[A-Z]?[0-9]{1,3}$|^[A-Z][0-9A-Z]{0,2}$")


class CorrectionError(BusinessError):
    """A correction that cannot be recorded (unknown field, bad value, no why, no such claim)."""


class _Target(Protocol):
    id: int
    patient_account: str
    payer_claim_id: str
    line: int | None
    changes: dict


@dataclass
class Correction:
    """One recorded correction (``at`` naive UTC, as the ledger stores times). ``balances``
    and ``remaining`` (problem codes of the claim left after it) say what it did; ``queued``
    whether the document's outputs will be made again (False: a run is working it now)."""

    id: int
    remittance_id: int
    document_id: int
    item_id: int | None
    patient_account: str
    payer_claim_id: str
    line: int | None
    changes: dict[str, str]
    original: dict[str, str]
    by: str
    at: dt.datetime
    why: str
    balances: bool | None = None
    remaining: list[str] = field(default_factory=list)
    queued: bool | None = None

    @classmethod
    def from_record(cls, rec: CorrectionRecord) -> Correction:
        return cls(rec.id, rec.remittance_id, rec.document_id, rec.item_id, rec.patient_account,
                   rec.payer_claim_id, rec.line, dict(rec.changes), dict(rec.original),
                   rec.actor, rec.at, rec.why)

    @property
    def fields(self) -> str:
        """What it changed, without values (safe for logs and the audit trail)."""
        where = f"line {self.line}" if self.line else "claim"
        return f"{where} {', '.join(self.changes)}"


# applying ---------------------------------------------------------------------------------
def apply_corrections(data: dict, corrections: Iterable[_Target]) -> dict:
    """The parse JSON ``data`` with ``corrections`` applied in order: a new dict (``data`` is
    not modified). The corrected claims and the remittance total are balanced again; their
    balancing problems are replaced by what remains, each saying it stayed after the
    correction(s). ``corrections`` lists what was applied (ids, claim #, line, field names)."""
    out = copy.deepcopy(data)
    applied = list(corrections)
    if not applied:
        return out
    by_account: dict[str, list[int]] = {}
    for c in applied:
        target = _target(_claim(out, c.patient_account, c.payer_claim_id), c.line)
        for name, value in c.changes.items():
            _set(target, name, value)
        by_account.setdefault(c.patient_account, []).append(c.id)
    remit = Remittance.from_json(out)
    declared = _declared_checks(remit)
    rechecked = BALANCING_CODES | ({CHECK_FAILED} if declared is not None else set())
    kept = [p for p in remit.problems if p.code not in rechecked
            or (p.claim is not None and p.claim not in by_account)]
    fresh = [p for c in remit.claims if c.patient_account in by_account for p in check_claim(c)]
    fresh += [p for p in check_remittance(remit) if p.claim is None]
    fresh += [p for p in declared or [] if p.claim is None or p.claim in by_account]
    for p in fresh:
        ids = by_account.get(p.claim or "") or sorted({i for v in by_account.values() for i in v})
        p.message += f" (still after correction {', '.join(f'#{i}' for i in ids)})"
    out["problems"] = [p.to_json() for p in kept + fresh]
    out["balanced"] = not out["problems"]
    out["corrections"] = [{"id": c.id, "claim": c.payer_claim_id, "line": c.line,
                           "fields": list(c.changes)} for c in applied]
    return out


def _declared_checks(remit: Remittance) -> list | None:
    """The problems of the remittance layout's declared checks, run again on the corrected
    values; None when they cannot be (an 835, or a layout that no longer loads): the stored
    check problems then stay as they were."""
    if not remit.layout:
        return None
    from .errors import ClaimwrightError
    from .parsing.layout_checks import run_checks
    from .parsing.layout_loader import get_layout

    try:
        checks = get_layout(remit.layout).checks
    except ClaimwrightError:
        return None
    return run_checks(remit, checks)[0]


def corrected_data(ctx: Context, remittance_id: int) -> dict:
    """A stored remittance as the pipeline sees it: its corrections applied."""
    return apply_corrections(ctx.ledger.remittance_data(remittance_id),
                             ctx.ledger.corrections(remittance_id=remittance_id))


def resolve_corrected(ctx: Context, doc: Document, remit: Remittance,
                      applied: Sequence[_Target]) -> list[str]:
    """Resolve the ``unbalanced`` items of the corrected claims that balance now (and the
    remittance total's, when it balances): the keys resolved."""
    if not applied:
        return []
    unbalanced = {p.claim or "-" for p in remit.problems
                  if p.code in BALANCING_CODES or p.code == CHECK_FAILED}
    done = []
    for account in dict.fromkeys([*(c.patient_account for c in applied), "-"]):
        if account in unbalanced:
            continue
        mine = [c for c in applied if c.patient_account == account] or list(applied)
        key = f"{ReviewKind.UNBALANCED}:{doc.payer}:{doc.remittance_id}:{account}"
        ids = ", ".join(f"#{c.id}" for c in mine)
        what = "the claim balances" if account != "-" else "the remittance total balances"
        if ctx.ledger.resolve_open_item(key, f"corrected: correction {ids}; {what} and its "
                                             "denials are categorized and routed"):
            done.append(key)
    return done


# recording --------------------------------------------------------------------------------
def parse_changes(pairs: Iterable[str]) -> dict[str, str]:
    """``["paid=12.34", ...]`` (``FIELD=VALUE`` each; blank entries skipped) -> field -> value;
    a malformed or repeated field raises :class:`CorrectionError`."""
    changes: dict[str, str] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CorrectionError(f"{pair.strip()[:40]!r}: write FIELD=VALUE")
        if name.strip() in changes:
            raise CorrectionError(f"{name.strip()} given twice")
        changes[name.strip()] = value.strip()
    return changes


def correct(ctx: Context, target: int | tuple[int, str, str], changes: dict[str, Any], *,
            by: str, why: str, line: int | None = None) -> Correction:
    """Record a correction of the claim ``target`` names: a review item id (``unbalanced`` or
    ``renditions-disagree``, open or in review) or ``(remittance record id, patient account,
    payer claim #)``. ``changes``: field -> new value (text, int or Decimal;
    never float). Audits it on the review item (the one given, else the claim's open
    ``unbalanced`` item) and queues the document's outputs again. :class:`CorrectionError` when
    anything is wrong; nothing is recorded then."""
    by, why = _text(by, "who corrects it (by)", 64), _text(why, "why (a short reason)", WHY_MAX)
    item_id, remittance_id, account, claim_id = _resolve_target(ctx, target)
    stored = ctx.ledger.remittance_data(remittance_id)
    earlier = ctx.ledger.corrections(remittance_id=remittance_id)
    current = apply_corrections(stored, earlier)
    claim = _claim(current, account, claim_id)
    if line is not None and not (isinstance(line, int) and 1 <= line <= len(claim["lines"])):
        raise CorrectionError(f"claim {claim_id} has no line {line} (it has "
                              f"{len(claim['lines'])})")
    place = _target(claim, line)
    parsed = {name: _parse(name, value, place, line) for name, value in (changes or {}).items()}
    if not parsed:
        raise CorrectionError("no field to correct: give at least one field=value")
    original = {name: _get(place, name) for name in parsed}
    parsed = {n: v for n, v in parsed.items() if v != original[n]}
    if not parsed:
        raise CorrectionError("nothing to change: the fields already have these values")
    original = {n: original[n] for n in parsed}
    rem = ctx.ledger.remittance_record(remittance_id)
    doc = ctx.ledger.document(rem.document_id)  # type: ignore[union-attr]
    if item_id is None and doc is not None:
        item_id = _open_unbalanced(ctx, doc, account)
    rec = ctx.ledger.add_correction(remittance_id=remittance_id, patient_account=account,
                                    payer_claim_id=claim_id, line=line, changes=parsed,
                                    original=original, actor=by, why=why, item_id=item_id,
                                    at=ctx.queue.clock())
    out = Correction.from_record(rec)
    after = apply_corrections(stored, [*earlier, rec])
    out.remaining = sorted({p["code"] for p in after["problems"] if p.get("claim") == account})
    out.balances = not out.remaining
    out.queued = ctx.units().retry(UnitKind.OUTPUTS, doc.unit_key, done=True) if doc else False
    if item_id is not None:
        ctx.queue.record(item_id, "corrected", by=by, detail=(
            f"correction #{out.id}: {out.fields}; "
            + ("balances now" if out.balances else f"still {', '.join(out.remaining)}")))
    log.info("correction #%s recorded (remittance record %s, %s) by %s; balances: %s",
             out.id, remittance_id, out.fields, by, out.balances)
    return out


def corrections(ctx: Context) -> list[Correction]:
    """Every recorded correction, oldest first."""
    return [Correction.from_record(r) for r in ctx.ledger.corrections()]


def _resolve_target(ctx: Context, target: int | tuple[int, str, str]
                    ) -> tuple[int | None, int, str, str]:
    if isinstance(target, tuple):
        remittance_id, account, claim_id = target
        if ctx.ledger.remittance_record(remittance_id) is None:
            raise CorrectionError(f"no remittance {remittance_id} in the ledger")
        return None, remittance_id, str(account), str(claim_id)
    item = ctx.queue.get(int(target))
    if item is None:
        raise CorrectionError(f"no review item {target}")
    if item.kind not in (ReviewKind.UNBALANCED, ReviewKind.RENDITIONS_DISAGREE):
        raise CorrectionError(f"review item {item.id} is {item.kind}: values are corrected "
                              "on unbalanced or renditions-disagree items")
    if item.status not in ACTIVE:
        raise CorrectionError(f"review item {item.id} is {item.status}: reopen it first")
    account = item.context.get("claim") or ""
    found = []
    for rec in ctx.ledger.remittances(int(item.context.get("document_id") or 0)):
        found += [(rec.id, c["patient_account"], c["payer_claim_id"])
                  for c in rec.data.get("claims") or [] if account
                  and c["patient_account"] == account]
    if len(found) != 1:
        raise CorrectionError(f"review item {item.id} names {len(found)} claims: give the "
                              "remittance record, account and claim # instead")
    return (item.id, *found[0])


def _open_unbalanced(ctx: Context, doc: Document, account: str) -> int | None:
    key = f"{ReviewKind.UNBALANCED}:{doc.payer}:{doc.remittance_id}:{account}"
    return next((i.id for i in ctx.queue.items(ACTIVE, ReviewKind.UNBALANCED, payer=doc.payer)
                 if i.key == key), None)


# fields and values ------------------------------------------------------------------------
def _claim(data: dict, account: str, claim_id: str) -> dict:
    found = [c for c in data.get("claims") or []
             if c["patient_account"] == account and c["payer_claim_id"] == claim_id]
    if len(found) != 1:
        raise CorrectionError(f"claim {claim_id} is not in this remittance" if not found else
                              f"claim {claim_id} appears {len(found)} times in this remittance")
    return found[0]


def _target(claim: dict, line: int | None) -> dict:
    return claim if line is None else claim["lines"][line - 1]


def _parse(name: str, value: Any, place: dict, line: int | None) -> str:
    """The canonical text of ``value`` for field ``name`` (CorrectionError when not allowed)."""
    adjustment = _ADJUSTMENT.match(name)
    allowed = LINE_FIELDS if line is not None else CLAIM_FIELDS
    if adjustment:
        index, leaf = int(adjustment.group(1)), adjustment.group(2)
        if index > len(place.get("adjustments") or []):
            raise CorrectionError(f"{name}: the {'line' if line else 'claim'} has "
                                  f"{len(place.get('adjustments') or [])} adjustment(s)")
    elif name in allowed:
        leaf = name
    else:
        fields = ", ".join([*allowed, *(f"adjustment.N.{f}" for f in ADJUSTMENT_FIELDS)])
        raise CorrectionError(f"field {name!r} cannot be corrected on a "
                              f"{'line' if line else 'claim'} (allowed: {fields})")
    if isinstance(value, float):
        raise CorrectionError(f"{name}: a float is refused, give the value as text")
    text = str(value).strip()
    try:
        if leaf in _MONEY:
            return str(money(text))
        if leaf == "units":
            units = Decimal(text)
            if not units.is_finite() or units <= 0:
                raise ValueError(text)
            return format(units.normalize(), "f")
    except (ValueError, InvalidOperation, TypeError):
        what = "an amount" if leaf in _MONEY else "a number of units"
        raise CorrectionError(f"{name}: {value!r} is not {what}") from None
    text = text.upper()
    if leaf == "modifiers":
        mods = [m.strip() for m in text.split(",") if m.strip()]
        if len(mods) > 4 or not all(_MODIFIER.match(m) for m in mods):
            raise CorrectionError(f"{name}: up to 4 two-character modifiers, comma separated")
        return ",".join(mods)
    pattern = {"procedure": _PROCEDURE, "group": _GROUP, "carc": _CARC}[leaf]
    if not pattern.match(text):
        raise CorrectionError(f"{name}: {value!r} is not a valid {leaf} code")
    return text


def _get(place: dict, name: str) -> str:
    adjustment = _ADJUSTMENT.match(name)
    if adjustment:
        place, name = place["adjustments"][int(adjustment.group(1)) - 1], adjustment.group(2)
    value = place.get(name)
    if name == "modifiers":
        return ",".join(value or [])
    return "" if value is None else str(value)


def _set(place: dict, name: str, value: str) -> None:
    adjustment = _ADJUSTMENT.match(name)
    if adjustment:
        place, name = place["adjustments"][int(adjustment.group(1)) - 1], adjustment.group(2)
    place[name] = [m for m in value.split(",") if m] if name == "modifiers" else value


def _text(value: str, what: str, limit: int) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise CorrectionError(f"{what} is required")
    if len(text) > limit:
        raise CorrectionError(f"{what}: at most {limit} characters")
    return text
