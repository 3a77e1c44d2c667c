"""The priority's recovery likelihood learns from the practice's own appeal outcomes."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal as D

import pytest
from typer.testing import CliRunner

from claimwright.appeals.learning import Observed, likelihood, observed_likelihood
from claimwright.rules.ruleset import LearningConfig, load_rules
from claimwright.rules.source import RulesError
from claimwright.settings import Settings

LEARNING = LearningConfig(min_decided=10, prior_weight=D(10))
DAY = dt.date(2026, 11, 2)


def _decided(ledger, claim, outcome, *, payer_id="NWHP1", categories="medical necessity",
             denied="240.00", recovered=None):
    key = ledger.prepare_appeal(
        payer="northwind", payer_id=payer_id, payer_claim_id=claim, patient_account="CR1",
        level=1, categories=categories, denied_amount=D(denied),
        denial_date=dt.date(2026, 10, 5), appeal_due=None, packet_path="p", inputs_hash="h",
        complete=True, missing=[], prepared_on=dt.date(2026, 10, 6)).key
    if outcome:
        ledger.record_decision(key, outcome=outcome, decided_on=DAY, recovered=recovered)


def _outcomes(ledger):
    """Northwind, medical necessity: 8 overturned, 1 partial ($60 of $240), 3 upheld (one of
    them also authorization); one still open; Acme: 2 overturned."""
    for n in range(8):
        _decided(ledger, f"O{n}", "overturned")
    _decided(ledger, "P1", "partial", recovered=D("60.00"))
    _decided(ledger, "U1", "upheld", categories="medical necessity; authorization")
    _decided(ledger, "U2", "upheld")
    _decided(ledger, "U3", "upheld")
    _decided(ledger, "OPEN", None)
    _decided(ledger, "A1", "overturned", payer_id="ACME9")
    _decided(ledger, "A2", "overturned", payer_id="ACME9")


@pytest.fixture
def ledger(workspace):
    from claimwright.storage import Ledger

    ledger = Ledger(workspace.database_url)
    yield ledger
    ledger.close()


def test_below_the_minimum_the_table_default_is_used():
    assert likelihood(D("0.45"), None, LEARNING) == (
        D("0.45"), "table default 0.45 (no outcomes recorded for this payer and category; "
                   "learning starts at 10)")
    value, source = likelihood(D("0.45"), Observed(9, D(9)), LEARNING)
    assert value == D("0.45") and source.startswith("table default 0.45 (9 decided appeal(s)")


def test_from_the_minimum_the_observed_rate_is_shrunk_toward_the_default():
    # (8.25 + 10 x 0.45) / (12 + 10) = 12.75 / 22 = 0.57954...
    value, source = likelihood(D("0.45"), Observed(12, D("8.25")), LEARNING)
    assert value == D("0.5795")
    assert source == ("learned 0.5795 from 12 decided appeals (8.25 successes, observed rate "
                      "0.6875), shrunk toward the table default 0.45 (prior weight 10)")
    # exactly the minimum: half way between the default and the observed rate
    assert likelihood(D("0.45"), Observed(10, D(10)), LEARNING)[0] == D("0.7250")
    # much evidence: close to what was observed
    assert likelihood(D("0.45"), Observed(990, D(0)), LEARNING)[0] == D("0.0045")
    # no prior weight: the observed rate itself
    assert likelihood(D("0.45"), Observed(12, D("8.25")),
                      LearningConfig(10, D(0)))[0] == D("0.6875")


def test_outcomes_are_counted_per_payer_and_category(ledger):
    _outcomes(ledger)
    seen = observed_likelihood(ledger)
    assert seen == {("NWHP1", "medical necessity"): Observed(12, D("8.25")),
                    ("NWHP1", "authorization"): Observed(1, D(0)),
                    ("ACME9", "medical necessity"): Observed(2, D(2))}


def _finding(ledger, key, payer_id, category, amount="500.00"):
    doc, _ = ledger.add_document(payer="northwind", remittance_id=key,
                                 sha256=hashlib.sha256(key.encode()).hexdigest(), path=key,
                                 size=1)
    rec = ledger.save_remittance(doc.id, 0, {
        "payer": {"id": payer_id}, "balanced": True, "claims": [],
        "payment": {"trace_number": "T", "date": "2026-10-05", "amount": "0"}})
    ledger.save_findings(rec.id, [{
        "key": key, "payer_id": payer_id, "payer_claim_id": key, "patient_account": "CR1",
        "line_number": 1, "procedure": "99214", "group_code": "CO", "carc": "50", "rarcs": [],
        "amount": D(amount), "is_denial": True, "category": category,
        "owner": "clinical documentation", "action": "appeal", "appealable": "yes",
        "rule_id": "co-50", "appeal_due": dt.date(2027, 1, 3),
        "internal_target": dt.date(2026, 12, 15), "priority": D(0)}])


def test_refresh_priorities_uses_the_learned_likelihood_per_payer(workspace):
    from claimwright.pipeline import Context
    from claimwright.pipeline.appeals_queue import refresh_priorities
    from claimwright.rules.priority import score_denial
    from claimwright.rules.ruleset import current_rules

    ctx = Context.from_settings()
    _outcomes(ctx.ledger)
    _finding(ctx.ledger, "F-NW", "NWHP1", "medical necessity")
    _finding(ctx.ledger, "F-ACME", "ACME9", "medical necessity")
    as_of = dt.date(2026, 12, 1)
    assert refresh_priorities(ctx, as_of) == 2
    got = {f.key: f.priority for f in ctx.ledger.findings()}
    config = current_rules().priority
    args = (D("500.00"), "medical necessity", dt.date(2026, 12, 15), dt.date(2027, 1, 3),
            config)
    table = score_denial(*args, as_of=as_of)
    learned = score_denial(*args, as_of=as_of, likelihood=D("0.5795"))
    assert got == {"F-NW": learned, "F-ACME": table}  # Acme: 2 decided, below the minimum
    # 35 x (0.5795 - 0.45) = 4.5 points more
    assert learned - table == D("4.5")
    ctx.ledger.close()


def _rules_with(tmp_path, learning_line: str):
    text = Settings.rules.read_text().replace(
        "  learning: {min_decided: 10, prior_weight: 10}\n", learning_line)
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


def _line_of(path, needle):
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_the_learning_settings_are_read_and_validated(tmp_path):
    assert load_rules(Settings.rules).priority.learning == LearningConfig(10, D(10))
    custom = _rules_with(tmp_path, "  learning: {min_decided: 25, prior_weight: \"2.5\"}\n")
    assert load_rules(custom).priority.learning == LearningConfig(25, D("2.5"))
    assert load_rules(_rules_with(tmp_path, "")).priority.learning == LearningConfig()


@pytest.mark.parametrize("line, field, problem", [
    ("  learning: {min_decided: 0, prior_weight: 10}\n", "priority.learning.min_decided",
     "must be a whole number of decided appeals >= 1, found 0"),
    ("  learning: {min_decided: ten, prior_weight: 10}\n", "priority.learning.min_decided",
     "found 'ten'"),
    ("  learning: {min_decided: 10, prior_weight: -1}\n", "priority.learning.prior_weight",
     "must be at least 0"),
    ("  learning: {min_decided: 10, prior: 10}\n", "priority.learning.prior", "unknown key"),
    ("  learning: 10\n", "priority.learning", "must be a mapping"),
])
def test_a_bad_learning_setting_names_its_line(tmp_path, line, field, problem):
    path = _rules_with(tmp_path, line)
    with pytest.raises(RulesError) as err:
        load_rules(path)
    assert (err.value.field, err.value.line) == (field, _line_of(path, "learning:"))
    assert problem in str(err.value) and str(err.value).startswith(f"rules.yaml:{err.value.line}")


def test_rules_explain_says_which_likelihood_it_used(workspace):
    from claimwright.cli import app
    from claimwright.storage import Ledger

    def explain(*payer):
        out = CliRunner().invoke(app, ["rules", "explain", "--carc", "50", *payer])
        assert out.exit_code == 0, out.output
        return next(x for x in out.output.splitlines() if x.startswith("recovery likelihood: "))

    assert explain("--payer", "NWHP1") == \
        "recovery likelihood: table default 0.45 (no outcomes recorded: no ledger yet)"
    assert not workspace.home.exists()  # explaining created no ledger
    ledger = Ledger(workspace.database_url)
    _outcomes(ledger)
    ledger.close()
    assert explain("--payer", "NWHP1") == (
        "recovery likelihood: NWHP1 / medical necessity: learned 0.5795 from 12 decided appeals "
        "(8.25 successes, observed rate 0.6875), shrunk toward the table default 0.45 (prior "
        "weight 10)")
    assert explain("--payer", "ACME9") == (
        "recovery likelihood: ACME9 / medical necessity: table default 0.45 (2 decided "
        "appeal(s) recorded for this payer and category; learning starts at 10)")
    assert explain().startswith("recovery likelihood: table default 0.45 (give --payer")
