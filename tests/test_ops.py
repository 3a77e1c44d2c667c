"""`claimwright ops start|stop|status` on a real stack: one server (behind basic auth), pool,
limits, deployments and worker, started once for the module, checked through the Prefect
client, started again (reused, updated, nothing duplicated), then stopped."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx
import pytest
import yaml

from claimwright import ops
from claimwright.concurrency import browser_limit_name, held_limit
from claimwright.fileio import pid_alive
from claimwright.services import free_port, prefect_answers
from claimwright.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
AUTH = "admin:not-a-real-secret"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("ops")
    settings = Settings.from_env({"CLAIMWRIGHT_HOME": str(base / "var"),
                                  "CLAIMWRIGHT_OUT": str(base / "out")})
    opts = ops.Options(port=free_port(), pool_limit=3, worker_limit=2, browsers=2,
                       auth_string=AUTH, ui=False, timeout=300)
    said: list[str] = []
    try:
        started = ops.start(settings, opts, echo=said.append)
        yield settings, opts, started, said
    finally:
        ops.stop(settings, echo=lambda _line: None)


def _client(started):
    return ops._client(started["api"], AUTH)


def test_start_creates_the_pool_the_limits_the_deployments_and_a_worker(stack):
    settings, opts, started, said = stack
    declared = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
    with _client(started) as client:
        pool = client.read_work_pool(ops.POOL)
        assert pool.type == "process" and pool.concurrency_limit == 3
        assert pool.base_job_template  # the process worker's default job template
        limits = {g.name: g for g in client.read_global_concurrency_limits(limit=200)}
        for name, limit in ops.payer_limits().items():
            assert limits[name].limit == limit and limits[name].active
        assert {"portal-northwind", "portal-keystone"} <= set(limits)
        assert limits[browser_limit_name()].limit == 2
        names = {d.name for d in client.read_deployments()}
        assert {d["name"] for d in declared} <= names
        workers = client.read_workers_for_work_pool(ops.POOL)
        assert ops.worker_name() in {w.name for w in workers}
    assert pid_alive(started["server_pid"]) and pid_alive(started["worker_pid"])
    folder = ops.state_dir(settings)
    for name in ("server.pid", "worker.pid", "server.log", "worker.log"):
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name
    text = "\n".join(said)
    assert f"export PREFECT_API_URL={started['api']}" in text
    assert "export PREFECT_API_AUTH_STRING=" in text
    assert AUTH not in text and "not-a-real-secret" not in text  # never printed


def test_the_server_refuses_a_client_without_the_auth_string(stack):
    _, _, started, _ = stack
    assert prefect_answers(started["api"])  # health answers without credentials
    plain = httpx.post(f"{started['api']}/work_pools/filter", json={}, timeout=10)
    assert plain.status_code == 401
    with _client(started) as client:
        assert client.read_work_pool(ops.POOL).name == ops.POOL


def test_a_one_off_run_against_the_protected_server_says_to_set_the_auth_string(stack):
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from claimwright.errors import SystemFault
    from claimwright.services import prefect_for_run

    settings, _, started, _ = stack
    with temporary_settings(updates={PREFECT_API_URL: started["api"]}):
        with pytest.raises(SystemFault, match="set PREFECT_API_AUTH_STRING"):
            with prefect_for_run(settings.home / "unused", print):
                pass
        with temporary_settings(updates={PREFECT_API_AUTH_STRING: AUTH}):
            with prefect_for_run(settings.home / "unused", print) as api:
                assert api == started["api"]


def test_a_pull_holds_a_browsers_slot_of_this_host_when_the_limit_exists(stack):
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    _, _, started, _ = stack
    with temporary_settings(updates={PREFECT_API_URL: started["api"],
                                     PREFECT_API_AUTH_STRING: AUTH}):
        with held_limit(browser_limit_name()) as held:
            assert held is True
            with _client(started) as client:
                gcl = client.read_global_concurrency_limit_by_name(browser_limit_name())
                assert gcl.active_slots == 1
        with held_limit("browsers-no-such-host") as held:
            assert held is False
    with _client(started) as client:
        assert client.read_global_concurrency_limit_by_name(
            browser_limit_name()).active_slots == 0


def test_a_second_start_reuses_what_runs_and_updates_the_limits(stack):
    settings, opts, started, _ = stack
    said: list[str] = []
    again = ops.start(settings, ops.Options(port=opts.port, pool_limit=2, worker_limit=2,
                                            browsers=1, auth_string=AUTH, ui=False,
                                            timeout=300),
                      echo=said.append)
    assert again["server_pid"] == started["server_pid"]
    assert again["worker_pid"] == started["worker_pid"]
    assert any(line.startswith("server: already running") for line in said)
    assert any(line.startswith("worker: already running") for line in said)
    with _client(started) as client:
        assert client.read_work_pool(ops.POOL).concurrency_limit == 2
        limits = [g.name for g in client.read_global_concurrency_limits(limit=200)]
        assert limits.count(browser_limit_name()) == 1
        assert client.read_global_concurrency_limit_by_name(browser_limit_name()).limit == 1
        deployments = [d.name for d in client.read_deployments()]
        assert len(deployments) == len(set(deployments))  # updated in place
        assert len(client.read_workers_for_work_pool(ops.POOL)) == 1


def test_the_worker_runs_a_deployment_in_the_project_with_the_stack_settings(stack):
    """A run of a deployment (the weekly digest: no browser) is picked up by the worker ops
    started, executes in CLAIMWRIGHT_ROOT through the pull step, talks to the server with the
    auth string and writes into the CLAIMWRIGHT_OUT of the shell that started the stack."""
    settings, _, started, _ = stack
    with _client(started) as client:
        deployment = client.read_deployment_by_name("weekly-review-digest/weekly-review-digest")
        run = client.create_flow_run_from_deployment(deployment.id, parameters={"oldest": 3})
        deadline = time.monotonic() + 180
        while not (run := client.read_flow_run(run.id)).state.is_final():
            assert time.monotonic() < deadline, f"still {run.state.name} after 180 s"
            time.sleep(0.5)
    assert run.state.is_completed(), run.state
    assert list((settings.out / "reports").glob("review-digest-*.md"))


def test_the_server_schedules_runs_of_the_deployed_schedules(stack):
    """The server's scheduler turns each deployment's schedule into scheduled runs (it did not
    with SQLAlchemy 2.1: pyproject pins it below). Polled: the scheduler is a server service."""
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    _, _, started, _ = stack
    only = DeploymentFilter(name=DeploymentFilterName(any_=["nightly-denials"]))
    deadline = time.monotonic() + 60
    with _client(started) as client:
        while not (runs := client.read_flow_runs(deployment_filter=only, limit=5)):
            assert time.monotonic() < deadline, "no scheduled run of nightly-denials in 60 s"
            time.sleep(0.5)
    assert {run.state_type.value for run in runs} == {"SCHEDULED"}
    assert all(run.expected_start_time.strftime("%M") == "30" for run in runs)  # 02:30


def test_status_says_what_runs(stack, monkeypatch):
    from typer.testing import CliRunner

    from claimwright.cli import app

    settings, _, started, _ = stack
    got = ops.status(settings, auth_string=AUTH)
    assert got["healthy"] and got["server_pid"] == started["server_pid"]
    assert got["worker_pid"] == started["worker_pid"]
    assert got["pool"]["workers"] == [ops.worker_name()]
    assert got["deployments"] >= 5 and browser_limit_name() in got["limits"]
    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(settings.home))
    monkeypatch.delenv("PREFECT_API_AUTH_STRING", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_API_AUTH_STRING", raising=False)
    out = CliRunner().invoke(app, ["ops", "status"])
    assert out.exit_code == 0, out.output
    assert "auth: required" in out.output  # without the credential it says what to set
    out = CliRunner().invoke(app, ["ops", "status"], env={"PREFECT_API_AUTH_STRING": AUTH})
    assert f"pool: {ops.POOL} limit 2" in out.output and "deployments: " in out.output


def test_start_refuses_a_port_where_another_server_answers(stack, tmp_path):
    _, opts, started, _ = stack
    other = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path / "var"),
                               "CLAIMWRIGHT_OUT": str(tmp_path / "out")})
    with pytest.raises(ops.OpsError, match="not a server ops started"):
        ops.start(other, ops.Options(port=opts.port, auth_string=AUTH), echo=lambda _l: None)
    assert not (ops.state_dir(other) / "server.pid").exists()  # nothing started


def test_stop_never_touches_a_process_it_did_not_start(tmp_path):
    settings = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path / "var"),
                                  "CLAIMWRIGHT_OUT": str(tmp_path / "out")})
    folder = ops.state_dir(settings)
    folder.mkdir(parents=True)
    (folder / "worker.pid").write_text(f"{os.getpid()}\n")  # this test process: not a worker
    said: list[str] = []
    assert ops.stop(settings, echo=said.append) == []
    assert pid_alive(os.getpid()) and not (folder / "worker.pid").exists()
    assert any("stale pid file" in line for line in said)


def test_stop_stops_the_worker_and_the_server_it_started(stack):
    settings, _, started, _ = stack
    said: list[str] = []
    assert ops.stop(settings, echo=said.append) == ["worker", "server"]
    assert not pid_alive(started["worker_pid"]) and not pid_alive(started["server_pid"])
    assert not prefect_answers(started["api"], timeout=2)
    assert not (ops.state_dir(settings) / "server.pid").exists()
    assert said == [f"worker: stopped (pid {started['worker_pid']})",
                    f"server: stopped (pid {started['server_pid']})"]
