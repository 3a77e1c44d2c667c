"""Alter one printed number of a rendered remittance: the page as a payer would misprint it.

The fixture renderers draw every row with reportlab's ``drawString`` / ``drawRightString``;
:func:`render_altered` renders a plan with those two patched so that the ``index``-th printed
number (in drawing order) has its last digit changed (``+1``, or ``-1`` for a 9: the text keeps
its length, so nothing moves on the page). Changing the model instead would not do: the
renderers compute the printed totals from the model, so a changed line would come with matching
totals -- which is exactly how a changed allowed amount used to pass.

A printed number: an amount (``1,234.50``, ``-3.21``, ``12.00-``) or a count of up to three
digits (units, a claim count, a page number), standing alone (after a space, ``:``, ``$`` or at
the start; before a space or the end). Dates, identifiers and codes joined to letters or dashes
(``PR-1``, ``99214``, ``03/02/2026``) are not numbers; a claim status (``STATUS 1``) is a code.
"""

from __future__ import annotations

import copy
import re
from contextlib import contextmanager

from reportlab.pdfgen.canvas import Canvas

from fixtures.remittances import renderer

NUMBER = re.compile(r"(?:(?<=[\s:$(])|^)-?(?:\d{1,3}(?:,\d{3})*\.\d\d-?|\d{1,3})(?=[\s)]|$)")
_CODE_BEFORE = re.compile(r"(?:STATUS|Status:)\s*$")


def _altered(token: str) -> str:
    digits = [i for i, ch in enumerate(token) if ch.isdigit()]
    last = digits[-1]
    d = int(token[last])
    return token[:last] + str(d + 1 if d < 9 else d - 1) + token[last + 1:]


@contextmanager
def _drawing(index: int | None, seen: list[tuple[str, str]]):
    originals = Canvas.drawString, Canvas.drawRightString

    def patched(original):
        def draw(self, x, y, text, *args, **kwargs):
            out, at = [], 0
            for m in NUMBER.finditer(text):
                if _CODE_BEFORE.search(text[:m.start()]):
                    continue
                if len(seen) == index:
                    out += [text[at:m.start()], _altered(m.group())]
                    at = m.end()
                seen.append((text, m.group()))
            return original(self, x, y, "".join(out) + text[at:], *args, **kwargs)
        return draw

    Canvas.drawString, Canvas.drawRightString = (patched(o) for o in originals)
    try:
        yield
    finally:
        Canvas.drawString, Canvas.drawRightString = originals


def printed_numbers(plan) -> tuple[bytes, list[tuple[str, str]]]:
    """The plan's PDF, and every printed number as ``(the text drawn, the number)``."""
    seen: list[tuple[str, str]] = []
    with _drawing(None, seen):
        pdf, _, _ = renderer(plan)(copy.deepcopy(plan))
    return pdf, seen


def render_altered(plan, index: int) -> bytes:
    """The plan's PDF with its ``index``-th printed number altered (see the module doc)."""
    seen: list[tuple[str, str]] = []
    with _drawing(index, seen):
        pdf, _, _ = renderer(plan)(copy.deepcopy(plan))
    assert len(seen) > index, f"only {len(seen)} numbers printed"
    return pdf


def changed_fields(before, after, path: str = "") -> set[str]:
    """The fields that differ between two parse JSONs, as ``Remittance.unverified`` names them
    (``lines[].allowed``, ``claims[].paid``, ``payment.amount``, ``lines[].adjustments``);
    ``problems``, ``balanced`` and ``unverified`` themselves are not compared."""
    if isinstance(before, dict) and isinstance(after, dict):
        out: set[str] = set()
        for key in set(before) | set(after):
            if not path and key in ("problems", "balanced", "unverified"):
                continue
            out |= changed_fields(before.get(key), after.get(key),
                                  f"{path}.{key}" if path else key)
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return {f for x, y in zip(before, after) for f in changed_fields(x, y, f"{path}[]")}
    return set() if before == after else {_name(path)}


def _name(path: str) -> str:
    if path.startswith("claims[].lines[]"):
        path = path.removeprefix("claims[].")
    if "adjustments" in path and not path.startswith("provider_adjustments"):
        path = path[:path.index("adjustments") + len("adjustments")]
    return path.removesuffix("[]")
