"""``claimwright rules check|explain|categorize|redecide`` and ``claimwright categorize FILE``.

Mount on the root app with::

    from .rules.cli import categorize, rules_app
    app.add_typer(rules_app, name="rules")
    app.command()(categorize)
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..cli_common import (EXIT_REFUSED, Verdict, actor, document_verdict, exit_code, fail,
                          fail_error, read_document, verdict_line)
from ..errors import ClaimwrightError

rules_app = typer.Typer(help="Denial rules: validate rules.yaml, deadlines.yaml and "
                             "documentation.yaml, explain decisions, categorize an unknown "
                             "code (a local rule).", no_args_is_help=True)


def _fail(message: str, code: int = EXIT_REFUSED, exc: ClaimwrightError | None = None) -> None:
    """End the command: a typed error exits with its code's one exit code (cli_common)."""
    fail(message, exit_code(exc.code) if exc is not None else code)


@rules_app.command("check")
def check(rules: Annotated[Optional[Path], typer.Option(
              help="Rules file (default: $CLAIMWRIGHT_RULES or the packaged rules.yaml).")] = None,
          deadlines: Annotated[Optional[Path], typer.Option(
              help="Deadlines file (default: $CLAIMWRIGHT_DEADLINES or the packaged one).")]
          = None,
          codes: Annotated[Optional[Path], typer.Option(
              help="Code table directory (default: $CLAIMWRIGHT_CODES or the packaged one).")]
          = None,
          documentation: Annotated[Optional[Path], typer.Option(
              help="Documentation elements file (default: $CLAIMWRIGHT_DOCUMENTATION or the "
                   "packaged documentation.yaml).")] = None,
          local_rules: Annotated[Optional[Path], typer.Option(
              help="Local rules file (default: $CLAIMWRIGHT_LOCAL_RULES or "
                   "$CLAIMWRIGHT_HOME/local-rules.yaml).")] = None) -> None:
    """Validate the code tables, rules, deadlines, documentation elements and local rules; exit
    2 naming file, line and field."""
    from .. import codes as codes_mod
    from .. import datafiles
    from .deadlines import load_deadlines
    from .documentation import documentation_path, parse_documentation
    from .ruleset import load_rules
    from .source import RulesError

    try:
        tables = codes_mod.load_tables(codes) if codes else codes_mod.tables()
        ruleset = load_rules(rules, tables=tables)
        windows = load_deadlines(deadlines)
        elements = parse_documentation(datafiles.read_yaml(
            documentation or documentation_path(), RulesError), tables)
    except ClaimwrightError as exc:
        where = exc.context.get("file")
        _fail(f"{exc}\n  file: {where}" if where else str(exc), exc=exc)
    counts = ", ".join(f"{n} {name}" for name, n in tables.counts().items())
    typer.echo(f"code tables {tables.version}: {counts}")
    fallback = {"co-fallback", "oa-pi-fallback", "pr-fallback", "any-fallback"}
    named = set()
    for rule in ruleset.rules:
        if rule.id not in fallback and rule.when.carc:
            named.update(c for c in rule.when.carc if c in tables.carc.entries)
    current = [e.code for e in tables.carc if e.status == "current"]
    unnamed = [c for c in current if c not in named]
    typer.echo(f"rules {ruleset.path} (version {ruleset.version}): {len(ruleset.rules)} rules, "
               f"{len(ruleset.overrides)} overrides; {len(current) - len(unnamed)} of "
               f"{len(current)} current CARCs have a specific rule")
    if unnamed:
        typer.echo(f"  handled by group fallbacks only: {', '.join(unnamed)}")
    typer.echo(f"deadlines {windows.path} (version {windows.version}): "
               f"{len(windows.payers)} payer entries, default appeal window "
               f"{windows.default.windows['appeal_level_1_days']} days")
    typer.echo(f"documentation elements {elements.path} (version {elements.version}): "
               f"{len(elements.entries)} entries")
    from .local import load_local_rules, local_rules_path

    local_path = local_rules or local_rules_path()
    if local_path.exists():
        try:
            local = load_local_rules(local_path, tables=tables)
        except ClaimwrightError as exc:
            _fail(f"{exc}\n  file: {local_path}", exc=exc)
        typer.echo(f"local rules {local_path}: {len(local)} rules, tried first")
    else:
        typer.echo(f"local rules {local_path}: no file (none)")
    typer.echo("OK")


@rules_app.command("explain")
def explain_cmd(carc: Annotated[str, typer.Option(help="Claim adjustment reason code, e.g. 16.")],
                group: Annotated[str, typer.Option(help="Group code: CO, PR, OA, PI.")] = "CO",
                rarc: Annotated[Optional[list[str]], typer.Option(
                    help="Remark code; repeatable.")] = None,
                payer: Annotated[str, typer.Option(help="Payer id.")] = "",
                procedure: Annotated[str, typer.Option(help="Procedure code.")] = "",
                amount: Annotated[str, typer.Option(help="Adjustment amount.")] = "0.00") -> None:
    """Show which rule decides a group/CARC/RARC combination, and why."""
    from .engine import explain
    from .match import Context
    from .ruleset import current_rules

    try:
        value = Decimal(amount)
    except InvalidOperation:
        _fail(f"--amount is not a number: {amount!r}", 2)
    try:
        ruleset = current_rules()
        result = explain(Context(group=group, carc=carc, rarcs=tuple(rarc or ()), payer=payer,
                                 procedure=procedure, amount=value), ruleset=ruleset)
    except ClaimwrightError as exc:
        _fail(str(exc), exc=exc)
    d = result.decision
    for label, meaning in result.meanings.items():
        typer.echo(f"{label}: {meaning or '(not in the code tables)'}")
    if result.rule is None:
        typer.echo(f"rule: unknown-code (unknown: {', '.join(d.unknown_codes)})")
    else:
        where = (ruleset.local_path if result.rule in ruleset.local and ruleset.local_path
                 else ruleset.path).name
        typer.echo(f"rule: {result.rule.id} ({where} line {result.rule.line}; "
                   f"when {result.rule.when.describe()})")
    for override in result.overrides:
        typer.echo(f"override: {override.id} ({ruleset.path.name} line {override.line}; "
                   f"when {override.when.describe()}): {override.why}")
    typer.echo(f"why: {d.why}")
    typer.echo(f"denial: {'yes' if d.is_denial else 'no'}")
    typer.echo(f"category: {d.category}")
    typer.echo(f"owner: {d.owner}")
    typer.echo(f"action: {d.action}")
    appealable = d.appealable + (f" ({d.condition})" if d.condition else "")
    typer.echo(f"appealable: {appealable}")
    if d.is_denial:
        typer.echo(f"recovery likelihood: {_likelihood(payer, d.category, ruleset.priority)}")


@rules_app.command("categorize")
def categorize_cmd(
        carc: Annotated[str, typer.Option(help="The CARC to categorize, e.g. Z98.")],
        category: Annotated[str, typer.Option(help="Denial category (rules.yaml vocabulary).")],
        owner: Annotated[str, typer.Option(help="Who works it: coding, registration, clinical "
                                                "documentation, billing, payer.")],
        action: Annotated[str, typer.Option(help="What to do, e.g. corrected claim, appeal.")],
        why: Annotated[str, typer.Option(help="One sentence: why this category (no PHI).")],
        group: Annotated[Optional[str], typer.Option(
            help="Only with this group code (CO, PR, OA, PI); default: any group.")] = None,
        appealable: Annotated[str, typer.Option(help="yes, no or conditional.")] = "no",
        condition: Annotated[str, typer.Option(
            help="When --appealable conditional: the condition.")] = "",
        denial: Annotated[bool, typer.Option(
            "--denial/--not-denial", help="Whether the adjustment is a denial.")] = True,
        by: Annotated[Optional[str], typer.Option(
            help="Who categorizes it (default: the login name).")] = None) -> None:
    """Categorize a code once: a local rule ($CLAIMWRIGHT_LOCAL_RULES), tried before the
    shipped rules; the stored findings with the code are re-decided and their outputs made
    again by the next run."""
    from .local import categorize_code

    try:
        rule = categorize_code(group=group, carc=carc, category=category, owner=owner,
                               action=action, appealable=appealable, condition=condition,
                               denial=denial, by=actor(by), why=why)
    except ClaimwrightError as exc:
        _fail(str(exc), exc=exc)
    from .ruleset import current_rules

    path = current_rules().local_path
    typer.echo(f"rule {rule.id} added to {path} (line {rule.line}): {rule.when.describe()} -> "
               f"{rule.then['category']}, owner {rule.then['owner']}, action "
               f"{rule.then['action']}, appealable {rule.then['appealable']}")
    _redecide(list(rule.when.carc or ()))


@rules_app.command("redecide")
def redecide_cmd(carc: Annotated[list[str], typer.Option(
        help="CARC whose stored findings to re-decide; repeatable.")]) -> None:
    """Re-decide the stored findings with these CARCs under the rules in force (what
    'rules categorize' does after writing its rule; run it again if that step failed)."""
    _redecide(carc)


def _redecide(carcs: list[str]) -> None:
    from ..pipeline import Context
    from ..pipeline.redecide import redecide

    try:
        ctx = Context.from_settings()
        try:
            result = redecide(ctx, carcs)
        finally:
            ctx.ledger.close()
    except ClaimwrightError as exc:
        _fail(f"findings not re-decided: {exc}; run 'claimwright rules redecide --carc "
              f"{' --carc '.join(carcs)}' once it is fixed", exc=exc)
    typer.echo(result.summary())
    if result.documents:
        typer.echo("the next run writes their worklist rows and packets")


def _likelihood(payer: str, category: str, config) -> str:
    """Which recovery likelihood the priority uses for ``payer``'s denials of ``category``:
    the table's, or the one learned from the ledger's decided appeals."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..appeals.learning import likelihood, observed_likelihood
    from ..settings import Settings, SettingsError
    from ..storage import Ledger, SchemaOutdated
    from .priority import table_likelihood

    default = table_likelihood(category, config)
    if not payer:
        return (f"table default {default} (give --payer to see what the practice's own appeal "
                "outcomes learned)")
    try:
        url = Settings.from_env().database_url
    except SettingsError as exc:
        return f"table default {default} (no outcomes recorded: {exc})"
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return f"table default {default} (no outcomes recorded: no ledger yet)"
    try:
        ledger = Ledger(url)
        try:
            observed = observed_likelihood(ledger).get((payer, category))
        finally:
            ledger.close()
    except (SchemaOutdated, SQLAlchemyError) as exc:
        return f"table default {default} (outcomes not readable: {exc})"
    return f"{payer} / {category}: " + likelihood(default, observed, config.learning)[1]


def _load_remittances(file: Path):
    from ..models import Remittance

    if file.suffix.lower() == ".json":
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            _fail(f"cannot read {file}: {exc}", EXIT_REFUSED)
        items = data if isinstance(data, list) else [data]
        try:
            return [Remittance.from_json(item) for item in items]
        except (KeyError, TypeError, ValueError) as exc:
            _fail(f"{file} is not remittance JSON (claimwright parse output): {exc}",
                  EXIT_REFUSED)
    return read_document(file)


def categorize(file: Annotated[Path, typer.Argument(
                   help="Remittance: PDF, X12 835, or JSON from 'claimwright parse'.")],
               as_of: Annotated[Optional[str], typer.Option(
                   help="Score urgency as of this date, YYYY-MM-DD (default today).")] = None,
               show_all: Annotated[bool, typer.Option(
                   "--all", help="Also list adjustments that are not denials.")] = False,
               as_json: Annotated[bool, typer.Option(
                   "--json", help="Print JSON instead of a table.")] = False) -> None:
    """Categorize every denial: category, owner, action, due date, priority and rule id."""
    from .engine import categorize_remittance
    from ..metrics import denial_rates
    from .priority import sort_findings

    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        _fail(f"--as-of is not a date YYYY-MM-DD: {as_of!r}", EXIT_REFUSED)
    remits = _load_remittances(file)
    try:
        findings = [f for r in remits for f in categorize_remittance(r, as_of=day)]
    except ClaimwrightError as exc:
        fail_error(exc)
    shown = sort_findings([f for f in findings if show_all or f.decision.is_denial])
    rates = denial_rates(remits, findings)
    unknown = sorted({c for f in findings for c in f.decision.unknown_codes})
    verdict = document_verdict(remits)
    if as_json:
        typer.echo(json.dumps({"verdict": str(verdict),
                               "findings": [f.to_json() for f in shown],
                               "denial_rate": rates.overall.to_json(),
                               "unknown_codes": unknown}, indent=2))
        if verdict is not Verdict.BALANCED:
            typer.echo(verdict_line(remits), err=True)
        raise typer.Exit(verdict.exit_code)
    if verdict is not Verdict.BALANCED:  # first, before any figure is read
        typer.echo(verdict_line(remits))
    from rich.console import Console
    from rich.table import Table

    table = Table(show_lines=False, title=f"{file.name}: {len(shown)} "
                  f"{'adjustments' if show_all else 'denials'}, highest priority first")
    for column in ("priority", "claim", "line", "code", "remarks", "amount", "category", "owner",
                   "action", "appealable", "due", "target", "rule"):
        table.add_column(column, justify="right" if column in ("priority", "amount") else "left")
    for f in shown:
        d = f.decision
        rule = d.rule_id + "".join(f" +{o}" for o in d.overrides)
        table.add_row(str(f.priority), f.claim.payer_claim_id, str(f.line_number or "claim"),
                      f.adjustment.code, " ".join(f.remarks), str(f.adjustment.amount),
                      d.category, d.owner, d.action,
                      d.appealable + (" *" if d.condition else ""),
                      f.appeal_due.isoformat() if f.appeal_due else "-",
                      f.internal_target.isoformat() if f.internal_target else "-", rule)
    console = Console(width=200)
    console.print(table)
    o = rates.overall
    typer.echo(f"denial rate: {o.denied_count}/{o.total_count} claims "
               f"({o.by_count * 100:.2f}%), {o.denied_amount}/{o.billed_amount} dollars "
               f"({o.by_dollars * 100:.2f}%)")
    if unknown:
        typer.echo(f"unknown codes (review items): {', '.join(unknown)}")
    typer.echo("* appealable only under a condition: see 'claimwright rules explain'")
    raise typer.Exit(verdict.exit_code)
