"""Denial rate of a fixture batch against a hand count, by count and by dollars."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from claimwright.metrics import denial_rates

from denial_builders import OTHER, adj, claim, line, remittance


def batch():
    northwind = remittance([
        # C1: paid with contractual write-down and coinsurance -> not denied
        claim("C1", [line("99213", "200.00", [adj("CO-45", "50.00"), adj("PR-2", "30.00")])]),
        # C2: medical necessity -> denied 300.00
        claim("C2", [line("99214", "300.00", [adj("CO-50", "300.00")], ["N115"])]),
        # C3: one bundled line (denied 100.00), one paid line
        claim("C3", [line("97110", "100.00", [adj("CO-97", "100.00")], ["M15"]),
                     line("99213", "200.00", [adj("CO-45", "40.00"), adj("PR-3", "20.00")])]),
    ])
    acme = remittance([
        # C4: unprocessable -> denied 150.00; the claim-level OA-23 is not a denial
        claim("C4", [line("99213", "150.00", [adj("CO-16", "150.00")], ["MA130", "M51"])],
              adjustments=[adj("OA-23", "0.00")]),
        # C5: sequestration and fee schedule only -> not denied
        claim("C5", [line("80053", "80.00", [adj("CO-253", "1.60"), adj("CO-45", "20.00")])]),
        # C6: a reversal of an earlier claim -> left out of both sides
        claim("C6", [line("99213", "200.00", [adj("CO-50", "200.00")])], status="22"),
        # C7: unknown CARC -> counted as a denial (and a review item) -> 120.00
        claim("C7", [line("99213", "120.00", [adj("CO-Z98", "120.00")])]),
    ], payer=OTHER)
    return [northwind, acme]


def test_overall_rate_matches_the_hand_count():
    rates = denial_rates(batch(), as_of=dt.date(2026, 10, 5))
    o = rates.overall
    assert (o.denied_count, o.total_count) == (4, 6)  # C2 C3 C4 C7 of C1 C2 C3 C4 C5 C7
    assert o.by_count == Decimal("0.6667")
    assert o.billed_amount == Decimal("1150.00")  # 200 + 300 + 300 + 150 + 80 + 120
    assert o.denied_amount == Decimal("670.00")  # 300 + 100 + 150 + 120
    assert o.by_dollars == Decimal("0.5826")


def test_rates_by_payer_reason_and_procedure():
    rates = denial_rates(batch())
    nw, acme = rates.by_payer["NWHP1"], rates.by_payer["ACME9"]
    assert (nw.denied_count, nw.total_count, nw.denied_amount, nw.billed_amount) == \
        (2, 3, Decimal("400.00"), Decimal("800.00"))
    assert nw.by_dollars == Decimal("0.5000")
    assert (acme.denied_count, acme.total_count, acme.denied_amount) == (2, 3, Decimal("270.00"))
    assert acme.by_dollars == Decimal("0.7714")

    assert list(rates.by_reason) == ["CO-50", "CO-16", "CO-Z98", "CO-97"]  # by dollars
    co50 = rates.by_reason["CO-50"]
    assert (co50.denied_count, co50.total_count, co50.denied_amount) == (1, 6, Decimal("300.00"))
    assert co50.by_dollars == Decimal("0.2609")
    for not_denial in ("CO-45", "PR-2", "PR-3", "CO-253", "OA-23"):
        assert not_denial not in rates.by_reason

    p = rates.by_procedure["99213"]
    assert (p.denied_count, p.total_count) == (2, 4)  # C1, C3 line 2, C4, C7
    assert (p.denied_amount, p.billed_amount) == (Decimal("270.00"), Decimal("670.00"))
    assert rates.by_procedure["80053"].denied_count == 0
    assert rates.by_procedure["97110"].by_count == Decimal("1.0000")


def test_empty_batch_and_json():
    rates = denial_rates([])
    assert rates.overall.by_count == 0 and rates.overall.by_dollars == 0
    data = denial_rates(batch()).to_json()
    assert data["overall"]["rate_by_count"] == "0.6667"
    assert data["overall"]["denied_amount"] == "670.00"
