"""What the Prefect UI shows reads as the work: task runs named by stage and payer, each payer's
progress in words in the run's logs (counts only, no PHI); and ``claimwright run`` with no
Prefect server set neither waits ~50 s nor fails on Prefect's ephemeral mode."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

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


def test_the_run_artifacts_say_counts_ids_and_folders_never_a_reason(tmp_path):
    from types import SimpleNamespace

    from claimwright.pipeline.context import review_entry
    from claimwright.run_artifacts import failures_markdown, outputs_markdown, summary_rows
    from claimwright.settings import Settings

    settings = Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path / "var"),
                                  "CLAIMWRIGHT_OUT": str(tmp_path / "out"),
                                  "CLAIMWRIGHT_CONSOLE_URL": "https://console.example/"})
    a = Counts("northwind", listed=4, denial_findings=3, to_coding=1, to_packets=2,
               denials_by_category={"modifier": 1, "timely filing": 2}, review_opened=2)
    b = Counts("keystone", listed=1, denial_findings=1, to_review=1,
               denials_by_category={"coding/bundling": 1})
    item = SimpleNamespace(id=41, kind="document-failed", payer="northwind",
                           reason="DOE, JANE: corrupt", context={"error": "corrupt-pdf"})
    a.review_items.append(review_entry(item, created=True, failed="document"))
    a.review_items.append(review_entry(SimpleNamespace(id=42, kind="unbalanced", payer="northwind",
                                                       context={}), created=True))
    b.problem("pull keystone: task failed (RuntimeError)")

    rows = {r["What"]: r for r in summary_rows([a, b])}  # a row per figure, a column per payer
    assert list(rows)[:7] == ["Listed", "Downloaded", "Parsed", "Denials",  # categories: most
                              "Denials: timely filing", "Denials: coding/bundling",  # first,
                              "Denials: modifier"]  # then in the rules' order
    assert list(rows)[7:] == ["To coding", "To registration", "To clinical documentation",
                              "To billing", "To packets", "To review", "Packets written",
                              "Review items opened", "Errors"]
    assert rows["Denials"] == {"What": "Denials", "northwind": 3, "keystone": 1, "All payers": 4}
    assert rows["Denials: modifier"]["keystone"] == 0 and rows["Errors"]["All payers"] == 1

    failures = failures_markdown(settings, [a, b])
    assert "| [41](https://console.example/items/41) | document-failed | northwind | document " \
           "| corrupt-pdf | new |" in failures
    assert "[42](https://console.example/items/42) | unbalanced" in failures  # for a person
    assert "- pull keystone: task failed (RuntimeError)" in failures
    assert "DOE" not in failures and "## Could not finish (2)" in failures
    assert failures_markdown(settings, [Counts("northwind")]) is None  # an empty run: none

    outputs = outputs_markdown(settings, [a, b])
    assert f"`{settings.packets / 'northwind'}` (none yet)" in outputs
    assert "https://console.example/items" in outputs


def test_the_status_check_table_has_readable_headers_and_its_problems_their_items(tmp_path):
    from types import SimpleNamespace

    from claimwright.pipeline.followup import StatusCounts
    from claimwright.run_artifacts import failures_markdown, status_rows
    from claimwright.settings import Settings

    counts = StatusCounts("keystone", due=3, checked=2, needs_action=1)
    counts.note_review(SimpleNamespace(created=True, item=SimpleNamespace(
        id=7, kind="status-action", payer="keystone", context={})))
    counts.problem("status check keystone: 1 query(ies) not answered after their retries")
    [row] = status_rows([counts])
    assert row["Payer"] == "keystone" and row["Due"] == 3 and row["Needs action"] == 1
    assert row["Review opened"] == 1 and row["Errors"] == 1
    assert not {"review_items", "unfiled", "errors", "Review items"} & set(row)
    text = failures_markdown(Settings.from_env({"CLAIMWRIGHT_HOME": str(tmp_path)}), [counts])
    assert "| [7](http://127.0.0.1:8765/items/7) | status-action | keystone |" in text
    assert "- status check keystone: 1 query(ies) not answered" in text


@pytest.mark.e2e
@pytest.mark.browser
def test_a_nightly_run_reads_as_the_work_in_the_prefect_api_and_in_chromium(
        workspace, northwind_env, prefect_api, shared_browser):
    """Task runs named by stage and payer, each payer's progress in the logs, the run's
    artifacts (summary table, outputs, failures by review item) on the real Prefect API, no PHI
    in any of them; and the Prefect UI's run page shows the run and its artifacts."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (FlowRunFilter, FlowRunFilterId, LogFilter,
                                                LogFilterFlowRunId)
    from claimwright.services import flush_prefect

    from flows.nightly import nightly_denials

    portal = northwind_env
    state = nightly_denials(payers=["northwind"], start=portal.payment_dates[0],
                            end=SAMPLE_ANCHOR, portal_urls={"northwind": portal.base_url},
                            return_state=True)
    [result] = state.result()
    run_id = state.state_details.flow_run_id
    flush_prefect()  # logs, and the events the server records task runs from (a service of its)
    of_run = FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + 60  # recorded within seconds; minutes on a loaded machine
        while len(task_runs := client.read_task_runs(flow_run_filter=of_run)) < 2 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[run_id])))
        artifacts = {a.key: a for a in client.read_artifacts(flow_run_filter=of_run)}
        run_name = client.read_flow_run(run_id).name

    assert sorted(t.name for t in task_runs) == ["parse-and-decide-northwind", "pull-northwind"]
    messages = [log.message for log in logs]
    counts = Counts(**result)
    assert counts.listed >= 11 and counts.denial_findings > 0  # the sentence has real figures
    progress = [m for m in messages if m.startswith("northwind: ")]
    assert progress == [counts.progress()]
    assert f"northwind: {counts.listed} listed, {counts.downloaded} downloaded, " \
           f"{counts.documents_parsed} parsed; {counts.denial_findings} denials -> " in progress[0]

    texts = _check_artifacts(artifacts, counts, workspace)

    # no patient name, member id or account number in any of the run's logs or artifacts
    phi = set()
    for entry in portal.manifest["remittances"]:
        truth = json.loads((portal.data_dir / entry["truth"]).read_text())
        for claim in truth["claims"]:
            phi |= {claim.get(k) for k in ("patient_name", "member_id", "patient_account")}
    phi.discard(None)
    phi.discard("")
    assert phi
    assert [m for m in messages + texts for value in phi if value in m] == []

    _check_run_page_in_chromium(shared_browser, prefect_api, run_id, run_name, counts,
                                artifacts["nightly-run-problems"].id)


def _artifact_data(artifact):
    data = artifact.data
    return json.loads(data) if isinstance(data, str) and artifact.type == "table" else data


def _check_artifacts(artifacts, counts, workspace) -> list[str]:
    """The run's artifacts say what its counts say; returns their texts (for the PHI check)."""
    from claimwright.pipeline import Context

    assert {"nightly-run-summary", "nightly-run-outputs", "nightly-run-problems",
            "appeal-figures"} <= set(artifacts)
    table = {r["What"]: r["northwind"] for r in _artifact_data(artifacts["nightly-run-summary"])}
    assert (table["Listed"], table["Downloaded"], table["Parsed"], table["Denials"]) == (
        counts.listed, counts.downloaded, counts.documents_parsed, counts.denial_findings)
    assert (table["To coding"], table["To registration"], table["To billing"],
            table["To packets"], table["To review"]) == (
        counts.to_coding, counts.to_registration, counts.to_billing, counts.to_packets,
        counts.to_review)
    assert (table["Packets written"], table["Review items opened"], table["Errors"]) == (
        counts.packets_written, counts.review_opened, len(counts.errors))
    categories = {k.removeprefix("Denials: "): v for k, v in table.items()
                  if k.startswith("Denials: ")}
    assert categories == counts.denials_by_category and len(categories) >= 2
    assert sum(categories.values()) == counts.denial_findings

    outputs = artifacts["nightly-run-outputs"].data
    folder = workspace.packets / "northwind"
    assert folder.resolve().as_uri() in outputs and f"{counts.packets_written} written" in outputs
    for book in (workspace.out / "worklists").glob("*-worklist.xlsx"):
        assert book.resolve().as_uri() in outputs
    assert "http://127.0.0.1:8765/items" in outputs
    assert "appeal-" not in outputs  # packet file names hold claim numbers: a count instead

    # every review item the run opened is listed by id, with its console link
    problems = artifacts["nightly-run-problems"].data
    ctx = Context.from_settings()
    try:
        items = ctx.queue.items(None)
    finally:
        ctx.ledger.close()
    assert items and len(items) == counts.review_opened
    for item in items:
        assert f"[{item.id}](http://127.0.0.1:8765/items/{item.id}) | {item.kind} | northwind" \
               in problems
        assert item.reason not in problems
    return [json.dumps(a.data, default=str) + (a.description or "") for a in artifacts.values()]


def _check_run_page_in_chromium(browser, api: str, run_id, run_name: str, counts,
                                problems_id) -> None:
    """The Prefect UI's run page names the run; its Artifacts tab lists the run's artifacts;
    the summary's page renders the table with the run's figures."""
    from bots.browser import driving

    ui = api.removesuffix("/api")
    with driving(browser):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        try:
            page = context.new_page()
            page.goto(f"{ui}/runs/flow-run/{run_id}")
            page.get_by_text(run_name).first.wait_for()
            page.get_by_text(counts.progress()).wait_for()  # the logs tab, opened first
            _doc_image(page, "prefect-run-page.png")
            page.get_by_text("Artifacts", exact=True).first.click()
            for key in ("nightly-run-summary", "nightly-run-outputs", "nightly-run-problems"):
                page.get_by_text(key, exact=True).first.wait_for()
            page.get_by_text("nightly-run-summary", exact=True).first.click()
            table = page.locator("table")
            table.get_by_text("Review items opened").wait_for()
            assert [h.strip() for h in table.locator("th").all_inner_texts()] == [
                "What", "northwind"]
            shown = {}
            for tr in table.locator("tbody tr").all():
                label, value = (c.strip() for c in tr.locator("td").all_inner_texts())
                shown[label] = value
            assert shown["Listed"] == str(counts.listed)
            assert shown["Denials"] == str(counts.denial_findings)
            assert shown["Review items opened"] == str(counts.review_opened)
            page.set_viewport_size({"width": 1400, "height": 1300})  # the table scrolls inside
            _doc_image(page, "prefect-run-artifacts.png")
            page.goto(f"{ui}/artifacts/artifact/{problems_id}")
            page.get_by_text("Could not finish").first.wait_for()
            _doc_image(page, "prefect-run-problems.png")
        finally:
            context.close()


def _doc_image(page, name: str) -> None:
    """With CLAIMWRIGHT_DOC_IMAGES set (make doc-images), a screenshot for docs/operations.md."""
    folder = os.environ.get("CLAIMWRIGHT_DOC_IMAGES")
    if folder:
        page.screenshot(path=str(Path(folder) / name), full_page=True)


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
