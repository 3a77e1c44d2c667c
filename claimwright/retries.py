""""Retry now" for the review item of a failed unit of work (a pull, a document's parse, its
outputs, a worklist), shared by the console's button and ``claimwright review retry``.

:func:`retry_item` resets the unit (``WorkUnits.retry``: pending, attempts cleared) and re-runs
it, in one of three ways:

- **through Prefect**, when a Prefect server is configured (``PREFECT_API_URL``) and the
  ``retry-review-item`` deployment of prefect.yaml is on it: a flow run of
  ``flows/retry.py:retry_review_item`` for the item, which a worker picks up (the operations
  staff see it in the Prefect UI, named ``retry-item-<id>``);
- **in the background**, a child process of the console (no usable server, a pull: it needs a
  browser and takes a while, so a web request never waits for it, and a browser stays out of
  the web server's process);
- **here and now** otherwise (a document's processing; anything from the CLI).

However it runs, the work is :func:`run_retry`: the same code in the flow, the child process
and the CLI. It records ``retried`` (how it was started) and, when it ran apart from the request,
``retry-finished`` with the outcome; the item is resolved when its unit is done.
:func:`last_retry` says what became of the latest retry, for the item page. Event details name
units and flow runs, never PHI.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass

from .fileio import open_private, private_dir
from .pipeline import Context, Counts, process_documents, pull_payer, write_outputs
from .pipeline.one_time_codes import CodeWaiter
from .resolutions import ACTIVE_STATES, PIPELINE_LOCK, Outcome, ResolutionError, _item, today
from .storage import ReviewItemRecord, WorkUnitRecord
from .types import UnitKind, UnitState

log = logging.getLogger(__name__)

#: the deployment of flows/retry.py in prefect.yaml (flow name / deployment name)
RETRY_DEPLOYMENT = "retry-review-item/retry-review-item"
#: how long the console waits for the Prefect server before it runs the retry itself
SERVER_WAIT_S = 3.0
#: a pull retry's window when its item does not say it (the nightly flow's default lookback)
LOOKBACK_DAYS = 45
#: where a background retry's child process writes its log (under CLAIMWRIGHT_HOME)
RETRY_LOG = "logs/retry-item-<id>.log"
_FLOW_RUN = re.compile(r"Prefect flow run (\S+) \(([0-9a-f-]{36})\)")
_IN_BACKGROUND = re.compile(r"started in the background \(process (\d+)\)")
_running: dict[int, subprocess.Popen] = {}  # item id -> its retry's child process
_running_lock = threading.Lock()


@dataclass
class RetryStatus:
    """What became of an item's latest retry: ``how`` is ``prefect``, ``background`` or
    ``here``; ``state`` a word (Scheduled, Running, Completed, Failed ... for Prefect; running
    or finished otherwise); ``outcome`` the recorded result; ``url`` the run in the Prefect UI."""

    how: str
    state: str
    outcome: str = ""
    url: str = ""
    flow_run: str = ""

    @property
    def waiting(self) -> bool:
        """Still to come: the page refreshes itself meanwhile."""
        return self.state == "running" or (self.how == "prefect"
                                           and self.state in _PREFECT_WAITING)


def unit_of(ctx: Context, item: ReviewItemRecord) -> WorkUnitRecord:
    unit = next((u for u in ctx.ledger.units(payer=item.payer or None)
                 if u.review_key == item.key), None)
    if unit is None:
        raise ResolutionError(f"item {item.id} is not the failure of a unit of work: nothing "
                              f"to retry")
    return unit


def retry_item(ctx: Context, item_id: int, *, by: str, background: bool = False,
               prefect: bool = True) -> Outcome:
    """Reset the failed unit of item ``item_id`` and run it again (module doc). ``background``:
    a pull runs in a child process when Prefect does not take it (the console);
    ``prefect``: try the Prefect deployment first."""
    item = _item(ctx, item_id)
    unit = unit_of(ctx, item)
    if unit.state == UnitState.DONE:
        return _finish(ctx, item_id, unit, by, f"{unit.kind} {unit.key} is done already")
    if _busy(item_id):
        raise ResolutionError(f"a retry of item {item_id} is running already")
    latest = last_retry(ctx, item_id)
    if latest is not None and latest.how == "prefect" and latest.waiting:
        raise ResolutionError(f"a retry of item {item_id} is waiting in Prefect already "
                              f"(flow run {latest.flow_run}, {latest.state})")
    if not ctx.units().retry(UnitKind(unit.kind), unit.key):
        raise ResolutionError(f"{unit.kind} {unit.key} is {unit.state} (a run is working "
                              f"on it): retry after that run")
    note = ""
    if prefect:
        started, note = _start_in_prefect(item_id, by)
        if started:
            ctx.queue.record(item_id, "retried", by=by, detail=f"{unit.kind} {unit.key} reset; "
                             f"{started}")
            return Outcome(ctx.queue.get(item_id), f"Retry started in Prefect: {started}. "
                           f"This page shows its outcome.")
    if background and unit.kind == UnitKind.PULL:
        pid = _start_in_background(ctx, item_id, by)
        ctx.queue.record(item_id, "retried", by=by, detail=f"{unit.kind} {unit.key} reset; "
                         f"started in the background (process {pid})")
        return Outcome(ctx.queue.get(item_id), f"{note}The pull of {unit.payer} started in "
                       f"the background (a browser signs in to the portal); this page shows "
                       f"its outcome when it ends.")
    outcome = run_retry(ctx, item_id, by=by, event="retried")
    return Outcome(outcome.item, note + outcome.message)


def run_retry(ctx: Context, item_id: int, *, by: str, event: str = "retry-finished",
              code_waiter: CodeWaiter | None = None) -> Outcome:
    """Run item ``item_id``'s (already reset) unit now: a pull signs in and downloads the
    item's window, then the payer's documents are processed and the outputs made. Records
    ``event`` with the outcome; the item is resolved when the unit is done. ``code_waiter``: how
    a pull asks a person for a one-time code sent by SMS or e-mail (the Prefect retry flow)."""
    item = ctx.queue.get(item_id)
    if item is None:
        raise ResolutionError(f"there is no review item {item_id}")
    unit = unit_of(ctx, item)
    counts = Counts(unit.payer)
    if unit.kind == UnitKind.PULL:
        start, end = _window(item)
        pull_payer(ctx, unit.payer, start, end, counts=counts, code_waiter=code_waiter)
    now = ctx.ledger.unit(unit.kind, unit.key)
    if now.state == UnitState.DONE or unit.kind in (UnitKind.PARSE, UnitKind.OUTPUTS,
                                                    UnitKind.WORKLIST):
        with PIPELINE_LOCK:
            process_documents(ctx, unit.payer, counts)
            write_outputs(ctx, unit.payer, as_of=today(), counts=counts)
        now = ctx.ledger.unit(unit.kind, unit.key)
    outcome = (f"{unit.kind} {unit.key} re-run: {now.state}"
               + (f" ({now.error_code})" if now.error_code else ""))
    if unit.kind == UnitKind.PULL:
        outcome += f", {counts.downloaded} downloaded"
    return _finish(ctx, item_id, now, by, outcome, event=event)


def _finish(ctx: Context, item_id: int, unit: WorkUnitRecord, by: str, outcome: str, *,
            event: str = "retried") -> Outcome:
    ctx.queue.record(item_id, event, by=by, detail=outcome)
    current = ctx.queue.get(item_id)
    done = ctx.ledger.unit(unit.kind, unit.key).state == UnitState.DONE
    if done and str(current.status) in ACTIVE_STATES:
        current = ctx.queue.resolve(item_id, f"retried: {outcome}", by=by)
    return Outcome(current, f"Retried: {outcome}." + ("" if done else " The item stays open."))


def _window(item: ReviewItemRecord) -> tuple[dt.date, dt.date]:
    context = item.context or {}
    try:
        return dt.date.fromisoformat(context["start"]), dt.date.fromisoformat(context["end"])
    except (KeyError, TypeError, ValueError):
        end = today()
        return end - dt.timedelta(days=LOOKBACK_DAYS), end


# ---- in a child process of the console ------------------------------------------------------


def _start_in_background(ctx: Context, item_id: int, by: str) -> int:
    """Run :func:`run_retry` for the item in a child process (``python -m claimwright.retries
    ID --by NAME``): a browser, a long pull or a crash stays out of the web server's process.
    The child inherits the environment (the same settings); its pid."""
    log_dir = ctx.settings.home / "logs"
    private_dir(log_dir)
    log_file = log_dir / f"retry-item-{item_id}.log"
    with open_private(log_file, "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "claimwright.retries", str(item_id),
                                  "--by", by], stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    with _running_lock:
        _running[item_id] = child
    return child.pid


def wait_for_background(timeout: float = 120.0) -> bool:
    """Wait for the retries this process started in the background (tests, shutdown); True
    when every one has ended."""
    with _running_lock:
        children = list(_running.items())
    ended = True
    for item_id, child in children:
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            ended = False
            continue
        with _running_lock:
            _running.pop(item_id, None)
    return ended


def _busy(item_id: int) -> bool:
    with _running_lock:
        child = _running.get(item_id)
        if child is not None and child.poll() is not None:
            del _running[item_id]
            child = None
    return child is not None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with _running_lock:  # our own child that ended but was not waited for yet
        for child in _running.values():
            if child.pid == pid and child.poll() is not None:
                return False
    return True


def main(argv: list[str] | None = None) -> int:
    """``python -m claimwright.retries ITEM_ID --by NAME``: the console's background retry."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m claimwright.retries")
    parser.add_argument("item_id", type=int)
    parser.add_argument("--by", required=True)
    args = parser.parse_args(argv)
    from .permissions import private_process

    private_process()  # what the child writes (its log, evidence) is owner-only
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    ctx = Context.from_settings()
    try:
        try:
            outcome = run_retry(ctx, args.item_id, by=args.by)
        except Exception as exc:  # noqa: BLE001 - the outcome is recorded, never lost
            log.exception("retry of review item %s failed", args.item_id)
            ctx.queue.record(args.item_id, "retry-finished", by=args.by,
                             detail=f"failed: {type(exc).__name__}")
            return 1
        log.info("review item %s: %s", args.item_id, outcome.message)
        return 0
    finally:
        ctx.ledger.close()


# ---- through Prefect --------------------------------------------------------------------------

_PREFECT_WAITING = {"Scheduled", "Pending", "Running", "Late", "AwaitingRetry", "Retrying",
                    "Paused"}


def _api_url() -> str | None:
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url).rstrip("/") if url else None


def _reachable(api: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api}/health", timeout=SERVER_WAIT_S).status_code == 200
    except httpx.HTTPError:
        return False


def _start_in_prefect(item_id: int, by: str) -> tuple[str, str]:
    """A flow run of the retry deployment for the item: (its description, "") when started;
    ("", why not, as a sentence for the person) otherwise."""
    api = _api_url()
    if api is None:
        return "", ""
    if not _reachable(api):
        return "", f"The Prefect server at {api} does not answer: run here instead. "
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(RETRY_DEPLOYMENT)
            run = client.create_flow_run_from_deployment(
                deployment.id, parameters={"item_id": item_id, "by": by},
                name=f"retry-item-{item_id}", tags=["claimwright", "retry"])
    except ObjectNotFound:
        return "", (f"Prefect has no deployment {RETRY_DEPLOYMENT} (prefect deploy --all): "
                    f"run here instead. ")
    log.info("review item %s: retry flow run %s created", item_id, run.id)
    return f"Prefect flow run {run.name} ({run.id})", ""


def _prefect_state(run_id: str) -> tuple[str, str]:
    """(state name, UI link) of a flow run; ("unknown", "") when the server cannot say."""
    api = _api_url()
    if api is None or not _reachable(api):
        return "unknown (the Prefect server does not answer)", ""
    from prefect import get_client
    from prefect.settings import get_current_settings

    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
    except Exception:  # noqa: BLE001 - e.g. the run was deleted: the page still shows
        return "unknown", ""
    ui = get_current_settings().ui_url
    return (run.state.name if run.state else "unknown",
            f"{str(ui).rstrip('/')}/runs/flow-run/{run_id}" if ui else "")


def last_retry(ctx_or_queue, item_id: int) -> RetryStatus | None:
    """What became of item ``item_id``'s latest retry, from its audit trail (and, for a flow
    run, from Prefect); None when it was never retried."""
    queue = getattr(ctx_or_queue, "queue", ctx_or_queue)
    events = queue.history(item_id)
    started = next((i for i in range(len(events) - 1, -1, -1)
                    if events[i].action == "retried"), None)
    if started is None:
        return None
    event = events[started]
    finished = next((e for e in events[started + 1:] if e.action == "retry-finished"), None)
    run = _FLOW_RUN.search(event.detail or "")
    if run:
        state, url = _prefect_state(run.group(2))
        return RetryStatus("prefect", state, finished.detail if finished else "", url,
                           run.group(1))
    background = _IN_BACKGROUND.search(event.detail or "")
    if background:
        if finished:
            return RetryStatus("background", "finished", finished.detail)
        if _alive(int(background.group(1))):
            return RetryStatus("background", "running")
        return RetryStatus("background", "ended without an outcome",
                           f"see {RETRY_LOG} in the console's home")
    
    return RetryStatus("here", "finished", event.detail or "")


if __name__ == "__main__":
    raise SystemExit(main())
