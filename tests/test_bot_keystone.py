"""The Keystone (Medicare contractor) mock portal and the ``medicare-frames`` flow, through real
Chromium on 127.0.0.1: old markup, pages inside an iframe, form posts, PDF + 835 per check/EFT.

One portal serves the whole module (8 remittances, 3 a page: 3 pages); each test sets the faults
it needs on the running portal and the ``portal`` fixture puts everything back afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from decimal import Decimal
from pathlib import Path

import pytest

from bots import load_payer_config, pull_remittances, safe_stem
from bots.documents import x12_problem
from claimwright.errors import SystemFault
from fixtures.portals import ManifestError, demo_account, load_documents
from fixtures.portals import running_portal_server

from portal_fixtures import (assert_secret_free, config_error, fast_config,
                             maintenance_after_sign_in, manifest_truth, module_portal,
                             portal_state, write_sample_dataset)

ACCOUNT = demo_account("keystone")
WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
COUNT = 8
PAGE_SIZE = 3


def _x12(entry: dict) -> bytes:
    """A small well-formed X12 835 envelope for one manifest entry (what the bot checks)."""
    segments = [
        "ISA*00*          *00*          *ZZ*12502          *ZZ*1771000357     *240618*1200*^*"
        "00501*000000001*0*P*:",
        "GS*HP*12502*1771000357*20240618*1200*1*X*005010X221A1", "ST*835*0001",
        f"BPR*I*{entry['amount']}*C*ACH************20240618",
        f"TRN*1*{entry['trace_number']}*1000012502", "N1*PR*Keystone Medicare Services*XV*12502",
        f"REF*EV*{entry['remittance_id']}", "SE*6*0001", "GE*1*1", "IEA*1*000000001"]
    return ("~\n".join(segments) + "~\n").encode()


def write_keystone_dataset(out_dir: Path, count: int = COUNT) -> dict:
    """``write_sample_dataset`` plus an 835 per remittance (manifest key ``x12``)."""
    manifest = write_sample_dataset("keystone", out_dir, count=count)
    for n, entry in enumerate(manifest["remittances"]):
        entry["x12"] = f"pdf/doc-{n:04d}.835"
        (out_dir / entry["x12"]).write_bytes(_x12(entry))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


keystone_server, portal = module_portal("keystone", write_keystone_dataset, page_size=PAGE_SIZE)


@pytest.fixture
def config():
    return fast_config("keystone", action_ms=4000)


def _assert_all_taken(server, result, dest: Path) -> None:
    """Every remittance taken once: the 835 as the document, the PDF beside it, both intact."""
    truth = manifest_truth(server)
    assert result.failed == []
    assert sorted(d.remittance_id for d in result.downloaded) == sorted(truth)
    folder = (dest / "keystone").resolve()
    for doc in result.downloaded:
        entry = truth[doc.remittance_id]
        x12 = (server.data_dir / entry["x12"]).read_bytes()
        assert doc.kind == "x12-835" and doc.path == folder / f"{safe_stem(doc.remittance_id)}.835"
        assert doc.path.read_bytes() == x12
        assert doc.sha256 == hashlib.sha256(x12).hexdigest() and doc.size == len(x12)
        assert x12_problem(doc.path.read_bytes(), min_bytes=200, max_bytes=10**6) is None
        pdf = doc.renditions["pdf"]
        assert pdf == folder / f"{safe_stem(doc.remittance_id)}.pdf"
        assert hashlib.sha256(pdf.read_bytes()).hexdigest() == entry["sha256"]
        assert doc.trace_number == entry["trace_number"]
        assert doc.payment_date == dt.date.fromisoformat(entry["payment_date"])
        assert isinstance(doc.amount, Decimal) and doc.amount == Decimal(entry["amount"])
    # bot-chosen names only: never the server's suggested "<check number>.pdf"
    assert {p.name for p in folder.iterdir()} == \
        {f"{rid}{suffix}" for rid in truth for suffix in (".835", ".pdf")}


def _assert_secret_free(fault: SystemFault, log_text: str) -> None:
    """No credential in the fault's message or context, the log, or the kept trace's bytes."""
    assert_secret_free(fault, log_text, ACCOUNT, b"/portal")


# browser -------------------------------------------------------------------------------------
@pytest.mark.browser
def test_full_pull_takes_835_and_pdf_then_rerun_downloads_nothing(portal, config, tmp_path,
                                                                  monkeypatch, caplog):
    """The real synthetic Keystone remittances (``build_dataset``: 6 + 2 anomalies, SPR PDFs and
    835s): each taken as its 835 with the PDF beside it, byte-exact; the 835 parses and agrees
    with the listing; a rerun that knows them downloads nothing."""
    from claimwright.parsing import parse_file
    from fixtures.remittances import build_dataset

    caplog.set_level(logging.DEBUG)
    data = tmp_path / "data"
    manifest = build_dataset("keystone", data, count=6, anchor=dt.date(2024, 6, 28))
    with running_portal_server("keystone", data, page_size=PAGE_SIZE) as server:
        server.manifest, server.data_dir = manifest, data
        monkeypatch.setenv("CLAIMWRIGHT_KEYSTONE_URL", server.url)
        result = pull_remittances(config, *WIDE, tmp_path / "dl")
        assert result.pages_visited == 3 and result.listed == len(manifest["remittances"]) == 8
        _assert_all_taken(server, result, tmp_path / "dl")
        hits = dict(portal_state(server).hits)
        assert hits["download"] == 2 * 8 and hits["results"] == 3  # search + 2 "Next" posts
        for doc in result.downloaded:
            (remit,) = parse_file(doc.path)
            assert remit.format == "x12-835"
            assert remit.payment.trace_number == doc.trace_number
            assert remit.payment.amount == doc.amount
        assert ACCOUNT.password not in caplog.text and ACCOUNT.username not in caplog.text

        known = {d.remittance_id for d in result.downloaded}
        again = pull_remittances(config, *WIDE, tmp_path / "dl2", is_known=known.__contains__)
        assert again.downloaded == [] and again.failed == []
        assert sorted(again.skipped_known) == sorted(known) and again.listed == 8
        assert portal_state(server).hits["download"] == 2 * 8  # nothing fetched the second time
        assert portal_state(server).hits["login"] == 1  # the saved sign-in was reused
    assert not (tmp_path / "dl2" / "keystone").exists()


@pytest.mark.browser
def test_503s_on_frame_pages_and_downloads_are_retried_and_complete(portal, config, tmp_path,
                                                                    caplog):
    portal_state(portal).set_faults(fail_first={"search_page": 1, "results": 1, "download": 2})
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_all_taken(portal, result, tmp_path / "dl")
    hits = dict(portal_state(portal).hits)
    # search: form 503 | form, search post 503 | form, search post: done on the third attempt
    assert hits["search_page"] == 3 and hits["results"] == 2 + 2
    assert hits["download"] == 2 * COUNT + 2
    assert "step search failed (attempt 1 of 3, http-5xx)" in caplog.text
    assert "step download failed (attempt 2 of 3, http-5xx)" in caplog.text


@pytest.mark.browser
def test_session_expiry_mid_run_signs_in_again_and_resumes(portal, config, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="claimwright.bots")
    # sessions last 12 requests: the downloads outlive several sessions
    portal_state(portal).set_faults(expire_session_after=12)
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_all_taken(portal, result, tmp_path / "dl")
    hits = dict(portal_state(portal).hits)
    assert hits["session_expired"] >= 1
    assert hits["download"] == 2 * COUNT  # resumed: nothing fetched twice
    assert hits["login"] == 1 + hits["session_expired"]
    assert "session lost at step download" in caplog.text
    assert ACCOUNT.password not in caplog.text


@pytest.mark.browser
def test_session_expiry_inside_the_frame_is_session_lost_and_the_page_is_replayed(
        portal, config, tmp_path, caplog, monkeypatch):
    from bots.portals import medicare_frames

    caplog.set_level(logging.INFO, logger="claimwright.bots")
    state = portal_state(portal)
    original = medicare_frames.frame_submit
    expired = []

    def frame_submit(bot, step, frame, target):
        if step == "results-page-2" and not expired:  # the portal drops the session now
            expired.append(True)
            state.expire_all_sessions()
        return original(bot, step, frame, target)

    monkeypatch.setattr(medicare_frames, "frame_submit", frame_submit)
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_all_taken(portal, result, tmp_path / "dl")
    assert expired and state.hits["login"] == 2
    # the "Next" post landed on the sign-in page inside the frame: session-lost, re-login,
    # the search replayed up to page 1, then page 2 posted again
    assert "session lost at step results-page-2" in caplog.text
    assert "replaying the search" in caplog.text
    assert state.hits["results"] == 3 + 1  # search, (replayed search), page 2, page 3
    assert state.hits["download"] == 2 * COUNT


@pytest.mark.browser
def test_maintenance_beyond_the_retry_budget_stops_with_evidence_and_no_credentials(
        portal, config, tmp_path, caplog, monkeypatch):
    """Frames too: maintenance past the retry budget is permanent, with evidence, secret-free."""
    caplog.set_level(logging.DEBUG)
    fault = maintenance_after_sign_in(portal, config, tmp_path, monkeypatch)
    assert fault.context["url"] == portal.url + "/portal"
    _assert_secret_free(fault, caplog.text)


@pytest.mark.browser
def test_short_maintenance_inside_the_frame_is_retried_and_completes(portal, config, tmp_path,
                                                                     monkeypatch, caplog):
    from bots.portals import medicare_frames

    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    state = portal_state(portal)
    original = medicare_frames.frame_submit
    started = []

    def frame_submit(bot, step, frame, target):
        if step == "results-page-2" and not started:  # maintenance begins for two requests
            started.append(True)
            state.set_faults(maintenance_first=2)
        return original(bot, step, frame, target)

    monkeypatch.setattr(medicare_frames, "frame_submit", frame_submit)
    result = pull_remittances(config, *WIDE, tmp_path / "dl")
    _assert_all_taken(portal, result, tmp_path / "dl")
    # two maintenance pages (the "Next" post in the frame, then the replay's shell page), then
    # the portal is back and the third attempt goes through
    assert "step results-page-2 failed (attempt 1 of 3, portal-maintenance)" in caplog.text
    assert "step results-page-2 failed (attempt 2 of 3, portal-maintenance)" in caplog.text
    assert "attempt 3 of 3" not in caplog.text


@pytest.mark.browser
def test_redesign_is_a_permanent_locator_fault_with_evidence(portal, config, tmp_path, caplog):
    portal_state(portal).set_faults(redesign=True)
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "locator-not-found" and fault.retryable is False
    assert fault.context["step"] == "search" and fault.context["attempts"] == 1
    # the menu link text changed (its CSS fallback still matched, with a warning); the search
    # form's labels and ids changed: nothing matches date_from any more
    assert fault.context["locators"] == {"date_from": ["label='Issue Date From'",
                                                       "css='input#fromDate'"]}
    assert fault.context["frame_url"] == portal.url + "/portal/ra/search"
    assert "'remittance_menu'" in caplog.text and "fallback #1" in caplog.text
    assert Path(fault.context["screenshot"]).is_file()
    _assert_secret_free(fault, caplog.text)


@pytest.mark.browser
def test_download_faults_truncated_retried_inline_saved_bad_file_skipped(portal, config,
                                                                        tmp_path):
    """Over a posted date range (one page): downloads cut off half-way are retried and never
    saved half; files served ``Content-Disposition: inline`` are saved as files anyway; a
    remittance whose file is an HTML notice fails alone and keeps nothing of itself."""
    truth = manifest_truth(portal)
    dates = sorted(dt.date.fromisoformat(r["payment_date"]) for r in truth.values())
    in_range = sorted(rid for rid, r in truth.items()
                      if dates[1] <= dt.date.fromisoformat(r["payment_date"]) <= dates[3])
    bad = in_range[1]
    portal_state(portal).set_faults(truncate_downloads_first=2, inline_documents=True, not_pdf=[bad])
    result = pull_remittances(config, dates[1], dates[3], tmp_path / "dl")
    assert result.pages_visited == 1 and result.listed == 3
    assert portal_state(portal).hits["results"] == 1  # one search post, one page
    assert [f.remittance_id for f in result.failed] == [bad]
    assert result.failed[0].code == "not-835"  # the 835 is fetched first
    assert sorted(d.remittance_id for d in result.downloaded) == sorted(set(in_range) - {bad})
    assert portal_state(portal).hits["download"] == 2 * 2 + 1 + 2  # 2 whole, 1 refused, 2 retries
    for doc in result.downloaded:  # every file whole, under the bot's names
        entry = truth[doc.remittance_id]
        assert doc.path.read_bytes() == (portal.data_dir / entry["x12"]).read_bytes()
        pdf = doc.renditions["pdf"].read_bytes()
        assert hashlib.sha256(pdf).hexdigest() == entry["sha256"]
    assert not list((tmp_path / "dl" / "keystone").glob(f"{bad}.*"))


@pytest.mark.browser
def test_captcha_is_permanent(portal, config, tmp_path, caplog):
    portal_state(portal).set_faults(captcha=True)
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "captcha" and fault.retryable is False
    assert fault.context["step"] == "login" and fault.context["attempts"] == 1
    assert fault.context["trace"] is None  # nothing is traced before sign-in
    assert Path(fault.context["screenshot"]).is_file()
    assert portal_state(portal).hits["login"] == 1
    text = f"{fault!s} {fault.context!r} {caplog.text}"
    assert ACCOUNT.password not in text and ACCOUNT.username not in text


# without a browser ---------------------------------------------------------------------------
def test_portal_pages_over_http(portal):
    """The mock itself: sign-in wall (frame pages too), form-post search and paging, both files,
    the maintenance notice, the redesign switch."""
    import re

    import httpx

    from fixtures.portals import keystone

    with httpx.Client(base_url=portal.url) as client:
        wall = client.get("/portal/ra/search")
        assert wall.status_code == 303
        assert wall.headers["location"] == "/login?next=%2Fportal%2Fra%2Fsearch"
        wrong = client.post("/login", data={"userId": ACCOUNT.username, "passwd": "nope"})
        assert "Invalid User ID or Password" in wrong.text and ACCOUNT.username not in wrong.text
        shell = client.post("/login", data={"userId": ACCOUNT.username,
                                             "passwd": ACCOUNT.password}, follow_redirects=True)
        assert str(shell.url).endswith("/portal") and keystone.SESSION_COOKIE in client.cookies
        assert '<iframe name="main"' in shell.text and 'target="main"' in shell.text
        form = {"fromDate": "01/01/2000", "toDate": "12/31/2099"}
        pages = [client.post("/portal/ra/search", data={**form, "page": str(n)}).text
                 for n in (1, 2, 3)]
        rows = [re.findall(r'<tr class="data"><td>[^<]*</td><td>[^<]*</td><td>([^<]+)</td>', p)
                for p in pages]
        assert [len(r) for r in rows] == [3, 3, 2]
        assert sorted(sum(rows, [])) == sorted(manifest_truth(portal))
        assert 'value="Next &gt;"' in pages[0] and 'value="Next &gt;"' not in pages[2]
        bad = client.post("/portal/ra/search", data={"fromDate": "13/45/2024", "toDate": ""})
        assert "Invalid date" in bad.text
        links = re.findall(r'href="(/portal/ra/[0-9a-f]+\.(?:pdf|835))"', pages[0])
        assert len(links) == 6
        pdf, x12 = client.get(links[0]), client.get(links[1])
        assert pdf.content.startswith(b"%PDF-") and x12.content.startswith(b"ISA")
        assert x12.headers["content-disposition"].startswith("attachment;")
        down = client.get("/portal?cw_faults=maintenance_first=1")
        assert down.status_code == 503 and down.headers["retry-after"]
        assert "down for scheduled system maintenance" in down.text
        new_look = client.get("/portal/ra/search?cw_faults=redesign,maintenance_first=0").text
        assert "Check Date Begin" in new_look and "Issue Date From" not in new_look


def test_keystone_config_loads_with_references_only():
    config = load_payer_config("keystone")
    assert config.flow == "medicare-frames" and config.flow_options == {"frame": "main"}
    assert config.credentials.username_env == "CLAIMWRIGHT_KEYSTONE_USERNAME"
    assert config.credentials.password_env == "CLAIMWRIGHT_KEYSTONE_PASSWORD"
    assert config.resolve_base_url(env={}) == "http://127.0.0.1:8766"
    for name in ("username", "date_from", "pdf_link", "x12_link", "next_page"):
        assert config.locators[name][0].strategy in ("role", "label", "text")
        assert config.locators[name][-1].strategy == "css"
    raw = Path(config.source).read_text()
    assert ACCOUNT.password not in raw and ACCOUNT.username not in raw


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["flow_options"].update(frame="not a name!"),
     r"flow_options: frame: String should match pattern"),
    (lambda d: d["flow_options"].update(frames="main"), r"flow_options: frames: Extra inputs"),
    (lambda d: d["locators"].pop("x12_link"), r"flow 'medicare-frames' needs x12_link"),
])
def test_keystone_config_errors_name_the_file_and_field(tmp_path, mutate, message):
    import yaml

    data = yaml.safe_load(load_payer_config("keystone").source.read_text())
    mutate(data)
    config_error(tmp_path, "keystone", data, message)


def test_manifest_x12_files_are_loaded_and_checked(tmp_path):
    manifest = write_keystone_dataset(tmp_path, count=2)
    docs = load_documents(tmp_path, "keystone")
    assert {d.x12_path for d in docs} == {(tmp_path / r["x12"]).resolve()
                                          for r in manifest["remittances"]}
    manifest["remittances"][0]["x12"] = "../outside.835"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match=r"remittances\[0\]: x12 file '../outside.835'"):
        load_documents(tmp_path, "keystone")
