""""Retry now" (claimwright/retries.py): a failed pull re-run against the live mock portal, from
the CLI (here) and from the console (a child process, the page showing the outcome), and
through Prefect when a server has the retry-review-item deployment (a flow run the page
follows to its end)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from portal_fixtures import SAMPLE_ANCHOR
from test_console_actions import app, client_of, ctx, done, events, hashes, post  # noqa: F401
from test_console_actions import settings  # noqa: F401
from typer.testing import CliRunner

import claimwright.retries as retries
from claimwright.pipeline import import_document, process_documents
from claimwright.types import ReviewKind, UnitKind, UnitState
from claimwright.units import WorkUnits

REAL_API_URL = retries._api_url


def failed_pull(ctx, start: dt.date, end: dt.date):
    """The northwind pull failed until it ran out of attempts (the portal was down all night):
    its unit and its one portal-failure item, as pull_payer leaves them."""
    work = WorkUnits(ctx.ledger, ctx.queue, owner="h:1:r")
    for _ in range(5):
        unit = work.take(UnitKind.PULL, "northwind", payer="northwind",
                         review_key=f"pull:northwind:{start}:{end}",
                         review_kind=ReviewKind.PORTAL_FAILURE,
                         context={"payer": "northwind", "start": str(start), "end": str(end)})
        assert unit is not None, "the unit was not takeable"
        with unit:
            raise TimeoutError("portal down")
    assert ctx.ledger.unit(UnitKind.PULL, "northwind").attempts == 5
    return ctx.queue.items(kind=ReviewKind.PORTAL_FAILURE)[0]


def window(portal, n: int) -> tuple[dt.date, dt.date]:
    """A pull window holding the portal's last ``n`` remittances (a small, quick pull)."""
    dates = portal.payment_dates
    return dates[-n], SAMPLE_ANCHOR


def in_window(portal, start, end) -> int:
    return sum(start <= d <= end for d in portal.payment_dates)


@pytest.mark.browser
def test_cli_retry_of_a_failed_pull_pulls_the_items_window_now_and_resolves_it(
        ctx, northwind_env):
    from claimwright.cli import app as cli

    start, end = window(northwind_env, 2)
    item = failed_pull(ctx, start, end)
    result = CliRunner().invoke(cli, ["review", "retry", str(item.id), "--by", "pat"])
    assert result.exit_code == 0, result.output
    expected = in_window(northwind_env, start, end)
    assert f"Retried: pull northwind re-run: done, {expected} downloaded." in result.output
    assert len(ctx.ledger.documents(payer="northwind")) == expected
    assert all(u.state == UnitState.DONE for u in ctx.ledger.units(payer="northwind"))
    assert ctx.queue.get(item.id).status == "resolved"
    assert ("retried", "pat") in events(ctx, item.id)


@pytest.mark.browser
def test_console_retry_of_a_failed_pull_runs_in_the_background_and_the_page_follows_it(
        app, ctx, northwind_env):
    start, end = window(northwind_env, 2)
    item = failed_pull(ctx, start, end)
    client, token = client_of(app, "alice")
    message = done(post(client, token, item.id, "retry"))  # answered at once
    assert "The pull of northwind started in the background" in message
    assert retries.wait_for_background(120)
    page = client.get(f"/items/{item.id}").text
    assert "Latest retry" in page and "In the background:" in page
    expected = in_window(northwind_env, start, end)
    assert f"pull northwind re-run: done, {expected} downloaded" in page
    assert 'http-equiv="refresh"' not in page  # it ended: no more refreshing
    assert len(ctx.ledger.documents(payer="northwind")) == expected
    assert ctx.queue.get(item.id).status == "resolved"
    assert [a for a, by in events(ctx, item.id) if by == "alice" and a != "viewed-phi"] == [
        "retried", "retry-finished", "resolved"]
    again = post(client, token, item.id, "retry")  # resolved: reopen it first
    assert again.status_code == 400


def test_a_retry_already_running_in_the_background_is_not_started_twice(app, ctx,
                                                                         monkeypatch):
    item = failed_pull(ctx, SAMPLE_ANCHOR - dt.timedelta(days=3), SAMPLE_ANCHOR)
    class Running:  # the child process of an earlier click, still at work
        pid = 1

        def poll(self):
            return None

    monkeypatch.setattr(retries, "_running", {item.id: Running()})
    client, token = client_of(app, "alice")
    refused = post(client, token, item.id, "retry")
    assert refused.status_code == 400 and "is running already" in refused.text
    assert ctx.ledger.unit(UnitKind.PULL, "northwind").attempts == 5  # nothing reset


# ---- through Prefect --------------------------------------------------------------------------


@pytest.fixture
def retry_deployment(prefect_api, monkeypatch):
    """The retry-review-item deployment on the session's Prefect server, as `prefect deploy`
    makes it from prefect.yaml (a process pool; no worker: the test runs the flow run)."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    monkeypatch.setattr(retries, "_api_url", REAL_API_URL)
    flow_name, _, name = retries.RETRY_DEPLOYMENT.partition("/")
    with get_client(sync_client=True) as client:
        try:
            client.create_work_pool(WorkPoolCreate(name="claimwright-test", type="process"))
        except ObjectAlreadyExists:
            pass
        flow_id = client.create_flow_from_name(flow_name)
        deployment_id = client.create_deployment(
            flow_id=flow_id, name=name, work_pool_name="claimwright-test",
            entrypoint="flows/retry.py:retry_review_item")
    yield prefect_api
    with get_client(sync_client=True) as client:
        client.delete_deployment(deployment_id)


def _failed_parse(ctx, remittance_dataset, monkeypatch):
    import claimwright.pipeline.parse as parse

    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    entry = manifest["remittances"][0]
    import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    real = parse.document_parser
    monkeypatch.setattr(parse, "document_parser", lambda settings: lambda path: (
        _ for _ in ()).throw(OSError("the share went away")))
    process_documents(ctx, "northwind")
    monkeypatch.setattr(parse, "document_parser", real)
    return ctx.queue.items(kind=ReviewKind.DOCUMENT_FAILED)[0]


def test_with_a_prefect_server_retry_now_is_a_flow_run_the_page_follows(
        app, ctx, retry_deployment, remittance_dataset, monkeypatch):
    from prefect import get_client
    from prefect.flow_engine import run_flow

    from flows.retry import retry_review_item

    item = _failed_parse(ctx, remittance_dataset, monkeypatch)
    unit = next(u for u in ctx.ledger.units(UnitKind.PARSE) if u.review_key == item.key)
    client, token = client_of(app, "alice")
    message = done(post(client, token, item.id, "retry"))
    run_id = re.search(r"Prefect flow run retry-item-\d+ \(([0-9a-f-]{36})\)", message).group(1)
    assert ctx.ledger.unit(UnitKind.PARSE, unit.key).state == UnitState.PENDING  # reset
    assert ctx.queue.get(item.id).status == "open"  # nothing ran in the console
    with get_client(sync_client=True) as prefect:
        run = prefect.read_flow_run(run_id)
    assert run.name == f"retry-item-{item.id}" and run.parameters == {"item_id": item.id,
                                                                      "by": "alice"}
    assert {"claimwright", "retry"} <= set(run.tags) and run.state.name == "Scheduled"
    page = client.get(f"/items/{item.id}").text
    assert f"flow run <strong>retry-item-{item.id}</strong>" in page
    assert '<strong class="state">Scheduled</strong>' in page
    assert f"/runs/flow-run/{run_id}" in page and 'http-equiv="refresh"' in page
    twice = post(client, token, item.id, "retry")
    assert twice.status_code == 400 and "waiting in Prefect already" in twice.text

    # what the worker does with it: the flow run, run to its end
    run_flow(retry_review_item, flow_run=run, parameters=run.parameters)
    with get_client(sync_client=True) as prefect:
        assert prefect.read_flow_run(run_id).state.name == "Completed"
    assert ctx.ledger.unit(UnitKind.PARSE, unit.key).state == UnitState.DONE
    assert ctx.queue.get(item.id).status == "resolved"
    page = client.get(f"/items/{item.id}").text
    assert '<strong class="state">Completed</strong>' in page
    assert f"parse {unit.key} re-run: done" in page and 'http-equiv="refresh"' not in page
    assert [a for a, by in events(ctx, item.id) if by == "alice" and a != "viewed-phi"] == [
        "retried", "retry-finished", "resolved"]


def test_without_the_deployment_the_retry_runs_here_and_says_why(app, ctx, prefect_api,
                                                               remittance_dataset,
                                                               monkeypatch):
    monkeypatch.setattr(retries, "_api_url", REAL_API_URL)
    item = _failed_parse(ctx, remittance_dataset, monkeypatch)
    client, token = client_of(app, "alice")
    message = done(post(client, token, item.id, "retry"))
    assert f"Prefect has no deployment {retries.RETRY_DEPLOYMENT}" in message
    assert "re-run: done" in message and ctx.queue.get(item.id).status == "resolved"
    monkeypatch.setattr(retries, "_api_url", lambda: "http://127.0.0.1:9")  # nothing listens
    assert retries._start_in_prefect(item.id, "alice")[1].startswith(
        "The Prefect server at http://127.0.0.1:9 does not answer")
