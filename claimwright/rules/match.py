"""What a rule's ``when`` matches: :class:`Match` against the :class:`Context` of one adjustment.

Patterns are shell-style globs on upper-cased codes (``"M*"``, ``"N1??"``); :meth:`Match.covers`
is the shadowing check the rules loader uses (a rule that can never match is refused).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable


@dataclass(frozen=True)
class Match:
    group: tuple[str, ...] | None = None
    carc: tuple[str, ...] | None = None
    rarc: tuple[str, ...] | None = None
    no_rarc: bool = False
    payer: tuple[str, ...] | None = None
    procedure: tuple[str, ...] | None = None
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None

    def matches(self, ctx: "Context") -> bool:
        if self.group is not None and not any_match(ctx.group, self.group):
            return False
        if self.carc is not None and not any_match(ctx.carc, self.carc):
            return False
        if self.no_rarc and ctx.rarcs:
            return False
        if self.rarc is not None and not any(any_match(r, self.rarc) for r in ctx.rarcs):
            return False
        if self.payer is not None and not any_match(ctx.payer, self.payer):
            return False
        if self.procedure is not None and (not ctx.procedure
                                           or not any_match(ctx.procedure, self.procedure)):
            return False
        if self.amount_min is not None and ctx.amount < self.amount_min:
            return False
        if self.amount_max is not None and ctx.amount > self.amount_max:
            return False
        return True

    def covers(self, other: "Match") -> bool:
        """Does every adjustment matched by ``other`` also match ``self``? (shadowing check)"""
        for name in ("group", "carc", "payer", "procedure"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not None and (theirs is None or not patterns_cover(mine, theirs)):
                return False
        if self.no_rarc and not other.no_rarc:
            return False
        if self.rarc is not None:
            if other.no_rarc or other.rarc is None or not patterns_cover(self.rarc, other.rarc):
                return False
        if self.amount_min is not None and (other.amount_min is None
                                            or other.amount_min < self.amount_min):
            return False
        if self.amount_max is not None and (other.amount_max is None
                                            or other.amount_max > self.amount_max):
            return False
        return True

    def describe(self) -> str:
        parts = []
        for name in ("group", "carc", "rarc", "payer", "procedure"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={'|'.join(value)}")
        if self.no_rarc:
            parts.append("no remark code")
        if self.amount_min is not None:
            parts.append(f"amount>={self.amount_min}")
        if self.amount_max is not None:
            parts.append(f"amount<={self.amount_max}")
        return ", ".join(parts) or "anything"



@dataclass(frozen=True)
class Context:
    """What a rule can look at for one adjustment."""

    group: str
    carc: str
    rarcs: tuple[str, ...] = ()
    payer: str = ""
    procedure: str = ""
    amount: Decimal = Decimal("0")


def any_match(value: str, patterns: Iterable[str]) -> bool:
    value = value.upper()
    return any(fnmatch.fnmatchcase(value, p) for p in patterns)


def is_glob(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def patterns_cover(mine: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    for pattern in theirs:
        if is_glob(pattern):
            if not any(m == pattern or m == "*" for m in mine):
                return False
        elif not any_match(pattern, mine):
            return False
    return True

