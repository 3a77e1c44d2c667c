"""The life of a review item: states, assignment, audit trail, what it is about, SLA, overview,
and the ``claimwright review ...`` commands. Synthetic data only."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from claimwright.cli import app
from claimwright.review import ACTIVE, ReviewQueue, ReviewStateError
from claimwright.review_sla import (ReviewSla, ReviewSlaError, age, breached, load_review_sla,
                                    parse_review_sla, sla_due)
from claimwright.review_view import ReviewView, about, overview
from claimwright.storage import Ledger
from claimwright.types import Failure, ReviewAbout, ReviewKind, ReviewState

T0 = dt.datetime(2026, 11, 2, 9, 0)  # naive UTC, as the ledger stores times
PATIENT = "ZEPHYR, QUILLA"           # synthetic patient name and account: never printed
ACCOUNT = "SYN-ACCT-77123"
MEMBER = "ZZ99887766"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock():
    return Clock(T0)


@pytest.fixture
def queue(tmp_path, clock):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ReviewQueue(ledger, clock=clock)
    ledger.close()


def _phi_context():
    return {"payer": "northwind", "remittance_id": "NW-RA-0001", "document_id": 1,
            "patient_name": PATIENT, "patient_account": ACCOUNT, "member_id": MEMBER,
            "payer_claim_id": "NWC-1001"}


def _open(queue, key="k1", kind="unknown-code", payer="northwind", context=None):
    return queue.open(kind, "NW-RA-0001 claim NWC-1001: unknown code CO-Z98", key=key,
                      payer=payer, context=context if context is not None else _phi_context(),
                      evidence=["/var/evidence/a.pdf"]).item


def _actions(queue, item_id):
    return [(e.action, e.actor) for e in queue.history(item_id)]


# states and transitions --------------------------------------------------------------------
def test_the_full_life_of_an_item_and_its_audit_trail(queue, clock):
    item = _open(queue)
    assert (item.status, item.assignee) == ("open", "")
    clock.advance(hours=1)
    assert queue.assign(item.id, "rivera", by="lead").assignee == "rivera"
    clock.advance(hours=1)
    started = queue.start(item.id, by="rivera")
    assert (started.status, started.assignee) == (ReviewState.IN_REVIEW, "rivera")
    clock.advance(hours=1)
    done = queue.resolve(item.id, "added CO-Z98 to the code tables", by="rivera")
    assert done.status == "resolved" and done.resolved_at == clock.now
    assert done.resolution == "added CO-Z98 to the code tables"
    assert done.context == _phi_context() and done.evidence == ["/var/evidence/a.pdf"]
    clock.advance(days=2)
    again = queue.reopen(item.id, by="lead", why="the code came back on another payer")
    assert (again.status, again.resolved_at, again.assignee) == ("open", None, "rivera")
    clock.advance(hours=1)
    gone = queue.dismiss(item.id, "payer retired the code", by="lead")
    assert gone.status == "dismissed" and gone.resolution == "payer retired the code"
    assert gone.evidence == ["/var/evidence/a.pdf"] and gone.context == _phi_context()

    events = queue.history(item.id)
    assert [(e.action, e.actor) for e in events] == [
        ("opened", "claimwright"), ("assigned", "lead"), ("started", "rivera"),
        ("resolved", "rivera"), ("reopened", "lead"), ("dismissed", "lead")]
    assert [e.at for e in events] == [T0, T0 + dt.timedelta(hours=1),
                                      T0 + dt.timedelta(hours=2), T0 + dt.timedelta(hours=3),
                                      T0 + dt.timedelta(days=2, hours=3),
                                      T0 + dt.timedelta(days=2, hours=4)]
    assert events[1].detail == "to rivera"
    assert events[4].detail == "the code came back on another payer"
    assert events[5].detail == "payer retired the code"


def test_start_assigns_the_starter_only_when_no_one_has_it(queue):
    a, b = _open(queue, "a"), _open(queue, "b")
    queue.assign(b.id, "chen", by="lead")
    assert queue.start(a.id, by="okafor").assignee == "okafor"
    assert queue.start(b.id, by="okafor").assignee == "chen"


@pytest.mark.parametrize("setup, call, message", [
    ("resolved", lambda q, i: q.resolve(i, "again", by="x"), "is resolved"),
    ("resolved", lambda q, i: q.dismiss(i, "why", by="x"), "is resolved"),
    ("resolved", lambda q, i: q.assign(i, "chen", by="x"), "is resolved"),
    ("resolved", lambda q, i: q.start(i, by="x"), "is resolved"),
    ("dismissed", lambda q, i: q.resolve(i, "done", by="x"), "is dismissed"),
    ("in-review", lambda q, i: q.start(i, by="x"), "is in-review"),
    ("open", lambda q, i: q.reopen(i, by="x", why="w"), "is open"),
    ("open", lambda q, i: q.dismiss(i, "  ", by="x"), "reason"),
    ("open", lambda q, i: q.resolve(i, ""), "resolution"),
    ("open", lambda q, i: q.assign(i, "", by="x"), "user"),
    ("open", lambda q, i: q.start(i, by=""), "who does it"),
    ("resolved", lambda q, i: q.reopen(i, by="x", why=""), "why"),
])
def test_invalid_transitions_are_refused_and_change_nothing(queue, setup, call, message):
    item = _open(queue)
    if setup == "in-review":
        queue.start(item.id, by="x")
    elif setup == "resolved":
        queue.resolve(item.id, "fixed", by="x")
    elif setup == "dismissed":
        queue.dismiss(item.id, "noise", by="x")
    before = (queue.get(item.id).status, len(queue.history(item.id)))
    with pytest.raises(ReviewStateError, match=message):
        call(queue, item.id)
    assert (queue.get(item.id).status, len(queue.history(item.id))) == before
    assert issubclass(ReviewStateError, ValueError)


def test_unknown_items_raise_key_error(queue):
    for call in (lambda: queue.resolve(9999, "nothing"), lambda: queue.history(9999),
                 lambda: queue.assign(9999, "chen", by="x"),
                 lambda: queue.record(9999, "viewed-phi", by="x")):
        with pytest.raises(KeyError):
            call()


def test_old_resolve_signature_and_items_filters_keep_working(queue):
    a, b, c = _open(queue, "a"), _open(queue, "b", payer="keystone"), _open(queue, "c")
    queue.start(b.id, by="chen")
    queue.resolve(c.id, "added to table")  # the old positional call, no actor
    assert [e.actor for e in queue.history(c.id)][-1] == "unknown"
    assert [i.id for i in queue.items()] == [a.id]                      # "open" means open
    assert [i.id for i in queue.items(status=ACTIVE)] == [a.id, b.id]
    assert [i.id for i in queue.items(status="resolved")] == [c.id]
    assert [i.id for i in queue.items(status=None, payer="keystone")] == [b.id]
    assert [i.id for i in queue.items(status=ACTIVE, assignee="chen")] == [b.id]
    assert [i.id for i in queue.items(status=ACTIVE, assignee="")] == [a.id]


def test_resolve_open_item_resolves_in_review_items_too_with_an_event(queue):
    item = _open(queue, "pull:northwind")
    queue.start(item.id, by="chen")
    assert queue.ledger.resolve_open_item("pull:northwind", "cleared: attempt 2 succeeded")
    assert queue.get(item.id).status == "resolved"
    assert _actions(queue, item.id)[-1] == ("resolved", "claimwright")
    assert not queue.ledger.resolve_open_item("pull:northwind", "again")


# dedupe across states and bounded seen-again events --------------------------------------
def test_a_rerun_on_an_in_review_item_counts_an_occurrence_and_keeps_state_and_assignee(
        queue, clock):
    item = _open(queue)
    queue.assign(item.id, "chen", by="lead")
    queue.start(item.id, by="chen")
    clock.advance(days=1)
    again = queue.open("unknown-code", "same", key="k1", evidence=["/var/evidence/b.png"])
    assert not again.created
    got = queue.get(item.id)
    assert (got.status, got.assignee, got.occurrences) == ("in-review", "chen", 2)
    assert got.evidence == ["/var/evidence/a.pdf", "/var/evidence/b.png"]
    assert len(queue.items(status=None)) == 1
    assert queue.history(item.id)[-1].action == "seen-again"


def test_a_rerun_on_a_resolved_item_counts_it_and_leaves_it_resolved(queue, clock):
    """What upsert did before states existed, kept: a person may reopen it."""
    item = _open(queue)
    queue.resolve(item.id, "fixed", by="chen")
    clock.advance(days=1)
    assert not queue.open("unknown-code", "same", key="k1").created
    got = queue.get(item.id)
    assert (got.status, got.occurrences, got.last_seen_at) == ("resolved", 2, clock.now)
    last = queue.history(item.id)[-1]
    assert (last.action, last.detail) == ("seen-again", "occurrence 2; stays resolved")


def test_seen_again_is_one_event_per_item_per_day(queue, clock):
    item = _open(queue)
    for _ in range(5):  # the same day as opened: no seen-again events at all
        clock.advance(minutes=10)
        queue.open("unknown-code", "same", key="k1")
    for day in range(1, 4):  # three nightly reruns, each meeting it three times
        clock.now = T0.replace(hour=2) + dt.timedelta(days=day)
        for _ in range(3):
            queue.open("unknown-code", "same", key="k1")
            clock.advance(minutes=1)
    events = queue.history(item.id)
    assert [e.action for e in events] == ["opened"] + ["seen-again"] * 3
    assert queue.get(item.id).occurrences == 1 + 5 + 9
    assert [e.detail for e in events[1:]] == ["occurrence 7", "occurrence 10", "occurrence 13"]


def test_record_adds_free_actions_but_not_lifecycle_ones(queue):
    item = _open(queue)
    event = queue.record(item.id, "viewed-phi", by="chen", detail="item page")
    assert (event.action, event.actor, event.detail, event.at) == (
        "viewed-phi", "chen", "item page", T0)
    queue.record(item.id, "document-attached", by="chen")
    assert queue.get(item.id).status == "open"
    for bad in ("resolved", "Viewed PHI", "", "x_y"):
        with pytest.raises(ValueError):
            queue.record(item.id, bad, by="chen")
    assert [a for a, _ in _actions(queue, item.id)] == ["opened", "viewed-phi",
                                                        "document-attached"]


# what it is about, system or business ----------------------------------------------------
def test_every_review_kind_is_system_or_business():
    assert {k.failure for k in ReviewKind} == {Failure.SYSTEM, Failure.BUSINESS}
    assert ReviewKind.PORTAL_FAILURE.failure is Failure.SYSTEM
    assert ReviewKind.UNBALANCED.failure is Failure.BUSINESS
    assert ReviewKind.MISSING_DOCUMENT.failure is Failure.BUSINESS


@pytest.mark.parametrize("kind, context, expected", [  # contexts as the pipeline opens them
    ("portal-failure", {"payer": "nw", "start": "2026-10-01", "end": "2026-11-01"}, "payer"),
    ("portal-failure", {"payer": "nw", "step": "status-check", "as_of": "2026-11-02"}, "payer"),
    ("document-failed", {"payer": "nw", "remittance_id": "NW-1", "url": "u"}, "remittance"),
    ("unreadable-document", {"payer": "nw", "remittance_id": "NW-1", "document_id": 3},
     "remittance"),
    ("unbalanced", {"remittance_id": "NW-1", "claim": ""}, "remittance"),
    ("unbalanced", {"remittance_id": "NW-1", "claim": "SYN-1"}, "claim"),
    ("unknown-code", {"remittance_id": "NW-1", "payer_claim_id": "C1"}, "claim"),
    ("status-action", {"payer": "nw", "kind": "appeal", "payer_claim_id": "C1"}, "claim"),
    ("missing-document", {"remittance_id": "NW-1", "payer_claim_id": "C1"}, "packet"),
    ("packet-check", {"remittance_id": "NW-1", "payer_claim_id": "C1"}, "packet"),
    ("output-failed", {"payer": "nw", "appeal": "X:C1:L1"}, "packet"),
    ("output-failed", {"where": "2026-11-02.md:4"}, "packet"),
    ("output-failed", {"worklist": "/out/worklists/coding-worklist.xlsx"}, "worklist"),
    ("output-failed", {"payer": "nw", "remittance_id": "NW-1", "document_id": 3},
     "remittance"),
    ("config-invalid", {"file": "followup.yaml"}, "config"),
])
def test_what_an_item_is_about(kind, context, expected):
    assert about(kind, context) is ReviewAbout(expected)


# SLA -------------------------------------------------------------------------------------
def test_the_shipped_sla_file_loads_and_names_only_known_kinds():
    sla = load_review_sla()
    assert sla.default_days == 3
    assert sla.days_for("portal-failure") == 1 and sla.days_for("missing-document") == 7
    assert set(sla.days) <= {k.value for k in ReviewKind}


@pytest.mark.parametrize("text, where", [
    ("default: {days: 3}\nkinds:\n  unbalanced: {days: 5}\n  portl-failure: {days: 1}\n",
     "sla.yaml:4: kinds.portl-failure: unknown review kind 'portl-failure'"),
    ("default: {days: 3}\nkinds:\n  unbalanced:\n    days: 0\n",
     "sla.yaml:4: kinds.unbalanced.days:"),
    ("default: {days: 3}\nkinds:\n  unbalanced: {days: 2, hours: 4}\n",
     "sla.yaml:3: kinds.unbalanced.hours:"),
    ("kinds: {}\n", "sla.yaml:1: default:"),
    ("default: {days: 3\n", "sla.yaml:2: not valid YAML"),
])
def test_a_wrong_sla_file_is_refused_with_its_line(tmp_path, text, where):
    path = tmp_path / "sla.yaml"
    path.write_text(text)
    with pytest.raises(ReviewSlaError) as info:
        parse_review_sla(path)
    assert str(info.value).startswith(where), str(info.value)


def test_the_setting_points_at_another_sla_file(tmp_path, monkeypatch):
    path = tmp_path / "mine.yaml"
    path.write_text("default: {days: 9}\n")
    monkeypatch.setenv("CLAIMWRIGHT_REVIEW_SLA", str(path))
    assert load_review_sla().days_for("unbalanced") == 9


def test_age_due_and_breach_with_a_fixed_now(queue, clock):
    sla = ReviewSla(3, {"portal-failure": 1})
    pull = _open(queue, "pull", kind="portal-failure", context={"payer": "nw"})
    code = _open(queue, "code")
    assert sla_due(pull, sla) == T0 + dt.timedelta(days=1)
    assert sla_due(code, sla) == T0 + dt.timedelta(days=3)
    now = T0 + dt.timedelta(days=1, minutes=1)
    assert (age(pull, now), breached(pull, now, sla), breached(code, now, sla)) == (1, True,
                                                                                    False)
    assert not breached(pull, T0 + dt.timedelta(days=1), sla)  # due means by then
    clock.advance(hours=30)
    closed = queue.resolve(pull.id, "portal back", by="chen")
    later = T0 + dt.timedelta(days=40)
    assert age(closed, later) == 1 and not breached(closed, later, sla)
    assert age(code, later) == 40 and breached(code, later, sla)


def test_overview_counts_kinds_ages_oldest_first_and_breaches(queue, clock):
    sla = ReviewSla(3, {"portal-failure": 1, "missing-document": 7})
    ids = {}
    for name, kind, days_ago in [("p1", "portal-failure", 0), ("p2", "portal-failure", 5),
                                 ("m1", "missing-document", 3), ("m2", "missing-document", 45),
                                 ("u1", "unknown-code", 10), ("x", "unknown-code", 12)]:
        clock.now = T0 - dt.timedelta(days=days_ago)
        ids[name] = _open(queue, name, kind=kind, context={"payer": "nw"}).id
    clock.now = T0
    queue.start(ids["m1"], by="chen")
    queue.dismiss(ids["x"], "duplicate of u1", by="chen")
    ov = overview(queue.items(status=None), T0, sla)
    assert ov.total == 5 and ov.by_state == {"open": 4, "in-review": 1}
    assert ov.buckets == {"0-1": 1, "2-7": 2, "8-30": 1, "31+": 1}
    rows = {r.kind: r for r in ov.kinds}
    assert rows["portal-failure"].buckets == {"0-1": 1, "2-7": 1, "8-30": 0, "31+": 0}
    assert (rows["portal-failure"].open, rows["portal-failure"].breached,
            rows["portal-failure"].oldest_days) == (2, 1, 5)
    assert rows["missing-document"].breached == 1 and rows["unknown-code"].open == 1
    assert [v.id for v in ov.oldest] == [ids["m2"], ids["u1"], ids["p2"], ids["m1"], ids["p1"]]
    assert [v.id for v in ov.breaches] == [ids["m2"], ids["u1"], ids["p2"]]
    assert ov.kinds[0].kind in ("missing-document", "portal-failure", "unknown-code")
    json.dumps(ov.to_json())  # plain data for the console


def test_the_view_carries_no_context(queue):
    view = ReviewView.of(_open(queue), T0, ReviewSla())
    text = json.dumps(view.to_json())
    assert (view.about, view.failure, view.state) == ("claim", "business", "open")
    for phi in (PATIENT, ACCOUNT, MEMBER):
        assert phi not in text


# the CLI ---------------------------------------------------------------------------------
@pytest.fixture
def cli_queue(workspace):
    ledger = Ledger(workspace.database_url)
    yield ReviewQueue(ledger)
    ledger.close()


def _cli(*args):
    return CliRunner().invoke(app, ["review", *args])


def test_cli_list_filters_and_shows_state_assignee_age_and_breach(cli_queue):
    old = cli_queue.open("portal-failure", "northwind pull stopped: captcha", key="pull:nw",
                         payer="northwind", context={"payer": "northwind"}).item
    with cli_queue.ledger.session() as s:  # first seen 4 days ago: past its 1-day SLA
        s.get(type(old), old.id).created_at -= dt.timedelta(days=4)
    code = _open(cli_queue, "code", payer="keystone")
    cli_queue.assign(code.id, "chen", by="lead")

    out = _cli("list")
    assert out.exit_code == 0, out.output
    assert f"#{old.id}" in out.output and f"#{code.id}" in out.output
    assert "SLA BREACHED" in out.output and "chen" in out.output and "4d" in out.output
    assert "2 item(s), 1 past their SLA." in out.output
    assert f"#{code.id}" not in _cli("list", "--breached").output
    assert f"#{old.id}" not in _cli("list", "--assignee", "chen").output
    assert f"#{old.id}" not in _cli("list", "--payer", "keystone").output
    assert f"#{code.id}" not in _cli("list", "--kind", "portal-failure").output
    assert _cli("list", "--state", "in-review").output.strip() == "No review items."
    assert _cli("list", "--state", "closed").exit_code == 2
    data = json.loads(_cli("list", "--json").output)
    assert {d["state"] for d in data} == {"open"} and data[0]["breached"] is True
    assert data[1]["context"]["patient_name"] != PATIENT  # masked, as before
    for phi in (PATIENT, ACCOUNT, MEMBER):
        assert phi not in out.output and phi not in _cli("list", "--json").output


def test_cli_assign_start_dismiss_reopen_resolve_history_and_overview(cli_queue):
    item = _open(cli_queue)
    assert _cli("assign", str(item.id), "chen", "--by", "lead").exit_code == 0
    assert _cli("start", str(item.id), "--by", "chen").exit_code == 0
    out = _cli("dismiss", str(item.id), "--reason", "payer retired the code", "--by", "chen")
    assert out.exit_code == 0 and f"Dismissed #{item.id}." in out.output
    refused = _cli("dismiss", str(item.id), "--reason", "again", "--by", "chen")
    assert refused.exit_code == 2 and "is dismissed" in refused.output
    assert _cli("reopen", str(item.id), "--why", "seen on keystone").exit_code == 0
    assert _cli("resolve", str(item.id), "--note", "added to the tables").exit_code == 0
    assert cli_queue.get(item.id).status == "resolved"

    history = _cli("history", str(item.id))
    assert history.exit_code == 0
    lines = history.output.splitlines()
    assert [line.split()[3] for line in lines] == ["opened", "assigned", "started",
                                                   "dismissed", "reopened", "resolved"]
    assert lines[1].split()[2] == "lead" and lines[0].split()[1].endswith("Z")
    import getpass
    assert lines[4].split()[2] == getpass.getuser()  # --by defaults to the OS user
    assert _cli("history", "999").exit_code == 2

    other = _open(cli_queue, "other")
    ov = _cli("overview")
    assert ov.exit_code == 0 and "unknown-code" in ov.output and f"#{other.id}" in ov.output
    assert json.loads(_cli("overview", "--json").output)["total"] == 1
    for phi in (PATIENT, ACCOUNT, MEMBER):
        assert phi not in history.output and phi not in ov.output
    show = _cli("show", str(item.id))
    assert json.loads(show.output)["state"] == "resolved" and PATIENT not in show.output
