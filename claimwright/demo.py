"""``claimwright demo``: the whole product once, end to end, on this machine only.

Builds the synthetic remittances and the practice's claim export of them, starts the mock payer
portal and a Prefect server on 127.0.0.1, runs the nightly flow once through real Chromium, stops
what it started, and says what happened. A second run downloads and writes nothing new, and says so.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import typer

from .permissions import startup
from .printout import print_run_summary, print_status_summary
from .services import prefect_server
from .settings import CLAIM_EXPORT_NAME, Settings


def run_demo(payers: list[str] | None = None, ui: bool = False,
             anchor: dt.date | None = None, status_check: bool = True, *,
             scale: int = 1, claims_factor: int = 1) -> int:
    """Every mock portal, the nightly pull, then the status check; 0 when every payer's pull
    finished (review items for bad documents are expected: the demo data has a few).
    ``scale`` and ``claims_factor``: the portals' volume (``claimwright demo --scale N``)."""
    from fixtures.portals import PAYERS, dataset_dir, demo_environment, running_portals
    from fixtures.remittances import build_dataset, scaled_count

    settings = Settings.from_env()
    startup(settings)  # owner-only files (the demo's data is synthetic, treated as PHI)
    settings.ensure_dirs()
    anchor = anchor or dt.date.today()
    payers = list(payers or PAYERS)
    data_dirs, manifests = {}, []
    for payer in payers:
        data_dirs[payer] = dataset_dir(settings.portal_data, payer, scale=scale,
                                       claims_factor=claims_factor)
        manifest = build_dataset(payer, data_dirs[payer], anchor=anchor,
                                 count=scaled_count(scale), claims_factor=claims_factor)
        manifests.append(manifest)
        volume = f", volume scale {scale}" if scale != 1 else ""
        volume += f", claims x{claims_factor}" if claims_factor != 1 else ""
        typer.echo(f"Mock portal '{payer}': {len(manifest['remittances'])} synthetic remittances "
                   f"(payment dates up to {anchor - dt.timedelta(days=1)}{volume}).")
        # The demo portals accept demo credentials only; they reach the bot the way real ones
        # would, through the environment variables named in selectors/<payer>.yaml.
        os.environ.update(demo_environment(payer))
    write_demo_claim_export(settings, manifests)
    missing = write_demo_documents(settings, data_dirs)
    typer.echo(f"Supporting documents (synthetic) in {settings.home / 'documents'}; one is "
               f"left out on purpose for {missing} claim(s), so their packets are incomplete.")
    with running_portals(data_dirs) as urls:
        typer.echo("Mock portals at " + ", ".join(f"{p} {u}" for p, u in urls.items())
                   + "; starting a local Prefect server ...")
        with prefect_server(settings.home / "prefect", ui=ui) as api:
            typer.echo(f"Prefect API at {api}; running the nightly flow ...")
            from flows.nightly import nightly_denials

            results = nightly_denials(payers=payers, start=anchor - dt.timedelta(days=60),
                                      end=anchor, portal_urls=urls)
            statuses: list[dict] = []
            if status_check:
                typer.echo("Running the status check of open claims and appeals ...")
                from flows.followup import nightly_status_check

                statuses = nightly_status_check(payers=payers, as_of=anchor, portal_urls=urls)
    print_run_summary(results, settings)
    print_status_summary(statuses)
    failed = [c for c in results if any(e.startswith("pull") for e in c["errors"])]
    return 1 if failed else 0


def write_demo_documents(settings: Settings, data_dirs: dict[str, Path]) -> int:
    """The synthetic supporting documents (progress notes, letters, authorizations, ...) of the
    demo data's denied claims, in ``$CLAIMWRIGHT_HOME/documents``, with a few left out on
    purpose; a ``CLAIMWRIGHT_DOCUMENTS`` naming another folder is not touched (for this process
    the variable then names the demo's folder). Returns how many claims lack one."""
    from fixtures.documents import write_documents

    root = settings.home / "documents"
    missing = sum(len(write_documents(root, folder).missing) for folder in data_dirs.values())
    if settings.documents.resolve() != root.resolve():
        os.environ["CLAIMWRIGHT_DOCUMENTS"] = str(root)
    return missing


def write_demo_claim_export(settings: Settings, manifests: list[dict]) -> Path:
    """The synthetic practice's claim export of the demo data, written where the pipeline looks
    by default: ``$CLAIMWRIGHT_HOME/claim-export.csv``. A ``CLAIMWRIGHT_CLAIM_EXPORT`` naming
    another file (a practice's real export) is neither read nor touched: for this process the
    variable then names the demo's file."""
    from fixtures.remittances.claim_export import write_claim_export

    path = settings.home / CLAIM_EXPORT_NAME
    write_claim_export(path, manifests)
    if settings.claim_export.resolve() != path.resolve():
        os.environ["CLAIMWRIGHT_CLAIM_EXPORT"] = str(path)
    return path
