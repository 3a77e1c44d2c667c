"""Nightly denial pull: portals -> remittances -> denials -> packets, worklist, review queue.

Tasks are coarse (a payer's portal session, a payer's batch of documents), never one per claim
line. Retries of transient portal faults happen in exactly one layer, the bot's own steps
(tenacity); the Prefect tasks here have no retries of their own, so a struggling portal sees at
most the bot's bounded attempts. A failure of one payer or document becomes a review item and
the run goes on.

Payers run in parallel: every payer's pull is submitted at once (threads of the flow's
``ThreadPoolTaskRunner``, at most ``MAX_PARALLEL_PULLS``), and each payer's documents are parsed
and worked, one payer at a time in the flow's own thread, as soon as its pull finishes. A portal
is never asked by more than its ``portal.max_sessions`` sessions of this process at once
(``bots.session.portal_slot``); when a Prefect global concurrency limit named ``portal-<payer>``
exists on the server, each pull also holds one of its slots, which bounds that portal across
every process and worker, and one of this host's ``browsers-<host>`` slots (both created by
``claimwright ops start``; ``claimwright.concurrency``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import as_completed
from prefect.task_runners import ThreadPoolTaskRunner

from bots.config import configured_payers
from claimwright.pipeline import (Context, Counts, process_documents, pull_payer,
                                  write_appeals_queue, write_outputs)
from claimwright.concurrency import browser_session, held_limit, portal_limit_name
from claimwright.permissions import startup
from claimwright.phi import mask_known
from claimwright.pipeline.worklist_status import worklist_status
from flows.one_time_code import PrefectCodeWaiter

#: browsers one nightly run may drive at once (one per payer)
MAX_PARALLEL_PULLS = 4

log = logging.getLogger(__name__)


def portal_limit(payer: str) -> contextlib.AbstractContextManager[bool]:
    """Hold a slot of the global concurrency limit ``portal-<payer>`` when the server has one."""
    return held_limit(portal_limit_name(payer))


def _process_run_name(parameters: dict) -> str:
    """The UI's name of a payer's processing run: stage and payer (``parse-and-decide-<payer>``)."""
    return f"parse-and-decide-{parameters['counts'].payer}"


@task(name="pull-remittances", task_run_name="pull-{payer}", retries=0, cache_policy=NO_CACHE,
      tags=["portal"])
def pull_task(payer: str, start: dt.date, end: dt.date, base_url: str | None,
              code_timeout_s: int | None = None) -> Counts:
    with browser_session(payer):  # portal-<payer>, then browsers-<host>, when they exist
        ctx = Context.from_settings()
        try:  # a one-time code sent to a person: this run pauses for it (flows/one_time_code)
            return pull_payer(ctx, payer, start, end, base_url=base_url,
                              code_waiter=PrefectCodeWaiter(code_timeout_s))
        finally:
            ctx.ledger.close()


@task(name="parse-and-decide", task_run_name=_process_run_name, retries=0, cache_policy=NO_CACHE)
def process_task(counts: Counts, as_of: dt.date) -> Counts:
    ctx = Context.from_settings()
    try:
        process_documents(ctx, counts.payer, counts)
        write_outputs(ctx, counts.payer, as_of=as_of, counts=counts)
        write_appeals_queue(ctx, as_of)
        return counts
    finally:
        ctx.ledger.close()


@flow(name="nightly-denials", log_prints=False,
      task_runner=ThreadPoolTaskRunner(max_workers=MAX_PARALLEL_PULLS))
def nightly_denials(payers: list[str] | None = None, lookback_days: int = 45,
                    start: dt.date | None = None, end: dt.date | None = None,
                    portal_urls: dict[str, str] | None = None,
                    code_timeout_s: int | None = None) -> list[dict]:
    """Pull every payer's new remittances for the window (payers in parallel) and work their
    denials (each payer as soon as its pull is done). Results in the order of ``payers``
    (default: every payer configured in ``selectors/``). A portal that sends a one-time code
    by SMS or e-mail pauses the run until a person enters it (at most ``code_timeout_s``, by
    default the payer config's ``login.code_timeout_s``; then that payer is skipped)."""
    logger = get_run_logger()
    startup(logger=logger)  # owner-only files; a warning when home/out are readable by others
    end = end or dt.date.today()
    start = start or end - dt.timedelta(days=lookback_days)
    portal_urls = portal_urls or {}
    order = list(dict.fromkeys(payers or configured_payers()))
    pulls = {pull_task.submit(payer, start, end, portal_urls.get(payer), code_timeout_s): payer
             for payer in order}
    done: dict[str, Counts] = {}
    for future in as_completed(list(pulls)):
        payer = pulls[future]
        counts = future.result(raise_on_failure=False)
        if not isinstance(counts, Counts):  # the task itself crashed (not a portal fault)
            logger.error("%s: pull task failed: %s", payer, type(counts).__name__)
            failed = Counts(payer)
            failed.problem(f"pull {payer}: task failed ({type(counts).__name__})")
            done[payer] = failed
            continue
        # a crash outside any unit (e.g. the ledger unreachable) stops this payer only; the
        # other payers and the run summary go on
        result = process_task(counts, end, return_state=True).result(raise_on_failure=False)
        if isinstance(result, Counts):
            counts = result
        else:
            logger.error("%s: processing task failed: %s", payer, type(result).__name__)
            counts.problem(f"processing {payer}: task failed ({type(result).__name__})")
        logger.info("%s", counts.progress())  # counts only, in words
        done[payer] = counts
    results = [done[payer] for payer in order]
    publish_summary(results, start, end)
    return [c.as_dict() for c in results]


def publish_summary(results: list[Counts], start: dt.date, end: dt.date) -> None:
    """Run-summary artifacts for operations staff (claimwright/run_artifacts.py): the table per
    payer, links to the outputs, what could not be finished. Counts, paths and ids: no PHI."""
    from claimwright.appeals.figures import appeal_figures, appeals_summary_lines
    from claimwright.run_artifacts import failures_markdown, outputs_markdown, summary_rows

    ctx = Context.from_settings()
    try:
        books = worklist_status(ctx.ledger)
        appeals = appeals_summary_lines(appeal_figures(ctx.ledger, end))
    finally:
        ctx.ledger.close()
    create_table_artifact(table=summary_rows(results), key="nightly-run-summary",
                          description=f"Remittances {start} to {end}, by payer")
    create_markdown_artifact(markdown=outputs_markdown(ctx.settings, results),
                             key="nightly-run-outputs",
                             description="Where this run's packets, worklists and review items are")
    create_markdown_artifact(  # counts, rates, dollars and days only
        markdown="## Appeals\n" + "\n".join(f"- {line.strip()}" for line in appeals),
        key="appeal-figures", description="Appeals prepared, sent, decided; overturn rates")
    if books:  # where people are with the worklists: counts and dollars only
        create_table_artifact(table=[r for b in books for r in b.as_rows()],
                              key="worklist-status",
                              description="Worklist rows by status, as this run read them back")
    failures = failures_markdown(ctx.settings, results)
    if failures is not None:  # an empty run publishes none
        create_markdown_artifact(markdown=mask_known(failures), key="nightly-run-problems",
                                 description="What this run could not finish, by review item")
