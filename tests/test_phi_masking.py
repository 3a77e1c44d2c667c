"""One masking policy (claimwright/phi.py) over every human-facing text not meant to carry PHI:
``claimwright review list/show`` (reasons, contexts, problem messages), the console's queue
list, the logs of a pipeline run. Items come from a real run over the synthetic northwind
dataset, whose unbalanced claims name their patient account in the reason."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from portal_fixtures import SAMPLE_ANCHOR
from typer.testing import CliRunner

from claimwright import phi
from claimwright.cli import app as cli_app
from claimwright.pipeline import Context, import_document, process_documents, write_outputs
from test_console_auth import ROLES, hashes, sign_in  # noqa: F401

_MIN = 5  # shorter values could match ordinary text by chance


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def home(tmp_path_factory, remittance_dataset):
    """One run for the module: the northwind dataset through parse and outputs in its own
    home and out, every log record (DEBUG and up, tracebacks formatted) collected."""
    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    root = tmp_path_factory.mktemp("phi-run")
    handler, logger = _Collect(), logging.getLogger()
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLAIMWRIGHT_HOME", str(root / "var"))
        mp.setenv("CLAIMWRIGHT_OUT", str(root / "out"))
        mp.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
        ctx = Context.from_settings()
        try:
            for entry in manifest["remittances"]:
                import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
            counts = process_documents(ctx, "northwind")
            write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)
        finally:
            ctx.ledger.close()
            logger.removeHandler(handler)
            logger.setLevel(old_level)
    return root, "\n".join(handler.lines)


@pytest.fixture
def run(home, monkeypatch):
    """The module's run, its folders set for this test: (PHI values, items, log text)."""
    root, log_text = home
    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(root / "var"))
    monkeypatch.setenv("CLAIMWRIGHT_OUT", str(root / "out"))
    monkeypatch.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
    ctx = Context.from_settings()
    try:
        values = set()
        for doc in ctx.ledger.documents(payer="northwind"):
            for rec in ctx.ledger.remittances(doc.id):
                for claim in rec.data["claims"]:
                    values |= {claim.get(k) or "" for k in
                               ("patient_account", "patient_name", "member_id")}
        items = ctx.queue.items(status=None)
    finally:
        ctx.ledger.close()
    values = {v for v in values if len(v) >= _MIN}
    assert values and items
    return values, items, log_text


def _leaks(text: str, values: set[str]) -> list[str]:
    return sorted(v for v in values if v in text)


def test_review_items_do_carry_phi_in_reasons_and_problems(run):
    """The precondition of the tests below: the items' own texts hold patient accounts."""
    values, items, _ = run
    reasons = [i for i in items if _leaks(i.reason, values)]
    assert reasons, "an unbalanced claim names its patient account in the reason"
    problems = json.dumps([i.context.get("problems") for i in items])
    assert _leaks(problems, values)


@pytest.mark.parametrize("args", [["review", "list", "--all"], ["review", "list", "--all",
                                                                    "--json"]])
def test_review_list_prints_no_patient_account_name_or_member_id(run, args):
    values, items, _ = run
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert str(items[0].id) in result.output
    assert _leaks(result.output, values) == []


def test_review_show_prints_no_phi_of_any_item(run):
    values, items, _ = run
    for item in items:
        result = CliRunner().invoke(cli_app, ["review", "show", str(item.id)])
        assert result.exit_code == 0, result.output
        shown = json.loads(result.output)
        assert shown["id"] == item.id and shown["kind"] == item.kind
        assert _leaks(result.output, values) == [], item.kind


def test_the_console_queue_list_stays_masked_even_for_a_reviewer(run, hashes):  # noqa: F811
    from claimwright.console import create_app, set_user
    from claimwright.settings import Settings

    values, items, _ = run
    settings = Settings.from_env()
    for name, h in hashes.items():
        set_user(settings.console_users, name, ROLES[name], h)
    app = create_app(settings)
    try:
        client = TestClient(app, follow_redirects=False)
        assert sign_in(client, "alice").status_code == 303
        page = client.get("/items?state=all")
        assert page.status_code == 200 and f"/items/{items[0].id}" in page.text
        assert _leaks(page.text, values) == []
        # the item page shows PHI to a reviewer by design (and audits the view)
        unbalanced = next(i for i in items if _leaks(i.reason, values))
        assert _leaks(client.get(f"/items/{unbalanced.id}").text, values)
    finally:
        app.state.console.ledger().close()


def test_the_logs_of_a_pipeline_run_hold_no_phi(run):
    values, _, log_text = run
    assert "review item" in log_text  # the run did log
    assert _leaks(log_text, values) == []


def test_masking_a_text_by_the_phi_of_its_context():
    context = {"claim": "PA-1234567", "patient_name": "DOE, JANE", "member_id": "W987654321",
               "problems": [{"claim": "PA-1234567", "message": "claim PA-1234567 off by 1.00"}]}
    values = phi.phi_values(context)
    text = phi.mask_text("NW-1 claim PA-1234567: DOE, JANE (W987654321) off", values)
    assert "PA-1234567" not in text and "DOE, JANE" not in text and "W987654321" not in text
    assert "4567" in text and "D**, J***" in text  # enough to tell rows apart
    shown = json.dumps(phi.masked(context, values))
    assert "PA-1234567" not in shown and "W987654321" not in shown


@pytest.fixture
def known():
    """A clean memory of seen PHI for the test, cleared again afterwards."""
    phi.KNOWN.clear()
    yield phi.KNOWN
    phi.KNOWN.clear()


def test_log_records_and_tracebacks_are_masked_once_phi_was_seen(known, caplog):
    log = logging.getLogger("claimwright.pipeline.test")
    phi.remember(phi.phi_values({"claim": "ZQ9081726", "patient_name": "QUILL, ORSON"}))
    caplog.set_level(logging.INFO)
    log.info("claim %s of %s", "ZQ9081726", "QUILL, ORSON")
    try:
        raise ValueError("claim ZQ9081726: billed 10.00 but paid 12.00")
    except ValueError:
        log.exception("unexpected failure in outputs")
    text = caplog.text
    assert "ZQ9081726" not in text and "QUILL" not in text and "ORSON" not in text
    assert "*****1726" in text and "Q****, O****" in text  # masked, not dropped
    assert "billed 10.00 but paid 12.00" in text  # the rest of the message is kept


def test_the_run_problems_artifact_masks_what_the_run_saw(known, workspace, monkeypatch):
    import flows.nightly as nightly
    from claimwright.pipeline import Counts

    published = []
    monkeypatch.setattr(nightly, "create_markdown_artifact",
                        lambda **kw: published.append(kw["markdown"]))
    monkeypatch.setattr(nightly, "create_table_artifact",
                        lambda **kw: published.append(json.dumps(kw["table"])))
    ctx = Context.from_settings()
    try:  # a review item about the claim: its context names the account
        ctx.queue.open("unbalanced", "NW-1 claim ZQ9081726: off", key="unbalanced:t",
                       payer="northwind", context={"claim": "ZQ9081726"})
    finally:
        ctx.ledger.close()
    counts = Counts("northwind")
    counts.problem("outputs NW-1: claim ZQ9081726 shows no billed amount")  # no item
    nightly.publish_summary([counts], SAMPLE_ANCHOR, SAMPLE_ANCHOR)
    text = "\n".join(published)
    assert "shows no billed amount" in text and "*****1726" in text
    assert "ZQ9081726" not in text


def test_a_failed_units_error_in_the_run_counts_is_masked(known):
    from claimwright.errors import DocumentError
    from claimwright.pipeline import Counts
    from claimwright.types import FaultCode, UnitKind

    class FailedUnit:  # what WorkUnits hands to on_failure
        kind, payer, key, review = UnitKind.PARSE, "northwind", "northwind:NW-1", None
        context = {"remittance_id": "NW-1"}
        error = DocumentError("continued row names account ZQ9081726 but no claim is open",
                              code=FaultCode.UNKNOWN_LAYOUT, claim="ZQ9081726")

    counts = Counts("northwind")
    counts.unit_failed(FailedUnit())
    [error] = counts.errors
    assert error.startswith("document NW-1: continued row names account *****1726")
    assert "ZQ9081726" not in error


def test_a_very_short_id_seen_once_does_not_mask_every_number_after_it(known):
    """A patient account "1" (hostile or sample files have them) must not turn every later
    "1" of the process's texts into "*": item ids, hosts and counts stay readable; a short
    value identifies nobody."""
    phi.remember_claims([{"patient_account": "1", "patient_name": "QUILL, ORSON",
                          "member_id": "W987654321"},
                         {"patient_account": "22", "member_id": "W987654321"}])
    text = phi.mask_known("[1](http://127.0.0.1:8765/items/1): 22 rows, W987654321 QUILL")
    assert "[1](http://127.0.0.1:8765/items/1): 22 rows" in text
    assert "W987654321" not in text and "QUILL" not in text
