"""Every denial finding goes to exactly one place, so none exists only in the ledger.

1. its codes are unknown, or its claim's amounts do not balance: **review** (the review queue
   already holds the item that says why);
2. the rules say appeal it and it is appealable: its claim's **appeal packet**;
3. its owner has a worklist (coding, registration, clinical documentation, billing): **that
   owner's worklist** (``out/worklists/<owner>-worklist.xlsx``);
4. anything else (e.g. a denial the payer must act on): **review**.
"""

from __future__ import annotations

from ..rules.findings import Finding
from ..types import Route

WORKLIST_ROUTES = {r.value: r for r in Route if r.worklist}


def route(finding: Finding, *, trusted: bool) -> Route:
    """The one place the denial ``finding`` goes; ``trusted``: its claim balances."""
    decision = finding.decision
    if not decision.known or not trusted:
        return Route.REVIEW
    if decision.action == "appeal" and decision.appealable in ("yes", "conditional"):
        return Route.PACKET
    return WORKLIST_ROUTES.get(decision.owner, Route.REVIEW)


def count_field(destination: Route) -> str:
    """The run-count field of ``destination`` (``to_packets``, ``to_coding``, ...)."""
    return "to_packets" if destination is Route.PACKET else \
        f"to_{destination.value.replace(' ', '_')}"
