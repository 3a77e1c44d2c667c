"""Portals as they are in the real world: identifier-first sign-in, security questions answered
from credential references, and one-time codes sent by SMS that a person enters while the
bot's page waits open (fixtures/portals/summit.py signs in each way; its outbox is the phone).

The Prefect side: the nightly run opens an ``mfa-code-needed`` review item and pauses
(``pause_flow_run(wait_for_input=OneTimeCode)``) with the bot's page open; a person reads the
code from their phone (the outbox) and resumes the run with it through the Prefect client (as
the Prefect UI's form or the review console does), and the pull completes; when no one does
within the timeout, the payer is skipped for the night and a review item says so. The code
appears in no log, fault, review item or Prefect log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from portal_fixtures import write_sample_dataset

ONBOARDING = Path(__file__).parent / "data" / "onboarding" / "summit.yaml"
WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
ANSWER = "Lisbon-demo"  # the synthetic answer of the mock portal's security question
QUESTION = ("In what city were you born?", ANSWER)

#: what each sign-in feature adds to summit's onboarding file
IDENTIFIER_FIRST = {"login": {"shape": "identifier-first"},
                    "locators": {"submit_username": [{"role": "button", "name": "Next"}]}}
SMS = {"login": {"mfa": "sms"},
       "locators": {"otp": [{"label": "Security code"}],
                    "submit_otp": [{"role": "button", "name": "Verify"}],
                    "otp_error": [{"text": "That code is not right"}]}}
QUESTIONS = {"credentials": {"security_answers": [
                 {"question": "city were you born", "answer_env": "CLAIMWRIGHT_SUMMIT_ANSWER_CITY"}]},
             "locators": {"security_question": [{"css": "p.question"}],
                          "security_answer": [{"label": "Answer"}],
                          "submit_answer": [{"role": "button", "name": "Continue"}]}}


def summit_data(*features: dict) -> dict:
    """summit's onboarding file with ``features`` merged in (section by section)."""
    data = yaml.safe_load(ONBOARDING.read_text())
    for feature in features:
        for section, values in feature.items():
            data[section] = {**data.get(section, {}), **values}
    return data


def summit_config(*features: dict, **overrides):
    from bots import parse_payer_config

    config = parse_payer_config(summit_data(*features), source="summit.yaml")
    return config.with_overrides(
        retry={"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
        timeouts={"action_ms": 2500, "navigation_ms": 10000, "download_ms": 10000}, **overrides)


@pytest.fixture(scope="module")
def summit_docs(tmp_path_factory):
    out = tmp_path_factory.mktemp("summit-docs")
    return out, write_sample_dataset("northwind", out, count=2)


@pytest.fixture
def summit_env(monkeypatch, tmp_path):
    from fixtures.portals.summit import DEMO_ACCOUNT

    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_USERNAME", DEMO_ACCOUNT.username)
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_PASSWORD", DEMO_ACCOUNT.password)
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_ANSWER_CITY", ANSWER)
    return DEMO_ACCOUNT


def outbox_codes(url: str) -> list[str]:
    """The codes the portal "texted" (read as a person reads their phone)."""
    with urllib.request.urlopen(f"{url}/test/outbox", timeout=5) as answer:
        return [m["code"] for m in json.load(answer)["messages"]]


def pull(config, url, tmp_path, **kwargs):
    from bots import pull_remittances

    return pull_remittances(config, *WIDE, tmp_path / "dl", base_url=url,  # a fresh sign-in
                            evidence_dir=tmp_path / "ev", session_dir=tmp_path / "s", **kwargs)


# ---- the schema ------------------------------------------------------------------------------
def test_each_sign_in_shape_names_the_locators_it_needs(tmp_path):
    from bots import ConfigError, parse_payer_config

    data = summit_data({"login": {"shape": "identifier-first"}})
    with pytest.raises(ConfigError, match="needs submit_username"):
        parse_payer_config(data, source="summit.yaml")
    data = summit_data({"login": {"mfa": "sms"}})
    with pytest.raises(ConfigError, match="needs otp, submit_otp"):
        parse_payer_config(data, source="summit.yaml")
    data = summit_data({"login": {"mfa": "totp"}, "locators": SMS["locators"]})
    with pytest.raises(ConfigError, match="login.mfa: totp needs credentials.totp_secret_env"):
        parse_payer_config(data, source="summit.yaml")
    data = summit_data({"login": {"shape": "two-page"}})
    with pytest.raises(ConfigError, match=r"login.shape: Input should be 'one-page' or "
                                          r"'identifier-first'"):
        parse_payer_config(data, source="summit.yaml")
    assert summit_config(IDENTIFIER_FIRST, SMS).mfa == "sms"
    assert summit_config().mfa == "none" and summit_config().login.shape == "one-page"


def test_security_answers_are_references_never_values():
    from bots import ConfigError, parse_payer_config

    data = summit_data(QUESTIONS)
    data["credentials"]["security_answers"] = [{"question": "city", "answer": "Lisbon"}]
    with pytest.raises(ConfigError, match="credentials must not be written in the config"):
        parse_payer_config(data, source="summit.yaml")
    data["credentials"]["security_answers"] = [{"question": "city were you born"}]
    with pytest.raises(ConfigError, match="answer_env"):
        parse_payer_config(data, source="summit.yaml")
    data = summit_data({"credentials": QUESTIONS["credentials"]})
    with pytest.raises(ConfigError, match="needs security_question, security_answer"):
        parse_payer_config(data, source="summit.yaml")


def test_a_missing_security_answer_stops_before_any_browser(monkeypatch):
    from bots.credentials import read_credentials
    from claimwright.errors import SystemFault

    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_USERNAME", "u")
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_PASSWORD", "p")
    monkeypatch.delenv("CLAIMWRIGHT_SUMMIT_ANSWER_CITY", raising=False)
    with pytest.raises(SystemFault, match=r"\$CLAIMWRIGHT_SUMMIT_ANSWER_CITY") as info:
        read_credentials(summit_config(QUESTIONS))
    assert info.value.code == "credentials-missing"
    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_ANSWER_CITY", ANSWER)
    creds = read_credentials(summit_config(QUESTIONS))
    assert creds.answers == (("city were you born", ANSWER),) and ANSWER in creds.secrets
    assert ANSWER not in repr(creds)


def test_payers_check_says_how_a_payer_signs_in(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from claimwright.cli import app

    (tmp_path / "summit.yaml").write_text(yaml.safe_dump(summit_data(IDENTIFIER_FIRST, SMS,
                                                                     QUESTIONS)))
    monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(tmp_path))
    monkeypatch.delenv("CLAIMWRIGHT_SUMMIT_ANSWER_CITY", raising=False)
    result = CliRunner().invoke(app, ["payers", "check", "summit"])
    assert result.exit_code == 0, result.output
    assert "ok   summit: flow login-search-paginate" in result.output
    assert "$CLAIMWRIGHT_SUMMIT_ANSWER_CITY" in result.output  # not set here
    assert "sign-in identifier-first, one-time code by sms (a person enters it)" in result.output


# ---- the portal, signed in each way ----------------------------------------------------------
@pytest.mark.browser
def test_identifier_first_sign_in_pulls_every_document(summit_docs, summit_env, tmp_path):
    from fixtures.portals.summit import running_summit_portal

    data_dir, manifest = summit_docs
    with running_summit_portal(data_dir, signin="identifier-first") as url:
        result = pull(summit_config(IDENTIFIER_FIRST), url, tmp_path)
        assert sorted(d.remittance_id for d in result.downloaded) == sorted(
            r["remittance_id"] for r in manifest["remittances"])
        # the one-page config does not find the password on the user name page: a clear fault
        from claimwright.errors import SystemFault

        with pytest.raises(SystemFault) as info:
            pull(summit_config(), url, tmp_path / "again")
        assert info.value.code == "locator-not-found" and "password" in info.value.message


@pytest.mark.browser
def test_identifier_first_rejects_an_unknown_user_on_the_first_page(summit_docs, summit_env,
                                                                     tmp_path, monkeypatch):
    from claimwright.errors import SystemFault
    from fixtures.portals.summit import running_summit_portal

    monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_USERNAME", "nobody-demo")
    with running_summit_portal(summit_docs[0], signin="identifier-first") as url:
        with pytest.raises(SystemFault) as info:
            pull(summit_config(IDENTIFIER_FIRST), url, tmp_path)
    fault = info.value
    assert fault.code == "login-rejected" and fault.retryable is False
    assert "not recognised" in fault.context["portal_message"]
    assert "nobody-demo" not in f"{fault} {fault.context!r}"


@pytest.mark.browser
def test_a_security_question_is_answered_from_its_credential_reference(
        summit_docs, summit_env, tmp_path, caplog):
    from claimwright.errors import SystemFault
    from fixtures.portals.summit import running_summit_portal

    caplog.set_level(logging.DEBUG)
    with running_summit_portal(summit_docs[0], signin="identifier-first",
                               security_question=QUESTION) as url:
        result = pull(summit_config(IDENTIFIER_FIRST, QUESTIONS), url, tmp_path)
        assert len(result.downloaded) == 2
        # a question no entry matches: a permanent fault naming what is configured
        config = summit_config(IDENTIFIER_FIRST, {**QUESTIONS, "credentials": {
            "security_answers": [{"question": "first pet",
                                  "answer_env": "CLAIMWRIGHT_SUMMIT_ANSWER_CITY"}]}})
        with pytest.raises(SystemFault) as info:
            pull(config, url, tmp_path / "again")
    fault = info.value
    assert fault.code == "security-question-unknown" and "first pet" in fault.message
    assert "city were you born" in fault.context["portal_message"]
    assert ANSWER not in f"{fault} {fault.context!r} {caplog.text}"


@pytest.mark.browser
def test_an_sms_code_is_asked_for_entered_on_the_open_page_and_never_shown(
        summit_docs, summit_env, tmp_path, caplog):
    from fixtures.portals.summit import running_summit_portal

    caplog.set_level(logging.DEBUG)
    asked = []

    def person(request):  # reads the phone while the bot's page waits open
        asked.append(request)
        return outbox_codes(url)[-1]

    with running_summit_portal(summit_docs[0], signin="identifier-first",
                               second_factor="sms") as url:
        result = pull(summit_config(IDENTIFIER_FIRST, SMS), url, tmp_path, ask_code=person)
        codes = outbox_codes(url)
    assert len(result.downloaded) == 2
    assert [(r.payer, r.channel, r.timeout_s) for r in asked] == [("summit", "sms", 900)]
    assert len(codes) == 1 and codes[0] not in caplog.text


@pytest.mark.browser
def test_an_sms_code_no_one_can_enter_or_a_wrong_one_stops_the_payer(
        summit_docs, summit_env, tmp_path, caplog):
    from claimwright.errors import SystemFault
    from fixtures.portals.summit import running_summit_portal

    caplog.set_level(logging.DEBUG)
    config = summit_config(SMS)
    with running_summit_portal(summit_docs[0], second_factor="sms") as url:
        with pytest.raises(SystemFault) as info:  # no person to ask (a pull outside the flow)
            pull(config, url, tmp_path / "a")
        assert info.value.code == "mfa-code-needed" and info.value.retryable is False
        assert "by sms" in info.value.message
        with pytest.raises(SystemFault) as info:  # no one answered in time
            pull(config, url, tmp_path / "b", ask_code=lambda request: None)
        assert info.value.code == "mfa-code-needed" and info.value.context["timed_out"]
        assert "skipped for tonight" in info.value.message

        def wrong(request):
            return "000000" if outbox_codes(url)[-1] != "000000" else "111111"

        with pytest.raises(SystemFault) as info:
            pull(config, url, tmp_path / "c", ask_code=wrong)
        codes = outbox_codes(url)
    fault = info.value
    assert fault.code == "mfa-rejected" and "the code a person entered (sms)" in fault.message
    assert len(codes) == 3
    text = f"{fault} {fault.context!r} {caplog.text}"
    assert not any(code in text for code in codes)
    assert "000000" not in text and "111111" not in text


# ---- the nightly flow waits for a person ---------------------------------------------------
START, END = dt.date(2024, 6, 1), dt.date(2024, 6, 28)


@pytest.fixture
def summit_nightly(summit_docs, summit_env, workspace, tmp_path, monkeypatch):
    """summit (SMS codes) as the one configured payer of a nightly run; yields its URL."""
    import flows.one_time_code
    from fixtures.portals.summit import running_summit_portal

    selectors = tmp_path / "selectors"
    selectors.mkdir()
    (selectors / "summit.yaml").write_text(yaml.safe_dump(summit_data(SMS)))
    monkeypatch.setenv("CLAIMWRIGHT_SELECTORS_DIR", str(selectors))
    monkeypatch.setattr(flows.one_time_code, "POLL_S", 0.2)  # short polls, no long sleeps
    with running_summit_portal(summit_docs[0], second_factor="sms") as url:
        monkeypatch.setenv("CLAIMWRIGHT_SUMMIT_URL", url)
        yield url


def eventually(probe, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def review_items(settings, status=None):
    from claimwright.pipeline import Context

    ctx = Context.from_settings(settings)
    try:
        return ctx.queue.items(status, "mfa-code-needed")
    finally:
        ctx.ledger.close()


def awaiting(settings):
    return [i for i in review_items(settings, ("open", "in-review"))
            if i.context.get("awaiting_code")]


def prefect_logs(run_id) -> str:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    from claimwright.services import flush_prefect

    flush_prefect()
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[run_id])))
    return "\n".join(log.message for log in logs)


@pytest.mark.e2e
@pytest.mark.browser
def test_the_run_pauses_for_the_texted_code_and_a_person_resumes_it(
        summit_nightly, workspace, prefect_api, caplog):
    from claimwright.pipeline import Counts
    from flows.nightly import nightly_denials
    from claimwright.pipeline.one_time_codes import resume_with_code

    seen: dict = {}

    def person() -> None:  # sees the review item, reads the phone, enters the code
        try:
            [item] = eventually(lambda: awaiting(workspace))
            code = eventually(lambda: outbox_codes(summit_nightly))[-1]
            seen.update(item=item, code=code)

            def resumed() -> bool:  # the run may take a moment to show as paused
                try:
                    resume_with_code(item.context["flow_run_id"], code)
                except Exception:  # noqa: BLE001 - not paused yet: look again
                    return False
                return True

            eventually(resumed, timeout=30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            seen["error"] = exc

    helper = threading.Thread(target=person, daemon=True)
    helper.start()
    state = nightly_denials(payers=["summit"], start=START, end=END, return_state=True)
    helper.join(30)
    assert "error" not in seen, seen.get("error")
    assert state.is_completed(), state
    [result] = state.result()
    counts = Counts(**result)
    assert counts.listed == 2 and counts.downloaded == 2
    item = seen["item"]
    assert item.payer == "summit" and "by sms" in item.reason and "Prefect UI" in item.reason
    assert item.context["flow_run_id"] == str(state.state_details.flow_run_id)
    [after] = [i for i in review_items(workspace) if i.id == item.id]
    assert after.status == "resolved" and "entered the one-time code" in after.resolution
    assert not [i for i in review_items(workspace, ("open", "in-review"))]
    # the code: in no log, no review item, no Prefect log; its stored answer deleted
    code = seen["code"]
    assert code not in caplog.text and code not in repr(after.__dict__)
    assert code not in prefect_logs(state.state_details.flow_run_id)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        inputs = client.filter_flow_run_input(state.state_details.flow_run_id,
                                              key_prefix="paused-mfa-summit", limit=10,
                                              exclude_keys=set())
    assert inputs and not [i for i in inputs if i.key.endswith("-response")]  # schema kept


@pytest.mark.e2e
@pytest.mark.browser
def test_no_code_within_the_timeout_skips_the_payer_for_the_night(
        summit_nightly, workspace, prefect_api):
    from claimwright.pipeline import Counts
    from flows.nightly import nightly_denials

    began = time.monotonic()
    state = nightly_denials(payers=["summit"], start=START, end=END, code_timeout_s=2,
                            return_state=True)
    assert state.is_completed(), state  # the run goes on (other payers, the summary)
    assert time.monotonic() - began < 60
    [result] = state.result()
    counts = Counts(**result)
    assert counts.downloaded == 0
    items = review_items(workspace)
    [waited] = [i for i in items if i.context.get("awaiting_code")]
    assert waited.status == "resolved" and "no code entered within 2 s" in waited.resolution
    [skipped] = [i for i in items if not i.context.get("awaiting_code")]
    assert skipped.status == "open" and skipped.kind == "mfa-code-needed"
    assert "skipped for tonight" in skipped.reason and skipped.context["error"] == \
        "mfa-code-needed"
    assert len(outbox_codes(summit_nightly)) == 1  # one code was sent; no one entered it
