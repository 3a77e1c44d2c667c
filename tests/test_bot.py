"""The generic bot against the northwind mock portal, through real Chromium on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from bots import (
    BrowserMissing,
    ConfigError,
    PayerConfig,
    document_path,
    load_payer_config,
    parse_payer_config,
    pdf_problem,
    pull_remittances,
    resolve_chromium,
    safe_stem,
)
from claimwright.errors import SystemFault
from fixtures.portals import demo_account, demo_environment, running_portal, running_portal_server

from portal_fixtures import (  # noqa: F401  (fixtures)
    config_error,
    fast_northwind_config,
    northwind_env,
    northwind_portal,
    portal_dataset,
    write_sample_dataset,
)

ACCOUNT = demo_account("northwind")
WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))


@pytest.fixture(autouse=True)
def _private_session_dir(tmp_path, monkeypatch):
    """Saved sign-ins of these tests go to a temp dir, never the user's state folder."""
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _assert_trace_without_secrets(fault: SystemFault) -> bytes:
    """The fault's Playwright trace exists and no entry holds the login or TOTP secret."""
    import zipfile

    path = Path(fault.context["trace"])
    assert path.is_file() and path.name.endswith(".trace.zip")
    with zipfile.ZipFile(path) as archive:
        blob = b"".join(archive.read(name) for name in archive.namelist())
    for secret in (ACCOUNT.password, ACCOUNT.username, ACCOUNT.totp_secret):
        assert secret.encode() not in blob
    return blob


def _assert_no_credentials(fault: SystemFault) -> None:
    text = f"{fault!s} {fault.message} {fault.context!r}"
    assert ACCOUNT.password not in text
    assert ACCOUNT.username not in text


# browser -------------------------------------------------------------------------------------
@pytest.mark.browser
def test_full_pull_then_rerun_downloads_nothing(northwind_env, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    portal = northwind_env
    truth = {r["remittance_id"]: r for r in portal.manifest["remittances"]}
    result = pull_remittances("northwind", *WIDE, tmp_path / "dl")

    assert result.pages_visited >= 2
    assert result.listed == len(truth) >= 14
    assert result.failed == [] and result.skipped_known == []
    assert {d.remittance_id for d in result.downloaded} == set(truth)
    for doc in result.downloaded:
        expected = truth[doc.remittance_id]
        data = doc.path.read_bytes()
        assert doc.sha256 == expected["sha256"] == hashlib.sha256(data).hexdigest()
        assert doc.size == len(data)
        assert doc.path.parent == (tmp_path / "dl" / "northwind").resolve()
        assert doc.payment_date == dt.date.fromisoformat(expected["payment_date"])
        assert doc.trace_number == expected["trace_number"]
        assert isinstance(doc.amount, Decimal) and doc.amount == Decimal(str(expected["amount"]))
    log_text = caplog.text
    assert ACCOUNT.password not in log_text and ACCOUNT.username not in log_text

    known = {d.remittance_id for d in result.downloaded}
    again = pull_remittances("northwind", *WIDE, tmp_path / "dl2", is_known=known.__contains__)
    assert again.downloaded == [] and again.failed == []
    assert sorted(again.skipped_known) == sorted(known)
    assert not (tmp_path / "dl2" / "northwind").exists()


@pytest.mark.browser
def test_a_session_past_its_time_limit_stops_at_the_next_page_with_what_it_took(
        northwind_env, tmp_path):
    """The real portal flow checks the session's limit: a limit already passed at the first
    results page stops the pull there (``session-deadline``), nothing downloaded."""
    from claimwright.errors import SystemFault

    with pytest.raises(SystemFault) as info:
        pull_remittances("northwind", *WIDE, tmp_path / "dl", time_limit_s=0.001)
    assert info.value.code == "session-deadline"
    assert info.value.partial_result.downloaded == []
    assert not list((tmp_path / "dl").glob("northwind/*.pdf"))


@pytest.mark.browser
def test_wrong_password_is_a_permanent_fault_with_a_screenshot(northwind_env, tmp_path,
                                                               monkeypatch, caplog):
    monkeypatch.setenv("CLAIMWRIGHT_NORTHWIND_PASSWORD", "not-the-password-42")
    evidence = tmp_path / "evidence"
    with pytest.raises(SystemFault) as info:
        pull_remittances("northwind", *WIDE, tmp_path / "dl", evidence_dir=evidence)
    fault = info.value
    assert fault.retryable is False
    assert fault.code == "login-rejected"
    assert fault.context["step"] == "login"
    assert fault.context["url"].startswith(northwind_env.base_url + "/login")
    assert fault.context["attempts"] == 1  # never retried
    assert "Invalid username or password" in fault.context["portal_message"]
    shot = Path(fault.context["screenshot"])
    assert shot.parent == evidence and shot.read_bytes().startswith(b"\x89PNG")
    text = f"{fault!s} {fault.context!r} {caplog.text}"
    assert "not-the-password-42" not in text and ACCOUNT.username not in text
    assert "CLAIMWRIGHT_NORTHWIND_PASSWORD" in str(fault)  # names the variable, not the value
    assert not (tmp_path / "dl" / "northwind").exists()


@pytest.mark.browser
def test_wrong_totp_secret_is_a_permanent_mfa_fault_that_names_no_secret(
        northwind_env, tmp_path, monkeypatch, caplog, fast_northwind_config):
    import pyotp

    wrong_secret = pyotp.random_base32()  # a valid secret, but not the account's
    monkeypatch.setenv("CLAIMWRIGHT_NORTHWIND_TOTP_SECRET", wrong_secret)
    with pytest.raises(SystemFault) as info:
        pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "mfa-rejected" and fault.retryable is False
    assert fault.context["step"] == "mfa" and fault.context["attempts"] == 1
    assert "Invalid one-time code" in fault.context["portal_message"]
    assert "CLAIMWRIGHT_NORTHWIND_TOTP_SECRET" in str(fault)
    assert Path(fault.context["screenshot"]).is_file()
    text = f"{fault!s} {fault.context!r} {caplog.text}"
    assert wrong_secret not in text and ACCOUNT.password not in text
    assert ACCOUNT.totp_secret not in text


def test_totp_codes_wait_for_a_fresh_window_and_are_never_reused(fast_northwind_config,
                                                                 monkeypatch):
    import pyotp

    from bots.components import LoginForm
    from bots.credentials import Credentials
    from bots.runtime import Runtime

    secret = demo_account("northwind").totp_secret
    slept: list[float] = []
    clock = {"now": 1_700_000_000.0 + 10}  # 10 s into a 30 s window

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock["now"] += seconds

    portal = SimpleNamespace(rt=Runtime(fast_northwind_config, sleep=sleep))
    form = LoginForm(portal, Credentials("u", "p", secret), clock=lambda: clock["now"])
    first = form.one_time_code()
    assert slept == [] and first == pyotp.TOTP(secret).at(clock["now"])
    second = form.one_time_code()  # same window: wait for the next one, never send a code twice
    assert len(slept) == 1 and second != first
    clock["now"] += 30 - (clock["now"] % 30) - 3  # only 3 s left in this window
    third = form.one_time_code()
    assert len(slept) == 2 and clock["now"] % 30 < 1
    assert third == pyotp.TOTP(secret).at(clock["now"])


@pytest.mark.browser
def test_date_range_filters_the_listing(northwind_env, tmp_path):
    dates = sorted({dt.date.fromisoformat(r["payment_date"])
                    for r in northwind_env.manifest["remittances"]})
    start, end = dates[2], dates[6]
    expected = {r["remittance_id"] for r in northwind_env.manifest["remittances"]
                if start <= dt.date.fromisoformat(r["payment_date"]) <= end}
    result = pull_remittances("northwind", start, end, tmp_path / "dl")
    assert {d.remittance_id for d in result.downloaded} == expected
    assert result.listed == len(expected) and result.pages_visited == 1
    assert all(start <= d.payment_date <= end for d in result.downloaded)


@pytest.mark.browser
def test_fallback_locators_carry_on_and_warn_once(northwind_env, tmp_path, caplog,
                                                  fast_northwind_config):
    locators = dict(fast_northwind_config.locators)
    locators["username"] = [{"label": "User ID"}, *locators["username"]]
    locators["download_link"] = [{"role": "button", "name": "Get PDF"},
                                 *locators["download_link"]]
    config = fast_northwind_config.with_overrides(locators=locators)
    caplog.set_level(logging.WARNING, logger="claimwright.bots")
    dates = northwind_env.payment_dates
    result = pull_remittances(config, dates[-3], dates[-1], tmp_path / "dl")
    assert result.failed == [] and len(result.downloaded) >= 3
    warnings = [r.getMessage() for r in caplog.records if "fallback" in r.getMessage()]
    assert len(warnings) == 2  # once per locator, not once per row
    assert any("'download_link'" in w and "role='button'" in w for w in warnings)


@pytest.mark.browser
def test_hostile_remittance_ids_cannot_escape_dest_dir(tmp_path, monkeypatch):
    hostile = ["../../../escape", "..", "/etc/passwd", "a\\..\\b", "NW-RA-0001", "NW RA 0001"]
    data = tmp_path / "data"
    write_sample_dataset("northwind", data, ids=hostile)
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    dest = tmp_path / "out" / "dl"
    with running_portal("northwind", data) as url:  # the server suggests e.g. "../../../escape.pdf"
        result = pull_remittances("northwind", *WIDE, dest, base_url=url,
                                  evidence_dir=tmp_path / "out" / "evidence")
    assert sorted(d.remittance_id for d in result.downloaded) == sorted(hostile)
    folder = (dest / "northwind").resolve()
    paths = {d.path for d in result.downloaded}
    assert len(paths) == len(hostile)  # no two ids share a file
    assert all(p.parent == folder for p in paths)
    assert _files(tmp_path / "out") == paths
    assert not list(tmp_path.glob("escape*")) and not (tmp_path / "etc").exists()
    assert (folder / "NW-RA-0001.pdf") in paths


@pytest.mark.browser
def test_transient_faults_are_retried_and_a_bad_document_does_not_stop_the_batch(
        tmp_path, monkeypatch, fast_northwind_config):
    data = tmp_path / "data"
    manifest = write_sample_dataset("northwind", data, count=12)
    bad_id = manifest["remittances"][3]["remittance_id"]
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    faults = {"fail_first": {"login": 1, "results": 2, "download": 2}, "not_pdf": [bad_id]}
    with running_portal_server("northwind", data, faults=faults) as server:
        result = pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl",
                                  base_url=server.url)
        hits = dict(server.app.state.portal.hits)
    assert [f.remittance_id for f in result.failed] == [bad_id]
    assert result.failed[0].code == "not-a-pdf" and "HTML" in result.failed[0].reason
    assert {d.remittance_id for d in result.downloaded} == \
        {r["remittance_id"] for r in manifest["remittances"]} - {bad_id}
    assert not document_path(tmp_path / "dl", "northwind", bad_id).exists()
    assert hits["login"] == 2 and hits["results"] == 2 + 2  # 2 failures, then pages 1 and 2
    assert hits["download"] == 12 + 2


@pytest.mark.browser
def test_session_expiry_mid_run_signs_in_again_and_resumes_without_redownloading(
        tmp_path, monkeypatch, fast_northwind_config, caplog):
    data = tmp_path / "data"
    manifest = write_sample_dataset("northwind", data, count=12)
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.INFO, logger="claimwright.bots")
    # Re-logins within one 30 s window would wait for a fresh code (never reused; tested above):
    # let this test reuse the current code instead of waiting.
    import pyotp

    from bots.components import LoginForm

    monkeypatch.setattr(LoginForm, "one_time_code",
                        lambda self: pyotp.TOTP(self.credentials.totp_secret).now())
    # 10 signed-in requests a session: 2 results pages + 2 per document (its documents page, its
    # PDF) need two re-logins
    with running_portal_server("northwind", data, faults={"expire_session_after": 10}) as server:
        result = pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl",
                                  base_url=server.url)
        hits = dict(server.app.state.portal.hits)
    assert {d.remittance_id for d in result.downloaded} == \
        {r["remittance_id"] for r in manifest["remittances"]}
    assert result.failed == []
    assert hits["session_expired"] >= 2
    assert hits["download"] == 12  # each document fetched once: resumed, not restarted
    assert "session lost at step download" in caplog.text
    assert ACCOUNT.password not in caplog.text

    # a session that never lasts: bounded re-logins, then a permanent fault
    with running_portal_server("northwind", data, faults={"expire_session_after": 1}) as server:
        with pytest.raises(SystemFault) as info:
            pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl2", base_url=server.url,
                             evidence_dir=tmp_path / "ev")
    assert info.value.code == "session-lost" and info.value.retryable is False
    assert Path(info.value.context["screenshot"]).is_file()
    _assert_trace_without_secrets(info.value)  # the re-logins were not recorded
    _assert_no_credentials(info.value)


@pytest.mark.browser
def test_saved_sign_in_is_private_and_reused_until_unsafe_or_expired(
        tmp_path, monkeypatch, fast_northwind_config, caplog):
    import stat

    data = tmp_path / "data"
    write_sample_dataset("northwind", data, count=2)
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    sessions = tmp_path / "sessions"
    caplog.set_level(logging.INFO, logger="claimwright.bots")
    with running_portal_server("northwind", data) as server:
        state = server.app.state.portal

        def pull(n: int):
            return pull_remittances(fast_northwind_config, *WIDE, tmp_path / f"dl{n}",
                                    base_url=server.url, session_dir=sessions)

        assert len(pull(1).downloaded) == 2
        logins = lambda: sum(1 for _ in caplog.records if _.getMessage().endswith(": signed in"))
        assert logins() == 1
        [saved] = list(sessions.iterdir())
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        assert stat.S_IMODE(sessions.stat().st_mode) == 0o700
        raw = saved.read_text()
        assert ACCOUNT.password not in raw and ACCOUNT.totp_secret not in raw
        assert "northwind" in saved.name and "127.0.0.1" not in saved.name

        assert len(pull(2).downloaded) == 2 and logins() == 1  # reused: no new login
        saved.chmod(0o644)  # readable by others: not trusted, deleted, fresh login
        assert len(pull(3).downloaded) == 2 and logins() == 2
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        state.expire_all_sessions()  # the portal forgot it: sign in again
        assert len(pull(4).downloaded) == 2 and logins() == 3
    with pytest.raises(ConfigError, match="outside the project"):
        pull_remittances(fast_northwind_config, *WIDE, tmp_path / "x", base_url=server.url,
                         session_dir=Path(__file__).parent / "sessions")


@pytest.mark.browser
def test_persistent_5xx_gives_up_after_the_retry_budget(tmp_path, monkeypatch,
                                                        fast_northwind_config, portal_dataset):
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    with running_portal_server("northwind", portal_dataset[0],
                               faults={"fail_first": {"results": 99}}) as server:
        with pytest.raises(SystemFault) as info:
            pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl", base_url=server.url,
                             evidence_dir=tmp_path / "ev")
        hits = dict(server.app.state.portal.hits)
    fault = info.value
    assert fault.retryable is True and fault.code == "http-5xx"
    assert fault.context["step"] == "search" and fault.context["attempts"] == 3
    assert hits["results"] == 3
    assert Path(fault.context["screenshot"]).is_file()
    blob = _assert_trace_without_secrets(fault)  # recorded after sign-in: the search is in it
    assert b"/remittances/search" in blob
    _assert_no_credentials(fault)


@pytest.mark.browser
def test_captcha_is_a_permanent_fault(tmp_path, monkeypatch, fast_northwind_config,
                                      portal_dataset):
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    with running_portal("northwind", portal_dataset[0], faults={"captcha": True}) as url:
        with pytest.raises(SystemFault) as info:
            pull_remittances(fast_northwind_config, *WIDE, tmp_path / "dl", base_url=url,
                             evidence_dir=tmp_path / "ev")
    assert info.value.code == "captcha" and info.value.retryable is False
    assert info.value.context["attempts"] == 1
    assert info.value.context["trace"] is None  # nothing is traced before sign-in
    assert Path(info.value.context["screenshot"]).is_file()
    _assert_no_credentials(info.value)


@pytest.mark.browser
def test_a_locator_that_matches_nothing_is_a_permanent_fault(northwind_env, tmp_path,
                                                             fast_northwind_config):
    locators = dict(fast_northwind_config.locators)
    locators["date_from"] = [{"label": "Paid on or after"}, {"css": "input#paid-from"}]
    config = fast_northwind_config.with_overrides(locators=locators)
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    fault = info.value
    assert fault.code == "locator-not-found" and fault.retryable is False
    assert fault.context["step"] == "search"
    assert fault.context["url"] == northwind_env.base_url + "/remittances"
    assert fault.context["locators"] == {"date_from": ["label='Paid on or after'",
                                                       "css='input#paid-from'"]}
    assert Path(fault.context["screenshot"]).is_file()


@pytest.mark.browser
def test_rows_without_a_documents_link_everywhere_mean_a_changed_page(northwind_env, tmp_path,
                                                                     fast_northwind_config):
    locators = dict(fast_northwind_config.locators)
    locators["documents_link"] = [{"role": "link", "name": "Get remittance"}]
    config = fast_northwind_config.with_overrides(locators=locators)
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, *WIDE, tmp_path / "dl", evidence_dir=tmp_path / "ev")
    assert info.value.code == "table-changed" and info.value.retryable is False
    assert info.value.context["step"] == "read-page-1"
    assert "no documents link" in info.value.message
    assert info.value.context["locators"] == {"documents_link": ["role='link', name='Get remittance'"]}


@pytest.mark.browser
def test_screenshots_clear_inputs_and_mask_credentials(tmp_path, fast_northwind_config,
                                                       shared_browser):
    from PIL import Image

    from bots.browser import driving
    from bots.credentials import Credentials
    from bots.session import BotSession

    creds = Credentials("shot-user", "shot-pass-123")
    html = ('<form><label for="u">Username</label><input id="u" value="shot-user">'
            '<label for="p">Password</label><input id="p" type="password" value="shot-pass-123">'
            '</form><p id="who" style="font-size:40px">Welcome shot-user</p>')
    with driving(shared_browser):
        context = shared_browser.new_context(viewport={"width": 800, "height": 400})
        try:
            page = context.new_page()
            page.set_content(html)
            session = BotSession(fast_northwind_config, "http://127.0.0.1:9", creds, context,
                                 page, tmp_path / "ev")
            shot = Path(session.rt.evidence.screenshot("login"))
            assert page.eval_on_selector_all("input", "els => els.map(e => e.value)") == ["", ""]
            box = page.locator("#who").bounding_box()
        finally:
            context.close()
    image = Image.open(shot).convert("RGB")
    centre = (int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2))
    assert image.getpixel(centre) == (255, 0, 255)  # Playwright's mask colour over the name
    fault = session.rt.fault("failed for shot-user", step="login", code="login-rejected",
                             retryable=False, detail="typed shot-pass-123")
    assert "shot-user" not in str(fault) and "shot-pass-123" not in repr(fault.context)


# without a browser ---------------------------------------------------------------------------
def test_missing_credentials_fail_before_any_browser_starts(monkeypatch, tmp_path):
    monkeypatch.delenv("CLAIMWRIGHT_NORTHWIND_USERNAME", raising=False)
    monkeypatch.setenv("CLAIMWRIGHT_NORTHWIND_PASSWORD", "")
    monkeypatch.delenv("CLAIMWRIGHT_NORTHWIND_TOTP_SECRET", raising=False)
    with pytest.raises(SystemFault) as info:
        pull_remittances("northwind", *WIDE, tmp_path, base_url="http://127.0.0.1:9")
    assert info.value.code == "credentials-missing" and info.value.retryable is False
    assert info.value.context["variables"] == ["CLAIMWRIGHT_NORTHWIND_USERNAME",
                                               "CLAIMWRIGHT_NORTHWIND_PASSWORD",
                                               "CLAIMWRIGHT_NORTHWIND_TOTP_SECRET"]
    with pytest.raises(ValueError, match="after end"):
        pull_remittances("northwind", WIDE[1], WIDE[0], tmp_path)


def test_sync_bot_inside_an_event_loop_is_a_clear_permanent_fault(monkeypatch, tmp_path):
    import asyncio

    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)

    async def inside_a_loop():
        return pull_remittances("northwind", *WIDE, tmp_path, base_url="http://127.0.0.1:9")

    with pytest.raises(SystemFault) as info:
        asyncio.run(inside_a_loop())
    assert info.value.code == "browser-launch-failed" and info.value.retryable is False
    assert "asyncio" in info.value.message


def test_northwind_config_loads_with_references_only():
    config = load_payer_config("northwind")
    assert config.flow == "login-search-paginate"
    assert config.credentials.username_env == "CLAIMWRIGHT_NORTHWIND_USERNAME"
    assert config.credentials.password_env == "CLAIMWRIGHT_NORTHWIND_PASSWORD"
    assert config.locators["username"][0].strategy == "label"
    assert config.locators["username"][-1].strategy == "css"
    raw = Path(config.source).read_text()
    assert ACCOUNT.password not in raw and ACCOUNT.username not in raw
    assert config.resolve_base_url(env={}) == "http://127.0.0.1:8765"
    assert config.resolve_base_url(env={"CLAIMWRIGHT_NORTHWIND_URL": "http://127.0.0.1:9/"}) \
        == "http://127.0.0.1:9"
    assert config.resolve_base_url("http://127.0.0.1:7", env={
        "CLAIMWRIGHT_NORTHWIND_URL": "http://127.0.0.1:9"}) == "http://127.0.0.1:7"


def _northwind_data() -> dict:
    import yaml

    return yaml.safe_load(load_payer_config("northwind").source.read_text())


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d.pop("flow"), r"flow: Field required"),
    (lambda d: d.update(flow="click-around"), r"flow: Value error, unknown flow"),
    (lambda d: d["locators"]["username"].append({"label": "User", "css": "#u"}),
     r"locators\.username\[2\]: Value error, needs exactly one of"),
    (lambda d: d["locators"].pop("next_page"), r"flow 'login-search-paginate' needs next_page"),
    (lambda d: d["locators"].update(username=[]), r"locators\.username: List should have at least 1"),
    (lambda d: d["credentials"].update(password="hunter2"),
     r"credentials\.password: credentials must not be written in the config"),
    (lambda d: d["credentials"].update(username_env="lower-case"),
     r"credentials\.username_env: String should match pattern"),
    (lambda d: d["portal"].update(base_url="ftp://x"), r"portal\.base_url: Value error, must be"),
    (lambda d: d["results"]["columns"].pop("amount"), r"results\.columns: Value error, missing column"),
    (lambda d: d.update(screenshot_mask=["nowhere"]), r"screenshot_mask: unknown locator"),
])
def test_config_errors_name_the_file_and_field(tmp_path, mutate, message):
    data = _northwind_data()
    mutate(data)
    error = config_error(tmp_path, "northwind", data, message)
    assert "hunter2" not in str(error)


def test_config_file_problems(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere\.yaml: no payer config"):
        load_payer_config("nowhere", directory=tmp_path)
    with pytest.raises(ConfigError, match="not a valid payer name"):
        load_payer_config("../etc/passwd")
    (tmp_path / "broken.yaml").write_text("payer: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml:2: not valid YAML"):
        load_payer_config(tmp_path / "broken.yaml")
    import yaml

    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(_northwind_data()))
    with pytest.raises(ConfigError, match=r"acme\.yaml: payer: says 'northwind'"):
        load_payer_config("acme", directory=tmp_path)
    assert isinstance(parse_payer_config(_northwind_data()), PayerConfig)


def test_safe_names_and_pdf_checks(tmp_path):
    assert safe_stem("NW-RA-0001") == "NW-RA-0001"
    for rid in ("../../x", "..", "/etc/passwd", "a b", "", "x" * 300, "ümlaut"):
        stem = safe_stem(rid)
        assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".")
        assert len(stem) <= 80 + 11
        path = document_path(tmp_path, "northwind", rid)
        assert path.parent == (tmp_path / "northwind").resolve()
    assert safe_stem("a b") != safe_stem("a_b")
    pdf = b"%PDF-1.4\n" + b"x" * 300 + b"\n%%EOF\n"
    assert pdf_problem(pdf, min_bytes=200, max_bytes=10_000) is None
    assert "HTML" in pdf_problem(b"<!doctype html><html>", min_bytes=1, max_bytes=10)
    assert "small" in pdf_problem(pdf[:100] + b"%%EOF", min_bytes=200, max_bytes=10_000)
    assert "too large" in pdf_problem(pdf, min_bytes=1, max_bytes=100)
    assert "truncated" in pdf_problem(pdf[:-7], min_bytes=1, max_bytes=10_000)


def test_chromium_resolution(tmp_path):
    with pytest.raises(BrowserMissing, match="CLAIMWRIGHT_CHROMIUM=.*not an executable"):
        resolve_chromium(env={"CLAIMWRIGHT_CHROMIUM": str(tmp_path / "nope")})
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert resolve_chromium(env={"CLAIMWRIGHT_CHROMIUM": str(fake)}) == str(fake)
    if os.access("/usr/bin/chromium", os.X_OK):
        assert resolve_chromium(env={}) == "/usr/bin/chromium"
