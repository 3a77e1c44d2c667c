"""Correct values from the item page: the unbalanced claim of the demo data corrected in the
console balances, its item resolves, and the correction is recorded with who and why."""

from __future__ import annotations

from decimal import Decimal

from fixtures.remittances.data import UNBALANCED_BY
from test_console_actions import app, client_of, ctx, done, events, hashes, northwind, post  # noqa: F401
from test_console_actions import settings  # noqa: F401

from claimwright.corrections import corrections
from claimwright.types import ReviewKind


def test_correcting_the_misread_line_in_the_console_balances_the_claim_and_resolves_it(
        app, northwind):
    ctx = northwind
    item = next(i for i in ctx.queue.items(None, ReviewKind.UNBALANCED)
                if any(p.get("line") for p in i.context.get("problems", [])))
    problem = next(p for p in item.context["problems"] if p.get("line"))
    number = problem["line"]
    claim = next(c for r in ctx.ledger.remittances(item.context["document_id"])
                 for c in r.data["claims"] if c["patient_account"] == item.context["claim"])
    printed = Decimal(claim["lines"][number - 1]["paid"])
    client, token = client_of(app, "alice")
    page = client.get(f"/items/{item.id}")
    assert 'action="/items/%d/correct"' % item.id in page.text

    refused = post(client, token, item.id, "correct", changes="colour=red", line=str(number),
                   why="printed wrong")
    assert refused.status_code == 400 and "cannot be corrected" in refused.text
    assert corrections(ctx) == []

    message = done(post(client, token, item.id, "correct",
                        changes=f"paid={printed - UNBALANCED_BY}", line=str(number),
                        why="the PDF misprints the paid amount"))
    assert "Correction #1 recorded (paid)" in message and "The item is resolved" in message
    assert ctx.queue.get(item.id).status == "resolved"
    assert ("corrected", "alice") in events(ctx, item.id)
    [c] = corrections(ctx)
    assert (c.by, c.why, c.line) == ("alice", "the PDF misprints the paid amount", number)
    # the original stays as parsed
    again = next(c for r in ctx.ledger.remittances(item.context["document_id"])
                 for c in r.data["claims"] if c["patient_account"] == item.context["claim"])
    assert Decimal(again["lines"][number - 1]["paid"]) == printed
