"""Text for the packet PDFs: data cleaned for the standard PDF fonts, money, dates, procedures."""

from __future__ import annotations

import datetime as dt
import unicodedata
from decimal import Decimal
from typing import Any

from ..models import ServiceLine
from ..rules.findings import Finding


class PdfText:
    """Cleans data for the PDF: control characters out, whitespace collapsed, characters the
    standard PDF fonts cannot print transliterated (and remembered, for a warning)."""

    def __init__(self) -> None:
        self.transliterated = False

    def __call__(self, value: Any) -> str:
        text = "" if value is None else str(value)
        text = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch
                       for ch in text)
        text = " ".join(text.split())
        out = []
        for ch in text:
            if _printable(ch):
                out.append(ch)
                continue
            self.transliterated = True
            plain = "".join(c for c in unicodedata.normalize("NFKD", ch)
                            if _printable(c) and not unicodedata.combining(c))
            out.append(plain or "?")
        return "".join(out)

    def esc(self, value: Any) -> str:
        """Cleaned and escaped for reportlab paragraph markup."""
        return (self(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&quot;"))


def _printable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def usd(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def plain_amount(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


def iso(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


def dos_text(dates: list[dt.date]) -> str:
    dates = sorted(set(d for d in dates if d))
    if not dates:
        return "the date(s) of service"
    if len(dates) == 1:
        return dates[0].isoformat()
    return f"{dates[0].isoformat()} to {dates[-1].isoformat()}"


def procedure_text(line: ServiceLine | None) -> str:
    if line is None:
        return "claim level"
    return "-".join([line.procedure, *line.modifiers])


def finding_dates(f: Finding) -> list[dt.date]:
    if f.line is not None and f.line.date_of_service:
        return [f.line.date_of_service]
    return list(f.claim.dates_of_service)
