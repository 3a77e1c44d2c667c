"""What the Prefect UI shows reads as the work: task runs named by stage and payer, each payer's
progress in words in the run's logs (counts only, no PHI); and ``claimwright run`` with no
Prefect server set neither waits ~50 s nor fails on Prefect's ephemeral mode."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
from portal_fixtures import SAMPLE_ANCHOR
from typer.testing import CliRunner

from claimwright.pipeline import Counts


def test_the_progress_sentence_says_each_stage_in_words():
    counts = Counts("northwind", listed=16, downloaded=16, documents_parsed=16,
                    denial_findings=9, to_coding=3, to_billing=2, to_packets=4,
                    packets_written=4, review_opened=2)
    assert counts.progress() == ("northwind: 16 listed, 16 downloaded, 16 parsed; 9 denials -> "
                                 "coding 3, billing 2, packets 4; 4 packets written; "
                                 "2 review items opened")
    quiet = Counts("keystone", listed=3, already_had=3, review_opened=1, review_seen_again=2,
                   errors=["pull keystone: portal down"])
    assert quiet.progress() == ("keystone: 3 listed, 0 downloaded (3 already had), 0 parsed; "
                                "0 denials; 0 packets written; 1 review item opened "
                                "(2 already open); 1 error")


@pytest.mark.e2e
@pytest.mark.browser
def test_task_runs_are_named_by_stage_and_payer_and_logs_say_progress(
        workspace, northwind_env, prefect_api, nightly_northwind):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterId, LogFilter,
                                                LogFilterFlowRunId)
    from prefect.logging.handlers import APILogWorker

    portal = northwind_env
    # the session's one nightly run over this portal (tests/test_end_to_end.py checks its
    # outputs): its task runs and logs on the session's server
    state, [result] = nightly_northwind(None)
    run_id = state.state_details.flow_run_id
    APILogWorker.drain_all(timeout=10)
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[run_id])))

    assert sorted(t.name for t in task_runs) == ["parse-and-decide-northwind", "pull-northwind"]
    messages = [log.message for log in logs]
    counts = Counts(**result)
    assert counts.listed >= 11 and counts.denial_findings > 0  # the sentence has real figures
    progress = [m for m in messages if m.startswith("northwind: ")]
    assert progress == [counts.progress()]
    assert f"northwind: {counts.listed} listed, {counts.downloaded} downloaded, " \
           f"{counts.documents_parsed} parsed; {counts.denial_findings} denials -> " in progress[0]

    # no patient name, member id or account number in any of the run's logs
    phi = set()
    for entry in portal.manifest["remittances"]:
        truth = json.loads((portal.data_dir / entry["truth"]).read_text())
        for claim in truth["claims"]:
            phi |= {claim.get(k) for k in ("patient_name", "member_id", "patient_account")}
    phi.discard(None)
    phi.discard("")
    assert phi
    assert [m for m in messages for value in phi if value in m] == []


# -- claimwright run without a server -------------------------------------------------------

@contextlib.contextmanager
def _api_url(url):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if url is None:
        with temporary_settings(restore_defaults={PREFECT_API_URL}):
            yield
    else:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield


@pytest.fixture
def started(monkeypatch):
    """Stand in for ``prefect_server``: records what would have been started."""
    from claimwright import services

    calls = []

    @contextlib.contextmanager
    def fake_server(home, **options):
        calls.append((home, options))
        yield "http://127.0.0.1:1/api"

    monkeypatch.setattr(services, "prefect_server", fake_server)
    return calls


def test_no_server_set_starts_a_local_one_for_the_run_and_says_so(tmp_path, started):
    from claimwright.services import prefect_for_run

    lines = []
    with _api_url(None), prefect_for_run(tmp_path / "prefect", echo=lines.append) as api:
        assert api == "http://127.0.0.1:1/api"
    assert started == [(tmp_path / "prefect", {"ui": False})]
    assert len(lines) == 1 and "starting a local one for this run" in lines[0]


def test_a_local_server_that_does_not_start_is_one_line_naming_its_log(tmp_path, monkeypatch):
    from claimwright import services
    from claimwright.errors import SystemFault

    @contextlib.contextmanager
    def broken_server(home, **options):
        raise TimeoutError("http://127.0.0.1:9/api/health did not answer within 120 s")
        yield

    monkeypatch.setattr(services, "prefect_server", broken_server)
    with _api_url(None), pytest.raises(SystemFault) as raised:
        with services.prefect_for_run(tmp_path, echo=lambda line: None):
            pytest.fail("the run must not start")
    assert "did not start" in str(raised.value) and str(tmp_path / "server.log") in str(
        raised.value)
    assert "\n" not in str(raised.value)


def test_a_server_set_and_answering_is_reused(tmp_path, started, prefect_api):
    from claimwright.services import prefect_for_run

    lines = []
    with _api_url(prefect_api), prefect_for_run(tmp_path, echo=lines.append) as api:
        assert api == prefect_api
    assert started == [] and lines == []


def test_a_server_set_but_not_answering_fails_at_once_in_one_line(tmp_path, started,
                                                                   monkeypatch):
    from claimwright.cli import app
    from claimwright.services import free_port

    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path / "home"))
    dead = f"http://127.0.0.1:{free_port()}/api"
    began = time.monotonic()
    with _api_url(dead):
        result = CliRunner().invoke(app, ["run", "--payer", "northwind"])
    assert time.monotonic() - began < 10  # not Prefect's ~50 s ephemeral start-up timeout
    assert result.exit_code == 3, result.output
    [line] = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert dead in line and "unset PREFECT_API_URL" in line
    assert started == []


def test_claimwright_run_with_no_server_runs_the_flow_on_a_local_one(tmp_path, started,
                                                                      monkeypatch):
    import flows.nightly
    from claimwright.cli import app

    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path / "home"))
    ran = []
    monkeypatch.setattr(flows.nightly, "nightly_denials", lambda **params: ran.append(params)
                        or [])
    with _api_url(None):
        result = CliRunner().invoke(app, ["run", "--payer", "northwind"])
    assert result.exit_code == 0, result.output
    assert len(started) == 1 and started[0][0] == tmp_path / "home" / "prefect"
    assert "starting a local one for this run" in result.output
    assert [p["payers"] for p in ran] == [["northwind"]]
