"""The ``claimwright`` command.

Heavy imports (Prefect, Playwright, pdf libraries) happen inside the commands that need them,
so ``claimwright --help`` and ``claimwright parse`` start fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import Verdict, document_verdict, fail_error, read_document, verdict_line
from .cli_common import fail as _fail
from .appeals.cli import appeals_app
from .console.cli import console_app
from .corrections_cli import corrections_app
from .errors import ClaimwrightError
from .layouts_cli import layouts_app
from .ops_cli import ops_app
from .review_cli import review_app
from .rules.cli import categorize, rules_app

app = typer.Typer(help="Claimwright: denial management automation.", no_args_is_help=True,
                  add_completion=False)
portals_app = typer.Typer(help="Mock payer portals (local test bed and demo).",
                          no_args_is_help=True)
payers_app = typer.Typer(help="Payer configs (selectors/<payer>.yaml).", no_args_is_help=True)
units_app = typer.Typer(help="Units of work: what each stage has done, holds or gave up on.",
                        no_args_is_help=True)
worklists_app = typer.Typer(help="The owners' Excel worklists (out/worklists/).",
                            no_args_is_help=True)
report_app = typer.Typer(help="Reports for people who look at patterns, not claims.",
                         no_args_is_help=True)
app.add_typer(portals_app, name="portals")
app.add_typer(worklists_app, name="worklists")
app.add_typer(units_app, name="units")
app.add_typer(payers_app, name="payers")
app.add_typer(layouts_app, name="layouts")
app.add_typer(review_app, name="review")
app.add_typer(rules_app, name="rules")
app.add_typer(report_app, name="report")
app.add_typer(appeals_app, name="appeals")
app.add_typer(console_app, name="console")
app.add_typer(corrections_app, name="corrections")
app.add_typer(ops_app, name="ops")
app.command()(categorize)


def main() -> None:
    app()


@app.callback()
def _start() -> None:
    """Every command: files it writes are owner-only (umask 077), and one warning (stderr)
    when the home or output folders hold paths other users can read (claimwright.permissions)."""
    from .permissions import check_private, private_process, roots
    from .settings import Settings, SettingsError

    private_process()
    try:
        settings = Settings.from_env()
    except SettingsError:
        return  # the command itself says what is wrong
    findings = check_private(settings)
    if findings:
        typer.echo(f"Warning: {findings.message(roots(settings))}", err=True)


@app.command()
def parse(file: Annotated[Path, typer.Argument(help="A remittance PDF or X12 835 file.")],
          layout: Annotated[Optional[str], typer.Option(
              help="PDF layout name or layout file; default: detect (CLAIMWRIGHT_LAYOUTS_DIR, "
                   "then the shipped layouts).")] = None) -> None:
    """Parse a remittance and print the canonical JSON (one object; a list for multi-ST 835s)."""
    remits = read_document(file, layout=layout)
    data = [r.to_json() for r in remits]
    typer.echo(json.dumps(data[0] if len(data) == 1 else data, indent=2))
    verdict = document_verdict(remits)
    if verdict is not Verdict.BALANCED:
        typer.echo(verdict_line(remits), err=True)
        raise typer.Exit(verdict.exit_code)


@app.command()
def run(payer: Annotated[Optional[list[str]], typer.Option(help="Payer key; repeatable.")] = None,
        start: Annotated[Optional[str], typer.Option(help="First payment date, YYYY-MM-DD.")]
        = None,
        end: Annotated[Optional[str], typer.Option(help="Last payment date (default today).")]
        = None,
        lookback_days: Annotated[int, typer.Option(help="Window when --start is not given.")]
        = 45,
        portal_url: Annotated[Optional[list[str]], typer.Option(
            help="Override a portal's base URL: PAYER=URL; repeatable.")] = None) -> None:
    """Run the nightly flow once, now: against PREFECT_API_URL when set, else on a local Prefect
    server started for the run."""
    from .printout import print_run_summary
    from .settings import Settings

    urls = _portal_urls(portal_url)
    with _prefect_for_run():  # first: an unanswering server is said before the flows load
        from flows.nightly import nightly_denials

        results = nightly_denials(payers=payer or None, lookback_days=lookback_days,
                                  start=dt.date.fromisoformat(start) if start else None,
                                  end=dt.date.fromisoformat(end) if end else None,
                                  portal_urls=urls)
    print_run_summary(results, Settings.from_env())


@contextlib.contextmanager
def _prefect_for_run() -> Iterator[str]:
    """PREFECT_API_URL if set (it must answer: else one line and exit 3), else a local server
    for this run (``claimwright.services.prefect_for_run``)."""
    from .services import prefect_for_run
    from .settings import Settings

    with contextlib.ExitStack() as stack:
        try:  # only the start is caught here: errors of the run itself are the run's
            api = stack.enter_context(prefect_for_run(
                Settings.from_env().home / "prefect", echo=lambda line: typer.echo(line, err=True)))
        except ClaimwrightError as exc:
            fail_error(exc)
        yield api


def _portal_urls(items: list[str] | None) -> dict[str, str]:
    urls = {}
    for item in items or []:
        key, _, url = item.partition("=")
        if not url:
            _fail(f"--portal-url takes PAYER=URL, got {item!r}")
        urls[key] = url
    return urls


@app.command("status-check")
def status_check(payer: Annotated[Optional[list[str]], typer.Option(
                     help="Payer key; repeatable (default: every payer with status pages).")]
                 = None,
                 as_of: Annotated[Optional[str], typer.Option(
                     help="Check what is due on this day, YYYY-MM-DD (default today).")] = None,
                 portal_url: Annotated[Optional[list[str]], typer.Option(
                     help="Override a portal's base URL: PAYER=URL; repeatable.")] = None) -> None:
    """Run the claim/appeal status check once, now (the nightly-status-check flow)."""
    from .printout import print_status_summary

    urls = _portal_urls(portal_url)
    with _prefect_for_run():
        from flows.followup import nightly_status_check

        results = nightly_status_check(payers=payer or None,
                                       as_of=dt.date.fromisoformat(as_of) if as_of else None,
                                       portal_urls=urls)
    print_status_summary(results)


SCALE_OPTION = typer.Option(
    min=1, help="Volume of the mock portals: 14 x SCALE remittances per payer (+2 anomalies); "
                "15 gives a real practice's night (3 payers x 210).")
CLAIMS_FACTOR_OPTION = typer.Option(
    "--claims-factor", min=1, help="Multiply the claims of each synthetic remittance.")


@app.command()
def demo(payer: Annotated[Optional[list[str]], typer.Option(
             help="Mock payer to run against; repeatable (default: all three).")] = None,
         ui: Annotated[bool, typer.Option(help="Serve the Prefect UI while the demo runs.")]
         = False,
         scale: Annotated[int, SCALE_OPTION] = 1,
         claims_factor: Annotated[int, CLAIMS_FACTOR_OPTION] = 1) -> None:
    """Start a local Prefect server and the mock portals, run the nightly flow and the status
    check once, stop everything."""
    from .demo import run_demo

    sys.exit(run_demo(payers=payer or None, ui=ui, scale=scale, claims_factor=claims_factor))


@portals_app.command("serve")
def portals_serve(payer: Annotated[Optional[list[str]], typer.Option(
                      help="Payer portal to serve; repeatable (default: all).")] = None,
                  port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8765,
                  anchor: Annotated[Optional[str], typer.Option(
                      help="Anchor date of the synthetic data (default today).")] = None,
                  scale: Annotated[int, SCALE_OPTION] = 1,
                  claims_factor: Annotated[int, CLAIMS_FACTOR_OPTION] = 1) -> None:
    """Serve the mock payer portals on 127.0.0.1 until interrupted."""
    from fixtures.portals import PAYERS, serve

    from .settings import Settings

    serve(payer or list(PAYERS), host="127.0.0.1", port=port,
          data_dir=Settings.from_env().portal_data,
          anchor=dt.date.fromisoformat(anchor) if anchor else None,
          scale=scale, claims_factor=claims_factor)


@payers_app.command("check")
def payers_check(payer: Annotated[Optional[list[str]], typer.Argument(
                     help="Payer(s) to check (default: every selectors/*.yaml).")] = None) -> None:
    """Validate payer configs and say where each credential comes from (never its value)."""
    import os

    from bots.config import ConfigError, load_payer_config, selectors_dir
    from bots.config_login import PERSON_CODES

    names = payer or sorted(p.stem for p in selectors_dir().glob("*.yaml"))
    bad = 0
    for name in names:
        try:
            config = load_payer_config(name)
        except ConfigError as exc:
            bad += 1
            typer.echo(f"FAIL {name}: {exc.message}")
            continue
        creds = config.credentials
        unset = [creds.source(item) for item in ("username", "password", "totp_secret")
                 if (getattr(creds, f"{item}_env") or getattr(creds, f"{item}_block"))
                 and not getattr(creds, f"{item}_block")
                 and not os.environ.get(getattr(creds, f"{item}_env") or "")]
        unset += [a.source() for a in creds.security_answers
                  if a.answer_env and not a.answer_block and not os.environ.get(a.answer_env)]
        note = f"; not set here: {', '.join(unset)}" if unset else ""
        person = config.mfa in PERSON_CODES
        if config.login.shape != "one-page" or person:
            note += f"; sign-in {config.login.shape}" + (
                f", one-time code by {config.mfa} (a person enters it)" if person else "")
        typer.echo(f"ok   {name}: flow {config.flow}, portal {config.resolve_base_url()}{note}")
    if bad:  # a file that cannot be used: refused, as `layouts check` (docs/cli.md)
        from .cli_common import EXIT_REFUSED

        raise typer.Exit(EXIT_REFUSED)


@units_app.command("list")
def units_list(kind: Annotated[Optional[str], typer.Option(help="Only this kind.")] = None,
               all_units: Annotated[bool, typer.Option("--all", help="Include done units.")]
               = False) -> None:
    """Counts of units by kind and state, then every unit not done (failed, held, waiting)."""
    from collections import Counter

    from .pipeline import Context
    from .types import UnitKind, UnitState

    if kind is not None and kind not in list(UnitKind):
        _fail(f"unknown kind {kind!r}; one of: {', '.join(UnitKind)}")
    units = Context.from_settings().ledger.units(kind)
    for (k, state), n in sorted(Counter((u.kind, u.state) for u in units).items()):
        typer.echo(f"{k:<13} {state:<16} {n}")
    shown = [u for u in units if all_units or u.state != UnitState.DONE]
    for u in shown:
        lease = (f" lease {u.owner.split(':')[0]} until {u.lease_expires_at:%Y-%m-%d %H:%M}"
                 if u.state == UnitState.IN_PROGRESS and u.lease_expires_at else "")
        error = f" {u.error_code}" if u.error_code else ""
        review = f" review {u.review_key}" if u.review_key else ""
        typer.echo(f"  {u.kind}:{u.key} {u.state} (attempts {u.attempts}){error}{lease}{review}")
    typer.echo(f"{len(units)} unit(s), {len(shown)} shown.")


@units_app.command("retry")
def units_retry(kind: str, key: str) -> None:
    """Put a failed unit back to pending (attempts cleared): the next run takes it."""
    from .pipeline import Context
    from .types import UnitKind

    if kind not in list(UnitKind):
        _fail(f"unknown kind {kind!r}; one of: {', '.join(UnitKind)}")
    if not Context.from_settings().units().retry(UnitKind(kind), key):
        _fail(f"no failed or pending unit {kind}:{key} (done units and units in progress stay)")
    typer.echo(f"{kind}:{key} is pending again; the next run takes it.")


@worklists_app.command("status")
def worklists_status() -> None:
    """Where people are: each workbook's rows by status (with dollars at stake), as the last
    run read them back, and the rows people removed."""
    from .pipeline import Context
    from .pipeline.worklist_status import worklist_status

    books = worklist_status(Context.from_settings().ledger)
    if not books:
        typer.echo("No worklist has been read yet (a run writes them: claimwright run).")
    for book in books:
        typer.echo("\n".join(book.lines()))
@report_app.command("feedback")
def report_feedback(month: Annotated[Optional[str], typer.Option(
                        help="The month, YYYY-MM (default: the previous month).")] = None
                    ) -> None:
    """Write the month's denial feedback report for clinical leadership (xlsx, pdf, charts)."""
    from .reports import MonthError, month_or_previous, write_feedback_report
    from .reports.feedback import headline
    from .settings import Settings, SettingsError
    from .storage import Ledger

    try:
        target = month_or_previous(month)
    except MonthError as exc:
        _fail(f"--month: {exc}")
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))
    ledger = Ledger(settings.database_url)
    try:
        files = write_feedback_report(settings, ledger, target)
    except ClaimwrightError as exc:
        fail_error(exc)
    finally:
        ledger.close()
    for path in files.paths:
        typer.echo(f"wrote {path}")
    for line in headline(files.report):
        typer.echo(line)


if __name__ == "__main__":
    main()
