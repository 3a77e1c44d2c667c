"""deadlines.yaml windows, Medicare receipt rule, default 60 days, internal target, admin edits,
and the priority score built on them."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal

import pytest

from claimwright.rules import RulesError
from claimwright.rules import deadlines as dl
from claimwright.rules.engine import categorize_remittance
from claimwright.rules.ruleset import load_rules
from claimwright.rules.priority import score_parts, sort_findings
from claimwright.settings import Settings

from denial_builders import MEDICARE, OTHER, adj, claim, line, remittance, single

DENIED = dt.date(2026, 10, 1)
DOS = dt.date(2026, 9, 1)


@pytest.fixture(scope="module")
def table():
    return dl.load_deadlines(Settings.deadlines)


def test_northwind_windows(table):
    due = table.due_dates("NWHP1", "", "appeal", DENIED, [DOS])
    assert due.due == DENIED + dt.timedelta(days=90)
    assert due.target == DENIED + dt.timedelta(days=72)  # floor(0.8 x 90)
    corrected = table.due_dates("NWHP1", "", "corrected claim", DENIED, [DOS])
    assert corrected.due == DENIED + dt.timedelta(days=90)
    new = table.due_dates("NWHP1", "", "new claim", DENIED, [DOS, DOS + dt.timedelta(days=3)])
    assert new.due == DOS + dt.timedelta(days=180) and new.window_days == 180
    assert new.target == DOS + dt.timedelta(days=144)
    entry = table.for_payer("NWHP1")
    assert entry.windows["appeal_level_2_days"] == 60 and entry.kind == "commercial"


def test_medicare_redetermination_counts_from_presumed_receipt(table):
    for payer_id, name in (("00000", ""), ("", "Medicare Part B JF")):
        due = table.due_dates(payer_id, name, "appeal", DENIED, [DOS])
        assert due.due == DENIED + dt.timedelta(days=5 + 120)
        assert due.target == DENIED + dt.timedelta(days=96)  # denial date + floor(0.8 x 120)
        assert "notice date + 5 days" in due.basis
    entry = table.for_payer("00000")
    assert entry.kind == "medicare" and entry.windows["appeal_level_2_days"] == 180
    assert entry.windows["timely_filing_days"] == 365


def test_unknown_payer_gets_the_default_60_days(table):
    due = table.due_dates("ACME9", "Acme Mutual", "appeal", DENIED, [DOS])
    assert due.due == DENIED + dt.timedelta(days=60)
    assert due.target == DENIED + dt.timedelta(days=48)
    records = table.due_dates("ACME9", "", "records response", DENIED, [DOS])
    assert records.due == DENIED + dt.timedelta(days=30)


def test_no_denial_date_means_no_due_date(table):
    due = table.due_dates("NWHP1", "", "appeal", None, [DOS])
    assert due.due is None and due.target is None and "unknown" in due.basis


def _copy(tmp_path, monkeypatch):
    path = tmp_path / "deadlines.yaml"
    shutil.copy(Settings.deadlines, path)
    monkeypatch.setenv("CLAIMWRIGHT_DEADLINES", str(path))
    return path


def _touch(path):
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_admin_changes_a_payer_window_and_the_next_run_uses_it(tmp_path, monkeypatch):
    path = _copy(tmp_path, monkeypatch)
    remit = single("CO-50", ["N115"])
    assert categorize_remittance(remit)[0].appeal_due == DENIED + dt.timedelta(days=90)
    text = path.read_text()
    path.write_text(text.replace("    appeal_level_1_days: 90\n", "    appeal_level_1_days: 120\n"))
    _touch(path)
    finding = categorize_remittance(remit)[0]
    assert finding.appeal_due == DENIED + dt.timedelta(days=120)
    assert finding.internal_target == DENIED + dt.timedelta(days=96)


def test_dated_entries_apply_from_their_effective_date(tmp_path, monkeypatch):
    path = _copy(tmp_path, monkeypatch)
    path.write_text(path.read_text() + """
  - id: NWHP1
    name: Northwind Health Plan
    kind: commercial
    effective_from: 2026-10-15
    appeal_level_1_days: 45
    appeal_level_2_days: 60
    corrected_claim_days: 90
    timely_filing_days: 180
    records_response_days: 30
""")
    _touch(path)
    before = categorize_remittance(single("CO-50", paid_on=dt.date(2026, 10, 14)))[0]
    after = categorize_remittance(single("CO-50", paid_on=dt.date(2026, 10, 15)))[0]
    assert before.appeal_due == dt.date(2026, 10, 14) + dt.timedelta(days=90)
    assert after.appeal_due == dt.date(2026, 10, 15) + dt.timedelta(days=45)


@pytest.mark.parametrize("old,new,field", [
    ("    appeal_level_1_days: 90\n", "    appeal_level_1_days: ninety\n", "appeal_level_1_days"),
    ("    effective_from: 2026-01-01\n", "    effective_from: soon\n", "effective_from"),
    ("    kind: commercial\n    effective_from: 2026", "    kind: hmo\n    effective_from: 2026",
     "kind"),
    ("    timely_filing_days: 180\n", "    timely_filing_dayz: 180\n", "timely_filing_dayz"),
])
def test_invalid_deadline_edit_is_refused_naming_the_line(tmp_path, old, new, field):
    source = (Settings.deadlines).read_text()
    assert old in source
    path = tmp_path / "deadlines.yaml"
    path.write_text(source.replace(old, new, 1))
    expected = next(n for n, text in enumerate(path.read_text().splitlines(), start=1)
                    if text == new.splitlines()[0])
    with pytest.raises(RulesError) as info:
        dl.load_deadlines(path)
    assert info.value.field.endswith(field)
    assert info.value.line == expected and f"deadlines.yaml:{expected}" in str(info.value)


# ---- priority --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def config():
    return load_rules().priority


def test_priority_formula_parts(config):
    as_of = dt.date(2026, 10, 1)
    parts = score_parts(Decimal("10000.00"), "medical necessity", as_of, as_of + dt.timedelta(10),
                        config, as_of=as_of)
    assert parts["dollars"] == 40 and parts["urgency"] == 25
    assert parts["recovery"] == Decimal(35) * Decimal("0.45")
    far = score_parts(Decimal("0.00"), "medical necessity", as_of + dt.timedelta(days=90),
                      as_of + dt.timedelta(days=120), config, as_of=as_of)
    assert far["dollars"] == 0 and far["urgency"] == 0
    half = score_parts(Decimal("1.00"), "duplicate", as_of + dt.timedelta(days=30),
                       as_of + dt.timedelta(days=40), config, as_of=as_of)
    assert half["urgency"] == Decimal("12.5")


def test_priority_orders_by_dollars_recovery_and_days_left():
    as_of = dt.date(2026, 10, 20)
    remit = remittance([
        claim("BIG", [line("99215", "4000.00", [adj("CO-50", "4000.00")])]),
        claim("SMALL", [line("99212", "40.00", [adj("CO-50", "40.00")])]),
        claim("NONCOV", [line("99212", "4000.00", [adj("CO-96", "4000.00")], ["N130"])]),
        claim("PAID", [line("99213", "200.00", [adj("CO-45", "60.00"), adj("PR-2", "28.00")])]),
    ])
    findings = categorize_remittance(remit, as_of=as_of)
    by_claim = {f.claim.payer_claim_id: f for f in findings if f.decision.is_denial}
    assert by_claim["BIG"].priority > by_claim["SMALL"].priority
    assert by_claim["BIG"].priority > by_claim["NONCOV"].priority  # same dollars, better odds
    assert all(f.priority == 0 for f in findings if not f.decision.is_denial)
    assert all(Decimal(0) <= f.priority <= Decimal(100) for f in findings)
    ordered = sort_findings([f for f in findings if f.decision.is_denial])
    assert [f.claim.payer_claim_id for f in ordered][0] == "BIG"
    soon = categorize_remittance(single("CO-50", amount="500.00"), as_of=dt.date(2026, 12, 10))
    late = categorize_remittance(single("CO-50", amount="500.00"), as_of=dt.date(2026, 10, 2))
    assert soon[0].priority > late[0].priority  # fewer days left to the internal target


def test_overdue_ranks_below_a_recoverable_item_of_the_same_size():
    as_of = dt.date(2027, 2, 1)  # NWHP1 appeal window (90 days from 2026-10-01) has closed
    overdue = categorize_remittance(single("CO-50", amount="900.00"), as_of=as_of)[0]
    assert overdue.appeal_due < as_of
    open_item = categorize_remittance(
        single("CO-50", amount="900.00", paid_on=dt.date(2026, 11, 20)), as_of=as_of)[0]
    assert open_item.appeal_due >= as_of
    assert open_item.priority > overdue.priority
    unknown_date = categorize_remittance(single("CO-50", paid_on=None), as_of=as_of)[0]
    assert unknown_date.appeal_due is None and unknown_date.priority > 0


def test_medicare_finding_gets_receipt_adjusted_due_date():
    finding = categorize_remittance(single("CO-50", ["N115"], payer=MEDICARE),
                                    as_of=DENIED)[0]
    assert finding.appeal_due == DENIED + dt.timedelta(days=125)
    assert finding.internal_target == DENIED + dt.timedelta(days=96)
    other = categorize_remittance(single("CO-50", payer=OTHER), as_of=DENIED)[0]
    assert other.appeal_due == DENIED + dt.timedelta(days=60)
