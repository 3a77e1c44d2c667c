"""Claim and appeal status: portal pages, the bot, follow-up rules, the pipeline and the flow."""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import shutil
from pathlib import Path

import pyotp
import pytest
import yaml
from portal_fixtures import SAMPLE_ANCHOR

from claimwright.errors import SystemFault
from claimwright.rules.source import RulesError
from claimwright.rules.followup import DEFAULT_PATH, interpret, load_followup, parse_followup
from fixtures.portals import create_app, demo_account, demo_environment, running_portal_server
from fixtures.portals.status_pages import (APPEAL_STATUSES, DENIED, IN_PROCESS, INFO_REQUESTED, PAID,
                                     appeal_number)

ACCOUNT = demo_account("northwind")
CHECK_DAY = dt.date(2024, 7, 1)


# data ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_dataset(tmp_path_factory) -> Path:
    """Four synthetic Northwind remittances with ground truth (their claims feed the pages)."""
    from fixtures.remittances import build_dataset

    out = tmp_path_factory.mktemp("status-data") / "northwind"
    build_dataset("northwind", out, count=4, anchor=SAMPLE_ANCHOR, anomalies=False)
    return out


@pytest.fixture(scope="module")
def app(small_dataset):
    return create_app("northwind", small_dataset)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    app.state.status_book.unpin_all()
    app.state.portal.set_faults(fail_first={})
    app.state.portal.hits.clear()
    with TestClient(app, follow_redirects=False) as c:
        response = c.post("/login", data={"username": ACCOUNT.username,
                                          "password": ACCOUNT.password})
        assert response.status_code == 303
        response = c.post("/login/mfa", data={"code": pyotp.TOTP(ACCOUNT.totp_secret).now()})
        assert response.status_code == 303
        yield c


def _numbers(book, status: str) -> list[str]:
    return sorted(n for n in book.claims if book.claim_status(n).status == status)


# 1. portal pages ------------------------------------------------------------------------------
def test_status_pages_need_a_session(app):
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as anonymous:
        for path in ("/claims/status?claim=123", "/appeals/status?claim=123"):
            response = anonymous.get(path)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")


def test_claim_status_page_covers_every_status_and_is_deterministic(app, client, small_dataset):
    book = app.state.status_book
    again = create_app("northwind", small_dataset).state.status_book
    assert len(book.claims) >= 20
    answers = {n: book.claim_status(n) for n in book.claims}
    assert answers == {n: again.claim_status(n) for n in again.claims}  # same data, same answers
    seen = collections.Counter(row.status for row in answers.values())
    assert {PAID, DENIED, IN_PROCESS, INFO_REQUESTED} <= set(seen), seen
    # a claim the remittance paid in full is finalized; only denied claims get other statuses
    assert all(answers[n].status == PAID for n, f in book.claims.items() if not f.denied)

    number = _numbers(book, INFO_REQUESTED)[0]
    html = client.get("/claims/status", params={"claim": number}).text
    assert "Payer claim number" in html and 'id="status-result"' in html
    assert f"<td>{number}</td><td>{INFO_REQUESTED}</td>" in html
    assert "Requested documents:" in html
    assert f"{answers[number].status_date:%m/%d/%Y}" in html

    number = _numbers(book, DENIED)[0]
    html = client.get("/claims/status", params={"claim": number}).text
    assert f"<td>{DENIED}</td>" in html and "Reason codes: " in html

    html = client.get("/claims/status", params={"claim": "0000000000"}).text
    assert "No claim found for payer claim number 0000000000." in html
    assert 'id="status-result"' not in html
    # the bare page is the search form only
    html = client.get("/claims/status").text
    assert "<form" in html and "status-result" not in html and "No claim found" not in html


def test_appeal_status_by_claim_or_appeal_number(app, client):
    book = app.state.status_book
    denied = sorted(n for n, f in book.claims.items() if f.denied)
    statuses = collections.Counter(book.appeal_status(n).status for n in denied)
    assert len(statuses) >= 3 and set(statuses) <= set(APPEAL_STATUSES)
    number = denied[0]
    row = book.appeal_status(number)
    by_claim = client.get("/appeals/status", params={"claim": number}).text
    by_appeal = client.get("/appeals/status", params={"claim": appeal_number(number)}).text
    for html in (by_claim, by_appeal):
        assert f"<td>{appeal_number(number)}</td><td>{number}</td><td>{row.status}</td>" in html
    # no appeal for a paid claim, nor for an unknown number
    paid = next(n for n, f in book.claims.items() if not f.denied)
    for unknown in (paid, "APL-00000000"):
        html = client.get("/appeals/status", params={"claim": unknown}).text
        assert f"No appeal found for {unknown}." in html


def test_pinned_statuses_and_injected_failures(app, client):
    book = app.state.status_book
    number = _numbers(book, PAID)[0]
    book.pin("claim", number, None)
    assert "No claim found" in client.get("/claims/status", params={"claim": number}).text
    book.pin("appeal", number, "Decision Overturned", status_date=dt.date(2024, 8, 2))
    html = client.get("/appeals/status", params={"claim": appeal_number(number)}).text
    assert "<td>Decision Overturned</td><td>08/02/2024</td>" in html

    app.state.portal.set_faults(fail_first={"claim_status": 1, "appeal_status": 2})
    app.state.portal.hits.clear()  # fail_first counts a route's requests from here
    assert client.get("/claims/status", params={"claim": number}).status_code == 503
    assert client.get("/claims/status", params={"claim": number}).status_code == 200
    codes = [client.get("/appeals/status", params={"claim": number}).status_code
             for _ in range(3)]
    assert codes == [503, 503, 200]


# 2. config and follow-up rules ------------------------------------------------------------------
def _northwind_yaml() -> dict:
    from bots.config import selectors_dir

    return yaml.safe_load((selectors_dir() / "northwind.yaml").read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["locators"].pop("status_result"), "needs status_result"),
    (lambda d: d["status"].update(claim_path="claims/status"), "status.claim_path: Value error, must start with '/'"),
    (lambda d: d["status"]["columns"].pop("status_date"), "status.columns: Value error, missing column(s): status_date"),
    (lambda d: d["status"].update(colour="blue"), "status.colour: Extra inputs are not permitted"),
])
def test_status_config_is_validated_with_file_and_field(mutate, message):
    from bots.config import ConfigError, parse_payer_config

    data = _northwind_yaml()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_payer_config(data, source="selectors/northwind.yaml")
    assert "selectors/northwind.yaml" in str(err.value) and message in str(err.value)


def test_status_section_is_optional():
    from bots.config import parse_payer_config

    data = _northwind_yaml()
    data.pop("status")
    for name in ("status_claim_number", "status_submit", "status_result", "status_not_found"):
        data["locators"].pop(name)
    assert parse_payer_config(data).status is None


@pytest.mark.parametrize("kind, text, status, final, action, days", [
    ("claim", "Finalized - Paid", "paid", True, False, None),
    ("claim", "Denied", "denied", False, True, 14),
    ("claim", "In Process", "pending", False, False, 14),
    ("claim", "Additional Information Requested", "info-requested", False, True, 7),
    ("claim", "Returned to sender??", "unrecognized", False, True, 7),
    ("appeal", "Appeal Received", "received", False, False, 21),
    ("appeal", "Under  Review", "under-review", False, False, 14),
    ("appeal", "Decision Upheld", "upheld", True, True, None),
    ("appeal", "Decision Overturned", "overturned", True, False, None),
    ("appeal", "Information Requested", "info-requested", False, True, 7),
])
def test_portal_statuses_are_normalized_with_their_follow_up(kind, text, status, final, action,
                                                             days):
    out = interpret(kind, text, checked_on=CHECK_DAY)
    assert (out.status, out.final, out.needs_action) == (status, final, action)
    assert out.next_follow_up == (CHECK_DAY + dt.timedelta(days=days) if days else None)


def test_not_found_needs_action_for_both_kinds():
    for kind, owner in (("claim", "billing"), ("appeal", "appeals")):
        out = interpret(kind, "", found=False, checked_on=CHECK_DAY)
        assert (out.status, out.needs_action, out.owner) == ("not-found", True, owner)
        assert out.next_follow_up == CHECK_DAY + dt.timedelta(days=7)


@pytest.mark.parametrize("mutate, field, problem", [
    (lambda d: d["claim"]["statuses"][0].update(follow_up_days=0), "claim.statuses[0].follow_up_days",
     "greater than or equal to 1"),
    (lambda d: d["claim"]["statuses"][0].update(owner="nobody"), "claim.statuses[0].owner", "appeals"),
    (lambda d: d["appeal"]["statuses"].pop(), "appeal", "needs a 'not-found' entry"),
    (lambda d: d["claim"]["statuses"][2].update(follow_up_days=3), "claim.statuses[2]", "final status"),
    (lambda d: d["claim"]["statuses"][1].update(match=[]), "claim.statuses[1]", "at least one pattern"),
])
def test_followup_file_errors_name_the_file_and_field(mutate, field, problem):
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    assert data["claim"]["statuses"][2]["status"] == "paid"  # the mutations above rely on it
    mutate(data)
    with pytest.raises(RulesError) as err:
        parse_followup(data, "claimwright/rules/followup.yaml")
    assert str(err.value).startswith(f"followup.yaml: {field}"), str(err.value)
    assert problem in str(err.value)


def test_an_admin_edit_of_the_followup_file_takes_effect_on_the_next_load(tmp_path, monkeypatch):
    path = tmp_path / "followup.yaml"
    shutil.copy(DEFAULT_PATH, path)
    monkeypatch.setenv("CLAIMWRIGHT_FOLLOWUP", str(path))
    assert interpret("claim", "Denied", checked_on=CHECK_DAY).next_follow_up == dt.date(2024, 7, 15)
    data = yaml.safe_load(path.read_text())
    data["claim"]["statuses"][0]["follow_up_days"] = 3
    path.write_text(yaml.safe_dump(data))
    os.utime(path, (1, 1))  # a different mtime even on a coarse clock
    assert load_followup().claim.statuses[0].follow_up_days == 3
    assert interpret("claim", "Denied", checked_on=CHECK_DAY).next_follow_up == dt.date(2024, 7, 4)


# 3. the bot in real Chromium ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def status_portal(small_dataset):
    with running_portal_server("northwind", small_dataset) as server:
        yield server


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory) -> Path:
    """Saved sign-ins shared by this module's browser tests (one login, not one per test)."""
    return tmp_path_factory.mktemp("sessions")


@pytest.fixture
def portal(status_portal, monkeypatch, session_dir):
    """The module's portal, pins and faults cleared, credentials and a private session dir set."""
    status_portal.app.state.status_book.unpin_all()
    status_portal.app.state.portal.set_faults(fail_first={}, maintenance_first=0)
    status_portal.app.state.portal.hits.clear()
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMWRIGHT_NORTHWIND_URL", status_portal.url)
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(session_dir))
    return status_portal


@pytest.fixture(scope="module")
def fast_config():
    from bots import load_payer_config

    return load_payer_config("northwind").with_overrides(
        retry={"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
        timeouts={"action_ms": 4000, "navigation_ms": 20000, "download_ms": 20000})


@pytest.mark.browser
def test_bot_reads_claim_and_appeal_statuses_retrying_a_503(portal, fast_config, tmp_path):
    from bots import StatusQuery, check_statuses

    book = portal.app.state.status_book
    denied, info, paid = (_numbers(book, s)[0] for s in (DENIED, INFO_REQUESTED, PAID))
    appealed = sorted(n for n, f in book.claims.items() if f.denied)[:2]
    queries = ([StatusQuery("claim", n) for n in (denied, info, paid, "0000000000")]
               + [StatusQuery("appeal", n) for n in appealed]
               + [StatusQuery("appeal", paid)])
    portal.app.state.portal.set_faults(fail_first={"claim_status": 1, "appeal_status": 1})
    seen = []
    result = check_statuses(fast_config, queries, base_url=portal.url, evidence_dir=tmp_path,
                            on_report=seen.append)

    assert result.failed == [] and seen == result.reports
    assert [(r.kind, r.payer_claim_id) for r in result.reports] == \
        [(q.kind, q.payer_claim_id) for q in queries]
    reports = {(r.kind, r.payer_claim_id): r for r in result.reports}
    for number in (denied, info, paid):
        want = book.claim_status(number)
        got = reports[("claim", number)]
        assert (got.found, got.status, got.status_date, got.notes) == \
            (True, want.status, want.status_date, want.notes)
        assert got.raw.startswith(number + " | ")
    assert not reports[("claim", "0000000000")].found
    assert "No claim found" in reports[("claim", "0000000000")].raw
    for number in appealed:
        want = book.appeal_status(number)
        got = reports[("appeal", number)]
        assert (got.status, got.status_date, got.appeal_number) == \
            (want.status, want.status_date, appeal_number(number))
    assert not reports[("appeal", paid)].found
    # each page failed once (503) and the bot's step retried it; no fault left the bot. Requests:
    # the failed one, the form, then one search per query (the result page repeats the form)
    hits = portal.app.state.portal.hits
    assert hits["claim_status"] == 1 + 1 + 4 and hits["appeal_status"] == 1 + 1 + 3
    assert list(tmp_path.iterdir()) == []  # a clean run keeps no trace or screenshot

    # a result whose date does not read is a business error for that query only; the batch goes
    # on (and the saved sign-in is reused: no second login)
    iso = fast_config.with_overrides(status={"date_format": "%Y-%m-%d"})
    again = check_statuses(iso, [StatusQuery("claim", denied), StatusQuery("claim", "0000000000")],
                           base_url=portal.url, evidence_dir=tmp_path)
    [failed] = again.failed
    assert (failed.query.payer_claim_id, failed.code) == (denied, "bad-status-row")
    assert "is not %Y-%m-%d" in failed.reason
    assert [(r.payer_claim_id, r.found) for r in again.reports] == [("0000000000", False)]


@pytest.mark.browser
def test_a_query_failing_past_its_retries_is_skipped_until_the_circuit_opens(portal, fast_config,
                                                                            tmp_path):
    from bots import StatusQuery, check_statuses

    numbers = sorted(portal.app.state.status_book.claims)[:3]
    state = portal.app.state.portal
    # the first appeal query meets 3 failures (its whole retry budget), the next one none
    state.set_faults(fail_first={"appeal_status": fast_config.retry.attempts})
    result = check_statuses(fast_config, [StatusQuery("appeal", n) for n in numbers[:2]],
                            base_url=portal.url, evidence_dir=tmp_path)
    [failed] = result.failed
    assert (failed.query.payer_claim_id, failed.code, failed.system) == \
        (numbers[0], "http-5xx", True)
    assert Path(failed.evidence["screenshot"]).is_file()
    assert [r.payer_claim_id for r in result.reports] == [numbers[1]]

    # two in a row with a breaker of 2: the payer stops, naming both, with the last evidence
    state.hits.clear()
    state.set_faults(fail_first={"claim_status": 100})
    strict = fast_config.with_overrides(retry={"circuit_breaker_after": 2})
    with pytest.raises(SystemFault) as err:
        check_statuses(strict, [StatusQuery("claim", n) for n in numbers],
                       base_url=portal.url, evidence_dir=tmp_path)
    fault = err.value
    assert (fault.code, fault.retryable, fault.context["checked"]) == ("circuit-open", False, 0)
    assert len(fault.context["failed_items"]) == 2
    assert state.hits["claim_status"] == 2 * fast_config.retry.attempts  # third never asked
    assert Path(fault.context["screenshot"]).is_file()


@pytest.mark.browser
def test_a_status_page_that_changed_stops_with_evidence(portal, fast_config, tmp_path):
    from bots import StatusQuery, check_statuses

    changed = fast_config.with_overrides(locators={
        "status_result": [{"css": "table#claim-status-v2"}],
        "status_not_found": [{"text": "Nothing matched your search"}]})
    number = sorted(portal.app.state.status_book.claims)[0]
    with pytest.raises(SystemFault) as err:
        check_statuses(changed, [StatusQuery("claim", number)], base_url=portal.url,
                       evidence_dir=tmp_path)
    fault = err.value
    assert fault.code == "locator-not-found" and not fault.retryable
    assert fault.context["step"] == "claim-status" and fault.context["checked"] == 0
    assert "/claims/status" in fault.context["url"]
    assert Path(fault.context["screenshot"]).is_file()
    assert fault.context["trace"] and Path(fault.context["trace"]).is_file()
    assert ACCOUNT.password not in str(fault.context) and ACCOUNT.password not in fault.message


@pytest.mark.browser
@pytest.mark.parametrize("payer", ["keystone", "clearpath"])
def test_bot_reads_statuses_on_the_frame_and_script_portals(payer, tmp_path_factory, monkeypatch):
    from bots import load_payer_config
    from bots import StatusQuery, check_statuses
    from fixtures.remittances import build_dataset

    out = tmp_path_factory.mktemp(f"status-bot-{payer}") / payer
    build_dataset(payer, out, count=1, anchor=SAMPLE_ANCHOR, anomalies=False)
    for name, value in demo_environment(payer).items():
        monkeypatch.setenv(name, value)
    config = load_payer_config(payer).with_overrides(
        retry={"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
        timeouts={"action_ms": 4000, "navigation_ms": 20000})
    with running_portal_server(payer, out) as server:
        book = server.app.state.status_book
        number = sorted(book.claims)[0]
        book.pin("appeal", number, "Decision Upheld", status_date=dt.date(2024, 8, 9))
        server.app.state.portal.set_faults(fail_first={"appeal_status": 1})
        result = check_statuses(config, [StatusQuery("claim", number),
                                         StatusQuery("appeal", number),
                                         StatusQuery("claim", "0000000000")],
                                base_url=server.url, evidence_dir=tmp_path_factory.mktemp("ev"),
                                session_dir=tmp_path_factory.mktemp("sessions"))
    claim, appeal, unknown = result.reports
    assert (claim.status, claim.status_date) == (book.claim_status(number).status,
                                                 book.claim_status(number).status_date)
    assert (appeal.status, appeal.status_date, appeal.appeal_number) == \
        ("Decision Upheld", dt.date(2024, 8, 9), appeal_number(number))
    assert not unknown.found and result.failed == []


# 4. pipeline and flow, end to end ----------------------------------------------------------------
def _ledger_with_denials(small_dataset):
    """The workspace ledger after the nightly pipeline parsed the dataset's remittances."""
    from claimwright.pipeline import Context, import_document, process_documents, write_outputs

    ctx = Context.from_settings()
    for pdf in sorted(small_dataset.glob("*.pdf")):
        assert import_document(ctx, "northwind", pdf)
    process_documents(ctx, "northwind")
    write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    return ctx


@pytest.mark.browser
@pytest.mark.e2e
def test_status_check_flow_records_follows_up_and_files_once(workspace, portal, small_dataset,
                                                             prefect_api):
    from claimwright.pipeline.followup import due_items
    from claimwright.types import ReviewKind
    STATUS_ACTION = ReviewKind.STATUS_ACTION
    from flows.followup import nightly_status_check

    ctx = _ledger_with_denials(small_dataset)
    book = portal.app.state.status_book
    denied_claims = {f.payer_claim_id for f in ctx.ledger.findings(denials_only=True)}
    packets = {rec.key.split(":", 1)[1] for rec in ctx.ledger.outputs("packet")}
    assert denied_claims and packets and packets <= denied_claims
    items = ctx.ledger.open_followups("northwind")
    assert {(i.kind, i.payer_claim_id) for i in items} == \
        {("claim", n) for n in denied_claims} | {("appeal", n) for n in packets}
    # one appeal is pinned overturned (closes it), one claim vanished from the portal
    closed_appeal = sorted(packets)[0]
    book.pin("appeal", closed_appeal, "Decision Overturned")
    missing_claim = sorted(denied_claims - packets)[0] if denied_claims - packets \
        else sorted(denied_claims)[-1]
    book.pin("claim", missing_claim, None)

    params = dict(payers=["northwind"], as_of=CHECK_DAY,
                  portal_urls={"northwind": portal.url})
    [run1] = nightly_status_check(**params)
    assert run1["errors"] == []
    assert run1["due"] == run1["checked"] == len(items)

    checks = ctx.ledger.latest_checks("northwind")
    assert set(checks) == {(i.kind, i.payer_claim_id) for i in items}
    rules = load_followup()
    want_actions = set()
    for (kind, number), rec in checks.items():
        portal_row = book.claim_status(number) if kind == "claim" else book.appeal_status(number)
        expected = interpret(kind, portal_row.status if portal_row else "",
                             found=portal_row is not None, checked_on=CHECK_DAY, rules=rules)
        assert (rec.status, rec.final, rec.needs_action, rec.next_follow_up) == \
            (expected.status, expected.final, expected.needs_action, expected.next_follow_up)
        assert rec.checked_on == CHECK_DAY
        assert rec.status_date == (portal_row.status_date if portal_row else None)
        # a claim is open because its remittance denied it: "denied" again on the first
        # check is already worked (packet / worklist row), so it files nothing new
        if expected.needs_action and not (kind == "claim" and expected.status == "denied"):
            want_actions.add(f"{STATUS_ACTION}:northwind:{kind}:{number}:{expected.status}")
    assert checks[("appeal", closed_appeal)].status == "overturned"
    assert checks[("appeal", closed_appeal)].next_follow_up is None
    assert checks[("claim", missing_claim)].status == "not-found"
    statuses = {r.status for r in checks.values()}
    assert {"not-found", "overturned"} <= statuses and len(statuses) >= 4, statuses

    actions = ctx.queue.items(kind=STATUS_ACTION)
    assert {i.key for i in actions} == want_actions and want_actions
    # besides the actions: the items of the next-level packets the check built (this test has
    # no documents folder: each is incomplete, and says the folder does not exist)
    incomplete_next = [i for i in ctx.queue.items() if i.key.endswith(":L2")
                       and i.kind in ("missing-document", "packet-check")]
    assert run1["needs_action"] == len(want_actions)
    assert run1["review_opened"] == len(want_actions) + len(incomplete_next), [
        (i.kind, i.key, i.reason) for i in ctx.queue.items() if i.kind != STATUS_ACTION]
    assert any(r.status == "denied" for (k, _), r in checks.items() if k == "claim")
    not_found_item = next(i for i in actions if i.key.endswith(f"claim:{missing_claim}:not-found"))
    assert "not found" in not_found_item.reason and not_found_item.context["owner"] == "billing"
    # no names or member ids in what the review queue holds
    names = {c["patient_name"] for p in small_dataset.glob("NW-*.json")
             for c in json.loads(p.read_text())["claims"]}
    dumped = json.dumps([i.context for i in actions]) + " ".join(i.reason for i in actions)
    assert not any(name in dumped for name in names)

    # a second run the same day checks nothing and files nothing twice (no browser needed)
    hits_before = dict(portal.app.state.portal.hits)
    [run2] = nightly_status_check(**params)
    assert (run2["due"], run2["checked"], run2["review_opened"]) == (0, 0, 0)
    assert portal.app.state.portal.hits == hits_before
    assert {i.key for i in ctx.queue.items(kind=STATUS_ACTION)} == want_actions

    # a week later: only what is due by then (7-day follow-ups), and nothing final
    week = CHECK_DAY + dt.timedelta(days=7)
    due = {(i.kind, i.payer_claim_id) for i in due_items(ctx.ledger, "northwind", week)}
    paid = {n for (kind, n), r in checks.items() if kind == "claim" and r.final}
    assert paid  # some denied claims were reprocessed and paid: their appeals close with them
    # an upheld appeal proposed its next level (never checked yet: due)
    upheld = {n for (kind, n), r in checks.items() if kind == "appeal" and r.status == "upheld"}
    proposed = {a.payer_claim_id for a in ctx.ledger.appeals(payer="northwind", level=2)}
    assert proposed == upheld - paid
    assert due == {k for k, r in checks.items()
                   if not r.final and r.next_follow_up is not None and r.next_follow_up <= week
                   and not (k[0] == "appeal" and k[1] in paid)} | {("appeal", n)
                                                                   for n in proposed}
    assert not {("appeal", n) for n in paid} & {(i.kind, i.payer_claim_id)
                                                for i in ctx.ledger.open_followups("northwind")}
    assert ("appeal", closed_appeal) not in {(i.kind, i.payer_claim_id)
                                             for i in ctx.ledger.open_followups("northwind")}
    ctx.ledger.close()


@pytest.mark.browser
def test_a_portal_down_all_night_is_one_review_item(workspace, portal, small_dataset, tmp_path,
                                                     monkeypatch):
    from claimwright.types import ReviewKind
    PORTAL_FAILURE = ReviewKind.PORTAL_FAILURE
    from claimwright.pipeline.followup import check_payer_statuses

    ctx = _ledger_with_denials(small_dataset)
    # the payer's own config, with millisecond backoff (the pipeline loads configs by name)
    from bots.config import selectors_dir

    data = yaml.safe_load((selectors_dir() / "northwind.yaml").read_text())
    data["retry"].update(backoff_initial_s=0.01, backoff_max_s=0.05, jitter_s=0.01)
    fast_dir = tmp_path / "selectors"
    fast_dir.mkdir()
    (fast_dir / "northwind.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(fast_dir))
    portal.app.state.portal.set_faults(maintenance_first=1000)
    counts = check_payer_statuses(ctx, "northwind", as_of=CHECK_DAY, base_url=portal.url)
    assert counts.due > 0 and counts.checked == 0 and len(counts.errors) == 1
    [item] = ctx.queue.items(kind=PORTAL_FAILURE)
    assert item.key.startswith(f"status:northwind:{CHECK_DAY}:")
    assert any(p.endswith(".png") for p in item.evidence)
    assert item.context["attempts"] == 3  # the bot's retry budget, once (no Prefect retries)
    assert ctx.ledger.latest_checks("northwind") == {}  # nothing recorded: all still due
    ctx.ledger.close()


@pytest.mark.parametrize("payer, login, fields, prefix", [
    ("keystone", "/login", ("userId", "passwd"), ""),
    ("clearpath", "/signin", ("email", "password"), "/app"),
])
def test_other_portals_serve_the_same_status_pages_behind_their_sign_in(
        payer, login, fields, prefix, tmp_path_factory):
    from fastapi.testclient import TestClient

    from bots import load_payer_config
    from fixtures.remittances import build_dataset

    out = tmp_path_factory.mktemp(f"status-{payer}") / payer
    build_dataset(payer, out, count=1, anchor=SAMPLE_ANCHOR, anomalies=False)
    app = create_app(payer, out)
    book = app.state.status_book
    number = sorted(book.claims)[0]
    book.pin("appeal", number, "Under Review")
    config = load_payer_config(payer).status
    assert (config.claim_path, config.appeal_path) == (f"{prefix}/claims/status",
                                                       f"{prefix}/appeals/status")
    with TestClient(app, follow_redirects=False) as c:
        assert c.get(config.claim_path, params={"claim": number}).status_code == 303
        account = demo_account(payer)
        assert c.post(login, data=dict(zip(fields, (account.username, account.password)))
                      ).status_code == 303
        html = c.get(config.claim_path, params={"claim": number}).text
        assert f"<td>{number}</td><td>{book.claim_status(number).status}</td>" in html
        html = c.get(config.appeal_path, params={"claim": number}).text
        assert f"<td>{appeal_number(number)}</td><td>{number}</td><td>Under Review</td>" in html
        assert "No claim found" in c.get(config.claim_path, params={"claim": "1"}).text


def test_a_broken_followup_file_is_one_review_item_and_no_browser(workspace, tmp_path,
                                                                   monkeypatch):
    from claimwright.pipeline import Context
    from claimwright.pipeline.followup import check_payer_statuses

    bad = tmp_path / "followup.yaml"
    bad.write_text(DEFAULT_PATH.read_text().replace("follow_up_days: 14", "follow_up_days: -1", 1))
    monkeypatch.setenv("CLAIMWRIGHT_FOLLOWUP", str(bad))
    ctx = Context.from_settings()
    counts = check_payer_statuses(ctx, "northwind", as_of=CHECK_DAY,
                                  base_url="http://127.0.0.1:9")  # never contacted
    [item] = ctx.queue.items()
    assert item.kind == "config-invalid" and item.key == "followup-rules:rules-invalid"
    assert re.search(r"followup\.yaml:\d+: claim\.statuses\[0\]\.follow_up_days", item.reason)
    assert counts.checked == 0 and len(counts.errors) == 1
    ctx.ledger.close()


def test_claims_come_from_readable_truth_files_only(small_dataset, tmp_path):
    from fixtures.portals.status_pages import load_claim_facts

    copy = tmp_path / "northwind"
    shutil.copytree(small_dataset, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    damaged, kept = manifest["remittances"][0], manifest["remittances"][1:]
    lost = {c["payer_claim_id"] for c in json.loads((copy / damaged["truth"]).read_text())["claims"]}
    (copy / damaged["truth"]).write_text("{not json")
    facts = load_claim_facts(copy, "northwind")
    assert facts and not lost & set(facts)
    assert set(facts) == {c["payer_claim_id"] for e in kept
                          for c in json.loads((copy / e["truth"]).read_text())["claims"]}
    # the app starts without reading them; the first status question does
    app = create_app("northwind", copy)
    assert app.state.status_book._claims is None
    assert set(app.state.status_book.claims) == set(facts)


def test_a_claim_denied_again_is_news_only_when_it_had_moved_on():
    from types import SimpleNamespace

    from claimwright.pipeline.followup import _already_worked
    from claimwright.storage import OpenItem

    claim = OpenItem("claim", "123", "northwind", "NW")
    appeal = OpenItem("appeal", "123", "northwind", "NW")
    denied = SimpleNamespace(status="denied")
    upheld = SimpleNamespace(status="upheld")
    assert _already_worked(claim, denied, None)  # known from the remittance
    assert _already_worked(claim, denied, SimpleNamespace(status="denied"))
    assert not _already_worked(claim, denied, SimpleNamespace(status="pending"))
    assert not _already_worked(claim, SimpleNamespace(status="info-requested"), None)
    assert not _already_worked(appeal, upheld, None)
