"""Amounts, quantities, dates and NPIs read from 835 elements, each damaged one a
:class:`Problem`.

:class:`ValueReaders` is a mixin of :class:`~.x12_transaction.TransactionParser` (it uses the
parser's ``problem`` and ``cache``). Amounts, dates and NPIs repeat all over a file (the same
fee, the same payment date, the same rendering NPI on thousands of claims): each distinct text
is parsed (or checked) once per file and the one resulting object shared, which saves both time
and memory.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from ..models import ZERO, is_npi, money
from .x12_segments import Segment, parse_decimal

#: entries of a file's cache of parsed amounts and dates (raw text -> value)
CACHE_MAX = 1 << 16
_DATE = re.compile(r"[0-9]{8}")


class ValueReaders:
    cache: dict

    def amount(self, seg: Segment, position: int, *, required: bool = True) -> Decimal | None:
        elements = seg.elements  # seg.get(position), inlined: the parser's hottest path
        raw = elements[position].strip(" ") if position < len(elements) else ""
        value = self.cache.get(raw)  # amounts repeat: one Decimal each, parsed once
        if value is not None:
            return value
        name = f"{seg.tag}{position:02d}"
        if raw == "":
            if required:
                self.problem("x12-invalid-amount", f"segment {seg.index}: {name} (an amount) is "
                             "missing", seg)
                return ZERO
            return None
        value = parse_decimal(raw) if len(raw) <= 18 else None
        if value is None or value != value.quantize(Decimal("0.01")):
            self.problem("x12-invalid-amount", f"segment {seg.index}: {name} {raw[:20]!r} is not "
                         "an amount in dollars and cents", seg)
            return ZERO if required else None
        value = money(value)
        if len(self.cache) < CACHE_MAX:
            self.cache[raw] = value
        return value

    def quantity(self, seg: Segment, position: int) -> Decimal | None:
        elements = seg.elements  # seg.get(position), inlined: the parser's hottest path
        raw = elements[position].strip(" ") if position < len(elements) else ""
        if raw == "":
            return None
        value = parse_decimal(raw) if len(raw) <= 18 else None
        if value is None:
            self.problem("x12-invalid-quantity", f"segment {seg.index}: {seg.tag}{position:02d} "
                         f"{raw[:20]!r} is not a number", seg)
        return value

    def date(self, seg: Segment, position: int) -> dt.date | None:
        elements = seg.elements  # seg.get(position), inlined: the parser's hottest path
        raw = elements[position].strip(" ") if position < len(elements) else ""
        if raw == "":
            return None
        value = self.cache.get("D" + raw)  # "D": not the amount of the same digits
        if value is not None:
            return value
        try:
            if not _DATE.fullmatch(raw):
                raise ValueError(raw)
            value = dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
            if len(self.cache) < CACHE_MAX:
                self.cache["D" + raw] = value
            return value
        except ValueError:
            self.problem("x12-invalid-date", f"segment {seg.index}: {seg.tag}{position:02d} "
                         f"{raw[:20]!r} is not a CCYYMMDD date", seg)
            return None

    def npi(self, value: str) -> bool:
        """:func:`is_npi`, once per distinct value of the file."""
        known = self.cache.get("N" + value)
        if known is None:
            known = is_npi(value)
            if len(self.cache) < CACHE_MAX:
                self.cache["N" + value] = known
        return known
