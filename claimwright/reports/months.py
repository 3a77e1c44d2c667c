"""Calendar months, as reports name them: ``YYYY-MM``."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthError(ValueError):
    """Text that is not a month ``YYYY-MM``; the message says what was wrong."""


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12 or not 1 <= self.year <= 9999:
            raise MonthError(f"not a month: {self.year:04d}-{self.month:02d}")

    @classmethod
    def parse(cls, text: str) -> Month:
        """``"2026-10"`` -> ``Month(2026, 10)``; anything else raises :class:`MonthError`."""
        match = _MONTH.match((text or "").strip())
        if not match:
            raise MonthError(f"a month is written YYYY-MM (for example 2026-10), not {text!r}")
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise MonthError(f"{text!r}: the month must be 01 to 12")
        if year < 1:
            raise MonthError(f"{text!r}: the year must be 0001 or later")
        return cls(year, month)

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @classmethod
    def before(cls, day: dt.date) -> Month:
        """The month before the one ``day`` is in (what a report run on the 1st covers)."""
        return cls.of(day).minus(1)

    def minus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 - months
        return Month(index // 12, index % 12 + 1)

    @property
    def previous(self) -> Month:
        return self.minus(1)

    @property
    def first(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last(self) -> dt.date:
        return self.minus(-1).first - dt.timedelta(days=1)

    def label(self) -> str:
        """``Oct 2026`` (charts)."""
        return self.first.strftime("%b %Y")

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_or_previous(text: str | None, today: dt.date | None = None) -> Month:
    """The month ``text`` names, or the one before ``today`` when none is given (the monthly
    report, run on the 1st, covers the month that just ended)."""
    if text is None or not text.strip():
        return Month.before(today or dt.date.today())
    return Month.parse(text)
