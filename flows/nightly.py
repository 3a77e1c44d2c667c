"""Nightly denial pull: portals -> remittances -> denials -> packets, worklist, review queue.

Tasks are coarse (a payer's portal session, a payer's batch of documents), never one per claim
line. Retries of transient portal faults happen in exactly one layer, the bot's own steps
(tenacity); the Prefect tasks here have no retries of their own, so a struggling portal sees at
most the bot's bounded attempts. A failure of one payer or document becomes a review item and
the run goes on.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from claimwright.pipeline import (Context, Counts, process_documents, pull_payer,
                                  write_appeals_queue, write_outputs)

DEFAULT_PAYERS = ("northwind",)


@task(name="pull-remittances", retries=0, cache_policy=NO_CACHE, tags=["portal"])
def pull_task(payer: str, start: dt.date, end: dt.date, base_url: str | None) -> Counts:
    ctx = Context.from_settings()
    try:
        return pull_payer(ctx, payer, start, end, base_url=base_url)
    finally:
        ctx.ledger.close()


@task(name="parse-and-decide", retries=0, cache_policy=NO_CACHE)
def process_task(counts: Counts, as_of: dt.date) -> Counts:
    ctx = Context.from_settings()
    try:
        process_documents(ctx, counts.payer, counts)
        write_outputs(ctx, counts.payer, as_of=as_of, counts=counts)
        write_appeals_queue(ctx)
        return counts
    finally:
        ctx.ledger.close()


@flow(name="nightly-denials", log_prints=False)
def nightly_denials(payers: list[str] | None = None, lookback_days: int = 45,
                    start: dt.date | None = None, end: dt.date | None = None,
                    portal_urls: dict[str, str] | None = None) -> list[dict]:
    """Pull every payer's new remittances for the window and work their denials."""
    logger = get_run_logger()
    end = end or dt.date.today()
    start = start or end - dt.timedelta(days=lookback_days)
    portal_urls = portal_urls or {}
    results: list[Counts] = []
    for payer in payers or list(DEFAULT_PAYERS):
        counts = pull_task(payer, start, end, portal_urls.get(payer))
        counts = process_task(counts, end)
        logger.info("%s: %d downloaded, %d denial findings, %d packets, %d review items opened",
                    payer, counts.downloaded, counts.denial_findings, counts.packets_written,
                    counts.review_opened)
        results.append(counts)
    publish_summary(results, start, end)
    return [c.as_dict() for c in results]


def publish_summary(results: list[Counts], start: dt.date, end: dt.date) -> None:
    """Run-summary artifacts for operations staff: counts only, no PHI."""
    rows = [{k: v for k, v in c.as_dict().items() if k != "errors"} | {"errors": len(c.errors)}
            for c in results]
    create_table_artifact(table=rows, key="nightly-run-summary",
                          description=f"Remittances {start} to {end}, by payer")
    errors = [e for c in results for e in c.errors]
    if errors:
        body = "\n".join(f"- {e}" for e in errors)
        create_markdown_artifact(
            markdown=f"## Needs review\n{body}\n\nSee `claimwright review list`.",
            key="nightly-run-problems", description="What this run could not finish")
