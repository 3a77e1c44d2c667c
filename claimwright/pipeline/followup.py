"""Nightly status check: ask each portal about every open claim and appeal, record, follow up.

Ledger.open_followups()  what is open for a payer: denied claims (denial findings) without a
                 final status, and appeals not decided yet (the ``appeals`` table; packets
                 written before appeal records: until a final check), a claim found paid
                 closing its appeal too
due_items()      the open items whose next follow-up date has come (never checked: due now; an
                 appeal level proposed after the last final check: due the next day)
check_payer_statuses()  run the bot for the due items, record each answer in ``status_checks``
                 with its next follow-up date, update the appeal's record (sent, decided, next
                 level proposed: :mod:`claimwright.appeals.status`), and open a
                 ``status-action`` review item for a status that needs a person (deduplicated by
                 claim + status, + level from level 2)

One unit of work per payer and day (``UnitKind.STATUS_QUERY``): two runs never ask one portal at
once. Idempotent: one ``status_checks`` row per (payer, kind, claim, day) and the next follow-up
is at least a day later, so a second run the same day checks nothing and files nothing twice. A
portal failure becomes one ``portal-failure`` review item (with the bot's evidence); answers read
before it stay recorded.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from ..appeals.status import AppealUpdate, apply_portal_answer
from ..review import Opened
from ..rules.followup import Outcome, interpret, load_followup
from ..storage import OpenItem, StatusAnswer, StatusCheckRecord
from ..storage.followup import NOTES_MAX
from ..types import ReviewKind, UnitKind
from .context import Context, RunCounts

log = logging.getLogger(__name__)


@dataclass
class StatusCounts(RunCounts):
    """What one payer's status check did; plain counts (safe for logs and artifacts)."""

    payer: str
    open_claims: int = 0
    open_appeals: int = 0
    due: int = 0
    checked: int = 0
    not_found: int = 0
    needs_action: int = 0
    closed: int = 0
    unreadable: int = 0
    portal_faults: int = 0   # queries left unanswered by a transient fault (due again next run)
    appeals_marked_sent: int = 0       # found on the portal while recorded only as prepared
    appeals_decided: int = 0
    next_levels_proposed: int = 0
    next_level_packets: int = 0  # packets of the proposed levels, built the same night
    review_opened: int = 0
    review_seen_again: int = 0
    errors: list[str] = field(default_factory=list)
    review_items: list[dict] = field(default_factory=list)  # context.review_entry() of each
    unfiled: list[str] = field(default_factory=list)  # problems without a review item


def due_items(ledger, payer: str, as_of: dt.date) -> list[OpenItem]:
    """Open items never checked, or whose next follow-up is on or before ``as_of`` (and not
    already checked that day). An appeal record whose last check was final, on or before the
    day the record was prepared, is a level proposed after that decision: due."""
    latest = ledger.latest_checks(payer)
    due = []
    for item in ledger.open_followups(payer):
        last = latest.get((item.kind, item.payer_claim_id))
        if last is None:
            due.append(item)
        elif last.checked_on >= as_of:
            continue
        elif last.final and item.level and item.since is not None \
                and last.checked_on <= item.since:
            due.append(item)
        elif last.next_follow_up is not None and last.next_follow_up <= as_of:
            due.append(item)
    return due


def check_payer_statuses(ctx: Context, payer: str, *, as_of: dt.date | None = None,
                         base_url: str | None = None, counts: StatusCounts | None = None,
                         headless: bool = True) -> StatusCounts:
    """Check every due claim and appeal of ``payer`` on its portal (one browser session)."""
    from bots import StatusQuery, StatusReport, check_statuses

    as_of = as_of or dt.date.today()
    counts = counts or StatusCounts(payer)
    # A broken follow-up file stops this payer's check before any browser starts: one review
    # item naming the file and field; everything stays due for the next run.
    with ctx.queue.capture(key="followup-rules", payer=payer,
                           context={"file": str(ctx.settings.followup)}) as bad_rules:
        rules = load_followup()
    if bad_rules.error is not None:
        counts.errors.append(f"status check {payer}: {bad_rules.error}")
        counts.note_review(bad_rules, failed="status check")
        return counts
    items = ctx.ledger.open_followups(payer)
    counts.open_claims = sum(i.kind == "claim" for i in items)
    counts.open_appeals = sum(i.kind == "appeal" for i in items)
    due = due_items(ctx.ledger, payer, as_of)
    counts.due = len(due)
    if not due:
        log.info("%s: no claim or appeal due for a status check on %s", payer, as_of)
        return counts
    by_query = {(i.kind, i.payer_claim_id): i for i in due}
    before = ctx.ledger.latest_checks(payer)

    def on_report(report: StatusReport) -> None:
        item = by_query[(report.kind, report.payer_claim_id)]
        outcome = interpret(item.kind, report.status, found=report.found, checked_on=as_of,
                            rules=rules)
        update = None
        if item.appeal_key:
            update = apply_portal_answer(ctx.ledger, item, outcome, report, as_of=as_of,
                                         rules=rules)
            outcome = update.outcome
            counts.appeals_marked_sent += update.sent_recorded
            counts.appeals_decided += update.decided
            counts.next_levels_proposed += update.proposed is not None
        ctx.ledger.record_status_check(item, _answer(outcome, report), checked_on=as_of)
        counts.checked += 1
        counts.not_found += not report.found
        counts.closed += outcome.final
        last = before.get((item.kind, item.payer_claim_id))
        if outcome.needs_action and not _already_worked(item, outcome, last):
            counts.needs_action += 1
            counts.note_review(_open_action(ctx, item, outcome, report, update))

    unit = ctx.units(counts).take(
        UnitKind.STATUS_QUERY, f"{payer}:{as_of}", payer=payer,
        review_key=f"status:{payer}:{as_of}", review_kind=ReviewKind.PORTAL_FAILURE,
        context={"payer": payer, "step": "status-check", "as_of": str(as_of), "due": len(due)})
    if unit is None:
        counts.problem(f"status check {payer}: another run is checking this payer now")
        return counts
    with unit:
        result = check_statuses(payer, [StatusQuery(i.kind, i.payer_claim_id) for i in due],
                                base_url=base_url, evidence_dir=ctx.settings.evidence,
                                headless=headless, on_report=on_report)
        for failed in result.failed:
            if failed.system:  # not recorded: it stays due; the run's errors say so
                counts.portal_faults += 1
                continue
            counts.unreadable += 1
            q = failed.query
            counts.note_review(ctx.queue.open(
                ReviewKind.STATUS_UNREADABLE, failed.reason, payer=payer,
                key=f"{ReviewKind.STATUS_UNREADABLE}:{payer}:{q.kind}:{q.payer_claim_id}",
                context={"payer": payer, "kind": q.kind, "payer_claim_id": q.payer_claim_id,
                         "error": failed.code}))
    if counts.portal_faults:
        counts.problem(f"status check {payer}: {counts.portal_faults} query(ies) not "
                       "answered after their retries (portal faults); due again next run")
    if counts.next_levels_proposed:
        _next_level_packets(ctx, payer, counts, as_of)
    log.info("%s: %d due, %d checked, %d need action, %d closed", payer, counts.due,
             counts.checked, counts.needs_action, counts.closed)
    return counts


def _answer(outcome: Outcome, report) -> StatusAnswer:
    return StatusAnswer(status=outcome.status, portal_status=outcome.portal_status,
                        status_date=report.status_date, notes=report.notes,
                        final=outcome.final, needs_action=outcome.needs_action,
                        owner=outcome.owner, next_follow_up=outcome.next_follow_up)


def _already_worked(item: OpenItem, outcome: Outcome, last: StatusCheckRecord | None) -> bool:
    """A claim is open *because* its remittance denied it: its denial is already an appeal
    packet or a coding worklist row. The portal saying "denied" again is no news, unless the
    claim had moved on since (e.g. pending after a corrected claim, then denied again)."""
    return (item.kind == "claim" and outcome.status == "denied"
            and (last is None or last.status == "denied"))


_WHAT_TO_DO = {
    ("claim", "denied"): "still denied on the portal: appeal or correct and resubmit",
    ("claim", "info-requested"): "the payer asks for documents: send them",
    ("claim", "not-found"): "the portal has no such claim: check it was received, resubmit",
    ("appeal", "upheld"): "appeal upheld (denial stands): decide on a second-level appeal",
    ("appeal", "info-requested"): "the payer asks for documents for the appeal: send them",
    ("appeal", "not-found"): "the portal has no appeal for this claim: check it was sent",
}


def _open_action(ctx: Context, item: OpenItem, outcome: Outcome, report,
                 update: AppealUpdate | None = None) -> Opened:
    todo = (update.todo if update is not None and update.todo else
            _WHAT_TO_DO.get((item.kind, outcome.status),
                            "status not recognized: read it on the portal and update "
                            f"{ctx.settings.followup}"))
    said = f"'{outcome.portal_status}'" if report.found else "not found"
    what = f"appeal (level {item.level})" if item.level > 1 else item.kind
    reason = (f"{item.payer} {what} {item.payer_claim_id}: portal says {said} "
              f"({outcome.status}); {outcome.owner}: {todo}")
    proposed = update.proposed if update is not None else None
    appeal = {} if not item.level else {
        "level": item.level, "appeal_key": item.appeal_key,
        "next_level_key": proposed.key if proposed else None,
        "next_level_due": (proposed.appeal_due.isoformat()
                           if proposed and proposed.appeal_due else None)}
    return ctx.queue.open(
        ReviewKind.STATUS_ACTION, reason, payer=item.payer,
        key=(f"{ReviewKind.STATUS_ACTION}:{item.payer}:{item.kind}:{item.payer_claim_id}:"
             f"{outcome.status}" + (f":L{item.level}" if item.level > 1 else "")),
        context={"payer": item.payer, "payer_id": item.payer_id, "kind": item.kind,
                 "payer_claim_id": item.payer_claim_id, "status": outcome.status,
                 "portal_status": outcome.portal_status,
                 "status_date": report.status_date.isoformat() if report.status_date else None,
                 "notes": report.notes[:NOTES_MAX], "owner": outcome.owner,
                 "next_follow_up": (outcome.next_follow_up.isoformat()
                                    if outcome.next_follow_up else None)} | appeal)


def _next_level_packets(ctx: Context, payer: str, counts: StatusCounts, as_of: dt.date) -> None:
    """The packets of the levels an upheld decision proposed, built the same night (and the
    morning batch index with them), so the team has them the next morning."""
    from .appeals_queue import write_morning_batch
    from .context import Counts
    from .packets import write_packets

    built = Counts(payer)
    write_packets(ctx, payer, built, as_of=as_of)
    write_morning_batch(ctx, as_of)
    counts.next_level_packets += built.packets_written
    counts.review_opened += built.review_opened
    counts.review_seen_again += built.review_seen_again
    counts.errors += built.errors
