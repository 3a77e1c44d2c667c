"""prefect.yaml is what admins schedule from: every deployment must point at a real flow."""

import importlib
from pathlib import Path

import yaml
from prefect.client.schemas.schedules import CronSchedule
from prefect.flows import Flow

ROOT = Path(__file__).resolve().parents[1]


ON_DEMAND = {"retry-review-item"}  # started by a person, never on a schedule


def load():
    return yaml.safe_load((ROOT / "prefect.yaml").read_text())


def test_every_deployment_entrypoint_is_a_flow_with_valid_schedules():
    config = load()
    assert config["deployments"], "no deployments declared"
    for dep in config["deployments"]:
        path, _, name = dep["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert isinstance(flow, Flow), dep["entrypoint"]
        for param in dep.get("parameters", {}):
            assert param in flow.parameters.properties, f"{dep['name']}: unknown param {param}"
        assert bool(dep.get("schedules")) != (dep["name"] in ON_DEMAND), dep["name"]
        for schedule in dep.get("schedules") or []:
            CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
        assert dep["work_pool"]["name"]


def test_the_consoles_retry_runs_the_deployment_prefect_yaml_declares():
    from claimwright.retries import RETRY_DEPLOYMENT
    from flows.retry import retry_review_item

    flow_name, _, name = RETRY_DEPLOYMENT.partition("/")
    dep = {d["name"]: d for d in load()["deployments"]}[name]
    assert dep["entrypoint"] == "flows/retry.py:retry_review_item"
    assert retry_review_item.name == flow_name
    assert set(retry_review_item.parameters.properties) == {"item_id", "by"}


def test_runs_do_not_point_at_the_deploying_machine():
    steps = load()["pull"]
    assert any("set_working_directory" in next(iter(s)) or "git_clone" in next(iter(s))
               for s in steps)


def test_status_check_has_its_own_deployment_and_schedule():
    deps = {d["name"]: d for d in load()["deployments"]}
    assert {"nightly-denials", "nightly-status-check"} <= set(deps)
    status = deps["nightly-status-check"]
    assert status["entrypoint"] == "flows/followup.py:nightly_status_check"
    [schedule] = status["schedules"]
    assert schedule["active"] is True
    # its own schedule: not the denial pull's time (the pull should have landed first)
    assert schedule["cron"] not in {s["cron"] for s in deps["nightly-denials"]["schedules"]}
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert cron.timezone == "America/New_York"
    # one run at a time: two status checks must not hit a portal together
    assert status["concurrency_limit"] == 1


def test_status_flow_tasks_do_not_stack_retries_on_the_bot():
    from flows.followup import nightly_status_check, status_task

    assert nightly_status_check.name == "nightly-status-check"
    assert status_task.retries == 0


def test_the_feedback_report_runs_monthly_after_the_nightly_work():
    deps = {d["name"]: d for d in load()["deployments"]}
    report = deps["monthly-feedback-report"]
    assert report["entrypoint"] == "flows/feedback_report.py:monthly_feedback_report"
    assert report["parameters"] == {}  # the flow's default: the previous month
    [schedule] = report["schedules"]
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    minute, hour, day, month, weekday = cron.cron.split()
    assert (day, month, weekday) == ("1", "*", "*") and schedule["active"] is True
    # after the night's pull (02:30) and status check (05:00): the month's last data is in
    assert (int(hour), int(minute)) > (5, 0) and cron.timezone == "America/New_York"
    assert report["work_pool"]["name"] == deps["nightly-denials"]["work_pool"]["name"]
    assert report["concurrency_limit"] == 1


def test_the_review_digest_runs_monday_morning_like_the_others():
    deps = {d["name"]: d for d in load()["deployments"]}
    digest = deps["weekly-review-digest"]
    assert digest["entrypoint"] == "flows/review_digest.py:weekly_review_digest"
    [schedule] = digest["schedules"]
    cron = CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    assert cron.cron == "0 7 * * 1" and cron.timezone == "America/New_York"
    assert schedule["active"] is True and digest["concurrency_limit"] == 1
    assert digest["work_pool"]["name"] == deps["nightly-denials"]["work_pool"]["name"]
    assert {"claimwright", "weekly"} <= set(digest["tags"])


def test_every_deployment_documents_its_parameters_in_the_operations_page():
    import inspect

    page = (ROOT / "docs" / "operations.md").read_text()
    text = (ROOT / "prefect.yaml").read_text()
    for dep in load()["deployments"]:
        path, _, name = dep["entrypoint"].partition(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), name)
        [row] = [line for line in page.splitlines() if line.startswith(f"| `{dep['name']}` |")]
        block = text[text.index(f"- name: {dep['name']}"):]
        block = block[:block.find("\n  - name:") % (len(block) + 1)]
        # prefect.yaml's comment lines "#   name[, name]: what it is"
        commented = {name.strip() for line in block.splitlines()
                     if line.strip().startswith("#   ")
                     for name in line.strip()[4:].partition(":")[0].split(",")}
        for param in inspect.signature(flow.fn).parameters:
            assert f"`{param}`" in row, (dep["name"], param, "docs/operations.md")
            assert param in commented, (dep["name"], param, "prefect.yaml")
        assert dep["description"].strip()
