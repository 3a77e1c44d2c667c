"""``claimwright demo``: the whole product once, end to end, on this machine only.

Builds the synthetic remittances, starts the mock payer portal and a Prefect server on
127.0.0.1, runs the nightly flow once through real Chromium, stops what it started, and says
what happened. A second run downloads and writes nothing new, and says so.
"""

from __future__ import annotations

import datetime as dt
import os

import typer

from .report import print_run_summary
from .services import prefect_server
from .settings import Settings


def run_demo(payer: str = "northwind", ui: bool = False, anchor: dt.date | None = None) -> int:
    from fixtures.portals import demo_environment, running_portal
    from fixtures.remittances import build_dataset

    settings = Settings.from_env()
    settings.ensure_dirs()
    anchor = anchor or dt.date.today()
    data_dir = settings.portal_data / payer
    manifest = build_dataset(payer, data_dir, anchor=anchor)
    typer.echo(f"Mock portal '{payer}': {len(manifest['remittances'])} synthetic remittances "
               f"(payment dates up to {anchor - dt.timedelta(days=1)}).")
    # The demo's portal accepts demo credentials only; they reach the bot the way real ones
    # would, through the environment variables named in selectors/<payer>.yaml.
    os.environ.update(demo_environment(payer))
    with running_portal(payer, data_dir) as base_url:
        typer.echo(f"Mock portal at {base_url}; starting a local Prefect server ...")
        with prefect_server(settings.home / "prefect", ui=ui) as api:
            typer.echo(f"Prefect API at {api}; running the nightly flow ...")
            from flows.nightly import nightly_denials

            results = nightly_denials(payers=[payer], start=anchor - dt.timedelta(days=60),
                                      end=anchor, portal_urls={payer: base_url})
    print_run_summary(results, settings)
    failed = [c for c in results if any(e.startswith("pull") for e in c["errors"])]
    return 1 if failed else 0
