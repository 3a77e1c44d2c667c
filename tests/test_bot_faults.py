"""The bot against Northwind's injected faults, through real Chromium on 127.0.0.1: the documents
page (and its payment-letter trap), maintenance, downloads cut off half-way, inline documents,
a portal redesign, the ``?cw_faults=`` switch, and the per-pull circuit breaker.

One small portal serves the whole module (6 remittances, 4 a page); each test sets its own
faults and starts from clean counters.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from bots import PayerConfig, pull_remittances
from bots.models import FailedDocument
from bots.runtime import CircuitBreaker, Runtime
from bots.session import portal_slot, slot_semaphore
from claimwright.errors import SystemFault
from fixtures.portals import PortalFaults, demo_account, demo_environment, running_portal_server

from portal_fixtures import write_sample_dataset

pytestmark = pytest.mark.browser

ACCOUNT = demo_account("northwind")
WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
COUNT = 6


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults-data")
    return folder, write_sample_dataset("northwind", folder, count=COUNT)


@pytest.fixture(scope="module")
def server(dataset):
    with running_portal_server("northwind", dataset[0], page_size=4) as running:
        yield running


@pytest.fixture
def portal(server, monkeypatch, tmp_path):
    """The module's portal with no faults, zeroed counters and no sessions; credentials set."""
    state = server.app.state.portal
    state.faults = PortalFaults()
    state.hits.clear()
    state.expire_all_sessions()
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("CLAIMWRIGHT_NORTHWIND_URL", server.url)
    return server


@pytest.fixture
def truth(dataset):
    return {r["remittance_id"]: r["sha256"] for r in dataset[1]["remittances"]}


def _without(config: PayerConfig, *names: str, **replace: list[dict]) -> PayerConfig:
    """``config`` without the locators ``names`` (``with_overrides`` merges, never removes)."""
    data = config.model_dump()
    data["locators"] = {n: chain for n, chain in data["locators"].items() if n not in names}
    data["locators"].update(replace)
    return PayerConfig.model_validate(data)


def _with_fallbacks(config: PayerConfig, extra: dict[str, list[dict]]) -> PayerConfig:
    locators = {name: [s.model_dump(exclude_defaults=True) for s in chain]
                for name, chain in config.locators.items()}
    for name, candidates in extra.items():
        locators[name] = locators[name] + candidates
    return config.with_overrides(locators=locators)


def _use_config(config: PayerConfig, tmp_path: Path, monkeypatch) -> None:
    """Make ``config`` the payer's YAML file (for code that loads configs by payer name)."""
    selectors = tmp_path / "selectors"
    selectors.mkdir(exist_ok=True)
    (selectors / f"{config.payer}.yaml").write_text(yaml.safe_dump(config.model_dump(mode="json")))
    monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(selectors))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def _assert_evidence(fault: SystemFault, evidence: Path) -> bytes:
    """Screenshot + trace in the evidence folder; the trace holds no credential."""
    import zipfile

    shot, trace = Path(fault.context["screenshot"]), Path(fault.context["trace"])
    assert shot.parent == evidence and shot.read_bytes().startswith(b"\x89PNG")
    assert trace.parent == evidence and trace.name.endswith(".trace.zip")
    with zipfile.ZipFile(trace) as archive:
        blob = b"".join(archive.read(name) for name in archive.namelist())
    for secret in (ACCOUNT.password, ACCOUNT.username, ACCOUNT.totp_secret):
        assert secret.encode() not in blob
    text = f"{fault!s} {fault.context!r}"
    assert ACCOUNT.password not in text and ACCOUNT.username not in text
    return blob


# documents page -------------------------------------------------------------------------------
def test_documents_page_gives_the_remittance_advice_never_the_payment_letter(
        portal, tmp_path, truth, fast_northwind_config):
    result = pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl")
    hits = portal.app.state.portal.hits
    assert result.failed == [] and result.pages_visited == 2
    assert {d.remittance_id: d.sha256 for d in result.downloaded} == truth
    for doc in result.downloaded:
        assert hashlib.sha256(doc.path.read_bytes()).hexdigest() == truth[doc.remittance_id]
        assert doc.url.startswith(portal.url + "/remittances/")  # the documents page
    assert hits["documents_page"] == COUNT and hits["download"] == COUNT
    assert "letter" not in hits  # listed first on every documents page, never fetched


def test_configs_without_documents_link_still_work_on_rows_that_link_the_pdf(
        dataset, tmp_path, truth, monkeypatch, fast_northwind_config):
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))
    config = _without(fast_northwind_config, "documents_link",  # the older config
                      download_link=[{"role": "link", "name": "Download PDF"},
                                     {"css": "a[href*='/documents/']"}])
    with running_portal_server("northwind", dataset[0], page_size=4,
                               documents_page=False) as old_portal:
        result = pull_remittances(config, *WIDE, tmp_path / "dl", base_url=old_portal.url)
        hits = dict(old_portal.app.state.portal.hits)
    assert {d.remittance_id: d.sha256 for d in result.downloaded} == truth
    assert "documents_page" not in hits and hits["download"] == COUNT


# maintenance ----------------------------------------------------------------------------------
def test_maintenance_shorter_than_the_retry_budget_is_waited_out(portal, tmp_path, truth, caplog,
                                                                  fast_northwind_config):
    # no `maintenance` locator: the 503 page's text says "maintenance"
    config = _without(fast_northwind_config, "maintenance")
    portal.app.state.portal.set_faults(maintenance_first=2)
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    assert {d.remittance_id: d.sha256 for d in result.downloaded} == truth
    retries = [r.getMessage() for r in caplog.records if "portal-maintenance" in r.getMessage()]
    assert len(retries) == 2 and all("step login failed" in m for m in retries)
    assert portal.app.state.portal.hits["login_page"] == 1  # the third try got through


def test_maintenance_beyond_the_budget_stops_the_payer_with_one_review_item(
        portal, tmp_path, monkeypatch, workspace, fast_northwind_config):
    from claimwright.types import ReviewKind
    from claimwright.pipeline import Context, pull_payer

    # The portal goes down right after sign-in: its search page switches maintenance on
    # (``?cw_faults=``) for every request from then on.
    _use_config(fast_northwind_config.with_overrides(
        portal={"search_path": "/remittances?cw_faults=maintenance_first=99"}), tmp_path,
        monkeypatch)
    ctx = Context.from_settings()
    try:
        counts = pull_payer(ctx, "northwind", *WIDE, base_url=portal.url)
        [item] = ctx.queue.items(kind=ReviewKind.PORTAL_FAILURE)
    finally:
        ctx.ledger.close()
    hits = portal.app.state.portal.hits
    assert counts.downloaded == 0 and counts.review_opened == 1 and len(counts.errors) == 1
    assert hits["search_page"] == 1  # only the redirect after sign-in: no try got through
    context = item.context
    assert context["error"] == "portal-maintenance" and context["step"] == "search"
    assert context["attempts"] == 3 and context["status"] == 503
    assert context["url"].startswith(portal.url + "/remittances")
    assert "still down after the retry budget" in item.reason
    assert sorted(item.evidence) == sorted([context["screenshot"], context["trace"]])
    fault = SystemFault(item.reason, code=context["error"], **context)
    blob = _assert_evidence(fault, workspace.evidence)
    assert b"Scheduled maintenance" in blob  # the trace saw the maintenance page


# downloads ------------------------------------------------------------------------------------
def test_a_download_cut_off_half_way_is_retried_and_never_saved_half(
        portal, tmp_path, truth, caplog, fast_northwind_config):
    portal.app.state.portal.set_faults(truncate_downloads_first=2)
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    dest = tmp_path / "dl"
    result = pull_remittances(fast_northwind_config, *WIDE, dest)
    hits = portal.app.state.portal.hits
    assert result.failed == []
    assert {d.remittance_id: d.sha256 for d in result.downloaded} == truth
    assert hits["truncated"] == COUNT + 2 and hits["download"] == COUNT + 2  # 2 cut, retried
    assert _files(dest) == {d.path for d in result.downloaded}  # no partial or temp file left
    retried = [r.getMessage() for r in caplog.records if "download-interrupted" in r.getMessage()]
    assert len(retried) == 2


def test_query_flags_switch_faults_on_a_running_portal_and_inline_documents_are_files(
        portal, tmp_path, truth, fast_northwind_config):
    state = portal.app.state.portal
    with urllib.request.urlopen(portal.url + "/login?cw_faults=inline_documents") as response:
        assert response.status == 200
    assert state.faults.inline_documents is True and state.faults.redesign is False
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(portal.url + "/login?cw_faults=no_such_fault")
    assert bad.value.code == 400 and b"no_such_fault" in bad.value.read()
    assert state.faults.inline_documents is True  # a bad flag changes nothing

    result = pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl")
    assert state.hits["inline"] == COUNT  # every PDF was served Content-Disposition: inline
    assert {d.remittance_id: d.sha256 for d in result.downloaded} == truth
    assert all(d.path.is_file() and d.path.read_bytes().startswith(b"%PDF-")
               for d in result.downloaded)


# redesign -------------------------------------------------------------------------------------
def test_a_redesign_is_a_permanent_locator_fault_with_evidence(portal, tmp_path,
                                                               fast_northwind_config):
    # The release lands mid-run, right after sign-in (``?cw_faults=redesign`` on the search page).
    config = fast_northwind_config.with_overrides(
        portal={"search_path": "/remittances?cw_faults=redesign"})
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert portal.app.state.portal.faults.redesign is True
    assert fault.code == "locator-not-found" and fault.retryable is False
    assert fault.context["step"] == "search" and fault.context["attempts"] == 1
    assert fault.context["url"].startswith(portal.url + "/remittances")
    assert fault.context["locators"] == {"date_from": ["label='Payment date from'",
                                                       "css='input[name=from]'"]}
    blob = _assert_evidence(fault, tmp_path / "ev")
    assert b"Paid from" in blob  # the trace shows the new page


REDESIGN_FALLBACKS = {
    "username": [{"label": "User ID"}],
    "password": [{"label": "Passphrase"}],
    "submit_login": [{"role": "button", "name": "Log in"}],
    "otp": [{"label": "Verification code"}],
    "submit_otp": [{"role": "button", "name": "Continue"}],
    "date_from": [{"label": "Paid from"}],
    "date_to": [{"label": "Paid through"}],
    "submit_search": [{"role": "button", "name": "Find payments"}],
    "results_table": [{"role": "table", "name": "Payments"}],
    "documents_link": [{"role": "link", "name": "Details"}],
    "download_link": [{"role": "link", "name": "Get remittance advice (PDF)"}],
}


def test_a_redesign_with_fallbacks_in_the_config_completes_and_warns_once_per_locator(
        portal, tmp_path, truth, caplog, fast_northwind_config):
    portal.app.state.portal.set_faults(redesign=True)
    config = _with_fallbacks(fast_northwind_config, REDESIGN_FALLBACKS)
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    assert result.failed == [] and result.pages_visited == 2
    assert {d.remittance_id: d.sha256 for d in result.downloaded} == truth
    assert "letter" not in portal.app.state.portal.hits
    warned = [r.getMessage().split("'")[1] for r in caplog.records
              if "fallback" in r.getMessage()]
    # the configured fallbacks, plus the CSS fallbacks that still match (sign-out link, pager)
    assert sorted(warned) == sorted({*REDESIGN_FALLBACKS, "logged_in", "next_page"})


# circuit breaker ------------------------------------------------------------------------------
def test_circuit_breaker_stops_the_payer_after_n_failed_documents_in_a_row(
        portal, tmp_path, fast_northwind_config):
    portal.app.state.portal.set_faults(fail_first={"download": 999})
    config = fast_northwind_config.with_overrides(retry={"circuit_breaker_after": 3})
    evidence = tmp_path / "ev"
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=evidence)
    hits = portal.app.state.portal.hits
    fault = info.value
    assert fault.code == "circuit-open" and fault.retryable is False
    # bounded: 3 documents x 3 attempts, then the payer stopped; the other 3 never asked for
    assert hits["download"] == 3 * 3 and hits["documents_page"] == 3
    items = fault.context["failed_items"]
    assert len(items) == 3 and {i["code"] for i in items} == {"http-5xx"}
    assert all(i["step"] == "download" and Path(i["screenshot"]).is_file()
               and Path(i["trace"]).is_file() for i in items)
    assert fault.context["attempts"] == 9 and fault.context["downloaded"] == []
    _assert_evidence(fault, evidence)
    assert fault.context["trace"] == items[-1]["trace"]


def test_transient_document_failures_below_the_threshold_do_not_stop_the_pull(
        portal, tmp_path, truth, monkeypatch, workspace, fast_northwind_config):
    from claimwright.types import ReviewKind
    from claimwright.pipeline import Context, pull_payer

    # 4 failures: the first document's 3 attempts, then 1 failure of the second (retried, taken)
    portal.app.state.portal.set_faults(fail_first={"download": 4})
    _use_config(fast_northwind_config.with_overrides(retry={"circuit_breaker_after": 2}),
                tmp_path, monkeypatch)
    ctx = Context.from_settings()
    try:
        counts = pull_payer(ctx, "northwind", *WIDE, base_url=portal.url)
        [item] = ctx.queue.items()
        taken = {d.remittance_id for d in ctx.ledger.documents()}
    finally:
        ctx.ledger.close()
    assert counts.errors == [] and counts.downloaded == COUNT - 1 and counts.review_opened == 1
    assert portal.app.state.portal.hits["download"] == 4 + COUNT - 1
    assert item.kind == ReviewKind.DOCUMENT_FAILED and item.context["error"] == "http-5xx"
    assert item.context["step"] == "download"
    assert taken == set(truth) - {item.context["remittance_id"]}
    assert len(item.evidence) == 2 and all(Path(p).is_file() for p in item.evidence)


# without a browser -----------------------------------------------------------------------------
@pytest.mark.parametrize("outcomes, opens_at", [
    ("FFF", 3), ("FFSFFF", 6), ("FSFSFS", None), ("SSFF", None),
])
def test_circuit_breaker_counts_failures_in_a_row_only(outcomes, opens_at):
    breaker = CircuitBreaker(3)
    opened = None
    for n, outcome in enumerate(outcomes, start=1):
        if outcome == "S":
            breaker.success()
        elif breaker.failure(FailedDocument("p", f"R{n}", "x", "http-5xx")) and opened is None:
            opened = n
    assert opened == opens_at


def test_politeness_spaces_requests_of_one_session(fast_northwind_config):
    config = fast_northwind_config.with_overrides(portal={"min_interval_ms": 500})
    clock = {"now": 100.0}
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 3))
        clock["now"] += seconds

    rt = Runtime(config, sleep=sleep, clock=lambda: clock["now"])
    rt.polite()             # the first request never waits
    clock["now"] += 0.2
    rt.polite()             # 0.2 s later: waits the remaining 0.3 s
    clock["now"] += 2.0
    rt.polite()             # long after: no wait
    assert slept == [0.3]
    fast = Runtime(fast_northwind_config, sleep=sleep, clock=lambda: clock["now"])
    fast.polite()
    fast.polite()           # min_interval_ms 0 (default): never waits
    assert slept == [0.3]


def test_portal_slot_limits_sessions_per_portal(fast_northwind_config):
    one = fast_northwind_config.with_overrides(payer="slot-test")
    two = one.with_overrides(portal={"max_sessions": 2})
    inside = threading.Event()
    leave = threading.Event()

    def hold(config: PayerConfig) -> None:
        with portal_slot(config):
            inside.set()
            leave.wait(30)

    for config, free_after in ((one, 0), (two, 1)):
        inside.clear()
        leave.clear()
        worker = threading.Thread(target=hold, args=(config,))
        worker.start()
        try:
            assert inside.wait(30)
            slot = slot_semaphore(config)
            got = [slot.acquire(blocking=False) for _ in range(2)]
            assert got.count(True) == free_after  # the running session holds one slot
            for taken in got:
                if taken:
                    slot.release()
        finally:
            leave.set()
            worker.join(30)
