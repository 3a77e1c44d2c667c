"""One-time codes a portal sends to a person (``login.mfa: sms`` / ``email``).

A code sent by SMS or e-mail cannot be computed: the pull asks a person for it while the
browser page that asked waits open (the code belongs to that sign-in). :func:`code_asker` turns
a *waiter* (how this run can reach a person: the nightly flow pauses its Prefect run with a
form, ``flows/one_time_code.py``) into the bot's ``ask_code``:

1. an ``mfa-code-needed`` review item is opened at once, saying where to enter the code and by
   when (its context names the Prefect flow run, so the review console can resume it);
2. the waiter waits (bounded by ``login.code_timeout_s`` or the run's override);
3. a code entered: the item is resolved and the sign-in goes on; none in time: the item is
   resolved as timed out and the bot stops the payer with ``mfa-code-needed`` ("skipped for
   tonight"), which the pull unit files as its own ``mfa-code-needed`` item.

A person may also enter the code in the review console (:func:`enter_code`), which resumes the
paused run exactly as the Prefect UI's form does (:func:`resume_with_code`).

The code itself is never logged, stored in a review item, or put into an exception.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..storage.review_items import ACTIVE, SYSTEM_ACTOR
from ..types import ReviewKind

if TYPE_CHECKING:
    from bots.components.login import CodeRequest

    from .context import Context

log = logging.getLogger(__name__)

#: the longest a run waits for a code (``login.code_timeout_s`` allows no more either)
MAX_WAIT_S = 1800


class CodeWaiter(Protocol):
    """How a run reaches a person for a one-time code."""

    #: seconds it waits at most (None: the payer config's ``login.code_timeout_s``)
    timeout_s: int | None

    def where(self) -> dict[str, Any]:
        """What a person needs to answer (e.g. ``flow_run_id``), for the review item."""

    def __call__(self, request: CodeRequest, timeout_s: int) -> str | None:
        """The code a person entered within ``timeout_s`` seconds, or None."""


def code_asker(ctx: Context, waiter: CodeWaiter, *, review_key: str
               ) -> Callable[[CodeRequest], str | None]:
    """The bot's ``ask_code`` for one pull: review item, wait, item resolved (module doc)."""

    def ask(request: CodeRequest) -> str | None:
        timeout = min(waiter.timeout_s or request.timeout_s, MAX_WAIT_S)
        where = waiter.where()
        until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=timeout)
        how = ("in the Prefect UI (flow run " + str(where["flow_run_id"]) + ": Resume, enter "
               "the code) or in the review console" if where.get("flow_run_id") else
               "in the review console")
        opened = ctx.queue.open(
            ReviewKind.MFA_CODE_NEEDED,
            f"{request.payer}: the portal sent a one-time code by {request.channel}; enter it "
            f"{how} before {until:%H:%M} UTC ({timeout} s), else {request.payer} is skipped "
            "for tonight",
            key=f"{review_key}:code-wanted:{until:%Y%m%dT%H%M%S%f}", payer=request.payer,
            context={"payer": request.payer, "channel": request.channel, "timeout_s": timeout,
                     "awaiting_code": True, "until": f"{until:%Y-%m-%dT%H:%M:%SZ}", **where})
        log.info("%s: waiting up to %d s for a person to enter the one-time code sent by %s "
                 "(review item %s)", request.payer, timeout, request.channel, opened.item.id)
        code = waiter(request, timeout)
        if code:
            ctx.queue.resolve(opened.item.id, "a person entered the one-time code; the sign-in "
                              "went on", by=SYSTEM_ACTOR)
        else:
            ctx.queue.resolve(opened.item.id, f"no code entered within {timeout} s; "
                              f"{request.payer} skipped for tonight (the pull's mfa-code-needed "
                              "item says so)", by=SYSTEM_ACTOR)
            log.warning("%s: no one-time code entered within %d s; payer skipped for tonight",
                        request.payer, timeout)
        return code

    return ask


def resume_with_code(flow_run_id: str, code: str) -> None:
    """Resume the nightly run paused for a one-time code with ``code`` (its ``OneTimeCode``
    form, ``flows/one_time_code.py``), through the Prefect API; raises when it is not paused."""
    from uuid import UUID

    from prefect.flow_runs import resume_flow_run

    resume_flow_run(UUID(str(flow_run_id)), run_input={"code": code})


def enter_code(ctx: Context, item_id: int, code: str, *, by: str,
               resume: Callable[[str, str], None] | None = None) -> str:
    """The review console's "Enter the code" on an ``mfa-code-needed`` item whose run waits:
    resume that run with ``code``; the audit trail says who, never the code."""
    from ..resolutions import ResolutionError

    item = ctx.queue.get(item_id)
    if item is None:
        raise KeyError(f"No such item #{item_id}")
    run = (item.context or {}).get("flow_run_id")
    if item.kind != ReviewKind.MFA_CODE_NEEDED or item.status not in ACTIVE or not run \
            or not (item.context or {}).get("awaiting_code"):
        raise ResolutionError("this item is not waiting for a one-time code")
    code = (code or "").strip()
    if not (4 <= len(code) <= 12 and code.isalnum()):
        raise ResolutionError("a one-time code is 4 to 12 letters or digits, as the portal "
                              "sent it")
    try:
        (resume or resume_with_code)(run, code)
    except Exception as exc:  # noqa: BLE001 - the run decides; its reason carries no code
        log.warning("one-time code for item %s not handed over (%s)", item_id,
                    type(exc).__name__)
        raise ResolutionError("the run is no longer waiting for this code (it timed out, or "
                              "someone entered it already)") from None
    ctx.queue.record(item_id, "code-entered", by=by,
                     detail="the one-time code was handed to the waiting run")
    return "Code handed to the waiting run; the sign-in goes on."

