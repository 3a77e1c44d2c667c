"""The appeals ledger (one record per appeal and level) and the levels' names and due dates."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from decimal import Decimal as D

import pytest

from claimwright.storage import AppealUpdateError, Ledger, UnknownAppeal

KEY = "NWHP1:C1:L1"
DENIED_ON = dt.date(2026, 10, 5)


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    yield ledger
    ledger.close()


def prepare(ledger, claim="C1", level=1, **changes):
    values = dict(payer="northwind", payer_id="NWHP1", payer_claim_id=claim,
                  patient_account="CR1000001", level=level,
                  categories=["medical necessity", "authorization", "medical necessity"],
                  denied_amount=D("245.00"), denial_date=DENIED_ON,
                  appeal_due=dt.date(2027, 1, 3), packet_path="/out/packets/a.pdf",
                  inputs_hash="a" * 64, complete=False, missing=["progress-note"],
                  prepared_on=dt.date(2026, 10, 6))
    return ledger.prepare_appeal(**(values | changes))


# prepared -------------------------------------------------------------------------------------
def test_prepare_inserts_once_and_refreshes_only_the_packet_fields(ledger):
    rec = prepare(ledger)
    assert (rec.key, rec.status, rec.outcome, rec.level, rec.categories, rec.denied_amount,
            rec.recovered, rec.complete, rec.missing, rec.previous_key) == \
        (KEY, "prepared", "", 1, "authorization; medical necessity", D("245.00"), None, False,
         ["progress-note"], "")
    stamp = rec.updated_at
    again = prepare(ledger)  # a rerun with the same inputs changes nothing, not even updated_at
    assert (again.id, again.updated_at) == (rec.id, stamp)
    assert len(ledger.appeals()) == 1

    ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 9), channel="fax")
    done = prepare(ledger, packet_path="/out/packets/b.pdf", inputs_hash="b" * 64,
                   complete=True, missing=[], denied_amount="260.00",
                   appeal_due=dt.date(2027, 1, 10), prepared_on=dt.date(2026, 10, 20))
    assert (done.packet_path, done.inputs_hash, done.complete, done.missing, done.denied_amount,
            done.appeal_due) == ("/out/packets/b.pdf", "b" * 64, True, [], D("260.00"),
                                 dt.date(2027, 1, 10))
    # the status never moves back, the first prepared day and the sent facts stay
    assert (done.status, done.sent_on, done.prepared_on) == ("sent", dt.date(2026, 10, 9),
                                                             dt.date(2026, 10, 6))
    assert done.updated_at > stamp


def test_appeals_are_listed_by_key_and_filtered(ledger):
    prepare(ledger, "C2")
    prepare(ledger, "C1")
    ledger.prepare_appeal(payer="keystone", payer_id="12502", payer_claim_id="K1",
                          patient_account="KA1", level=1, categories="coding/bundling",
                          denied_amount=D("80.00"), denial_date=DENIED_ON, appeal_due=None,
                          packet_path="", inputs_hash="", complete=True, missing=[],
                          prepared_on=DENIED_ON)
    ledger.record_sent("NWHP1:C2:L1", sent_on=dt.date(2026, 10, 7), channel="mail")
    assert [r.key for r in ledger.appeals()] == ["12502:K1:L1", "NWHP1:C1:L1", "NWHP1:C2:L1"]
    assert [r.key for r in ledger.appeals(payer="northwind", status="prepared")] == [KEY]
    assert [r.key for r in ledger.appeals(level=2)] == []
    assert ledger.appeal("NWHP1:C9:L1") is None
    assert ledger.appeal("12502:K1:L1").categories == "coding/bundling"


@pytest.mark.parametrize("change, message", [
    ({"level": 0}, "level must be a whole number from 1"),
    ({"level": True}, "level must be a whole number from 1"),
    ({"payer_claim_id": " "}, "needs its payer id and payer claim id"),
    ({"denied_amount": 245.0}, "must be a Decimal or decimal text"),
    ({"denied_amount": "-1"}, "an amount of 0 or more"),
    ({"denied_amount": "lots"}, "is not an amount"),
    ({"prepared_on": "2026-10-06"}, "prepared_on must be a date"),
    ({"appeal_due": dt.datetime(2027, 1, 3)}, "appeal_due must be a date"),
])
def test_prepare_refuses_bad_values(ledger, change, message):
    with pytest.raises(AppealUpdateError, match=message):
        prepare(ledger, **change)
    assert ledger.appeals() == []


# sent -----------------------------------------------------------------------------------------
def test_sent_is_recorded_once_and_a_decided_appeal_stays_decided(ledger):
    prepare(ledger)
    assert ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 9), channel="fax", by="Ana")
    assert not ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 9), channel="fax", by="Ana")
    assert not ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 9), channel="fax")  # by kept
    rec = ledger.appeal(KEY)
    assert (rec.status, rec.sent_on, rec.channel, rec.sent_by) == \
        ("sent", dt.date(2026, 10, 9), "fax", "Ana")
    ledger.record_decision(KEY, outcome="upheld", decided_on=dt.date(2026, 11, 20))
    # a correction of the sent facts is taken; the status stays decided
    assert ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 8), channel="portal")
    rec = ledger.appeal(KEY)
    assert (rec.status, rec.outcome, rec.sent_on, rec.channel) == \
        ("decided", "upheld", dt.date(2026, 10, 8), "portal")


def test_sent_refuses_unknown_keys_channels_and_impossible_dates(ledger):
    prepare(ledger)
    with pytest.raises(UnknownAppeal) as err:
        ledger.record_sent("NWHP1:C9:L1", sent_on=DENIED_ON, channel="fax")
    assert isinstance(err.value, KeyError)
    assert str(err.value) == ("no appeal 'NWHP1:C9:L1' in the ledger (keys are "
                              "<payer id>:<payer claim id>:L<level>)")
    with pytest.raises(ValueError, match="channel must be one of portal, fax, mail, not 'email'"):
        ledger.record_sent(KEY, sent_on=DENIED_ON, channel="email")
    with pytest.raises(AppealUpdateError, match="denied on 2026-10-05: it cannot have been sent "
                                                "before that"):
        ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 1), channel="fax")
    ledger.record_decision(KEY, outcome="overturned", decided_on=dt.date(2026, 11, 2))
    with pytest.raises(AppealUpdateError, match="decided on 2026-11-02"):
        ledger.record_sent(KEY, sent_on=dt.date(2026, 11, 3), channel="fax")
    assert ledger.appeal(KEY).sent_on is None


# decided --------------------------------------------------------------------------------------
@pytest.mark.parametrize("outcome, recovered, expected", [
    ("overturned", None, D("245.00")), ("overturned", "120", D("120.00")),
    ("upheld", None, D("0.00")), ("upheld", "0.00", D("0.00")),
    ("partial", D("60.00"), D("60.00")),
])
def test_decisions_and_what_they_recovered(ledger, outcome, recovered, expected):
    prepare(ledger)
    ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 9), channel="portal")
    rec = ledger.record_decision(KEY, outcome=outcome, decided_on=dt.date(2026, 11, 2),
                                 recovered=recovered)
    assert (rec.status, rec.outcome, rec.recovered, rec.decided_on) == \
        ("decided", outcome, expected, dt.date(2026, 11, 2))
    stamp = ledger.appeal(KEY).updated_at
    ledger.record_decision(KEY, outcome=outcome, decided_on=dt.date(2026, 11, 2),
                           recovered=recovered)
    assert ledger.appeal(KEY).updated_at == stamp  # the same values twice: no change


@pytest.mark.parametrize("outcome, recovered, message", [
    ("won", None, "outcome must be one of overturned, upheld, partial"),
    ("partial", None, "a partial decision needs the amount recovered"),
    ("partial", "245.00", "more than 0 and less than the denied 245.00"),
    ("partial", "0", "more than 0 and less than the denied"),
    ("upheld", "10.00", "an upheld appeal recovers nothing"),
    ("overturned", "300.00", "recovered 300.00 is more than the denied 245.00"),
    ("overturned", -5, "an amount of 0 or more"),
])
def test_decisions_refuse_what_cannot_be(ledger, outcome, recovered, message):
    prepare(ledger)
    with pytest.raises(AppealUpdateError, match=message):
        ledger.record_decision(KEY, outcome=outcome, decided_on=dt.date(2026, 11, 2),
                               recovered=recovered)
    assert ledger.appeal(KEY).status == "prepared"


def test_a_decision_before_the_appeal_was_sent_is_refused(ledger):
    prepare(ledger)
    ledger.record_sent(KEY, sent_on=dt.date(2026, 10, 9), channel="fax")
    with pytest.raises(AppealUpdateError, match="sent on 2026-10-09"):
        ledger.record_decision(KEY, outcome="upheld", decided_on=dt.date(2026, 10, 8))
    with pytest.raises(UnknownAppeal):
        ledger.record_decision("X:Y:L1", outcome="upheld", decided_on=dt.date(2026, 10, 8))


# next level -----------------------------------------------------------------------------------
def test_an_upheld_appeal_proposes_its_next_level_once(ledger):
    prepare(ledger, complete=True, missing=[])
    with pytest.raises(AppealUpdateError, match="only an upheld appeal has a next level"):
        ledger.propose_next_level(KEY, on=dt.date(2026, 11, 21))
    ledger.record_decision(KEY, outcome="upheld", decided_on=dt.date(2026, 11, 20))
    nxt = ledger.propose_next_level(KEY, on=dt.date(2026, 11, 21))
    # Northwind (NWHP1, commercial, deadlines.yaml from 2026-01-01): level 2 within 60 days
    assert (nxt.key, nxt.level, nxt.status, nxt.previous_key, nxt.appeal_due, nxt.packet_path,
            nxt.inputs_hash, nxt.complete, nxt.missing, nxt.prepared_on) == \
        ("NWHP1:C1:L2", 2, "prepared", KEY, dt.date(2027, 1, 19), "", "", False, [],
         dt.date(2026, 11, 21))
    assert (nxt.denied_amount, nxt.categories, nxt.denial_date, nxt.patient_account) == \
        (D("245.00"), "authorization; medical necessity", DENIED_ON, "CR1000001")
    again = ledger.propose_next_level(KEY, on=dt.date(2026, 11, 25))
    assert (again.id, again.prepared_on) == (nxt.id, dt.date(2026, 11, 21))
    assert len(ledger.appeals()) == 2
    # the packet stage then writes its packet
    built = prepare(ledger, level=2, packet_path="/out/packets/l2.pdf", inputs_hash="c" * 64,
                    appeal_due=nxt.appeal_due, prepared_on=dt.date(2026, 11, 22),
                    previous_key=KEY)
    assert (built.id, built.packet_path, built.previous_key) == (nxt.id, "/out/packets/l2.pdf",
                                                                 KEY)
    # level 2 upheld: nothing further is followed
    ledger.record_decision("NWHP1:C1:L2", outcome="upheld", decided_on=dt.date(2027, 1, 30))
    assert ledger.propose_next_level("NWHP1:C1:L2", on=dt.date(2027, 2, 1)) is None
    assert len(ledger.appeals()) == 2


def test_a_medicare_payer_is_found_by_the_name_on_its_remittances(ledger):
    doc, _ = ledger.add_document(payer="keystone", remittance_id="KM-1", sha256="k" * 64,
                                 path="/synthetic/KM-1.835", size=1)
    ledger.save_remittance(doc.id, 0, {
        "payer": {"id": "12502", "name": "Keystone Medicare Services"}, "balanced": True,
        "claims": [], "payment": {"trace_number": "T", "date": "2026-10-01", "amount": "0"}})
    ledger.prepare_appeal(payer="keystone", payer_id="12502", payer_claim_id="K1",
                          patient_account="KA1", level=1, categories="medical necessity",
                          denied_amount=D("80.00"), denial_date=DENIED_ON, appeal_due=None,
                          packet_path="p", inputs_hash="h", complete=True, missing=[],
                          prepared_on=DENIED_ON)
    ledger.record_decision("12502:K1:L1", outcome="upheld", decided_on=dt.date(2026, 11, 20))
    nxt = ledger.propose_next_level("12502:K1:L1", on=dt.date(2026, 11, 21))
    assert nxt.appeal_due == dt.date(2026, 11, 20) + dt.timedelta(days=5 + 180)
    assert ledger.payer_name("12502") == "Keystone Medicare Services"
    assert ledger.payer_name("NOPE") == ""


# levels ---------------------------------------------------------------------------------------
def test_level_names_and_next_due_dates():
    from claimwright.appeals.levels import (MAX_LEVEL, LevelError, later_levels_note,
                                            level_name, next_level_due)

    assert MAX_LEVEL == 2
    medicare = ("12502", "Keystone Medicare Services")
    assert [level_name(*medicare, n) for n in (1, 2)] == ["Redetermination", "Reconsideration"]
    assert [level_name("NWHP1", "", n) for n in (1, 2)] == ["Level 1 appeal", "Level 2 appeal"]
    assert level_name("ACME9", "Acme Mutual", 2) == "Level 2 appeal"  # the default entry
    decided = dt.date(2026, 3, 2)
    assert next_level_due(*medicare, 1, decided) == dt.date(2026, 9, 3)  # + 5 + 180
    assert next_level_due("NWHP1", "", 1, decided) == dt.date(2026, 5, 1)  # + 60
    # before Northwind's contract entry (2026-01-01) the default's 60 days apply too
    assert next_level_due("NWHP1", "", 1, dt.date(2025, 6, 1)) == dt.date(2025, 7, 31)
    assert next_level_due(*medicare, 2, decided) is None
    with pytest.raises(LevelError, match="level 3 is beyond level 2"):
        level_name(*medicare, 3)
    with pytest.raises(LevelError, match="whole number from 1"):
        next_level_due(*medicare, 0, decided)
    assert "ALJ hearing" in later_levels_note(*medicare)
    assert later_levels_note("NWHP1", "").startswith("Claimwright follows appeals up to level 2")


def test_an_admins_deadlines_edit_changes_the_next_due_date(tmp_path, monkeypatch):
    from claimwright.appeals.levels import next_level_due
    from claimwright.rules.deadlines import default_deadlines_path

    path = tmp_path / "deadlines.yaml"
    shutil.copy(default_deadlines_path(), path)
    monkeypatch.setenv("CLAIMWRIGHT_DEADLINES", str(path))
    assert next_level_due("NWHP1", "", 1, dt.date(2026, 3, 2)) == dt.date(2026, 5, 1)
    text = path.read_text().replace("appeal_level_2_days: 60\n    corrected_claim_days: 90",
                                    "appeal_level_2_days: 45\n    corrected_claim_days: 90")
    path.write_text(text)
    os.utime(path, (1, 1))
    assert next_level_due("NWHP1", "", 1, dt.date(2026, 3, 2)) == dt.date(2026, 4, 16)
