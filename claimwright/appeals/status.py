"""What the nightly status check learns about an appeal the ledger records (``appeals`` table).

:func:`apply_portal_answer` is called for each answer about an appeal that has a record:

- the portal shows the appeal exists (received, under review, information requested, or a
  decision) while the record is still "prepared": somebody sent it without recording it, so it
  is recorded as sent by portal, on the portal's status date (the check day when it gives none),
  ``by="status check"``. For a decision that date is the decision's: days from denial to appeal
  are then an upper bound;
- overturned / upheld / partial: the decision is recorded, with the amount recovered read from
  the portal's notes when they give one (:func:`amount_in_notes`: "Paid $120.00", "Partially
  overturned: $60.00 allowed"). Overturned without an amount: the denied amount; an amount above
  the denied one is capped at it. Partial without a usable amount (none, or not between 0 and the
  denied amount): not recorded; a person is asked to record it;
- upheld: the next level is proposed (:meth:`~claimwright.storage.appeals.AppealLedger.
  propose_next_level`) and the review item says so with its due date, or says that no further
  level is followed;
- a level-2 appeal whose portal answer is still the level-1 decision (status date on or before
  that decision; without a date, the same status) is not news: the check is recorded as
  :data:`PREVIOUS_LEVEL`, not final, nobody asked, checked again after the "not-found" follow-up
  days of followup.yaml.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from ..rules.followup import NOT_FOUND, FollowUpRules, Outcome
from ..storage import AppealRecord, AppealUpdateError, OpenItem

log = logging.getLogger(__name__)

PREVIOUS_LEVEL = "previous-level"
DECISIONS = ("overturned", "upheld", "partial")
#: normalized appeal statuses that show the portal has the appeal
EXISTS = ("received", "under-review", "info-requested") + DECISIONS
_AMOUNT = re.compile(r"\$\s?(\d{1,3}(?:,\d{3})*(?:\.\d{2})?|\d+(?:\.\d{2})?)(?!\d)")


@dataclass
class AppealUpdate:
    """What one answer changed in the appeals ledger (plain facts: no PHI)."""

    outcome: Outcome                  # what the status check records (possibly adjusted)
    record: AppealRecord | None
    sent_recorded: bool = False
    decided: bool = False
    proposed: AppealRecord | None = None
    todo: str = ""                    # what a person does, when it differs from the default


def amount_in_notes(notes: str) -> Decimal | None:
    """The first dollar amount in the portal's notes ("Paid $1,120.00" -> 1120.00)."""
    match = _AMOUNT.search(notes or "")
    if match is None:
        return None
    try:
        return Decimal(match.group(1).replace(",", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def _is_previous_decision(ledger, rec: AppealRecord, outcome: Outcome, report) -> bool:
    if not rec.previous_key:
        return False
    previous = ledger.appeal(rec.previous_key)
    if previous is None or previous.decided_on is None:
        return False
    if report.status_date is not None:
        return report.status_date <= previous.decided_on
    return outcome.status == previous.outcome


def _previous_level(outcome: Outcome, as_of: dt.date, rules: FollowUpRules) -> Outcome:
    wait = next(s for s in rules.appeal.statuses if s.status == NOT_FOUND).follow_up_days or 7
    return replace(outcome, status=PREVIOUS_LEVEL, final=False, needs_action=False,
                   next_follow_up=as_of + dt.timedelta(days=wait))


def apply_portal_answer(ledger, item: OpenItem, outcome: Outcome, report, *, as_of: dt.date,
                        rules: FollowUpRules) -> AppealUpdate:
    """Update the appeal record of ``item`` from one portal answer (see the module doc)."""
    rec = ledger.appeal(item.appeal_key) if item.appeal_key else None
    update = AppealUpdate(outcome, rec)
    if rec is None or rec.status == "decided" or not report.found \
            or outcome.status not in EXISTS:
        return update
    if _is_previous_decision(ledger, rec, outcome, report):
        update.outcome = _previous_level(outcome, as_of, rules)
        return update
    # a portal cannot have acted after the day it is asked: a later date is the check's day
    day = min(report.status_date, as_of) if report.status_date else as_of
    try:
        if rec.status == "prepared":
            update.sent_recorded = ledger.record_sent(rec.key, sent_on=day, channel="portal",
                                                      by="status check")
        if outcome.status in DECISIONS:
            _decide(ledger, rec, outcome, report, day, as_of, update)
    except AppealUpdateError as exc:  # e.g. a portal date before the denial: a person looks
        log.warning("appeal %s: portal answer not recorded: %s", rec.key, exc)
        update.outcome = replace(update.outcome, needs_action=True)
        update.todo = f"the answer could not be recorded ({exc}): check the appeal on the portal"
    update.record = ledger.appeal(rec.key)
    return update


def _decide(ledger, rec: AppealRecord, outcome: Outcome, report, day: dt.date, as_of: dt.date,
            update: AppealUpdate) -> None:
    from .levels import later_levels_note, level_name

    amount = amount_in_notes(report.notes)
    denied = rec.denied_amount
    if outcome.status == "partial" and (amount is None or not Decimal(0) < amount < denied):
        update.outcome = replace(outcome, needs_action=True)
        update.todo = ("partially overturned, but the portal's notes give no amount between 0 "
                       f"and the denied {denied}: record it with 'claimwright appeals decided "
                       f"{rec.payer_claim_id} --payer-id {rec.payer_id} --level {rec.level} "
                       "--outcome partial --recovered AMOUNT'")
        return
    recovered = None
    if outcome.status == "overturned" and amount is not None:
        recovered = min(amount, denied)
    elif outcome.status == "partial":
        recovered = amount
    ledger.record_decision(rec.key, outcome=outcome.status, decided_on=day, recovered=recovered)
    update.decided = True
    if outcome.status != "upheld":
        return
    payer_name = ledger.payer_name(rec.payer_id)
    update.proposed = ledger.propose_next_level(rec.key, on=as_of)
    if update.proposed is None:
        update.todo = (f"appeal upheld at level {rec.level}, the last level Claimwright "
                       f"follows: {later_levels_note(rec.payer_id, payer_name, on=day)}")
        return
    nxt = update.proposed
    due = nxt.appeal_due.isoformat() if nxt.appeal_due else "unknown"
    name = level_name(rec.payer_id, payer_name, nxt.level, on=day)
    what = name if name.lower().startswith("level") else f"level {nxt.level} appeal ({name})"
    update.todo = (f"appeal upheld (denial stands): a {what} is proposed, due {due}; its "
                   "packet is built with this status check (it is in the morning batch): "
                   "review it and send it by then")
