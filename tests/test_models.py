import datetime as dt
from decimal import Decimal

import pytest

from claimwright.balancing import check_remittance
from claimwright.models import (Adjustment, Claim, Party, Payment, ProviderAdjustment, Remittance,
                                ServiceLine, money)


@pytest.mark.parametrize("text,expected", [
    ("1,234.50", "1234.50"), ("12.00-", "-12.00"), ("(7.25)", "-7.25"), ("$0.5", "0.50"),
    ("-3", "-3.00"), (Decimal("1.005"), "1.00"), (12, "12.00"),
])
def test_money_parses_payer_formats(text, expected):
    assert money(text) == Decimal(expected)
    assert str(money(text)) == expected


@pytest.mark.parametrize("bad", ["", "abc", "NaN", "1.2.3", "Infinity"])
def test_money_refuses_non_amounts(bad):
    with pytest.raises(ValueError):
        money(bad)


def test_money_refuses_float():
    with pytest.raises(TypeError):
        money(0.1)


def make_remit(line_paid="60.00", payment="55.00"):
    line = ServiceLine(dt.date(2026, 10, 2), "99213", money("100.00"), money(line_paid),
                       modifiers=["25"], allowed=money("80.00"),
                       adjustments=[Adjustment("CO", "45", money("20.00")),
                                    Adjustment("PR", "2", money("20.00"))], remarks=["N130"])
    claim = Claim("ACCT1", "ICN1", "1", money("100.00"), money("60.00"), money("20.00"),
                  "DOE, JANE", "W123", lines=[line], pages=[1])
    return Remittance("pdf", Party("Payer", "P1"), Party("Clinic", "1234567893"),
                      Payment("CHK", "T1", dt.date(2026, 10, 9), money(payment)), [claim],
                      [ProviderAdjustment("WO", money("5.00"))])


def test_json_round_trip_is_exact():
    remit = make_remit()
    data = remit.to_json()
    assert data["payment"]["amount"] == "55.00"
    assert data["claims"][0]["lines"][0]["modifiers"] == ["25"]
    assert data["claims"][0]["lines"][0]["date_of_service"] == "2026-10-02"
    assert Remittance.from_json(data).to_json() == data


def test_balanced_remittance_has_no_problems():
    assert check_remittance(make_remit()) == []


def test_unbalanced_line_claim_and_total_are_each_reported():
    problems = check_remittance(make_remit(line_paid="61.00", payment="56.00"))
    codes = [p.code for p in problems]
    assert codes == ["line-unbalanced", "remittance-unbalanced"]
    assert problems[0].expected == Decimal("60.00") and problems[0].actual == Decimal("61.00")
    assert problems[0].page == 1 and problems[0].line == 1
