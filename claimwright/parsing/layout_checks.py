"""Checks as data: a layout's declared equalities, and which printed numbers a check verifies.

A layout file's ``checks`` list declares equalities between the numbers it reads, on top of the
built-in balancing (:mod:`claimwright.balancing`) and the printed totals (``check_*`` groups)::

    checks:
      - name: allowed is billed less the reductions before the allowed amount
        each: line                 # line | claim | remittance
        equal: allowed
        sum: [billed, -adjustments except PR OA-23 CO-253]

A term is a number of the scope (line: ``billed``, ``allowed``, ``paid``, ``units``; claim:
``billed``, ``paid``, ``patient_responsibility``; remittance: ``payment_amount``), a sum over
the scope's parts (``lines.paid`` in a claim; ``claims.billed``, ``lines.allowed``,
``provider_adjustments.amount`` in the remittance), or ``adjustments`` (every adjustment of the
scope: a line's, a claim's and its lines', the whole remittance's), optionally only some
groups/codes (``adjustments PR OA-23``) or all but some (``adjustments except PR``). A leading
``-`` subtracts. A record where a named number is not printed (``allowed`` left blank) is not
checked. A failed check is a ``layout-check-failed`` problem with ``expected`` (the sum) and
``actual`` (the ``equal`` side).

:func:`verifiers` maps each number a layout reads (``lines[].allowed``, ``claims[].paid``,
``payment.amount``, ...) to the checks that would catch a change of it; after a parse,
:func:`unverified` lists those no check that ran covers: ``Remittance.unverified``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable

from ..models import ZERO, Adjustment, Problem, Remittance

SCOPES = ("line", "claim", "remittance")
_LINE = ("billed", "allowed", "paid", "units")
_CLAIM = ("billed", "paid", "patient_responsibility")
#: the number fields a term may name, per scope
TERM_FIELDS = {
    "line": set(_LINE),
    "claim": set(_CLAIM) | {f"lines.{f}" for f in _LINE},
    "remittance": ({"payment_amount", "provider_adjustments.amount"}
                   | {f"claims.{f}" for f in _CLAIM} | {f"lines.{f}" for f in _LINE}),
}
_CODE = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,4})?")
BALANCING = "balancing"
#: what the built-in balancing verifies (line, claim and remittance balancing)
BALANCED_FIELDS = ("lines[].billed", "lines[].paid", "lines[].adjustments", "claims[].billed",
                   "claims[].paid", "claims[].adjustments", "payment.amount",
                   "provider_adjustments[].amount")
#: printed totals (``check_*`` groups) -> the read numbers a change of which they catch
TOTAL_CHECKS = {
    "check_allowed": ("lines[].allowed",), "check_claims_allowed": ("lines[].allowed",),
    "check_lines_billed": ("lines[].billed",), "check_lines_paid": ("lines[].paid",),
    "check_claims_billed": ("claims[].billed",), "check_claims_paid": ("claims[].paid",),
    "check_patient_responsibility": ("claims[].patient_responsibility",),
    "check_claims_patient_resp": ("claims[].patient_responsibility",),
    "check_provider_adjusted": ("provider_adjustments[].amount",),
    "check_payment_amount": ("payment.amount",),
}
# a field a pattern group or column fills -> its path, per scope that reads it
_CLAIM_PATHS = {"billed": "claims[].billed", "paid": "claims[].paid",
                "patient_responsibility": "claims[].patient_responsibility",
                "adjustments": "claims[].adjustments"}
_LINE_PATHS = {"billed": "lines[].billed", "allowed": "lines[].allowed", "paid": "lines[].paid",
               "units": "lines[].units", "adjustments": "lines[].adjustments",
               "adjustment": "lines[].adjustments"}


@dataclass(frozen=True)
class Term:
    sign: int  # +1 or -1
    field: str  # a TERM_FIELDS name, or "adjustments"
    codes: tuple[str, ...] = ()  # adjustments: groups ("PR") or codes ("OA-23")
    exclude: bool = False  # adjustments: all but ``codes``

    @property
    def text(self) -> str:
        words = [self.field] + (["except"] if self.exclude else []) + list(self.codes)
        return ("-" if self.sign < 0 else "") + " ".join(words)


@dataclass(frozen=True)
class Check:
    name: str
    each: str  # line, claim or remittance
    equal: Term
    terms: tuple[Term, ...]

    @property
    def sum_text(self) -> str:
        out = self.terms[0].text
        for t in self.terms[1:]:
            out += f" {'-' if t.sign < 0 else '+'} {t.text.lstrip('-')}"
        return out


# -- loading --------------------------------------------------------------------------------

def parse_term(text: str, scope: str) -> Term:
    """One term (``-adjustments except PR``); ``ValueError`` says what is wrong."""
    body = text.strip()
    sign = 1
    if body.startswith("-"):
        sign, body = -1, body[1:].strip()
    words = body.split()
    if not words:
        raise ValueError("is empty")
    if words[0] == "adjustments":
        exclude = len(words) > 1 and words[1] == "except"
        codes = tuple(words[2:] if exclude else words[1:])
        bad = [c for c in codes if not _CODE.fullmatch(c)]
        if bad or (exclude and not codes):
            raise ValueError(f"{bad or 'except'}: name groups (PR) or codes (OA-23) after "
                             "'adjustments' / 'adjustments except'")
        return Term(sign, "adjustments", codes, exclude)
    if len(words) > 1 or words[0] not in TERM_FIELDS[scope]:
        raise ValueError(f"{body!r} is not a number of a {scope}; allowed: "
                         f"{sorted(TERM_FIELDS[scope]) + ['adjustments [except] CODES']}")
    return Term(sign, words[0])


def load_checks(v: Any, value: Any, where: str = "checks") -> tuple[Check, ...]:
    """The ``checks`` list of a layout file, validated with the loader's validator ``v``."""
    if not isinstance(value, list):
        raise v.fail(where, "must be a list of checks ({name, each, equal, sum})")
    out: list[Check] = []
    for i, raw in enumerate(value):
        here = f"{where}[{i}]"
        raw = v.mapping(raw, here, {"name", "each", "equal", "sum"}, {"each", "equal", "sum"})
        name = v.string(raw.get("name", f"check {i + 1}"), f"{here}.name")
        each = v.string(raw["each"], f"{here}.each")
        if each not in SCOPES:
            raise v.fail(f"{here}.each", f"must be one of {list(SCOPES)}")
        terms = []
        for key, texts in (("equal", [raw["equal"]]), ("sum", raw["sum"])):
            for j, text in enumerate(v.strings(texts, f"{here}.{key}", allow_empty=False)):
                at = f"{here}.{key}" + (f"[{j}]" if key == "sum" else "")
                try:
                    terms.append(parse_term(text, each))
                except ValueError as exc:
                    raise v.fail(at, str(exc)) from None
        if terms[0].sign < 0:
            raise v.fail(f"{here}.equal", "takes no sign")
        if name in {c.name for c in out}:
            raise v.fail(f"{here}.name", f"another check is named {name!r}")
        out.append(Check(name, each, terms[0], tuple(terms[1:])))
    return tuple(out)


# -- evaluating -----------------------------------------------------------------------------

def _picked(adjustments: Iterable[Adjustment], term: Term) -> Decimal:
    total = ZERO
    for a in adjustments:
        hit = not term.codes or a.group in term.codes or a.code in term.codes
        if hit != term.exclude:
            total += a.amount
    return total


def _value(term: Term, scope: str, obj: Any, remit: Remittance) -> Decimal | None:
    if term.field == "adjustments":
        adjustments = (obj.adjustments if scope == "line" else obj.all_adjustments
                       if scope == "claim" else [a for c in remit.claims
                                                 for a in c.all_adjustments])
        return term.sign * _picked(adjustments, term)
    part, _, name = term.field.rpartition(".")
    if not part:
        value = remit.payment.amount if name == "payment_amount" else getattr(obj, name)
        return None if value is None else term.sign * value
    if part == "provider_adjustments":
        items: list = list(remit.provider_adjustments)
    elif part == "claims":
        items = list(remit.claims)
    else:  # lines of the claim, or of every claim
        items = list(obj.lines) if scope == "claim" else [ln for c in remit.claims
                                                          for ln in c.lines]
    values = [getattr(x, name) for x in items]
    if any(x is None for x in values):
        return None
    return term.sign * sum(values, ZERO)


def run_checks(remit: Remittance, checks: tuple[Check, ...]) -> tuple[list[Problem], set[str]]:
    """The problems of the failed declared checks, and the names of the checks that ran."""
    problems: list[Problem] = []
    ran: set[str] = set()
    for check in checks:
        for scope_obj, claim, number in _records(remit, check.each):
            values = [_value(t, check.each, scope_obj, remit) for t in (check.equal,)
                      + check.terms]
            if any(x is None for x in values):
                continue  # a number the check names is not printed here
            ran.add(check.name)
            found, expected = values[0], sum(values[1:], ZERO)
            if found == expected:
                continue
            where = ("the remittance" if claim is None else f"claim {claim.patient_account}"
                     + (f" line {number}" if number else ""))
            problems.append(Problem(
                "layout-check-failed",
                f"{where}: check {check.name!r}: {check.equal.text} is {found} but "
                f"{check.sum_text} = {expected}",
                page=claim.pages[0] if claim is not None and claim.pages else None,
                claim=claim.patient_account if claim is not None else None, line=number,
                expected=expected, actual=found))
    return problems, ran


def _records(remit: Remittance, each: str):
    if each == "remittance":
        yield remit, None, None
        return
    for claim in remit.claims:
        if each == "claim":
            yield claim, claim, None
        else:
            for number, line in enumerate(claim.lines, start=1):
                yield line, claim, number


# -- coverage -------------------------------------------------------------------------------

def _term_paths(term: Term, scope: str) -> list[str]:
    if term.field == "adjustments":
        return ["lines[].adjustments"] + ([] if scope == "line" else ["claims[].adjustments"])
    part, _, name = term.field.rpartition(".")
    if name == "payment_amount":
        return ["payment.amount"]
    if not part:
        part = {"line": "lines", "claim": "claims"}[scope]
    return [f"{part}[].{name}"]


def read_paths(claim_groups: set[str], line_fields: set[str], document_groups: set[str],
               provider_fields: set[str]) -> set[str]:
    """The paths of the numbers a layout reads, from the fields its patterns and columns fill."""
    paths = {_CLAIM_PATHS[f] for f in claim_groups if f in _CLAIM_PATHS}
    paths |= {_LINE_PATHS[f] for f in line_fields if f in _LINE_PATHS}
    if "payment_amount" in document_groups:
        paths.add("payment.amount")
    if "amount" in provider_fields:
        paths.add("provider_adjustments[].amount")
    return paths


def verifiers(paths: set[str], total_checks: set[str], checks: tuple[Check, ...]
              ) -> tuple[tuple[str, frozenset[str]], ...]:
    """For each read number, the names of the checks that catch a change of it: ``balancing``,
    the printed totals (``check_*``) the layout reads, and its declared checks."""
    by_path: dict[str, set[str]] = {p: set() for p in paths}
    for p in BALANCED_FIELDS:
        if p in by_path:
            by_path[p].add(BALANCING)
    for name in total_checks:
        for p in TOTAL_CHECKS.get(name, ()):
            if p in by_path:
                by_path[p].add(name)
    for check in checks:
        for term in (check.equal,) + check.terms:
            for p in _term_paths(term, check.each):
                if p in by_path:
                    by_path[p].add(check.name)
    return tuple(sorted((p, frozenset(v)) for p, v in by_path.items()))


def unverified(covered: tuple[tuple[str, frozenset[str]], ...], ran: set[str]) -> list[str]:
    """The read numbers no check that ran covers (sorted paths)."""
    return [path for path, names in covered if not names & (ran | {BALANCING})]
