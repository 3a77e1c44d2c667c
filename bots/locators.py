"""Turn configured locator chains (ordered fallbacks) into Playwright locators."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import LocatorSpec

if TYPE_CHECKING:
    from playwright.sync_api import Locator

log = logging.getLogger("claimwright.bots")


def build_locator(scope: Any, spec: LocatorSpec) -> Locator:
    """A Playwright locator for ``spec`` inside ``scope`` (a Page, Frame or Locator)."""
    exact = spec.exact or None
    if spec.role is not None:
        return scope.get_by_role(spec.role, name=spec.name, exact=exact)
    if spec.label is not None:
        return scope.get_by_label(spec.label, exact=exact)
    if spec.placeholder is not None:
        return scope.get_by_placeholder(spec.placeholder, exact=exact)
    if spec.text is not None:
        return scope.get_by_text(spec.text, exact=exact)
    if spec.test_id is not None:
        return scope.get_by_test_id(spec.test_id)
    if spec.css is not None:
        return scope.locator(f"css={spec.css}")
    return scope.locator(f"xpath={spec.xpath}")


@dataclass(frozen=True)
class Resolved:
    """The first candidate of a chain that matched, and which one it was."""

    name: str
    locator: Locator
    index: int
    spec: LocatorSpec


def combined(scope: Any, chain: list[LocatorSpec]) -> Locator:
    """One locator matching any candidate of the chain (for waiting on "any of these")."""
    locator = build_locator(scope, chain[0])
    for spec in chain[1:]:
        locator = locator.or_(build_locator(scope, spec))
    return locator


def first_present(scope: Any, name: str, chain: list[LocatorSpec],
                  warned: set[str] | None = None) -> Resolved | None:
    """The first candidate, in configured order, that matches at least one element right now.

    Using a fallback is logged once per locator name when ``warned`` is given (it collects the
    names already reported), else every time.
    """
    for index, spec in enumerate(chain):
        locator = build_locator(scope, spec)
        if locator.count() > 0:
            if index > 0 and (warned is None or name not in warned):
                if warned is not None:
                    warned.add(name)
                log.warning("locator %r: primary candidate %s matched nothing; fallback #%d (%s) "
                            "used: update the payer config", name, chain[0].describe(), index,
                            spec.describe())
            return Resolved(name, locator.first, index, spec)
    return None
