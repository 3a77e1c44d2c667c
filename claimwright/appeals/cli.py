"""``claimwright appeals sent|decided|list|figures``: the appeals team's record of each appeal.

Mounted on the root app with ``app.add_typer(appeals_app, name="appeals")``. An appeal is named
by its payer claim number; ``--payer-id`` and ``--level`` pick one when the number has several
appeals (several payers, or levels). Nothing printed names a patient, member or account.
Exit codes: 0 done, 2 a usage error or an appeal that cannot be found or changed.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..cli_common import fail as _fail
if TYPE_CHECKING:
    from ..storage import AppealRecord

# the ledger (SQLAlchemy) is imported inside the commands: `claimwright --help` stays fast
appeals_app = typer.Typer(help="The appeal's life: record appeals sent and decided, list them, "
                               "and their figures.", no_args_is_help=True)

ClaimArg = Annotated[str, typer.Argument(help="The payer claim number the appeal is about.")]
PayerIdOpt = Annotated[Optional[str], typer.Option(
    "--payer-id", help="Payer id on the remittance, when the claim number has several payers.")]
LevelOpt = Annotated[Optional[int], typer.Option(
    "--level", min=1, help="Appeal level, when the claim has several.")]
OnOpt = Annotated[Optional[str], typer.Option("--on", help="The day, YYYY-MM-DD (default today).")]


def _day(text: str | None, option: str, *, future: bool = False) -> dt.date:
    if text is None:
        return dt.date.today()
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        _fail(f"{option} is not a date YYYY-MM-DD: {text!r}")
    if day > dt.date.today() and not future:
        _fail(f"{option} {day} is in the future")
    return day


def _ledger():
    from ..settings import Settings, SettingsError
    from ..storage import Ledger

    try:
        return Ledger(Settings.from_env().database_url)
    except SettingsError as exc:
        _fail(str(exc))


def _resolve(ledger, claim: str, payer_id: str | None, level: int | None) -> "AppealRecord":
    found = ledger.claim_appeals(claim, payer_id=payer_id, level=level)
    if not found:
        narrowed = "".join(f" {name} {value}" for name, value in
                           (("--payer-id", payer_id), ("--level", level)) if value is not None)
        _fail(f"no appeal for claim {claim}{narrowed} in the ledger (see: claimwright appeals "
              "list)")
    if len(found) > 1:
        options = ", ".join(f"payer id {r.payer_id} level {r.level}" for r in found)
        _fail(f"claim {claim} has {len(found)} appeals ({options}): name one with --payer-id "
              "and/or --level")
    return found[0]


def _name(rec: "AppealRecord") -> str:
    return f"{rec.payer_id} claim {rec.payer_claim_id} level {rec.level}"


@appeals_app.command("sent")
def sent(payer_claim_id: ClaimArg,
         channel: Annotated[str, typer.Option(help="How it was sent: portal, fax or mail.")],
         payer_id: PayerIdOpt = None, level: LevelOpt = None, on: OnOpt = None,
         by: Annotated[str, typer.Option(help="Who sent it (optional).")] = "") -> None:
    """Record that an appeal was sent: the day and the channel."""
    from ..storage import CHANNELS, AppealUpdateError

    if channel not in CHANNELS:
        _fail(f"--channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    day = _day(on, "--on")
    ledger = _ledger()
    try:
        rec = _resolve(ledger, payer_claim_id, payer_id, level)
        try:
            changed = ledger.record_sent(rec.key, sent_on=day, channel=channel, by=by)
        except AppealUpdateError as exc:
            _fail(str(exc))
    finally:
        ledger.close()
    what = "recorded" if changed else "no change (already recorded)"
    typer.echo(f"{what}: {_name(rec)} sent on {day} by {channel}")


@appeals_app.command("decided")
def decided(payer_claim_id: ClaimArg,
            outcome: Annotated[str, typer.Option(help="overturned, upheld or partial.")],
            recovered: Annotated[Optional[str], typer.Option(
                help="Amount recovered (partial: required; overturned: default the denied "
                     "amount).")] = None,
            on: OnOpt = None, payer_id: PayerIdOpt = None, level: LevelOpt = None) -> None:
    """Record the payer's decision on an appeal; upheld proposes the next level."""
    from ..storage import OUTCOMES, AppealUpdateError
    from .levels import later_levels_note, level_name

    if outcome not in OUTCOMES:
        _fail(f"--outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    day = _day(on, "--on")
    ledger = _ledger()
    try:
        rec = _resolve(ledger, payer_claim_id, payer_id, level)
        try:
            after = ledger.record_decision(rec.key, outcome=outcome, decided_on=day,
                                           recovered=recovered)
            proposed = (ledger.propose_next_level(rec.key, on=dt.date.today())
                        if outcome == "upheld" else None)
        except AppealUpdateError as exc:
            _fail(str(exc))
        payer_name = ledger.payer_name(rec.payer_id)
    finally:
        ledger.close()
    same = (rec.status, rec.outcome, rec.decided_on, rec.recovered) == \
        (after.status, after.outcome, after.decided_on, after.recovered)
    what = "no change (already recorded)" if same else \
        "corrected" if rec.status == "decided" else "recorded"
    typer.echo(f"{what}: {_name(rec)} {outcome} on {day}, recovered ${after.recovered:,.2f}")
    if proposed is not None:
        due = proposed.appeal_due.isoformat() if proposed.appeal_due else "unknown"
        typer.echo(f"proposed: level {proposed.level} "
                   f"({level_name(rec.payer_id, payer_name, proposed.level)}), due {due}; the "
                   "next run builds its packet")
    elif outcome == "upheld":
        typer.echo(f"no further level: {later_levels_note(rec.payer_id, payer_name)}")


def _row(rec: "AppealRecord") -> dict:
    def day(value):
        return value.isoformat() if value else ""
    return {"payer": rec.payer, "payer_id": rec.payer_id, "payer_claim_id": rec.payer_claim_id,
            "level": rec.level, "status": rec.status, "outcome": rec.outcome,
            "categories": rec.categories, "denied": str(rec.denied_amount),
            "recovered": "" if rec.recovered is None else str(rec.recovered),
            "denial_date": day(rec.denial_date), "appeal_due": day(rec.appeal_due),
            "sent_on": day(rec.sent_on), "channel": rec.channel,
            "decided_on": day(rec.decided_on), "complete": rec.complete}


_COLUMNS = [("payer", 10), ("payer_id", 9), ("payer_claim_id", 16), ("level", 5),
            ("status", 8), ("outcome", 10), ("denied", 10), ("recovered", 10),
            ("denial_date", 10), ("appeal_due", 10), ("sent_on", 10), ("channel", 7),
            ("decided_on", 10)]
_HEADS = {"payer_id": "payer id", "payer_claim_id": "claim #", "denial_date": "denied on",
          "appeal_due": "due", "sent_on": "sent", "decided_on": "decided"}


@appeals_app.command("list")
def list_appeals(status: Annotated[Optional[str], typer.Option(
                     help="Only this status: prepared, sent or decided.")] = None,
                 payer: Annotated[Optional[str], typer.Option(
                     help="Only this payer (portal key, e.g. keystone, or payer id).")] = None,
                 as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")]
                 = False) -> None:
    """List appeals (payer, claim #, level, status, outcome, amounts, dates, channel)."""
    from ..storage import STATUSES

    if status is not None and status not in STATUSES:
        _fail(f"--status must be one of {', '.join(STATUSES)}, not {status!r}")
    ledger = _ledger()
    try:
        records = [r for r in ledger.appeals(status=status)
                   if payer is None or payer in (r.payer, r.payer_id)]
    finally:
        ledger.close()
    rows = [_row(r) for r in records]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("No appeals recorded." if status is None and payer is None
                   else "No appeal matches.")
        return
    typer.echo("  ".join(_HEADS.get(c, c).ljust(w) for c, w in _COLUMNS).rstrip())
    for row in rows:
        cells = [str(row[c] if row[c] != "" else "-") for c, _ in _COLUMNS]
        typer.echo("  ".join(v.ljust(w) for v, (_, w) in zip(cells, _COLUMNS)).rstrip())
    typer.echo(f"{len(rows)} appeal(s).")


@appeals_app.command("figures")
def figures_cmd(as_of: Annotated[Optional[str], typer.Option(
                    "--as-of", help="The day, YYYY-MM-DD (default today).")] = None,
                as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")]
                = False) -> None:
    """Overturn rates by category and payer, days to appeal, dollars recovered, past due."""
    from .figures import appeal_figures, appeals_summary_lines

    day = _day(as_of, "--as-of", future=True)
    ledger = _ledger()
    try:
        figures = appeal_figures(ledger, day)
    finally:
        ledger.close()
    if as_json:
        typer.echo(json.dumps(figures.to_json(), indent=2))
        return
    for line in appeals_summary_lines(figures):
        typer.echo(line)
    for title, groups in (("category", figures.by_category), ("payer id", figures.by_payer)):
        if not groups:
            continue
        typer.echo(f"\n{('by ' + title):<26}{'decided':>8}{'overturned':>11}{'partial':>8}"
                   f"{'upheld':>7}{'overturn rate':>14}{'any recovery':>13}{'recovered':>13}")
        for name, t in sorted(groups.items()):
            rate = "n/a" if t.overturn_rate is None else f"{t.overturn_rate * 100:.1f}%"
            anyr = "n/a" if t.any_recovery_rate is None else f"{t.any_recovery_rate * 100:.1f}%"
            typer.echo(f"{name:<26}{t.decided:>8}{t.overturned:>11}{t.partial:>8}"
                       f"{t.upheld:>7}{rate:>14}{anyr:>13}{'$' + format(t.recovered, ',.2f'):>13}")
