"""Appeal levels: what each is called and when the next one is due (``deadlines.yaml``).

==========  ==========================  =============================================
level       Medicare (kind "medicare")  every other payer kind
==========  ==========================  =============================================
1           Redetermination             Level 1 appeal
2           Reconsideration             Level 2 appeal
==========  ==========================  =============================================

Level 1 is due as the denial's deadline says (:mod:`claimwright.rules.deadlines`, from the
denial date). Level 2 is due ``decided_on + receipt_days + appeal_level_2_days`` of the payer's
entry in force on the day level 1 was decided: for Medicare 180 days from the presumed receipt
(decision date + 5 days) of the redetermination decision; for commercial entries
``receipt_days`` is 0, so it is the contract's level-2 window from the decision date.

Claimwright follows appeals up to :data:`MAX_LEVEL`. Later levels (Medicare: ALJ hearing,
Appeals Council, judicial review, with amount-in-controversy thresholds that change yearly) are
out of scope: :func:`next_level_due` returns None after level 2 and :func:`level_name` refuses
them; :func:`later_levels_note` says what a person would do next (the ``later_levels`` note of
the payer's deadlines entry when it has one).
"""

from __future__ import annotations

import datetime as dt

from ..rules.deadlines import PayerWindows, current_deadlines

MAX_LEVEL = 2
MEDICARE = "medicare"
_NAMES = {MEDICARE: {1: "Redetermination", 2: "Reconsideration"},
          "": {1: "Level 1 appeal", 2: "Level 2 appeal"}}
_NO_LATER = ("Claimwright follows appeals up to level 2; a further appeal (if the payer allows "
             "one) is prepared by hand")


class LevelError(ValueError):
    """A level Claimwright does not follow (below 1, or beyond :data:`MAX_LEVEL`)."""


def _windows(payer_id: str, payer_name: str, on: dt.date | None) -> PayerWindows:
    return current_deadlines().for_payer(payer_id, payer_name, on)


def _check(level: int) -> None:
    if not isinstance(level, int) or isinstance(level, bool) or level < 1:
        raise LevelError(f"an appeal level is a whole number from 1, not {level!r}")
    if level > MAX_LEVEL:
        raise LevelError(f"level {level} is beyond level {MAX_LEVEL}, the last level "
                         f"Claimwright follows ({_NO_LATER})")


def level_name(payer_id: str, payer_name: str, level: int, *,
               on: dt.date | None = None) -> str:
    """``Redetermination`` / ``Reconsideration`` for Medicare, ``Level N appeal`` otherwise."""
    _check(level)
    kind = _windows(payer_id, payer_name, on).kind
    return _NAMES[MEDICARE if kind == MEDICARE else ""][level]


def next_level_due(payer_id: str, payer_name: str, level: int,
                   decided_on: dt.date) -> dt.date | None:
    """When the appeal after ``level`` (decided on ``decided_on``) is due; None when ``level``
    is the last one Claimwright follows."""
    _check(level)
    if level >= MAX_LEVEL:
        return None
    windows = _windows(payer_id, payer_name, decided_on)
    days = windows.receipt_days + windows.windows[f"appeal_level_{level + 1}_days"]
    return decided_on + dt.timedelta(days=days)


def later_levels_note(payer_id: str, payer_name: str, *, on: dt.date | None = None) -> str:
    """What comes after the last level Claimwright follows, for a person to decide."""
    note = _windows(payer_id, payer_name, on).later_levels
    return f"{_NO_LATER}; {note}" if note else _NO_LATER
