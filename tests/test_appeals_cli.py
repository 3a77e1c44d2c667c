"""``claimwright appeals sent|decided|list|figures`` and the figures of a hand-built ledger."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from claimwright.cli import app

ACCOUNT = "CR7770001"  # the synthetic patient account: never printed


def _appeal(ledger, payer_id, claim, denied, categories, *, denial=dt.date(2026, 10, 5),
            due=dt.date(2027, 1, 3), prepared=dt.date(2026, 10, 6), payer="northwind"):
    return ledger.prepare_appeal(
        payer=payer, payer_id=payer_id, payer_claim_id=claim, patient_account=ACCOUNT,
        level=1, categories=categories, denied_amount=D(denied), denial_date=denial,
        appeal_due=due, packet_path=f"/out/packets/{claim}.pdf", inputs_hash="h",
        complete=True, missing=[], prepared_on=prepared)


@pytest.fixture
def ledger(workspace):
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    yield ledger
    ledger.close()


@pytest.fixture
def hand(ledger):
    """Six appeals; as of 2026-12-01 every figure below can be counted by hand.

    C1 medical necessity, $245, sent after 4 days, overturned (recovers the $245)
    C2 medical necessity + authorization, $200, sent after 10 days, partial ($50)
    C3 authorization, $100, sent after 7 days, upheld (level 2 proposed 11-21, due 2027-01-19)
    D1 coding/bundling (Acme), $80, due 2026-11-30, never sent: past due
    D2 coding/bundling (Acme), $90, sent after 2 days, no decision yet
    D3 prepared on 2026-12-05: not there yet on 12-01
    """
    L = ledger
    _appeal(L, "NWHP1", "C1", "245.00", "medical necessity")
    _appeal(L, "NWHP1", "C2", "200.00", "medical necessity; authorization")
    _appeal(L, "NWHP1", "C3", "100.00", ["authorization"])
    acme = dict(payer="acme", denial=dt.date(2026, 10, 20), prepared=dt.date(2026, 10, 21))
    _appeal(L, "ACME9", "D1", "80.00", "coding/bundling", due=dt.date(2026, 11, 30), **acme)
    _appeal(L, "ACME9", "D2", "90.00", "coding/bundling", **acme)
    _appeal(L, "ACME9", "D3", "70.00", "coding/bundling", payer="acme",
            prepared=dt.date(2026, 12, 5))
    for claim, sent in (("C1", dt.date(2026, 10, 9)), ("C2", dt.date(2026, 10, 15)),
                        ("C3", dt.date(2026, 10, 12))):
        L.record_sent(f"NWHP1:{claim}:L1", sent_on=sent, channel="fax")
    L.record_sent("ACME9:D2:L1", sent_on=dt.date(2026, 10, 22), channel="portal")
    L.record_decision("NWHP1:C1:L1", outcome="overturned", decided_on=dt.date(2026, 11, 2))
    L.record_decision("NWHP1:C2:L1", outcome="partial", decided_on=dt.date(2026, 11, 10),
                      recovered=D("50.00"))
    L.record_decision("NWHP1:C3:L1", outcome="upheld", decided_on=dt.date(2026, 11, 20))
    L.propose_next_level("NWHP1:C3:L1", on=dt.date(2026, 11, 21))
    return L


def run(*args):
    return CliRunner().invoke(app, ["appeals", *args])


# figures --------------------------------------------------------------------------------------
def test_the_figures_of_a_hand_built_ledger(hand):
    from claimwright.appeals.figures import appeal_figures, appeals_summary_lines

    f = appeal_figures(hand, dt.date(2026, 12, 1))
    assert f.by_status == {"prepared": 2, "sent": 1, "decided": 3}  # D1 + C3's level 2; D2
    d = f.decided
    assert (d.decided, d.overturned, d.partial, d.upheld, d.denied, d.recovered) == \
        (3, 1, 1, 1, D("545.00"), D("295.00"))
    assert (d.overturn_rate, d.any_recovery_rate) == (D("0.3333"), D("0.6667"))
    necessity, auth = f.by_category["medical necessity"], f.by_category["authorization"]
    assert (necessity.decided, necessity.overturn_rate, necessity.any_recovery_rate,
            necessity.recovered) == (2, D("0.5000"), D("1.0000"), D("295.00"))
    assert (auth.decided, auth.overturn_rate, auth.any_recovery_rate, auth.recovered) == \
        (2, D("0.0000"), D("0.5000"), D("50.00"))
    assert set(f.by_category) == {"medical necessity", "authorization"}
    assert set(f.by_payer) == {"NWHP1"} and f.by_payer["NWHP1"].decided == 3
    # level-1 appeals sent: 4, 10, 7 and 2 days after the denial
    t = f.days_to_appeal
    assert (t.count, t.median, t.mean) == (4, D("5.5"), D("5.8"))
    assert (f.past_due, f.past_due_amount) == (1, D("80.00"))
    assert appeals_summary_lines(f) == [
        "Appeals (as of 2026-12-01): 2 prepared, 1 sent, 3 decided; 1 past due (prepared, not "
        "sent, $80.00 denied)",
        "  decided: 1 overturned, 1 partial, 1 upheld; overturn rate 33.3%, any recovery "
        "66.7%; $295.00 recovered",
        "  days from denial to appeal: median 5.5, mean 5.8 (4 level-1 appeal(s) sent)"]

    # as of 2026-11-05 the ledger read as it stood then: one decision, nothing past due yet
    early = appeal_figures(hand, dt.date(2026, 11, 5))
    assert early.by_status == {"prepared": 1, "sent": 3, "decided": 1}
    assert (early.decided.recovered, early.past_due, early.days_to_appeal.count) == \
        (D("245.00"), 0, 4)


def test_no_appeals_is_said_plainly(ledger):
    from claimwright.appeals.figures import appeal_figures, appeals_summary_lines

    f = appeal_figures(ledger, dt.date(2026, 12, 1))
    assert appeals_summary_lines(f) == ["Appeals (as of 2026-12-01): none recorded yet"]
    assert f.decided.overturn_rate is None and f.days_to_appeal.median is None


def test_the_figures_command_prints_the_table_and_json(hand):
    out = run("figures", "--as-of", "2026-12-01")
    assert out.exit_code == 0, out.output
    assert "overturn rate 33.3%, any recovery 66.7%; $295.00 recovered" in out.output
    lines = out.output.splitlines()
    row = next(x for x in lines if x.startswith("medical necessity"))
    assert row.split() == ["medical", "necessity", "2", "1", "1", "0", "50.0%", "100.0%",
                           "$295.00"]
    assert any(x.startswith("by payer id") for x in lines)
    data = json.loads(run("figures", "--as-of", "2026-12-01", "--json").output)
    assert data["by_status"] == {"prepared": 2, "sent": 1, "decided": 3}
    assert data["decided"]["recovered"] == "295.00"
    assert data["by_category"]["authorization"]["any_recovery_rate"] == "0.5000"
    assert data["days_from_denial_to_appeal"] == {"count": 4, "median": "5.5", "mean": "5.8"}
    assert data["past_due"] == {"count": 1, "denied": "80.00"}
    assert ACCOUNT not in out.output + json.dumps(data)


# sent -----------------------------------------------------------------------------------------
def test_sent_records_the_day_and_channel_once(ledger):
    _appeal(ledger, "NWHP1", "C1", "245.00", "medical necessity")
    out = run("sent", "C1", "--channel", "fax", "--on", "2026-10-09", "--by", "Ana Specialist")
    assert out.exit_code == 0, out.output
    assert out.output == "recorded: NWHP1 claim C1 level 1 sent on 2026-10-09 by fax\n"
    rec = ledger.appeal("NWHP1:C1:L1")
    assert (rec.status, rec.sent_on, rec.channel, rec.sent_by) == \
        ("sent", dt.date(2026, 10, 9), "fax", "Ana Specialist")
    again = run("sent", "C1", "--channel", "fax", "--on", "2026-10-09")
    assert again.exit_code == 0 and again.output.startswith("no change (already recorded)")
    today = run("sent", "C1", "--channel", "portal")  # --on defaults to today
    assert today.exit_code == 0 and ledger.appeal("NWHP1:C1:L1").sent_on == dt.date.today()


@pytest.mark.parametrize("args, message", [
    (["sent", "C1", "--channel", "email"], "--channel must be one of portal, fax, mail"),
    (["sent", "C1", "--channel", "fax", "--on", "10/09/2026"], "--on is not a date"),
    (["sent", "C1", "--channel", "fax", "--on", "2999-01-01"], "is in the future"),
    (["sent", "C1", "--channel", "fax", "--on", "2026-10-01"], "cannot have been sent before"),
    (["sent", "C9", "--channel", "fax"], "no appeal for claim C9 in the ledger"),
    (["sent", "C1", "--channel", "fax", "--level", "2"], "no appeal for claim C1 --level 2"),
    (["decided", "C1", "--outcome", "won"], "--outcome must be one of overturned, upheld"),
    (["decided", "C1", "--outcome", "partial"], "a partial decision needs the amount recovered"),
    (["decided", "C1", "--outcome", "partial", "--recovered", "x"], "is not an amount: 'x'"),
    (["list", "--status", "open"], "--status must be one of prepared, sent, decided"),
])
def test_usage_errors_and_unknown_appeals_exit_2(ledger, args, message):
    _appeal(ledger, "NWHP1", "C1", "245.00", "medical necessity")
    out = run(*args)
    assert out.exit_code == 2, out.output
    assert out.output.startswith("error: ") and message in out.output
    assert ledger.appeal("NWHP1:C1:L1").status == "prepared"


def test_a_claim_number_with_several_appeals_names_the_candidates(ledger):
    _appeal(ledger, "NWHP1", "X1", "245.00", "medical necessity")
    _appeal(ledger, "ACME9", "X1", "80.00", "coding/bundling", payer="acme")
    out = run("sent", "X1", "--channel", "mail")
    assert out.exit_code == 2
    assert out.output == ("error: claim X1 has 2 appeals (payer id ACME9 level 1, payer id "
                          "NWHP1 level 1): name one with --payer-id and/or --level\n")
    assert ACCOUNT not in out.output
    assert run("sent", "X1", "--channel", "mail", "--payer-id", "ACME9", "--on",
               "2026-10-21").exit_code == 0
    assert (ledger.appeal("ACME9:X1:L1").status, ledger.appeal("NWHP1:X1:L1").status) == \
        ("sent", "prepared")

    # levels of one claim: the same
    ledger.record_decision("ACME9:X1:L1", outcome="upheld", decided_on=dt.date(2026, 11, 2))
    ledger.propose_next_level("ACME9:X1:L1", on=dt.date(2026, 11, 3))
    out = run("sent", "X1", "--channel", "mail", "--payer-id", "ACME9")
    assert "payer id ACME9 level 1, payer id ACME9 level 2" in out.output
    assert run("sent", "X1", "--channel", "mail", "--payer-id", "ACME9", "--level",
               "2").exit_code == 0
    assert ledger.appeal("ACME9:X1:L2").status == "sent"


# decided --------------------------------------------------------------------------------------
def test_decided_records_the_outcome_and_an_upheld_one_proposes_level_2(ledger):
    _appeal(ledger, "NWHP1", "C1", "245.00", "medical necessity")
    _appeal(ledger, "NWHP1", "C2", "245.00", "medical necessity")
    out = run("decided", "C1", "--outcome", "partial", "--recovered", "$60.00", "--on",
              "2026-11-02")
    assert out.exit_code == 0, out.output
    assert out.output == "recorded: NWHP1 claim C1 level 1 partial on 2026-11-02, recovered " \
                         "$60.00\n"
    assert (ledger.appeal("NWHP1:C1:L1").outcome, ledger.appeal("NWHP1:C1:L1").recovered) == \
        ("partial", D("60.00"))
    same = run("decided", "C1", "--outcome", "partial", "--recovered", "60", "--on",
               "2026-11-02")
    assert same.output.startswith("no change (already recorded)")
    fixed = run("decided", "C1", "--outcome", "overturned", "--on", "2026-11-02")
    assert fixed.output.startswith("corrected: ") and "recovered $245.00" in fixed.output

    up = run("decided", "C2", "--outcome", "upheld", "--on", "2026-11-20")
    assert up.exit_code == 0, up.output
    assert up.output.splitlines() == [
        "recorded: NWHP1 claim C2 level 1 upheld on 2026-11-20, recovered $0.00",
        "proposed: level 2 (Level 2 appeal), due 2027-01-19; the next run builds its packet"]
    nxt = ledger.appeal("NWHP1:C2:L2")
    assert (nxt.status, nxt.appeal_due, nxt.prepared_on) == ("prepared", dt.date(2027, 1, 19),
                                                             dt.date.today())
    last = run("decided", "C2", "--level", "2", "--outcome", "upheld", "--on", "2026-11-25")
    assert last.exit_code == 0
    assert last.output.splitlines()[1].startswith("no further level: Claimwright follows "
                                                  "appeals up to level 2")


# list -----------------------------------------------------------------------------------------
def test_list_shows_no_phi_and_filters(hand):
    out = run("list")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].split() == ["payer", "payer", "id", "claim", "#", "level", "status",
                                "outcome", "denied", "recovered", "denied", "on", "due", "sent",
                                "channel", "decided"]
    assert lines[-1] == "7 appeal(s)."
    c2 = next(x for x in lines if " C2 " in x)
    assert c2.split() == ["northwind", "NWHP1", "C2", "1", "decided", "partial", "200.00",
                          "50.00", "2026-10-05", "2027-01-03", "2026-10-15", "fax",
                          "2026-11-10"]
    assert ACCOUNT not in out.output
    decided = run("list", "--status", "decided", "--json")
    assert [r["payer_claim_id"] for r in json.loads(decided.output)] == ["C1", "C2", "C3"]
    acme = json.loads(run("list", "--payer", "ACME9", "--json").output)
    assert {r["payer_claim_id"] for r in acme} == {"D1", "D2", "D3"}
    assert {r["payer_claim_id"] for r in json.loads(run("list", "--payer", "acme",
                                                        "--json").output)} == {"D1", "D2", "D3"}
    assert ACCOUNT not in decided.output
    assert run("list", "--payer", "nobody").output == "No appeal matches.\n"
