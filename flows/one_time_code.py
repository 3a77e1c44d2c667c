"""The nightly flow waits for a person to enter a one-time code (SMS / e-mail) with Prefect's
``pause_flow_run(wait_for_input=OneTimeCode)``: the Prefect UI shows the run as Paused with a
form (Resume -> "code"); the review console resumes it the same way
(``claimwright.pipeline.one_time_codes.resume_with_code``: ``resume_flow_run(..., run_input=)``).

``pause_flow_run`` keeps the process alive, so the bot's browser page that asked for the code
stays open while a person reads their phone (``suspend_flow_run`` would end the process and the
sign-in with it). A flow run can be paused once at a time: pulls of this process that need a
code ask one after another, each within its own deadline. When no code comes within the
timeout, the run is set running again (Prefect would fail a run whose pause timed out) and the
payer is skipped for the night.

The code is a ``SecretStr`` (never in a repr or log); the answer Prefect stored is deleted as
soon as it was read.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

from pydantic import Field, SecretStr

from prefect.input import RunInput

if TYPE_CHECKING:
    from bots.components.login import CodeRequest

log = logging.getLogger(__name__)

#: seconds between two looks at whether a person resumed the run (at most)
POLL_S = 5.0
_PAUSE = threading.Lock()  # one pause of this process's flow run at a time


class OneTimeCode(RunInput):
    """The form the Prefect UI shows on a paused nightly run."""

    code: SecretStr = Field(description="The one-time code the portal sent (SMS or e-mail)",
                            min_length=4, max_length=12)


class PrefectCodeWaiter:
    """``pipeline.one_time_codes.CodeWaiter`` pausing the current Prefect flow run."""

    def __init__(self, timeout_s: int | None = None) -> None:
        self.timeout_s = timeout_s

    def where(self) -> dict[str, Any]:
        from prefect.context import FlowRunContext

        context = FlowRunContext.get()
        run = context.flow_run if context is not None else None
        return {"flow_run_id": str(run.id)} if run is not None else {}

    def __call__(self, request: CodeRequest, timeout_s: int) -> str | None:
        from prefect.context import FlowRunContext

        if FlowRunContext.get() is None:  # not in a flow run: no one can resume it
            return None
        deadline = time.monotonic() + timeout_s
        if not _PAUSE.acquire(timeout=timeout_s):
            return None
        try:
            left = int(deadline - time.monotonic())
            return pause_for_code(request, left) if left >= 1 else None
        finally:
            _PAUSE.release()


def pause_for_code(request: CodeRequest, timeout_s: int) -> str | None:
    """Pause this flow run until a person enters the code (or ``timeout_s`` passes: None)."""
    from prefect.context import FlowRunContext
    from prefect.exceptions import FlowPauseTimeout
    from prefect.flow_runs import pause_flow_run
    from prefect.input.run_input import keyset_from_base_key

    run_id = FlowRunContext.get().flow_run.id
    key = f"mfa-{request.payer}-{uuid.uuid4().hex[:8]}"
    form = OneTimeCode.with_initial_data(
        description=f"**{request.payer}**: enter the one-time code its portal sent by "
                    f"{request.channel} (within {timeout_s} s; then the payer is skipped for "
                    "tonight).")
    poll = min(POLL_S, max(0.2, timeout_s / 10))
    try:
        answer = pause_flow_run(wait_for_input=form, timeout=timeout_s, poll_interval=poll,
                                key=key)
    except FlowPauseTimeout:
        log.warning("%s: no one-time code entered within %d s", request.payer, timeout_s)
        _running_again(run_id)
        return None
    _forget_answer(run_id, keyset_from_base_key(f"paused-{key}")["response"])
    return answer.code.get_secret_value()


def _running_again(run_id: Any) -> None:
    """Set the run running again after its pause timed out (the other payers go on)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Running

    with get_client(sync_client=True) as client:
        client.set_flow_run_state(run_id, Running(message="no one-time code entered in time; "
                                                          "the payer was skipped"), force=True)


def _forget_answer(run_id: Any, key: str) -> None:
    """Delete the code Prefect stored as the run's input (it was read; it is a credential)."""
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.delete_flow_run_input(run_id, key)
    except Exception as exc:  # noqa: BLE001 - the code is single-use; say so, go on
        log.warning("the entered one-time code could not be deleted from the run's input (%s)",
                    type(exc).__name__)
