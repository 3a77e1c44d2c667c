"""The priority's recovery likelihood learns from the practice's own appeal outcomes.

For a (payer id, category), from the decided appeals of the ledger (one per appeal and level; an
appeal counts toward each of its categories):

    successes = overturned + sum over partial decisions of (recovered / denied)

Below ``priority.learning.min_decided`` decided appeals the table's value
(``priority.recovery_likelihood[category]`` in rules.yaml) is used. From it on::

    R = (successes + prior_weight x default) / (decided + prior_weight)

the observed rate shrunk toward the table's default as if the default had ``prior_weight``
appeals behind it: with 10 and 10, 10 decided appeals move R halfway from the default to the
observed rate, 90 nine tenths of the way. R is rounded to 4 places. An upheld appeal is 0
successes; an overturned one 1, whatever it paid.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Observed:
    """What the ledger has seen for one payer and category."""

    decided: int
    successes: Decimal


def _text(number: Decimal) -> str:
    return format(number.normalize(), "f")


def observed_likelihood(ledger) -> dict[tuple[str, str], Observed]:
    """(payer id, category) -> the decided appeals and their successes (see the module doc)."""
    decided: dict[tuple[str, str], int] = defaultdict(int)
    successes: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for rec in ledger.appeals(status="decided"):
        if rec.outcome == "overturned":
            success = Decimal(1)
        elif rec.outcome == "partial" and rec.denied_amount:
            success = (rec.recovered or Decimal(0)) / rec.denied_amount
        else:
            success = Decimal(0)
        for category in rec.category_list:
            decided[(rec.payer_id, category)] += 1
            successes[(rec.payer_id, category)] += success
    return {key: Observed(n, successes[key]) for key, n in decided.items()}


def likelihood(default: Decimal, observed: Observed | None, learning) -> tuple[Decimal, str]:
    """The recovery likelihood to use and where it comes from (words for ``rules explain``).
    ``learning`` is the rules' ``priority.learning`` (min_decided, prior_weight)."""
    n = observed.decided if observed else 0
    if n < learning.min_decided:
        seen = (f"{n} decided appeal(s) recorded" if n else "no outcomes recorded")
        return default, (f"table default {default} ({seen} for this payer and category; "
                         f"learning starts at {learning.min_decided})")
    weight = Decimal(learning.prior_weight)
    value = ((observed.successes + weight * default) / (n + weight)).quantize(
        PLACES, rounding=ROUND_HALF_UP)
    rate = (observed.successes / n).quantize(PLACES, rounding=ROUND_HALF_UP)
    return value, (f"learned {value} from {n} decided appeals ({_text(observed.successes)} "
                   f"successes, observed rate {rate}), shrunk toward the table default "
                   f"{default} (prior weight {_text(weight)})")


def learned_likelihoods(ledger, config) -> dict[tuple[str, str], Decimal]:
    """(payer id, category) -> the learned R, for the pairs with enough decided appeals
    (``config``: the rules' priority settings)."""
    from ..rules.priority import table_likelihood

    out = {}
    for (payer_id, category), seen in observed_likelihood(ledger).items():
        if seen.decided >= config.learning.min_decided:
            out[(payer_id, category)] = likelihood(table_likelihood(category, config), seen,
                                                   config.learning)[0]
    return out
