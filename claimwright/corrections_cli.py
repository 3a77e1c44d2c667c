"""``claimwright corrections ...``: correct values of a failing claim or line, list corrections.

``add ITEM_ID [--line N] --set FIELD=VALUE ... --why TEXT [--by NAME]`` records a correction
(:func:`claimwright.corrections.correct`); the next run (or ``write_outputs``) uses it. ``list``
shows every correction without PHI: id, review item, remittance record, claim #, line, fields,
who, when (UTC), why. Values are never printed.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .cli_common import actor as _by
from .cli_common import fail as _fail

corrections_app = typer.Typer(help="Corrected values of failing claims (original kept).",
                              no_args_is_help=True)


@corrections_app.command("add")
def add(item_id: Annotated[int, typer.Argument(help="The review item (e.g. unbalanced).")],
        set_: Annotated[list[str], typer.Option(
            "--set", help="FIELD=VALUE, repeatable: billed, paid, patient_responsibility "
            "(claim); billed, allowed, paid, units, procedure, modifiers (line); "
            "adjustment.N.amount|group|carc.")],
        why: Annotated[str, typer.Option("--why", help="Why (short; no PHI).")],
        line: Annotated[Optional[int], typer.Option("--line", help="Service line, 1-based.")]
        = None,
        by: Annotated[Optional[str], typer.Option(
            "--by", help="Who corrects it (default: the OS user name).")] = None) -> None:
    """Record a correction of the item's claim (or one line); the next run uses it."""
    from .corrections import CorrectionError, correct, parse_changes
    from .pipeline import Context

    try:
        changes = parse_changes(set_)
    except CorrectionError as exc:
        _fail(f"--set {exc}")
    ctx = Context.from_settings()
    try:
        c = correct(ctx, item_id, changes, by=_by(by), why=why, line=line)
    except CorrectionError as exc:
        _fail(str(exc))
    finally:
        ctx.ledger.close()
    state = "the claim balances now" if c.balances else f"still {', '.join(c.remaining)}"
    queued = ("its outputs are made on the next run" if c.queued else
              "a run is working the document now: run again after it")
    typer.echo(f"correction #{c.id} recorded ({c.fields}); {state}; {queued}")


@corrections_app.command("list")
def list_() -> None:
    """Every correction, oldest first (no PHI: ids, claim #, fields, who, when, why)."""
    from .corrections import corrections
    from .pipeline import Context

    ctx = Context.from_settings()
    try:
        rows = corrections(ctx)
    finally:
        ctx.ledger.close()
    if not rows:
        typer.echo("no corrections")
        return
    for c in rows:
        item = f"item {c.item_id}" if c.item_id else "no item"
        typer.echo(f"#{c.id} {item} remittance {c.remittance_id} claim {c.payer_claim_id} "
                   f"{c.fields} by {c.by} at {c.at:%Y-%m-%d %H:%M} UTC: {c.why}")
