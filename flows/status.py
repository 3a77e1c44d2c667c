"""Nightly status check: every open claim and appeal checked on its payer's portal.

One coarse task per payer (one browser session for all of its due claims and appeals). Transient
portal faults are retried in one layer only, the bot's steps (tenacity); the task has
``retries=0``. A payer whose portal fails becomes one review item and the other payers go on.
The run-summary artifact holds counts only: no claim numbers, names or member ids.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from claimwright.pipeline import Context
from claimwright.status_checks import StatusCounts, check_payer_statuses



def status_payers() -> list[str]:
    """Payers whose ``selectors/<payer>.yaml`` configures status pages (``status:``). A config
    that does not load is kept: when that payer has claims due, its error becomes a review item
    instead of the payer being skipped silently."""
    from bots.config import ConfigError, load_payer_config, selectors_dir

    payers = []
    for path in sorted(selectors_dir().glob("*.yaml")):
        try:
            if load_payer_config(path.stem).status is None:
                continue
        except ConfigError:
            pass
        payers.append(path.stem)
    return payers


@task(name="check-statuses", retries=0, cache_policy=NO_CACHE, tags=["portal"])
def status_task(payer: str, as_of: dt.date, base_url: str | None) -> StatusCounts:
    ctx = Context.from_settings()
    try:
        return check_payer_statuses(ctx, payer, as_of=as_of, base_url=base_url)
    finally:
        ctx.ledger.close()


@flow(name="nightly-status-check", log_prints=False)
def nightly_status_check(payers: list[str] | None = None, as_of: dt.date | None = None,
                         portal_urls: dict[str, str] | None = None) -> list[dict]:
    """Check the claims and appeals due for follow-up, payer by payer."""
    logger = get_run_logger()
    as_of = as_of or dt.date.today()
    portal_urls = portal_urls or {}
    results: list[StatusCounts] = []
    for payer in payers or status_payers():
        counts = status_task(payer, as_of, portal_urls.get(payer))
        logger.info("%s: %d due, %d checked, %d need action, %d closed, %d errors", payer,
                    counts.due, counts.checked, counts.needs_action, counts.closed,
                    len(counts.errors))
        results.append(counts)
    rows = [{k: v for k, v in c.as_dict().items() if k != "errors"} | {"errors": len(c.errors)}
            for c in results]
    create_table_artifact(table=rows, key="status-check-summary",
                          description=f"Claim and appeal status checks on {as_of}, by payer")
    return [c.as_dict() for c in results]
