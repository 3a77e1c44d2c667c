"""Where people are with the worklists, from what each run read back (``worklist_marks``):
rows by status and dollars per workbook, rows people removed. Counts and dollars only (no
names, accounts or notes): safe for the run summary and Prefect artifacts."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from ..models import ZERO
from ..worklists import STATUSES


@dataclass
class WorkbookStatus:
    workbook: str
    read_on: str = ""  # the last day a run read it
    rows: int = 0  # rows in the workbook
    removed: int = 0  # rows people deleted from it
    by_status: dict[str, tuple[int, Decimal]] = field(default_factory=dict)

    @property
    def worked(self) -> int:
        """Rows a person moved on from New."""
        return sum(n for s, (n, _) in self.by_status.items() if s not in ("", STATUSES[0]))

    def lines(self) -> list[str]:
        head = (f"{self.workbook} (read {self.read_on}): {self.rows} row(s), {self.worked} "
                f"worked" + (f", {self.removed} removed by people" if self.removed else ""))
        return [head] + [f"  {status or '(blank)':<22} {n:>5}  {f'${amount:,.2f}':>14}"
                         for status, (n, amount) in self.by_status.items()]

    def as_rows(self) -> list[dict]:
        return [{"workbook": self.workbook, "status": s or "(blank)", "rows": n,
                 "amount": str(a)} for s, (n, a) in self.by_status.items()]


def worklist_status(ledger) -> list[WorkbookStatus]:
    amounts = {f.key: f.amount for f in ledger.findings(denials_only=True)}
    books: dict[str, WorkbookStatus] = {}
    tallies: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(lambda: [0, ZERO]))
    for m in ledger.marks():
        book = books.setdefault(m.workbook, WorkbookStatus(m.workbook))
        book.read_on = max(book.read_on, m.read_on.isoformat())
        if not m.in_workbook:
            book.removed += 1
            continue
        book.rows += 1
        tally = tallies[m.workbook][m.status]
        tally[0] += 1
        tally[1] += amounts.get(m.key, ZERO)
    order = {s: i for i, s in enumerate(STATUSES)}
    for name, book in books.items():
        book.by_status = {s: (n, a) for s, (n, a) in sorted(
            tallies[name].items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))}
    return sorted(books.values(), key=lambda b: b.workbook)
