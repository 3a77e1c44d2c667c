"""What a run did, told to the person who ran it (counts and paths only: no PHI)."""

from __future__ import annotations

import datetime as dt

import typer

from .packets.batch import index_path
from .settings import Settings

_LINES = [
    ("listed", "remittances listed on the portal"),
    ("downloaded", "remittances downloaded"),
    ("already_had", "already downloaded before (skipped)"),
    ("documents_parsed", "documents parsed"),
    ("claims", "claims read"),
    ("denial_findings", "denials found (claim lines x reasons)"),
    ("denied_claims", "claims with a denial"),
    ("to_packets", "  of the denials: to appeal packets"),
    ("to_coding", "  to the coding worklist"),
    ("to_registration", "  to the registration worklist"),
    ("to_clinical_documentation", "  to the clinical documentation worklist"),
    ("to_billing", "  to the billing worklist"),
    ("to_review", "  to the review queue"),
    ("packets_written", "appeal packets written"),
    ("packets_incomplete", "  of them incomplete (a required document is missing)"),
    ("packets_existing", "appeal packets up to date (inputs unchanged: not rewritten)"),
    ("worklist_added", "worklist rows added"),
    ("worklist_updated", "worklist rows updated"),
    ("review_opened", "review items opened"),
    ("review_seen_again", "review items already open (not duplicated)"),
]


#: the counts that add up to the denials found: each denial goes to exactly one of them
ROUTED = [key for key, _ in _LINES if key.startswith("to_")]


def print_worklist_status(settings: Settings) -> None:
    """Where people are with the worklists (as this run read them back): counts and dollars."""
    from .pipeline import Context
    from .pipeline.worklist_status import worklist_status

    ctx = Context.from_settings(settings)
    try:
        books = worklist_status(ctx.ledger)
    finally:
        ctx.ledger.close()
    if books:
        typer.echo("\nWorklists (what people have worked, as this run read them):")
        for book in books:
            typer.echo("\n".join(f"  {line}" for line in book.lines()))


def print_run_summary(results: list[dict], settings: Settings) -> None:
    for counts in results:
        typer.echo(f"\n== {counts['payer']} ==")
        for key, label in _LINES:
            typer.echo(f"  {counts[key]:>6}  {label}")
        routed = sum(counts[key] for key in ROUTED)
        if routed != counts["denial_findings"]:  # never expected: every denial has one place
            typer.echo(f"  warning: {counts['denial_findings']} denials but {routed} routed")
        for error in counts["errors"]:
            typer.echo(f"  needs review: {error}")
    new_work = sum(c["downloaded"] + c["packets_written"] + c["worklist_added"]
                   + c["review_opened"] for c in results)
    if not new_work:
        typer.echo("\nNothing new: no remittance downloaded, no packet, worklist row or review "
                   "item added (everything was already done in an earlier run).")
    print_worklist_status(settings)
    typer.echo("\nOutputs:")
    typer.echo(f"  appeal packets   {settings.packets}/")
    batch = index_path(settings.packets, dt.date.today())
    if batch.exists():
        typer.echo(f"  morning batch    {batch}  (packets to send, most urgent first)")
    typer.echo(f"  appeals queue    {settings.packets / 'appeals-queue.csv'}  (most urgent first)")
    typer.echo(f"  worklists        {settings.worklist.parent}/  (coding, registration, "
               "clinical-documentation, billing)")
    typer.echo(f"  review queue     claimwright review list   (ledger: {settings.database_url})")
    typer.echo(f"  downloads        {settings.downloads}/")
    from .appeals.figures import run_summary_lines
    typer.echo("\n" + "\n".join(run_summary_lines(settings)))


def print_status_summary(results: list[dict]) -> None:
    """What the status check did, per payer (counts only)."""
    if not results:
        return
    typer.echo("\nStatus check of open claims and appeals:")
    keys = [k for k in results[0] if k not in ("payer", "errors")]
    for counts in results:
        figures = ", ".join(f"{counts[k]} {k.replace('_', ' ')}" for k in keys)
        typer.echo(f"  {counts['payer']}: {figures}")
        for error in counts.get("errors", []):
            typer.echo(f"    needs review: {error}")
