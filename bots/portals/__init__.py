"""Portal flows: how one kind of payer portal is walked to its remittances, composed from the
page components of ``bots.components`` (a new portal shape is a short module here).

``selectors/<payer>.yaml`` names its flow with ``flow:``; a new payer whose portal follows one of
these flows needs only its YAML file. Each flow module defines:

- ``REQUIRED_LOCATORS``: the locator names its config must define (checked when the YAML loads);
- ``Options`` (optional): the pydantic model of its ``flow_options``;
- ``ACCEPT_DOWNLOADS`` (optional): documents arrive as browser download events;
- ``pull(session, run)``: list the remittances paid in ``run.result.start..end`` and take those
  not known yet (``run.triage``, ``run.take`` of ``bots.pull.PullRun``). The session
  (``bots.session.BotSession``) is already signed in. Transient faults are retried inside
  ``session.rt.step``; nothing here retries.

``claim_status`` is the status-page flow (claim/appeal status checks), usable on any payer whose
config has a ``status:`` section; it is not a ``flow:`` value.

Modules are imported lazily, so loading a config does not import Playwright.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

#: flow name (as written in the YAML) -> module in this package
FLOW_MODULES: dict[str, str] = {
    "login-search-paginate": "login_search_paginate",
    "clearinghouse": "clearinghouse",
    "medicare-frames": "medicare_frames",
}


def flow_names() -> tuple[str, ...]:
    return tuple(FLOW_MODULES)


def get_flow(name: str) -> ModuleType:
    try:
        module = FLOW_MODULES[name]
    except KeyError:
        known = ", ".join(FLOW_MODULES)
        raise ValueError(f"unknown portal flow {name!r}; known: {known}") from None
    return import_module(f"{__name__}.{module}")
