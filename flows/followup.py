"""Nightly status check (follow-up): every open claim and appeal checked on its payer's portal.

One coarse task per payer (one browser session for all of its due claims and appeals). Transient
portal faults are retried in one layer only, the bot's steps (tenacity); the task has
``retries=0``. A payer whose portal fails becomes one review item and the other payers go on.
The run-summary artifact holds counts only: no claim numbers, names or member ids.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner

from claimwright.permissions import startup
from claimwright.pipeline import Context
from claimwright.pipeline.followup import StatusCounts, check_payer_statuses
from flows.nightly import MAX_PARALLEL_PULLS


def status_payers() -> list[str]:
    """Payers whose ``selectors/<payer>.yaml`` configures status pages (``status:``). A config
    that does not load is kept: when that payer has claims due, its error becomes a review item
    instead of the payer being skipped silently."""
    from bots.config import ConfigError, configured_payers, load_payer_config

    payers = []
    for payer in configured_payers():
        try:
            if load_payer_config(payer).status is None:
                continue
        except ConfigError:
            pass
        payers.append(payer)
    return payers


@task(name="check-statuses", task_run_name="check-statuses-{payer}", retries=0, cache_policy=NO_CACHE, tags=["portal"])
def status_task(payer: str, as_of: dt.date, base_url: str | None) -> StatusCounts:
    ctx = Context.from_settings()
    try:
        return check_payer_statuses(ctx, payer, as_of=as_of, base_url=base_url)
    finally:
        ctx.ledger.close()


@flow(name="nightly-status-check", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_PULLS))
def nightly_status_check(payers: list[str] | None = None, as_of: dt.date | None = None,
                         portal_urls: dict[str, str] | None = None) -> list[dict]:
    """Check the claims and appeals due for follow-up; payers in parallel (one browser each,
    within each portal's session limit), results in the order of ``payers``."""
    logger = get_run_logger()
    startup(logger=logger)  # owner-only files; a warning when home/out are readable by others
    as_of = as_of or dt.date.today()
    portal_urls = portal_urls or {}
    order = list(dict.fromkeys(payers or status_payers()))
    futures = {payer: status_task.submit(payer, as_of, portal_urls.get(payer)) for payer in order}
    results: list[StatusCounts] = []
    for payer in order:
        counts = futures[payer].result(raise_on_failure=False)
        if not isinstance(counts, StatusCounts):  # the task itself crashed (not a portal fault)
            failed = StatusCounts(payer)
            failed.problem(f"status {payer}: task failed ({type(counts).__name__})")
            counts = failed
        logger.info("%s: %d due, %d checked, %d need action, %d closed, %d errors", payer,
                    counts.due, counts.checked, counts.needs_action, counts.closed,
                    len(counts.errors))
        results.append(counts)
    publish_status_summary(results, as_of)
    return [c.as_dict() for c in results]


def publish_status_summary(results: list[StatusCounts], as_of: dt.date) -> None:
    """The table per payer (counts only) and, when there is any, what could not be finished,
    by review item (claimwright/run_artifacts.py)."""
    from claimwright.phi import mask_known
    from claimwright.run_artifacts import failures_markdown, status_rows
    from claimwright.settings import Settings

    create_table_artifact(table=status_rows(results), key="status-check-summary",
                          description=f"Claim and appeal status checks on {as_of}, by payer")
    failures = failures_markdown(Settings.from_env(), results)
    if failures is not None:
        create_markdown_artifact(markdown=mask_known(failures), key="status-check-problems",
                                 description="What this check could not finish, by review item")
