"""Prefect global concurrency limits Claimwright uses, by name, and holding one of their slots.

- ``portal-<payer>``: sessions on one payer's portal, across every process and worker (limit
  ``portal.max_sessions`` of the payer's selectors, 1 by default).
- ``browsers-<host>``: Chromium browsers open at once on one machine (``claimwright ops start``
  creates it; 2 by default).

``claimwright ops start`` creates them (docs/operations.md); without them a run holds nothing
and relies on the in-process bounds (``bots.session.portal_slot``, the flows' thread pools).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator


def portal_limit_name(payer: str) -> str:
    return f"portal-{payer}"


def browser_limit_name(host: str | None = None) -> str:
    """``browsers-<host>``: this machine's (lower-case host name) unless ``host`` is given."""
    return f"browsers-{(host or socket.gethostname()).lower()}"


@contextlib.contextmanager
def held_limit(name: str) -> Iterator[bool]:
    """Hold one slot of the Prefect global concurrency limit ``name`` when the server has it,
    active (True); otherwise nothing to hold (False). Without the limit, Prefect's
    ``concurrency()`` would only warn and skip, so its existence is checked first."""
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():  # ephemeral mode: one process, the in-process bounds suffice
        yield False
        return
    try:
        with get_client(sync_client=True) as client:
            limit = client.read_global_concurrency_limit_by_name(name)
    except Exception:  # noqa: BLE001 - no such limit (ObjectNotFound) or no API: in-process only
        limit = None
    if limit is None or not limit.active:
        yield False
        return
    with concurrency(name, occupy=1, strict=True):
        yield True


@contextlib.contextmanager
def browser_session(payer: str) -> Iterator[None]:
    """What a task that drives a payer's portal in a browser holds: a slot of ``portal-<payer>``
    first, then one of this host's ``browsers-<host>`` (each when it exists; always in this
    order, so two tasks never wait on each other's slot)."""
    with held_limit(portal_limit_name(payer)), held_limit(browser_limit_name()):
        yield
