"""The nightly status check follows each appeal record: sent, decided (with the amount the
portal's notes give), the next level proposed with its own due date, review items once.

The portal's answers come from the mock portals' status book (fixtures/portals/status_pages.py),
the same rows the bot reads off the status pages (tests/test_status_checks.py checks the bot
reads them exactly); here a stand-in for ``bots.check_statuses`` hands them to the pipeline, so
no browser is needed. One browser test at the end runs the real bot once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from decimal import Decimal as D

import pytest
from portal_fixtures import SAMPLE_ANCHOR

from claimwright.rules.followup import interpret
from fixtures.portals import create_app, demo_environment, running_portal_server
from fixtures.portals.status_pages import PARTIAL

CHECK_DAY = dt.date(2026, 3, 10)
NAMES = {"northwind": "Northwind Health Plan", "keystone": "Keystone Medicare Services"}
IDS = {"northwind": "NWHP1", "keystone": "12502"}


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """The status books of the Northwind (4 remittances) and Keystone (1) mock portals."""
    from fixtures.remittances import build_dataset

    out = {}
    for payer, count in (("northwind", 4), ("keystone", 1)):
        folder = tmp_path_factory.mktemp(f"appeal-status-{payer}") / payer
        build_dataset(payer, folder, count=count, anchor=SAMPLE_ANCHOR, anomalies=False)
        out[payer] = create_app(payer, folder).state.status_book
    yield out
    for book in out.values():
        book.unpin_all()


@pytest.fixture
def portal_bot(books, monkeypatch):
    """``bots.check_statuses`` answering from the status books, as the status pages would."""
    from bots import StatusReport, StatusResult

    asked: list[tuple[str, str, str]] = []

    def check_statuses(payer, queries, *, on_report=None, **_):
        result = StatusResult(payer)
        for q in queries:
            asked.append((payer, q.kind, q.payer_claim_id))
            book = books[payer]
            row = (book.claim_status(q.payer_claim_id) if q.kind == "claim"
                   else book.appeal_status(q.payer_claim_id))
            report = StatusReport(q.kind, q.payer_claim_id, row is not None,
                                  row.status if row else "", row.status_date if row else None,
                                  row.notes if row else "", row.appeal_number if row else "")
            result.reports.append(report)
            on_report(report)
        return result

    monkeypatch.setattr("bots.check_statuses", check_statuses)
    for book in books.values():
        book.unpin_all()
    return asked


def _remittance(ledger, payer: str) -> None:
    """A stored remittance naming the payer (the deadlines match Medicare by name)."""
    name = f"{payer}-RA"
    doc, _ = ledger.add_document(payer=payer, remittance_id=name, path=f"/synthetic/{name}",
                                 sha256=hashlib.sha256(name.encode()).hexdigest(), size=1)
    ledger.save_remittance(doc.id, 0, {
        "payer": {"id": IDS[payer], "name": NAMES[payer]}, "balanced": True, "claims": [],
        "payment": {"trace_number": "T1", "date": "2026-01-05", "amount": "0.00"}})


def _appeal(ledger, payer: str, claim: str, denied: str, *, account: str = "CR9000001"):
    return ledger.prepare_appeal(
        payer=payer, payer_id=IDS[payer], payer_claim_id=claim, patient_account=account,
        level=1, categories=["medical necessity"], denied_amount=D(denied),
        denial_date=dt.date(2026, 1, 5), appeal_due=dt.date(2026, 4, 5),
        packet_path=f"/out/packets/{payer}/appeal-{claim}.pdf", inputs_hash="h" * 64,
        complete=True, missing=[], prepared_on=dt.date(2026, 1, 6))


@pytest.fixture
def ctx(workspace):
    from claimwright.pipeline import Context

    ctx = Context.from_settings()
    for payer in IDS:
        _remittance(ctx.ledger, payer)
    yield ctx
    ctx.ledger.close()


def _check(ctx, payer, day):
    from claimwright.pipeline.followup import check_payer_statuses

    counts = check_payer_statuses(ctx, payer, as_of=day)
    assert counts.errors == []
    return counts


def test_decisions_from_the_portal_are_recorded_with_their_amounts(ctx, books, portal_bot):
    book = books["northwind"]
    pin = book.pin
    pin("appeal", "NW-OVER", "Decision Overturned", status_date=dt.date(2026, 3, 2),
        notes="Denial overturned; claim reprocessed. Paid $100.00.")
    pin("appeal", "NW-FULL", "Decision Overturned", status_date=dt.date(2026, 3, 3),
        notes="Denial overturned; claim sent for reprocessing.")
    pin("appeal", "NW-PART", PARTIAL, status_date=dt.date(2026, 3, 4),
        notes="Partially overturned: $60.00 allowed; see decision letter.")
    pin("appeal", "NW-NOAMT", PARTIAL, status_date=dt.date(2026, 3, 4),
        notes="See decision letter.")
    pin("appeal", "NW-RECV", "Appeal Received", status_date=dt.date(2026, 1, 20))
    pin("appeal", "NW-GONE", None)
    for claim in ("NW-OVER", "NW-FULL", "NW-PART", "NW-NOAMT", "NW-RECV", "NW-GONE"):
        _appeal(ctx.ledger, "northwind", claim, "245.00")
    ctx.ledger.record_sent("NWHP1:NW-FULL:L1", sent_on=dt.date(2026, 1, 9), channel="fax",
                           by="A. Specialist")

    counts = _check(ctx, "northwind", CHECK_DAY)
    assert (counts.open_appeals, counts.checked, counts.appeals_decided,
            counts.appeals_marked_sent) == (6, 6, 3, 4)
    got = {r.payer_claim_id: r for r in ctx.ledger.appeals(payer="northwind")}
    assert (got["NW-OVER"].status, got["NW-OVER"].outcome, got["NW-OVER"].recovered,
            got["NW-OVER"].decided_on) == ("decided", "overturned", D("100.00"),
                                           dt.date(2026, 3, 2))
    assert got["NW-FULL"].recovered == D("245.00")  # no amount in the notes: the denied amount
    assert (got["NW-PART"].outcome, got["NW-PART"].recovered) == ("partial", D("60.00"))
    # found on the portal while "prepared": recorded as sent by portal on the portal's date
    assert (got["NW-RECV"].status, got["NW-RECV"].channel, got["NW-RECV"].sent_on,
            got["NW-RECV"].sent_by) == ("sent", "portal", dt.date(2026, 1, 20), "status check")
    assert (got["NW-OVER"].sent_on, got["NW-OVER"].channel) == (dt.date(2026, 3, 2), "portal")
    # what the team recorded stays
    assert (got["NW-FULL"].sent_on, got["NW-FULL"].channel, got["NW-FULL"].sent_by) == \
        (dt.date(2026, 1, 9), "fax", "A. Specialist")
    # a partial decision without an amount is not guessed: a person records it
    assert (got["NW-NOAMT"].status, got["NW-NOAMT"].outcome) == ("sent", "")
    assert (got["NW-GONE"].status, got["NW-GONE"].sent_on) == ("prepared", None)
    checks = ctx.ledger.latest_checks("northwind")
    assert checks[("appeal", "NW-PART")].status == "partial" and checks[("appeal", "NW-PART")].final

    items = {i.key: i for i in ctx.queue.items(kind="status-action")}
    assert set(items) == {"status-action:northwind:appeal:NW-NOAMT:partial",
                          "status-action:northwind:appeal:NW-GONE:not-found"}
    noamt = items["status-action:northwind:appeal:NW-NOAMT:partial"]
    assert "claimwright appeals decided NW-NOAMT --payer-id NWHP1 --level 1 --outcome partial " \
           "--recovered AMOUNT" in noamt.reason
    assert "CR9000001" not in json.dumps([i.context for i in items.values()]) + \
        " ".join(i.reason for i in items.values())

    # the decided ones are not asked again; a second run the same day asks nothing
    assert {i.payer_claim_id for i in ctx.ledger.open_followups("northwind")} == \
        {"NW-NOAMT", "NW-RECV", "NW-GONE"}
    asked = len(portal_bot)
    again = _check(ctx, "northwind", CHECK_DAY)
    assert (again.due, again.checked, again.review_opened) == (0, 0, 0) and \
        len(portal_bot) == asked


def test_an_upheld_commercial_appeal_proposes_level_2_and_follows_it(ctx, books, portal_bot):
    from claimwright.pipeline.followup import due_items

    book = books["northwind"]
    book.pin("appeal", "NW-UP", "Decision Upheld", status_date=dt.date(2026, 3, 2),
             notes="Original determination upheld; see decision letter.")
    _appeal(ctx.ledger, "northwind", "NW-UP", "245.00")
    counts = _check(ctx, "northwind", CHECK_DAY)
    assert (counts.appeals_decided, counts.next_levels_proposed) == (1, 1)

    first = ctx.ledger.appeal("NWHP1:NW-UP:L1")
    assert (first.status, first.outcome, first.recovered) == ("decided", "upheld", D("0.00"))
    second = ctx.ledger.appeal("NWHP1:NW-UP:L2")
    # Northwind's contract (deadlines.yaml, from 2026-01-01): level 2 within 60 days of the
    # decision, no receipt days
    assert (second.status, second.level, second.previous_key, second.appeal_due,
            second.packet_path, second.inputs_hash, second.prepared_on) == \
        ("prepared", 2, "NWHP1:NW-UP:L1", dt.date(2026, 5, 1), "", "", CHECK_DAY)
    assert (second.denied_amount, second.categories, second.patient_account) == \
        (D("245.00"), "medical necessity", "CR9000001")
    [item] = ctx.queue.items(kind="status-action")
    assert item.key == "status-action:northwind:appeal:NW-UP:upheld"
    assert "a Level 2 appeal is proposed, due 2026-05-01" in item.reason
    assert (item.context["next_level_key"], item.context["next_level_due"]) == \
        ("NWHP1:NW-UP:L2", "2026-05-01")

    # the next day the new level is due; the portal still shows level 1's decision: no news
    day2 = CHECK_DAY + dt.timedelta(days=1)
    assert [(i.payer_claim_id, i.level) for i in due_items(ctx.ledger, "northwind", day2)] == \
        [("NW-UP", 2)]
    _check(ctx, "northwind", day2)
    check = ctx.ledger.latest_checks("northwind")[("appeal", "NW-UP")]
    assert (check.status, check.final, check.needs_action, check.next_follow_up) == \
        ("previous-level", False, False, day2 + dt.timedelta(days=7))
    assert ctx.ledger.appeal("NWHP1:NW-UP:L2").status == "prepared"
    assert len(ctx.queue.items(kind="status-action")) == 1

    # the level-2 appeal shows up on the portal, then is upheld too: the last level followed
    book.pin("appeal", "NW-UP", "Appeal Received", status_date=dt.date(2026, 3, 14))
    _check(ctx, "northwind", day2 + dt.timedelta(days=7))
    assert (ctx.ledger.appeal("NWHP1:NW-UP:L2").status,
            ctx.ledger.appeal("NWHP1:NW-UP:L2").sent_on) == ("sent", dt.date(2026, 3, 14))
    book.pin("appeal", "NW-UP", "Decision Upheld", status_date=dt.date(2026, 4, 20))
    counts = _check(ctx, "northwind", dt.date(2026, 4, 21))
    assert (counts.appeals_decided, counts.next_levels_proposed) == (1, 0)
    assert ctx.ledger.appeal("NWHP1:NW-UP:L2").outcome == "upheld"
    assert ctx.ledger.appeal("NWHP1:NW-UP:L3") is None
    last = next(i for i in ctx.queue.items(kind="status-action") if i.key.endswith(":L2"))
    assert last.key == "status-action:northwind:appeal:NW-UP:upheld:L2"
    assert "level 2, the last level Claimwright follows" in last.reason
    assert ctx.ledger.open_followups("northwind") == []


def test_an_upheld_medicare_redetermination_proposes_a_reconsideration(ctx, books, portal_bot):
    """Keystone (payer id 12502, "Keystone Medicare Services") is Medicare in deadlines.yaml
    (names: *MEDICARE*): reconsideration within 180 days of receipt, receipt presumed 5 days
    after the decision's date."""
    book = books["keystone"]
    claim = "KM-UP"
    book.pin("appeal", claim, "Decision Upheld", status_date=dt.date(2026, 2, 27),
             notes="Redetermination: unfavorable.")
    _appeal(ctx.ledger, "keystone", claim, "180.00")
    _check(ctx, "keystone", CHECK_DAY)
    second = ctx.ledger.appeal(f"12502:{claim}:L2")
    assert second.appeal_due == dt.date(2026, 2, 27) + dt.timedelta(days=5 + 180) \
        == dt.date(2026, 8, 31)
    [item] = ctx.queue.items(kind="status-action")
    assert "a level 2 appeal (Reconsideration) is proposed, due 2026-08-31" in item.reason


def test_the_mock_portal_answers_partial_decisions_and_amounts_deterministically(books):
    from claimwright.appeals.status import amount_in_notes

    book = books["northwind"]
    rows = {n: book.appeal_status(n) for n, f in book.claims.items() if f.denied}
    partial = {n: r for n, r in rows.items() if r.status == PARTIAL}
    overturned = {n: r for n, r in rows.items() if r.status == "Decision Overturned"}
    assert partial and len(partial) < len(rows) / 3  # a small share
    for number, row in partial.items():
        denied = book.claims[number].denied_amount
        assert amount_in_notes(row.notes) == (denied / 2).quantize(D("0.01"))
        out = interpret("appeal", row.status, checked_on=CHECK_DAY)
        assert (out.status, out.final, out.needs_action) == ("partial", True, False)
    for number, row in overturned.items():
        assert amount_in_notes(row.notes) == book.claims[number].denied_amount
    assert {n: book.appeal_status(n) for n in rows} == rows  # same data, same answers


@pytest.mark.parametrize("notes, amount", [
    ("Paid $120.00", D("120.00")), ("Partially overturned: $60.00 allowed", D("60.00")),
    ("Paid $1,120.50 on 03/02", D("1120.50")),
    ("Paid $75", D("75.00")), ("See decision letter.", None), ("", None),
])
def test_amounts_are_read_from_the_notes(notes, amount):
    from claimwright.appeals.status import amount_in_notes

    assert amount_in_notes(notes) == amount


@pytest.mark.browser
def test_the_bot_reads_the_decisions_the_ledger_records(workspace, books, tmp_path_factory,
                                                         monkeypatch):
    """The real bot in Chromium against the Northwind mock portal, once."""
    from claimwright.pipeline import Context
    from claimwright.pipeline.followup import check_payer_statuses
    from fixtures.remittances import build_dataset

    data = tmp_path_factory.mktemp("appeal-status-browser") / "northwind"
    build_dataset("northwind", data, count=1, anchor=SAMPLE_ANCHOR, anomalies=False)
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path_factory.mktemp("sessions")))
    ctx = Context.from_settings()
    _remittance(ctx.ledger, "northwind")
    _appeal(ctx.ledger, "northwind", "NW-PART", "245.00")
    _appeal(ctx.ledger, "northwind", "NW-UP", "245.00")
    with running_portal_server("northwind", data) as server:
        book = server.app.state.status_book
        book.pin("appeal", "NW-PART", PARTIAL, status_date=dt.date(2026, 3, 4),
                 notes="Partially overturned: $60.00 allowed; see decision letter.")
        book.pin("appeal", "NW-UP", "Decision Upheld", status_date=dt.date(2026, 3, 2))
        counts = check_payer_statuses(ctx, "northwind", as_of=CHECK_DAY, base_url=server.url)
    assert counts.errors == [] and counts.appeals_decided == 2
    part = ctx.ledger.appeal("NWHP1:NW-PART:L1")
    assert (part.outcome, part.recovered, part.decided_on) == ("partial", D("60.00"),
                                                               dt.date(2026, 3, 4))
    assert ctx.ledger.appeal("NWHP1:NW-UP:L2").appeal_due == dt.date(2026, 5, 1)
    ctx.ledger.close()


def test_a_portal_date_after_the_check_day_is_recorded_as_the_check_day(ctx, books, portal_bot):
    """A portal cannot have decided tomorrow: what it dates after the day of the check is
    recorded on the day of the check (never a sent or decided date in the future)."""
    pin = books["northwind"].pin
    later = CHECK_DAY + dt.timedelta(days=9)
    pin("appeal", "NW-SOON", "Decision Overturned", status_date=later,
        notes="Denial overturned; claim reprocessed. Paid $100.00.")
    pin("appeal", "NW-RECV2", "Appeal Received", status_date=later)
    for claim in ("NW-SOON", "NW-RECV2"):
        _appeal(ctx.ledger, "northwind", claim, "245.00")
    _check(ctx, "northwind", CHECK_DAY)
    got = {r.payer_claim_id: r for r in ctx.ledger.appeals(payer="northwind")}
    assert (got["NW-SOON"].status, got["NW-SOON"].sent_on, got["NW-SOON"].decided_on) == \
        ("decided", CHECK_DAY, CHECK_DAY)
    assert (got["NW-RECV2"].status, got["NW-RECV2"].sent_on) == ("sent", CHECK_DAY)
