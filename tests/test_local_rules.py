"""Local rules: categorize an unknown code once, and it takes effect (issue 12, "Categorize an
unknown code"): the local file, its validation, precedence, writing, the CLI, re-deciding."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import openpyxl
import pytest
import typer
from portal_fixtures import SAMPLE_ANCHOR
from typer.testing import CliRunner

from claimwright import datafiles
from claimwright.rules import RulesError
from claimwright.rules.cli import rules_app
from claimwright.rules.engine import categorize_remittance, explain
from claimwright.rules.local import categorize_code, load_local_rules
from claimwright.rules.match import Context
from claimwright.rules.ruleset import current_rules

from denial_builders import single

GOOD = """\
version: 1
rules:
  - id: local-co-z98
    when: {group: CO, carc: Z98}
    then: {denial: true, category: billing data error, owner: billing, action: corrected claim, appealable: "no"}
    why: The payer's own code for a missing referring NPI.
    added_by: pat
    added_on: 2026-11-30
"""


@pytest.fixture
def local_file(workspace, monkeypatch):
    """The local rules file of the workspace (not there yet), with the rules cache dropped."""
    datafiles.forget()
    yield workspace.local_rules
    datafiles.forget()


def _error(path: Path) -> RulesError:
    with pytest.raises(RulesError) as info:
        load_local_rules(path)
    return info.value


# ---- the file ----------------------------------------------------------------------------------


def test_the_setting_defaults_to_the_home_and_a_missing_file_means_no_local_rules(local_file,
                                                                                 workspace):
    assert local_file == workspace.home / "local-rules.yaml" and not local_file.exists()
    rules = current_rules()
    assert rules.local == [] and rules.local_path == local_file
    assert not explain(Context(group="CO", carc="Z98")).decision.known


@pytest.mark.parametrize("old, new, line, field, problem", [
    ("category: billing data error", "category: billing eror", 5, "then.category",
     "not a known category"),
    ("owner: billing,", "owner: accounts,", 5, "then.owner", "not a known owner"),
    ("    added_by: pat\n", "", 3, "added_by", "is required"),
    ("added_on: 2026-11-30", "added_on: last tuesday", 8, "added_on", "must be a date"),
    ("id: local-co-z98", "id: co-z98", 3, "id", "starts with 'local-'"),
    ("carc: Z98}", "carc: Z9*}", 4, "when.carc", "names its codes exactly"),
    ("group: CO, carc: Z98", "group: CO", 4, "when.carc", "names the CARC"),
    ("group: CO,", "group: XX,", 4, "when.group", "not in the groups code table"),
    ("    why:", "    reason:", 6, "reason", "unknown key"),
])
def test_the_local_file_is_validated_like_rules_yaml_with_line_numbers(
        tmp_path, old, new, line, field, problem):
    path = tmp_path / "local-rules.yaml"
    assert old in GOOD
    path.write_text(GOOD.replace(old, new, 1))
    error = _error(path)
    assert error.line == line, str(error)
    assert field in error.field and problem in error.problem, str(error)
    assert str(error).startswith(f"local-rules.yaml:{line}: ")


def test_duplicate_ids_and_shadowed_local_rules_are_refused(tmp_path):
    path = tmp_path / "local-rules.yaml"
    second = GOOD.split("rules:\n")[1]
    path.write_text(GOOD + second)
    assert "already used on line 3" in str(_error(path))
    path.write_text(GOOD.replace("group: CO, ", "") .replace("local-co-z98", "local-any-z98")
                    + second)
    error = _error(path)
    assert error.line == 9 and "can never match" in error.problem


def test_a_local_rule_goes_before_the_shipped_rules_and_makes_its_code_known(
        local_file, workspace):
    assert categorize_remittance(single("CO-16"))[0].decision.rule_id != "local-co-16"
    local_file.parent.mkdir(parents=True, exist_ok=True)
    local_file.write_text(GOOD + """\
  - id: local-co-16
    when: {group: CO, carc: "16"}
    then: {denial: true, category: billing data error, owner: billing, action: corrected claim, appealable: "no"}
    why: This practice corrects every CO-16 itself.
    added_by: pat
    added_on: 2026-11-30
""")
    co16 = categorize_remittance(single("CO-16"))[0].decision
    assert (co16.rule_id, co16.owner, co16.action) == ("local-co-16", "billing",
                                                        "corrected claim")
    z98 = categorize_remittance(single("CO-Z98"))[0].decision
    assert z98.known and z98.unknown_codes == [] and z98.rule_id == "local-co-z98"
    assert z98.category == "billing data error"
    # the rule names group CO: PR-Z98 is still unknown, and so is a remark it does not name
    assert not explain(Context(group="PR", carc="Z98")).decision.known
    other = explain(Context(group="CO", carc="Z98", rarcs=("N9999",))).decision
    assert not other.known and other.unknown_codes == ["RARC N9999"]


def test_current_rules_reloads_when_the_local_file_changes(local_file):
    first = current_rules()
    assert first.local == [] and current_rules() is first  # cached while nothing changed
    categorize_code(group="CO", carc="Z98", category="billing data error", owner="billing",
                    action="corrected claim", by="pat", why="missing NPI code")
    second = current_rules()
    assert [r.id for r in second.local] == ["local-co-z98"] and current_rules() is second
    local_file.unlink()
    assert current_rules().local == []


def test_a_local_id_that_a_shipped_rule_uses_is_refused(local_file, tmp_path, monkeypatch):
    from claimwright.settings import Settings

    shipped = tmp_path / "rules.yaml"
    shipped.write_text(Settings.rules.read_text().replace("- id: pr-cost-sharing",
                                                          "- id: local-co-z98", 1))
    monkeypatch.setenv("CLAIMWRIGHT_RULES", str(shipped))
    local_file.parent.mkdir(parents=True, exist_ok=True)
    local_file.write_text(GOOD)
    with pytest.raises(RulesError) as info:
        current_rules()
    assert str(info.value).startswith("local-rules.yaml:3: id: rule id 'local-co-z98' is "
                                      "already used in rules.yaml")


# ---- writing ---------------------------------------------------------------------------------


def test_categorize_code_writes_an_owner_only_file_atomically_and_returns_the_rule(local_file):
    rule = categorize_code(group="co", carc="z98", category="billing data error",
                           owner="billing", action="corrected claim", by="pat",
                           why="The payer's own code for a missing NPI.",
                           today=dt.date(2026, 11, 30))
    assert rule.id == "local-co-z98" and rule.line == 7
    assert rule.when.group == ("CO",) and rule.when.carc == ("Z98",)
    assert rule.then == {"denial": True, "category": "billing data error", "owner": "billing",
                         "action": "corrected claim", "appealable": "no"}
    assert (rule.added_by, rule.added_on) == ("pat", dt.date(2026, 11, 30))
    assert stat.S_IMODE(os.stat(local_file).st_mode) == 0o600
    assert not list(local_file.parent.glob(".*.part"))  # the temporary files are gone
    assert load_local_rules(local_file) == [rule]
    any_group = categorize_code(group=None, carc="Z97", category="payer processing",
                                owner="payer", action="review", by="sam", why="ask the payer")
    assert any_group.id == "local-any-z97"
    assert [r.id for r in load_local_rules(local_file)] == ["local-co-z98", "local-any-z97"]
    assert "# Local rules" in local_file.read_text()  # the header (and admins' comments) stay


@pytest.mark.parametrize("change, field", [
    ({"category": "billing"}, "category"), ({"owner": "front desk"}, "owner"),
    ({"action": "call"}, "action"), ({"appealable": "maybe"}, "appealable"),
    ({"group": "ZZ"}, "group"), ({"carc": "Z9*"}, "carc"), ({"why": " "}, "why"),
    ({"action": "appeal", "appealable": "no"}, "action"),
    ({"appealable": "conditional"}, "condition"),
])
def test_categorize_code_refuses_what_the_rules_vocabulary_does_not_know(local_file, change,
                                                                         field):
    values = {"group": "CO", "carc": "Z98", "category": "billing data error",
              "owner": "billing", "action": "corrected claim", "by": "pat", "why": "x"}
    with pytest.raises(RulesError) as info:
        categorize_code(**{**values, **change})
    assert field in info.value.field, str(info.value)
    assert not local_file.exists()


def test_a_second_rule_for_the_same_code_is_refused_and_nothing_is_written(local_file):
    values = {"carc": "Z98", "category": "billing data error", "owner": "billing",
              "action": "corrected claim", "by": "pat", "why": "x"}
    categorize_code(group=None, **values)
    before = local_file.read_bytes()
    for group in (None, "CO"):  # same when; covered by the any-group rule above
        with pytest.raises(RulesError, match="already (categorized|covered) by local rule "
                                             "'local-any-z98'"):
            categorize_code(group=group, **values)
    assert local_file.read_bytes() == before


def test_a_local_file_that_would_not_load_is_not_written(local_file):
    local_file.parent.mkdir(parents=True, exist_ok=True)
    local_file.write_text("version: 1\nrules: []\n")  # a flow list: an entry cannot be appended
    with pytest.raises(RulesError, match="would not load with the new rule, nothing written"):
        categorize_code(group="CO", carc="Z98", category="billing data error", owner="billing",
                        action="corrected claim", by="pat", why="x")
    assert local_file.read_text() == "version: 1\nrules: []\n"
    assert not list(local_file.parent.glob(".*.part"))


# ---- the CLI -----------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(rules_app, name="rules")
    app.command()(lambda: None)
    return app


def test_cli_categorize_writes_the_rule_and_explain_and_check_show_it(local_file):
    runner = CliRunner()
    args = ["rules", "categorize", "--carc", "Z98", "--group", "CO", "--category",
            "billing data error", "--owner", "billing", "--action", "corrected claim",
            "--why", "The payer's own code for a missing NPI.", "--by", "pat"]
    result = runner.invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "rule local-co-z98 added to" in result.output
    assert "0 stored finding(s) with Z98" in result.output
    explained = runner.invoke(_app(), ["rules", "explain", "--carc", "Z98", "--group", "CO"])
    assert "rule: local-co-z98 (local-rules.yaml line 7" in explained.output
    assert "category: billing data error" in explained.output
    check = runner.invoke(_app(), ["rules", "check"])
    assert check.exit_code == 0 and "1 rules, tried first" in check.output
    again = runner.invoke(_app(), args)
    assert again.exit_code == 2 and "already categorized" in again.output
    bad = runner.invoke(_app(), args[:-4] + ["--owner", "nobody", "--why", "x"])
    assert bad.exit_code == 2 and "'nobody' is not a known owner" in bad.output
    redo = runner.invoke(_app(), ["rules", "redecide", "--carc", "Z98", "--carc", "Z97"])
    assert redo.exit_code == 0 and "0 stored finding(s) with Z97, Z98: 0 re-decided" in \
        redo.output
    local_file.write_text(local_file.read_text().replace("added_by: pat", "added_by:"))
    broken = runner.invoke(_app(), ["rules", "check"])
    assert broken.exit_code == 2 and "local-rules.yaml:11: rules[local-co-z98].added_by" in \
        broken.output


# ---- re-deciding the stored findings (end to end, no browser, no Prefect) ------------------


def _rows(path: Path) -> dict[str, tuple]:
    rows = openpyxl.load_workbook(path, read_only=True).worksheets[0].iter_rows(values_only=True)
    header = [str(h).casefold() for h in next(rows)]
    return {r[header.index("key")]: r for r in rows if r[header.index("key")]}


def test_categorizing_z98_redecides_its_findings_and_routes_them_to_the_billing_worklist(
        local_file, workspace, remittance_dataset):
    from claimwright.pipeline import Context as Pipeline, import_document, process_documents
    from claimwright.pipeline import write_outputs
    from claimwright.pipeline.redecide import redecide
    from claimwright.types import UnitKind, UnitState

    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    ctx = Pipeline.from_settings()
    for entry in manifest["remittances"]:
        import_document(ctx, "northwind", folder / entry["pdf"], entry["remittance_id"])
    process_documents(ctx, "northwind")
    write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)

    # before: the Z98 denial is unknown, has an open unknown-code item, is in no worklist
    z98 = [f for f in ctx.ledger.findings() if f.carc == "Z98"]
    assert len(z98) == 1 and z98[0].rule_id == "unknown-code" and z98[0].category == "unknown"
    key = z98[0].key
    item_key = f"unknown-code:{key}"
    items = {i.key: i for i in ctx.ledger.review_items(status=None)}
    assert items[item_key].status == "open"
    billing = workspace.worklist_for("billing")
    books = list(billing.parent.glob("*-worklist.xlsx"))
    assert books and all(key not in _rows(book) for book in books)
    billing_before = _rows(billing) if billing.exists() else {}

    rule = categorize_code(group="CO", carc="Z98", category="billing data error",
                           owner="billing", action="corrected claim", by="pat",
                           why="The payer's own code for a missing NPI.")
    result = redecide(ctx, ["Z98"])
    assert (result.findings, result.changed, len(result.documents)) == (1, 1, 1)
    assert result.resolved == [item_key] and result.busy == []
    assert ctx.ledger.unit(UnitKind.OUTPUTS, result.documents[0]).state == UnitState.PENDING
    item = next(i for i in ctx.ledger.review_items(status=None) if i.key == item_key)
    assert item.status == "resolved" and rule.id in item.resolution
    for phi in (z98[0].patient_account, z98[0].payer_claim_id):  # the rule named, no PHI
        assert phi not in item.resolution

    counts = write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    after = next(f for f in ctx.ledger.findings() if f.key == key)
    assert (after.rule_id, after.category, after.owner, after.action) == (
        "local-co-z98", "billing data error", "billing", "corrected claim")
    assert counts.to_billing >= 1 and counts.worklist_added == 1
    rows = _rows(billing)
    assert key in rows and set(rows) == set(billing_before) | {key}
    # the remittance's rows written before were not queued again (same key and source); the
    # Z98 row is new for the outbox because its route is new: queued and written once
    queued = [r for r in ctx.ledger.outputs("worklist-row") if r.key == key]
    assert len(queued) == 1 and queued[0].written
    assert ctx.ledger.unit(UnitKind.OUTPUTS, result.documents[0]).state == UnitState.DONE

    # a second time: nothing stale, nothing to resolve, nothing added
    again = redecide(ctx, ["Z98"])
    assert (again.findings, again.changed, again.documents, again.resolved) == (1, 0, [], [])
    counts = write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR)
    assert counts.remittances == 0 and counts.worklist_added == 0
    assert _rows(billing).keys() == rows.keys()
    ctx.ledger.close()


def test_retry_puts_a_done_unit_back_only_when_asked_and_never_one_in_progress(tmp_path):
    from claimwright.review import ReviewQueue
    from claimwright.storage import Ledger
    from claimwright.types import UnitKind, UnitState
    from claimwright.units import WorkUnits

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    work = WorkUnits(ledger, ReviewQueue(ledger), owner="h:1:r")
    work.add(UnitKind.OUTPUTS, "northwind:NW-1")
    with work.take(UnitKind.OUTPUTS, "northwind:NW-1"):
        pass
    assert not work.retry(UnitKind.OUTPUTS, "northwind:NW-1")  # `units retry`: done units stay
    assert ledger.unit(UnitKind.OUTPUTS, "northwind:NW-1").state == UnitState.DONE
    assert work.retry(UnitKind.OUTPUTS, "northwind:NW-1", done=True)
    unit = ledger.unit(UnitKind.OUTPUTS, "northwind:NW-1")
    assert unit.state == UnitState.PENDING and unit.attempts == 0
    taken = work.take(UnitKind.OUTPUTS, "northwind:NW-1")
    assert taken is not None  # a run holds it now: not reset under its feet
    assert not work.retry(UnitKind.OUTPUTS, "northwind:NW-1", done=True)
    assert ledger.unit(UnitKind.OUTPUTS, "northwind:NW-1").state == UnitState.IN_PROGRESS
    ledger.close()


def test_people_categorizing_at_once_lose_no_rule(local_file):
    from concurrent.futures import ThreadPoolExecutor

    def add(code: str) -> str:
        return categorize_code(group="CO", carc=code, category="payer processing",
                               owner="payer", action="review", by="pat", why="ask").id

    codes = [f"Z{n}" for n in range(10, 18)]
    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(add, codes))
    assert sorted(r.id for r in load_local_rules(local_file)) == sorted(ids)
    assert len(ids) == 8 and stat.S_IMODE(os.stat(local_file).st_mode) == 0o600
