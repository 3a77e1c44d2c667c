"""`prefect deploy --all` from the project root, as an admin runs it, against a real local server:
every deployment of prefect.yaml is then on the server with its entrypoint, tags, parameters,
work pool, pull step and schedules (cron, timezone, active); on-demand ones have none."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PREFECT = Path(sys.executable).with_name("prefect")  # the venv's CLI


def _flow_of(entrypoint: str):
    path, _, name = entrypoint.partition(":")
    return getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)


@pytest.fixture
def declared():
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


@pytest.fixture
def work_pool(prefect_api, declared):
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    names = {d["work_pool"]["name"] for d in declared["deployments"]}
    with get_client(sync_client=True) as client:
        for name in names:
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            except ObjectAlreadyExists:
                pass
    return names


@pytest.mark.e2e
def test_prefect_deploy_all_creates_every_deployment_and_schedule_of_prefect_yaml(
        prefect_api, work_pool, declared, tmp_path):
    from prefect import get_client

    # the workers' project directory: `prefect deploy` writes it into each deployment's pull
    # step (resolved at deploy time from the deploying shell, not on the worker)
    workers_root = "/srv/claimwright"
    env = dict(os.environ, PREFECT_API_URL=prefect_api, CLAIMWRIGHT_ROOT=workers_root,
               PREFECT_CLI_PROMPT="false", PREFECT_SERVER_ANALYTICS_ENABLED="false")
    began = time.monotonic()
    done = subprocess.run([str(PREFECT), "--no-prompt", "deploy", "--all"], cwd=ROOT, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    print(f"prefect deploy --all: {took:.1f} s")

    created = []
    try:
        with get_client(sync_client=True) as client:
            for dep in declared["deployments"]:
                flow = _flow_of(dep["entrypoint"])
                server = client.read_deployment_by_name(f"{flow.name}/{dep['name']}")
                created.append(server.id)
                where = dep["name"]
                assert server.entrypoint == dep["entrypoint"], where
                assert sorted(server.tags) == sorted(dep["tags"]), where
                assert server.parameters == dep.get("parameters", {}), where
                assert server.work_pool_name == dep["work_pool"]["name"], where
                assert server.description and server.description.split()[:3] == \
                    dep["description"].split()[:3], where
                # the pull step: every run executes in the workers' directory, not in the one
                # `prefect deploy` ran from
                [step] = server.pull_steps
                directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
                assert directory == workers_root, (where, directory)
                # every parameter the deployment sets is one the flow takes
                assert set(server.parameters) <= set(server.parameter_openapi_schema
                                                     ["properties"]), where
                got = sorted((s.schedule.cron, s.schedule.timezone, s.active)
                             for s in server.schedules)
                want = sorted((s["cron"], s["timezone"], s.get("active", True))
                              for s in dep.get("schedules") or [])
                assert got == want, where
                if "concurrency_limit" in dep:
                    limit = server.global_concurrency_limit
                    assert limit is not None and limit.limit == dep["concurrency_limit"], where
            on_demand = [d["name"] for d in declared["deployments"] if not d.get("schedules")]
            assert on_demand == ["retry-review-item"]
            assert len(created) == len(declared["deployments"]) >= 5
            names = {d.name for d in client.read_deployments()}
            assert {"weekly-review-digest", "nightly-denials"} <= names

        # deployed with CLAIMWRIGHT_ROOT unset, the pull step keeps the template: each worker
        # resolves it from its own environment when a run starts
        unset = {k: v for k, v in env.items() if k != "CLAIMWRIGHT_ROOT"}
        again = subprocess.run([str(PREFECT), "--no-prompt", "deploy", "-n",
                                "weekly-review-digest"], cwd=ROOT, env=unset,
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=300)
        assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
        with get_client(sync_client=True) as client:
            digest = client.read_deployment_by_name("weekly-review-digest/weekly-review-digest")
            assert digest.id in created  # updated in place, not a second deployment
            [step] = digest.pull_steps
            assert step["prefect.deployments.steps.set_working_directory"] == {
                "directory": "{{ $CLAIMWRIGHT_ROOT }}"}
    finally:  # leave no active schedules on the session's server
        with get_client(sync_client=True) as client:
            for deployment_id in created:
                client.delete_deployment(deployment_id)
