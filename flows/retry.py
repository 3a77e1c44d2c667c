"""A person's "Retry now" on a review item, run by a Prefect worker (claimwright/retries.py).

The console (or ``claimwright review retry``) resets the item's failed unit and creates a run of
this flow's deployment (``retry-review-item`` in prefect.yaml, no schedule), named
``retry-item-<id>``; the flow runs the unit again (a pull signs in and downloads the item's
window, then that payer's documents are processed and outputs made) and records the outcome on
the item, which is resolved when the unit is done. The log names the item and the unit, never a
patient.
"""

from __future__ import annotations

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from claimwright.permissions import startup
from claimwright.pipeline import Context

#: a pull of one payer's window plus its processing; the bot's own timeouts bound each step
RETRY_TIMEOUT_S = 30 * 60


@task(name="retry-unit", retries=0, cache_policy=NO_CACHE, timeout_seconds=RETRY_TIMEOUT_S,
      task_run_name="retry-item-{item_id}")
def retry_task(item_id: int, by: str) -> str:
    from claimwright.retries import run_retry
    from flows.one_time_code import PrefectCodeWaiter

    ctx = Context.from_settings()
    try:  # a portal that texts a one-time code: this run pauses for a person, as nightly does
        return run_retry(ctx, item_id, by=by, code_waiter=PrefectCodeWaiter()).message
    finally:
        ctx.ledger.close()


@flow(name="retry-review-item", log_prints=False)
def retry_review_item(item_id: int, by: str = "prefect") -> str:
    """Run review item ``item_id``'s failed unit of work again (reset by whoever asked) and
    record the outcome on the item; ``by`` is the person who pressed "Retry now"."""
    startup(logger=get_run_logger())  # owner-only files; a warning when others can read them
    message = retry_task(item_id, by)
    get_run_logger().info("review item %s: %s", item_id, message)
    from prefect.artifacts import create_link_artifact

    from claimwright.run_artifacts import item_url
    from claimwright.settings import Settings

    create_link_artifact(link=item_url(Settings.from_env(), item_id),
                         link_text=f"Review item {item_id} in the console", key="retried-item",
                         description="The review item this run retried (its outcome is there)")
    return message
