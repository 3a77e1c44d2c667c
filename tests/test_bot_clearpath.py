"""The ClearPath Exchange (clearinghouse) mock portal and the ``clearinghouse`` flow, through
real Chromium on 127.0.0.1: pick the payer, results loaded by script after a delay, Download
buttons (no links) that post a form answered by a file.

One portal serves the whole module (build_dataset("clearpath", count=6): 8 remittances relayed
from Summit Mutual and Lakeshore Care, 3 a page); each test sets the faults it needs on the
running portal and the ``portal`` fixture puts everything back afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest
from portal_fixtures import (assert_secret_free, config_error, fast_config,
                             maintenance_after_sign_in, manifest_truth, module_portal,
                             portal_state)

from bots import load_payer_config, pull_remittances, safe_stem
from claimwright.errors import SystemFault
from fixtures.portals import demo_account

ACCOUNT = demo_account("clearpath")
WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
PAGE_SIZE = 3
ANCHOR = dt.date(2024, 6, 28)
APP = "/app/remittances"


def _dataset(out_dir: Path) -> dict:
    from fixtures.remittances import build_dataset

    return build_dataset("clearpath", out_dir, count=6, anchor=ANCHOR)


clearpath_server, portal = module_portal("clearpath", _dataset, page_size=PAGE_SIZE,
                                         results_delay_seconds=0.2)


@pytest.fixture
def config():
    return fast_config("clearpath", action_ms=2500)


def _relayed(server) -> dict[str, str]:
    """remittance id -> payer name in its ground truth JSON."""
    def payer(entry: dict) -> str:
        return json.loads((server.data_dir / entry["truth"]).read_text())["payer"]["name"]

    return {r["remittance_id"]: payer(r) for r in server.manifest["remittances"]}


def _pages(server, payers: list[str]) -> int:
    counts = Counter(_relayed(server).values())
    return sum(max(1, math.ceil(counts[p] / PAGE_SIZE)) for p in payers)


def _only(config, *payers: str):
    return config.with_overrides(flow_options={"payers": list(payers)})


def _assert_taken(server, result, dest: Path, expected: set[str]) -> None:
    """Exactly ``expected`` taken, each once, byte-identical to the portal's PDF, under a name
    the bot chose (never the portal's suggested ``ERA_<id>.pdf``)."""
    truth = manifest_truth(server)
    assert sorted(d.remittance_id for d in result.downloaded) == sorted(expected)
    folder = (dest / "clearpath").resolve()
    for doc in result.downloaded:
        entry = truth[doc.remittance_id]
        data = doc.path.read_bytes()
        assert doc.path == folder / f"{safe_stem(doc.remittance_id)}.pdf"
        assert doc.sha256 == entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert doc.size == len(data) and doc.kind == "pdf"
        assert doc.trace_number == entry["trace_number"]
        assert doc.payment_date == dt.date.fromisoformat(entry["payment_date"])
        assert isinstance(doc.amount, Decimal) and doc.amount == Decimal(entry["amount"])
        assert "/document" in doc.url
    assert {p.name for p in folder.iterdir()} == {f"{rid}.pdf" for rid in expected}


def _permanent_fault(config, tmp_path: Path, code: str, step: str) -> SystemFault:
    """The pull's fault: ``code`` at ``step``, permanent, at its first attempt."""
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == code and fault.retryable is False
    assert fault.context["step"] == step and fault.context["attempts"] == 1
    return fault


def _assert_secret_free(fault: SystemFault, log_text: str) -> None:
    """No credential in the fault's message or context, the log, or the kept trace's bytes."""
    assert_secret_free(fault, log_text, ACCOUNT, APP.encode())


# browser -------------------------------------------------------------------------------------
@pytest.mark.browser
def test_full_pull_of_every_payer_then_rerun_downloads_nothing(portal, config, tmp_path,
                                                               caplog):
    caplog.set_level(logging.DEBUG)
    payers = ["Summit Mutual", "Lakeshore Care", "Harborview Health Plan"]  # the last: none
    relayed = _relayed(portal)
    assert set(relayed.values()) == {"Summit Mutual", "Lakeshore Care"}
    config = _only(config, *payers)
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_taken(portal, result, tmp_path / "dl", set(relayed))
    assert result.failed == [] and result.listed == len(relayed)
    assert result.pages_visited == _pages(portal, payers) == 4
    # documents come payer by payer, in the configured order
    order = [relayed[d.remittance_id] for d in result.downloaded]
    assert order == sorted(order, key=payers.index)
    hits = dict(portal_state(portal).hits)
    assert hits["download"] == len(relayed)  # one POST per document, no replays
    assert hits["results"] == 4  # 3 searches + one "Next"
    assert ACCOUNT.password not in caplog.text and ACCOUNT.username not in caplog.text

    known = {d.remittance_id for d in result.downloaded}
    again = pull_remittances(config, *WIDE, tmp_path / "dl2", is_known=known.__contains__)
    assert again.downloaded == [] and again.failed == []
    assert sorted(again.skipped_known) == sorted(known) and again.listed == len(known)
    assert portal_state(portal).hits["download"] == len(relayed)  # nothing fetched the second time
    assert portal_state(portal).hits["login"] == 1  # the saved sign-in (CPXSESSION) was reused
    assert not (tmp_path / "dl2" / "clearpath").exists()


@pytest.mark.browser
def test_transient_faults_are_retried_and_the_pull_completes(portal, config, tmp_path, caplog):
    """5xx on the JSON endpoint and on a download, a download cut off half-way, a short
    maintenance: each retried, the pull completes; a document that is not a PDF fails alone."""
    relayed = _relayed(portal)
    truth = manifest_truth(portal)
    # not a PDF: the last row Summit Mutual lists (the Lakeshore search follows it anyway)
    bad = min((r for r, p in relayed.items() if p == "Summit Mutual"),
              key=lambda r: (truth[r]["payment_date"], r))
    portal_state(portal).set_faults(maintenance_first=1, fail_first={"results": 2, "download": 1},
                              truncate_downloads_first=1, not_pdf=[bad])
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_taken(portal, result, tmp_path / "dl", set(relayed) - {bad})
    assert [(f.remittance_id, f.code) for f in result.failed] == [(bad, "not-a-pdf")]
    assert "HTML" in result.failed[0].reason
    hits = dict(portal_state(portal).hits)
    assert hits["login_page"] == 1  # the first request got the maintenance page instead
    # 2 searches + 1 "Next", 2 answered 503, and the search again after the first download's
    # 503 (its error page replaced the app; a cut-off download leaves the results on screen)
    assert hits["results"] == 3 + 2 + 1
    # every document once, plus: one 503, one cut off, and the HTML page (served inline) replayed
    assert hits["download"] == len(relayed) + 1 + 1 + 1
    assert "step login failed (attempt 1 of 3, portal-maintenance)" in caplog.text
    assert "step search failed (attempt 2 of 3, http-5xx)" in caplog.text
    assert "step download failed (attempt 1 of 3, http-5xx)" in caplog.text
    assert "step download failed (attempt 2 of 3, download-interrupted)" in caplog.text


@pytest.mark.browser
def test_slow_results_are_waited_for_and_the_date_range_reaches_the_portal(portal, config,
                                                                           tmp_path):
    delay = 3.0
    assert config.timeouts.action_ms < delay * 1000  # slower than any element wait
    portal_state(portal).set_faults(delay_seconds={"results": delay})
    lakeshore = sorted((dt.date.fromisoformat(manifest_truth(portal)[rid]["payment_date"]), rid)
                       for rid, payer in _relayed(portal).items() if payer == "Lakeshore Care")
    start, end = lakeshore[1][0], lakeshore[-1][0]  # leaves the oldest out
    result = pull_remittances(_only(config, "Lakeshore Care"), start, end, tmp_path / "dl")
    _assert_taken(portal, result, tmp_path / "dl", {rid for _, rid in lakeshore[1:]})
    assert result.skipped_out_of_range == [] and result.listed == len(lakeshore) - 1
    assert portal_state(portal).hits["results"] == 1


@pytest.mark.browser
def test_inline_disposition_is_still_saved_as_files(portal, config, tmp_path, caplog):
    """Served inline, the browser shows its PDF viewer (whose page body is not the PDF): the
    bot replays the request and saves the real file, then takes the next documents without
    leaving the results page."""
    caplog.set_level(logging.INFO, logger="claimwright.bots")
    portal_state(portal).set_faults(inline_documents=True)
    result = pull_remittances(_only(config, "Lakeshore Care"), *WIDE, tmp_path / "dl")
    expected = {rid for rid, payer in _relayed(portal).items() if payer == "Lakeshore Care"}
    _assert_taken(portal, result, tmp_path / "dl", expected)
    assert result.failed == []
    # the first: the click, then the replay; the others intercepted, one request each, the
    # results page kept (searched again only after the first one's PDF viewer)
    assert caplog.text.count("served inline; fetching the file itself") == 1
    assert portal_state(portal).hits["download"] == len(expected) + 1
    assert portal_state(portal).hits["results"] == 2


@pytest.mark.browser
def test_downloads_failing_in_a_row_open_the_circuit_with_bounded_requests(portal, config,
                                                                           tmp_path):
    portal_state(portal).set_faults(fail_first={"download": 999})
    config = config.with_overrides(retry={"circuit_breaker_after": 2})
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "circuit-open" and fault.retryable is False
    assert [item["code"] for item in fault.context["failed_items"]] == ["http-5xx", "http-5xx"]
    assert Path(fault.context["screenshot"]).is_file() and Path(fault.context["trace"]).is_file()
    # 2 documents x 3 attempts, then the payer stops (not one request per remaining document)
    assert portal_state(portal).hits["download"] == 2 * config.retry.attempts == 6
    assert not (tmp_path / "dl" / "clearpath").exists()


@pytest.mark.browser
def test_session_expiry_mid_run_signs_in_again_and_resumes(portal, config, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="claimwright.bots")
    relayed = _relayed(portal)
    # sessions last 8 signed-in requests (app page, JSON results, document posts): the pull
    # outlives two sessions
    portal_state(portal).set_faults(expire_session_after=8)
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_taken(portal, result, tmp_path / "dl", set(relayed))
    hits = dict(portal_state(portal).hits)
    assert 1 <= hits["session_expired"] <= 3
    assert hits["login"] == 1 + hits["session_expired"]
    assert hits["download"] == len(relayed)  # resumed: nothing fetched twice
    assert "session lost at step" in caplog.text
    assert ACCOUNT.password not in caplog.text


@pytest.mark.browser
def test_a_session_that_never_lasts_stops_with_evidence_and_no_credentials(
        portal, config, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    portal_state(portal).set_faults(expire_session_after=1)  # gone by the time the app page opens
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "session-lost" and fault.retryable is False
    assert fault.context["step"] == "search"
    assert portal_state(portal).hits["login"] == 1 + 3  # bounded re-logins
    assert Path(fault.context["screenshot"]).is_file()
    _assert_secret_free(fault, caplog.text)  # the re-logins were not recorded


@pytest.mark.browser
def test_maintenance_beyond_the_retry_budget_stops_with_evidence_and_no_credentials(
        portal, config, tmp_path, caplog, monkeypatch):
    """Maintenance starting after sign-in outlives the retry budget: a permanent fault with
    screenshot + trace + url + step; no credential in its message, context, the whole log or
    the kept trace."""
    caplog.set_level(logging.DEBUG)
    fault = maintenance_after_sign_in(portal, config, tmp_path, monkeypatch)
    assert fault.context["url"] == portal.url + APP
    _assert_secret_free(fault, caplog.text)


@pytest.mark.browser
def test_redesign_is_a_permanent_locator_fault_then_a_yaml_fix_carries_on(portal, config, tmp_path,
                                                                          caplog):
    caplog.set_level(logging.DEBUG)
    portal_state(portal).set_faults(redesign=True)
    fault = _permanent_fault(config, tmp_path, "locator-not-found", "search")
    assert fault.context["locators"] == {"payer_select": ["label='Payer'", "css='select#payer'"]}
    assert fault.context["url"] == portal.url + APP
    assert Path(fault.context["screenshot"]).is_file()
    _assert_secret_free(fault, caplog.text)
    assert portal_state(portal).hits.get("results", 0) == 0

    # The admin's fix is YAML only: the new names as fallbacks, the new column headers.
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    new = {"payer_select": {"label": "Health plan", "exact": True},
           "date_from": {"label": "Payment window start"},
           "date_to": {"label": "Payment window end"},
           "submit_search": {"role": "button", "name": "Find ERAs", "exact": True},
           "loading": {"role": "progressbar", "name": "Fetching"},
           "results_table": {"role": "table", "name": "Electronic remittances", "exact": True},
           "no_results": {"text": "Nothing found"},
           "next_page": {"role": "button", "name": "More ›", "exact": True},
           "download_button": {"role": "button", "name": "Get file"}}
    locators = {name: [*chain, new[name]] if name in new else chain
                for name, chain in config.model_dump()["locators"].items()}
    fixed = _only(config, "Lakeshore Care").with_overrides(
        locators=locators, results={"columns": {
            "remittance_id": "Remit #", "payment_date": "Payment date",
            "trace_number": "EFT / check #", "amount": "Net paid"}})
    result = pull_remittances(fixed, *WIDE, tmp_path / "dl")
    expected = {rid for rid, payer in _relayed(portal).items() if payer == "Lakeshore Care"}
    _assert_taken(portal, result, tmp_path / "dl", expected)
    warned = [r.getMessage() for r in caplog.records if "fallback" in r.getMessage()]
    assert any("'payer_select'" in w and "Health plan" in w for w in warned)
    assert any("'results_table'" in w and "Electronic remittances" in w for w in warned)
    assert any("'download_button'" in w for w in warned)
    assert len(warned) == len({w.split("'")[1] for w in warned})  # once per locator


@pytest.mark.browser
def test_captcha_is_permanent(portal, config, tmp_path, caplog):
    portal_state(portal).set_faults(captcha=True)
    fault = _permanent_fault(config, tmp_path, "captcha", "login")
    assert fault.context["trace"] is None  # nothing is traced before sign-in
    assert Path(fault.context["screenshot"]).is_file()
    assert portal_state(portal).hits["login"] == 1
    assert ACCOUNT.password not in f"{fault!s} {fault.context!r} {caplog.text}"


@pytest.mark.browser
def test_a_payer_the_portal_does_not_offer_stops_clearly(portal, config, tmp_path):
    with pytest.raises(SystemFault) as info:
        pull_remittances(_only(config, "Acme Health"), *WIDE, tmp_path / "dl",
                         evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "payer-not-offered" and fault.retryable is False
    assert "Acme Health" in fault.message and "flow_options.payers" in fault.message
    assert {"Summit Mutual", "Lakeshore Care", "Harborview Health Plan"} <= set(
        fault.context["offered"])
    assert portal_state(portal).hits.get("results", 0) == 0


# without a browser ---------------------------------------------------------------------------
def test_portal_api_sessions_payers_and_documents(clearpath_server):
    from fastapi.testclient import TestClient

    from fixtures.portals import create_app
    from fixtures.portals.clearpath import LOGIN_PATH, SESSION_COOKIE, _csrf

    app = create_app("clearpath", clearpath_server.data_dir, page_size=PAGE_SIZE,
                     results_delay_seconds=0)
    client = TestClient(app)
    api = "/api/v2/remittances"
    assert client.get(api, params={"payer": "Summit Mutual"}).status_code == 401
    page = client.get(APP, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith(LOGIN_PATH)
    wrong = client.post(LOGIN_PATH, data={"email": ACCOUNT.username, "password": "nope"})
    assert "email or password is incorrect" in wrong.text and SESSION_COOKIE not in client.cookies
    client.post(LOGIN_PATH, data={"email": ACCOUNT.username, "password": ACCOUNT.password})
    assert SESSION_COOKIE in client.cookies
    relayed = _relayed(clearpath_server)
    for payer in ("Summit Mutual", "Lakeshore Care", "Harborview Health Plan"):
        ids = []
        for number in (1, 2):
            data = client.get(api, params={"payer": payer, "page": number}).json()
            ids += [item["eraId"] for item in data["items"]] if data["page"] == number else []
        assert sorted(ids) == sorted(r for r, p in relayed.items() if p == payer)
    assert client.get(api, params={"payer": "Acme"}).status_code == 400
    assert client.get(api, params={"payer": "Summit Mutual", "from": "2024-06-30",
                                   "to": "2024-06-01"}).status_code == 400
    token = client.get(api, params={"payer": "Summit Mutual"}).json()["items"][0]["documentId"]
    csrf = _csrf(client.cookies[SESSION_COOKIE])
    assert client.post(f"{api}/{token}/document", data={"csrf": "forged"}).status_code == 403
    answer = client.post(f"{api}/{token}/document", data={"csrf": csrf})
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.content.startswith(b"%PDF-")
    app.state.portal.set_faults(inline_documents=True)
    answer = client.post(f"{api}/{token}/document", data={"csrf": csrf})
    assert answer.headers["content-disposition"].startswith("inline;")


def test_clearpath_config_loads_with_references_only():
    from bots.portals import clearinghouse, get_flow

    config = load_payer_config("clearpath")
    assert config.flow == "clearinghouse" and get_flow(config.flow) is clearinghouse
    options = clearinghouse.Options.model_validate(config.flow_options)
    assert options.payers == ["Summit Mutual", "Lakeshore Care"]
    assert config.credentials.username_env == "CLAIMWRIGHT_CLEARPATH_USERNAME"
    assert config.credentials.password_env == "CLAIMWRIGHT_CLEARPATH_PASSWORD"
    assert config.resolve_base_url(env={}) == "http://127.0.0.1:8767"
    assert config.resolve_base_url(env={"CLAIMWRIGHT_CLEARPATH_URL": "http://127.0.0.1:9"}) \
        == "http://127.0.0.1:9"
    for name in clearinghouse.REQUIRED_LOCATORS:
        chain = config.locators[name]
        assert chain[-1].strategy == "css"
        if name not in ("loading",):
            assert chain[0].strategy in ("role", "label", "text")
    raw = Path(config.source).read_text()
    assert ACCOUNT.password not in raw and ACCOUNT.username not in raw


def _clearpath_data() -> dict:
    import yaml

    return yaml.safe_load(load_payer_config("clearpath").source.read_text())


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["flow_options"].update(payers=[]), r"flow_options: payers: List should have"),
    (lambda d: d["flow_options"].update(payers=["Summit Mutual", "Summit Mutual"]),
     r"flow_options: payers: Value error, payer\(s\) listed twice: Summit Mutual"),
    (lambda d: d["flow_options"].pop("results_api"), r"flow_options: results_api: Field required"),
    (lambda d: d["flow_options"].update(results_api="api/v2"),
     r"flow_options: results_api: Value error, must be a path"),
    (lambda d: d["flow_options"].update(payer="Summit Mutual"),
     r"flow_options: payer: Extra inputs are not permitted"),
    (lambda d: d["locators"].pop("download_button"),
     r"flow 'clearinghouse' needs download_button"),
])
def test_clearpath_config_errors_name_the_file_and_field(tmp_path, mutate, message):
    data = _clearpath_data()
    mutate(data)
    config_error(tmp_path, "clearpath", data, message)
