"""rules.yaml: decisions for the codes that matter, unknown codes, admin edits, validation, CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from claimwright import codes
from claimwright.rules import RulesError
from claimwright.rules import engine
from claimwright.rules.cli import categorize, rules_app
from claimwright.rules.engine import categorize_remittance, decide, explain
from claimwright.rules.match import Context
from claimwright.rules.ruleset import load_rules
from claimwright.settings import Settings

from denial_builders import MEDICARE, adj, claim, line, remittance, single
from test_codes import RESEARCH_CARCS

RULES = Settings.rules
FALLBACKS = {"co-fallback", "oa-pi-fallback", "pr-fallback", "any-fallback"}
NOT_DENIALS = [("PR", "1"), ("PR", "2"), ("PR", "3"), ("CO", "45"), ("CO", "253"), ("OA", "23"),
               ("CO", "24"), ("CO", "59")]


def d(group: str, carc: str, *rarcs: str, **kw) -> "engine.Decision":
    return decide(Context(group=group, carc=carc, rarcs=rarcs, **kw))


def test_packaged_rules_load_and_every_current_carc_has_a_specific_rule():
    ruleset = load_rules(RULES)
    named = {c for r in ruleset.rules if r.id not in FALLBACKS for c in (r.when.carc or ())}
    current = {e.code for e in codes.tables().carc if e.status == "current"}
    assert current - named == set()


@pytest.mark.parametrize("carc", RESEARCH_CARCS)
def test_every_research_carc_is_decided_by_a_specific_rule(carc):
    group = {"1": "PR", "2": "PR", "3": "PR", "275": "PR", "23": "OA"}.get(carc, "CO")
    decision = d(group, carc)
    assert decision.known and decision.rule_id not in FALLBACKS | {"unknown-code"}


@settings(max_examples=150, deadline=None)
@given(code=st.sampled_from(NOT_DENIALS),
       rarcs=st.lists(st.sampled_from(["MA130", "N130", "M15", "N211", "N704", "MA01", "N381",
                                       "M51", "N115"]), max_size=3),
       payer=st.sampled_from(["NWHP1", "00000", "ACME9", ""]),
       amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2))
def test_not_a_denial_set_never_counts_as_denial(code, rarcs, payer, amount):
    decision = d(*code, *rarcs, payer=payer, procedure="99213", amount=amount)
    assert decision.is_denial is False
    assert decision.action != "appeal"


def test_co16_ma130_is_a_new_claim_not_an_appeal():
    for rarcs in (("MA130",), ("MA130", "M51"), ("M51", "MA130")):
        decision = d("CO", "16", *rarcs)
        assert decision.is_denial and decision.action == "new claim"
        assert decision.appealable == "no"
    assert "ma130-unprocessable" in d("CO", "16", "MA130", "M51").overrides
    assert d("CO", "16", "MA130", "M51").owner == "coding"  # M51: the procedure code is wrong


def test_co16_with_missing_info_remark_is_a_corrected_claim():
    decision = d("CO", "16", "N382")
    assert (decision.action, decision.owner) == ("corrected claim", "registration")
    assert d("CO", "16", "N290").action == "corrected claim"
    assert d("CO", "16").action == "review"


def test_co29_not_appealable_except_with_proof_of_timely_filing():
    decision = d("CO", "29")
    assert decision.category == "timely filing" and decision.is_denial
    assert decision.appealable == "conditional"
    assert "proof of timely filing" in decision.condition
    assert decision.action != "appeal"


@pytest.mark.parametrize("carc,rarcs", [("97", ()), ("97", ("M15",)), ("236", ())])
def test_bundling_goes_to_coding(carc, rarcs):
    decision = d("CO", carc, *rarcs)
    assert (decision.category, decision.owner) == ("coding/bundling", "coding")
    assert decision.is_denial


def test_co197_is_authorization_for_registration():
    decision = d("CO", "197")
    assert (decision.category, decision.owner) == ("authorization", "registration")


def test_co50_is_medical_necessity_with_appeal():
    for rarcs in ((), ("N115",)):
        decision = d("CO", "50", *rarcs)
        assert (decision.category, decision.owner) == ("medical necessity",
                                                       "clinical documentation")
        assert (decision.action, decision.appealable) == ("appeal", "yes")


def test_records_requests_get_a_records_response():
    for carc in ("252", "226"):
        decision = d("CO", carc, "N706")
        assert (decision.category, decision.action) == ("documentation request",
                                                        "records response")


@pytest.mark.parametrize("code,rarcs,category,action", [
    ("CO-4", ("N519",), "modifier", "corrected claim"),
    ("CO-4", ("M78",), "modifier", "corrected claim"),
    ("CO-11", (), "coding/bundling", "corrected claim"),
    ("OA-18", ("N522",), "duplicate", "write off"),
    ("CO-27", (), "eligibility/coverage", "rebill other payer"),
    ("CO-96", ("N130",), "non-covered", "write off"),
    ("CO-151", (), "medical necessity", "appeal"),
    ("CO-22", (), "coordination of benefits", "rebill other payer"),
    ("PR-27", (), "eligibility/coverage", "bill patient"),
])
def test_fixture_combinations(code, rarcs, category, action):
    decision = d(*code.split("-"), *rarcs)
    assert (decision.category, decision.action) == (category, action)
    assert decision.is_denial and decision.known


def test_unknown_codes_are_categorized_unknown_and_listed():
    decision = d("CO", "Z98")
    assert (decision.category, decision.action, decision.known) == ("unknown", "review", False)
    assert decision.unknown_codes == ["CARC Z98"] and decision.rule_id == "unknown-code"
    decision = d("XX", "45")  # unknown (future) group with a known CARC
    assert not decision.known and decision.unknown_codes == ["group XX"]
    decision = d("CO", "50", "N9999", "N115")
    assert not decision.known and decision.category == "unknown"
    assert decision.unknown_codes == ["RARC N9999"]


def test_retired_codes_are_known_but_flagged():
    finding = categorize_remittance(single("CO-4", ["M78"]))[0]
    assert finding.decision.known and finding.decision.category == "modifier"
    assert finding.decision.retired_codes == ["RARC M78 (deactivated since 2006-05-18)"]
    assert categorize_remittance(single("CO-4", ["N519"]))[0].decision.retired_codes == []


def test_real_carc_without_a_rule_falls_to_the_group_rule(tmp_path):
    text = RULES.read_text().replace('"295", "303"', '"303"')  # drop CARC 295 from its rule
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    ruleset = load_rules(path)
    decision = decide(Context("CO", "295"), ruleset=ruleset)
    assert decision.known and decision.rule_id == "co-fallback" and decision.action == "review"
    assert decide(Context("PR", "295"), ruleset=ruleset).rule_id == "pr-fallback"


def test_first_match_wins_and_amount_payer_procedure_conditions(tmp_path):
    extra = """
  - id: nwhp-small-bundles
    when: {group: CO, carc: "97", payer: NWHP1, procedure: "992*", amount_max: "25.00"}
    then: {denial: true, category: coding/bundling, owner: coding, action: write off, appealable: "no"}
    why: Not worth reworking.
"""
    text = RULES.read_text().replace("rules:\n", "rules:" + extra, 1)
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    rs = load_rules(path)
    hit = Context("CO", "97", payer="NWHP1", procedure="99213", amount=Decimal("20.00"))
    assert decide(hit, ruleset=rs).rule_id == "nwhp-small-bundles"
    for miss in (Context("CO", "97", payer="NWHP1", procedure="99213", amount=Decimal("30")),
                 Context("CO", "97", payer="ACME9", procedure="99213", amount=Decimal("20")),
                 Context("CO", "97", payer="NWHP1", procedure="80053", amount=Decimal("20")),
                 Context("CO", "97", payer="NWHP1", amount=Decimal("20"))):
        assert decide(miss, ruleset=rs).rule_id == "bundled"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    text = RULES.read_text()
    assert old in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def _line_of(path: Path, needle: str) -> int:
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if needle in text:
            return number
    raise AssertionError(needle)


def test_admin_edit_takes_effect_on_the_next_run(tmp_path, monkeypatch):
    path = tmp_path / "rules.yaml"
    shutil.copy(RULES, path)
    monkeypatch.setenv("CLAIMWRIGHT_RULES", str(path))
    remit = single("CO-197", amount="80.00")
    assert categorize_remittance(remit)[0].decision.category == "authorization"
    text = path.read_text().replace(
        "then: {denial: true, category: authorization, owner: registration, action: appeal, "
        "appealable: conditional,\n           condition: \"with proof of authorization",
        "then: {denial: true, category: eligibility/coverage, owner: registration, "
        "action: appeal, appealable: conditional,\n           condition: \"with proof of "
        "authorization", 1)
    assert "category: eligibility/coverage, owner: registration, action: appeal," in text
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert categorize_remittance(remit)[0].decision.category == "eligibility/coverage"


@pytest.mark.parametrize("old,new,needle,field", [
    ("category: medical necessity, owner: clinical documentation, action: appeal, "
     "appealable: \"yes\"}\n    why: The payer judged",
     "category: medical necesity, owner: clinical documentation, action: appeal, "
     "appealable: \"yes\"}\n    why: The payer judged", "medical necesity", "category"),
    ("when: {carc: \"39\"}", "when: {carc: \"39X\"}", "39X", "when.carc"),
    ("when: {carc: \"39\"}", "when: {carcs: \"39\"}", "carcs", "when.carcs"),
    ("owner: coding, action: corrected claim, appealable: \"no\"}\n    why: A procedure",
     "owner: coder, action: corrected claim, appealable: \"no\"}\n    why: A procedure",
     "owner: coder", "owner"),
    ("action: review, appealable: conditional,\n           condition: \"only with proof of "
     "timely", "action: review, appealable: maybe,\n           condition: \"only with proof of "
     "timely", "appealable: maybe", "appealable"),
])
def test_invalid_edit_is_refused_naming_the_line(tmp_path, old, new, needle, field):
    path = _edited(tmp_path, old, new)
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert info.value.line == _line_of(path, needle)
    assert info.value.field.endswith(field)
    assert f"rules.yaml:{info.value.line}" in str(info.value)


def test_broken_yaml_is_refused_naming_the_line(tmp_path):
    path = _edited(tmp_path, "  - id: timely-filing\n", "  - id: timely-filing\n   bad: [\n")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert info.value.line is not None and abs(info.value.line - _line_of(path, "bad: [")) <= 2


def test_general_rule_above_a_specific_one_is_refused(tmp_path):
    general = """
  - id: all-co-16
    when: {carc: "16"}
    then: {denial: true, category: billing data error, owner: billing, action: review, appealable: "no"}
"""
    path = tmp_path / "rules.yaml"
    path.write_text(RULES.read_text().replace("rules:\n", "rules:" + general, 1))
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert "can never match" in str(info.value) and "all-co-16" in str(info.value)
    assert info.value.line == _line_of(path, "- id: co-16-coding-data")


def test_categorize_remittance_returns_every_adjustment(monkeypatch):
    monkeypatch.delenv("CLAIMWRIGHT_RULES", raising=False)
    remit = remittance([
        claim("C1", [line("99214", "250.00", [adj("CO-45", "50.00"), adj("PR-2", "40.00")]),
                     line("97110", "120.00", [adj("CO-97", "120.00")], ["M15"])],
              adjustments=[adj("CO-Z98", "10.00")], remarks=["MA01"]),
    ], payer=MEDICARE)
    findings = categorize_remittance(remit, as_of=dt.date(2026, 10, 15))
    assert [f.adjustment.code for f in findings] == ["CO-Z98", "CO-45", "PR-2", "CO-97"]
    z98, co45, pr2, co97 = findings
    assert (z98.line_number, z98.decision.known) == (None, False)
    assert z98.remarks == ["MA01"]
    assert co97.remarks == ["M15", "MA01"] and co97.line_number == 2
    assert co97.rarc_meanings["M15"].startswith("Separately billed")
    assert co45.carc_meaning and not co45.decision.is_denial and co45.appeal_due is None
    assert co45.priority == 0 and pr2.priority == 0
    assert co97.appeal_due == dt.date(2027, 10, 1)  # Medicare reopening: 1 year
    assert co97.priority > 0 and "Medicare" in co97.deadline_basis
    assert len({f.key for f in findings}) == 4


def _app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(rules_app, name="rules")
    app.command()(categorize)
    return app


def test_cli_explain_and_check():
    runner = CliRunner()
    result = runner.invoke(_app(), ["rules", "explain", "--carc", "16", "--rarc", "MA130",
                                    "--group", "CO"])
    assert result.exit_code == 0, result.output
    assert "rule: co-16-ma130-unprocessable" in result.output
    assert "action: new claim" in result.output and "appealable: no" in result.output
    result = runner.invoke(_app(), ["rules", "explain", "--carc", "Z98"])
    assert "unknown-code" in result.output and "CARC Z98" in result.output
    result = runner.invoke(_app(), ["rules", "check"])
    assert result.exit_code == 0 and result.output.strip().endswith("OK")


def test_cli_check_fails_with_file_line_field(tmp_path):
    path = _edited(tmp_path, 'when: {carc: "39"}', 'when: {carc: "39X"}')
    result = CliRunner().invoke(_app(), ["rules", "check", "--rules", str(path)])
    assert result.exit_code == 2  # a typed business error: one exit code everywhere
    assert f"rules.yaml:{_line_of(path, '39X')}" in result.output
    assert "39X is not in the carc code table" in result.output


def test_cli_categorize_json_file(tmp_path):
    remit = remittance([
        claim("C1", [line("99213", "200.00", [adj("CO-50", "200.00")], ["N115"])]),
        claim("C2", [line("99213", "200.00", [adj("CO-45", "60.00"), adj("PR-3", "20.00")])]),
        claim("C3", [line("80053", "90.00", [adj("CO-16", "90.00")], ["MA130", "M51"])]),
    ])
    path = tmp_path / "remit.json"
    path.write_text(json.dumps(remit.to_json()))
    result = CliRunner().invoke(_app(), ["categorize", str(path), "--as-of", "2026-10-05",
                                         "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    rows = data["findings"]
    codes = [f"{r['group_code']}-{r['carc']}" for r in rows]
    assert codes == ["CO-50", "CO-16"] or codes == ["CO-16", "CO-50"]
    by_code = dict(zip(codes, rows))
    assert by_code["CO-50"]["rule_id"] == "medical-necessity-lcd"
    assert by_code["CO-50"]["appeal_due"] == "2026-12-30"  # NWHP1: 90 days from 2026-10-01
    assert by_code["CO-16"]["action"] == "new claim"
    assert Decimal(rows[0]["priority"]) >= Decimal(rows[1]["priority"])
    assert data["denial_rate"]["denied_count"] == 2 and data["denial_rate"]["total_count"] == 3
    table = CliRunner().invoke(_app(), ["categorize", str(path), "--as-of", "2026-10-05"])
    assert table.exit_code == 0 and "medical-necessity-lcd" in table.output
    assert "denial rate: 2/3 claims" in table.output


def test_synthetic_fixture_codes_and_dataset():
    data = pytest.importorskip("fixtures.remittances.data")
    for group, carc, rarc in data.emitted_codes():
        decision = d(group, carc, *([rarc] if rarc else []))
        if carc == data.UNKNOWN_CARC:
            assert not decision.known and decision.category == "unknown"
        else:
            assert decision.known and decision.category != "unknown", (group, carc, rarc)
    plans = data.plan_dataset("northwind", seed=7, count=6, anchor=dt.date(2026, 10, 1),
                              anomalies=True)
    findings = [f for p in plans for f in categorize_remittance(p.remittance,
                                                                as_of=dt.date(2026, 10, 1))]
    denials = [f for f in findings if f.decision.is_denial]
    assert denials and all(f.appeal_due and f.priority > 0 for f in denials)
    assert any(not f.decision.known for f in findings)  # the Z98 anomaly remittance
    for f in findings:
        if f.adjustment.code == "CO-16":
            assert f.decision.action == "new claim" and "MA130" in f.remarks
        if f.adjustment.code in ("CO-45", "PR-1", "PR-2", "PR-3", "CO-253", "OA-23"):
            assert not f.decision.is_denial


def test_finding_row_is_the_ledger_form_and_json_the_same_keys_as_text():
    from claimwright.storage import FindingRecord

    remit = remittance([claim("C1", [line("99213", "200.00", [adj("CO-50", "200.00")],
                                          ["N115"])])])
    (f,) = categorize_remittance(remit, as_of=dt.date(2026, 10, 5))
    columns = {c.name for c in FindingRecord.__table__.columns} - {"id", "remittance_id",
                                                                   "created_at"}
    row = f.to_row()
    assert set(row) == columns
    assert row["amount"] == Decimal("200.00") and isinstance(row["appeal_due"], dt.date)
    data = json.loads(json.dumps(f.to_json()))
    assert {k: data[k] for k in row} == {
        **row, "amount": "200.00", "priority": str(row["priority"]),
        "appeal_due": row["appeal_due"].isoformat(),
        "internal_target": row["internal_target"].isoformat(),
        "prioritized_on": "2026-10-05", "billed": "200.00",
        "denial_date": row["denial_date"] and row["denial_date"].isoformat()}
    assert data["internal_target"] and data["deadline_basis"] and data["known"] is True
