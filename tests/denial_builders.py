"""Small builders for remittances used by the codes / rules / deadlines / metrics tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from claimwright.models import Adjustment, Claim, Party, Payment, Remittance, ServiceLine, money

NWHP = Party("Northwind Health Plan", "NWHP1")
MEDICARE = Party("MEDICARE PART B JURISDICTION F", "00000")
OTHER = Party("Acme Mutual", "ACME9")


def adj(code: str, amount: str) -> Adjustment:
    group, carc = code.split("-", 1)
    return Adjustment(group, carc, money(amount))


def line(procedure: str, billed: str, adjustments: list[Adjustment], remarks: list[str] = (),
         dos: dt.date = dt.date(2026, 9, 1)) -> ServiceLine:
    billed_d = money(billed)
    paid = billed_d - sum((a.amount for a in adjustments), Decimal("0.00"))
    return ServiceLine(dos, procedure, billed_d, paid, adjustments=list(adjustments),
                       remarks=list(remarks))


def claim(claim_id: str, lines: list[ServiceLine], *, status: str = "1",
          adjustments: list[Adjustment] = (), remarks: list[str] = ()) -> Claim:
    billed = sum((ln.billed for ln in lines), Decimal("0.00"))
    claim_adj = sum((a.amount for a in adjustments), Decimal("0.00"))
    paid = sum((ln.paid for ln in lines), Decimal("0.00")) - claim_adj
    pr = sum((a.amount for ln in lines for a in ln.adjustments if a.group == "PR"),
             Decimal("0.00"))
    return Claim(patient_account=f"ACCT-{claim_id}", payer_claim_id=claim_id, status_code=status,
                 billed=billed, paid=paid, patient_responsibility=pr,
                 adjustments=list(adjustments), remarks=list(remarks), lines=lines)


def remittance(claims: list[Claim], *, payer: Party = NWHP,
               paid_on: dt.date | None = dt.date(2026, 10, 1)) -> Remittance:
    total = sum((c.paid for c in claims), Decimal("0.00"))
    return Remittance("x12-835", payer, Party("Demo Clinic", "1234567893"),
                      Payment("ACH", "TRACE1", paid_on, total), claims=claims)


def single(code: str, remarks: list[str] = (), *, amount: str = "100.00", billed: str = "200.00",
           procedure: str = "99213", payer: Party = NWHP,
           paid_on: dt.date | None = dt.date(2026, 10, 1)) -> Remittance:
    """One claim, one line, one adjustment."""
    return remittance([claim("C1", [line(procedure, billed, [adj(code, amount)], remarks)])],
                      payer=payer, paid_on=paid_on)
