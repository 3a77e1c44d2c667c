"""Portal flows: how one kind of payer portal is walked to its remittances.

``selectors/<payer>.yaml`` names its flow with ``flow:``; a new payer whose portal follows one of
these flows needs only its YAML file. Each flow module defines:

- ``REQUIRED_LOCATORS``: the locator names its config must define (checked when the YAML loads);
- ``pull(bot, result, dest_dir, is_known)``: list the remittances paid in ``result.start..end``
  and download those not known yet, filling ``result`` (``bots.engine.PullResult``). The bot is
  already signed in. Transient faults are retried inside ``bot.step``; nothing here retries.

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
        raise ValueError(f"unknown portal flow {name!r}; known: {', '.join(FLOW_MODULES)}") from None
    return import_module(f"{__name__}.{module}")
