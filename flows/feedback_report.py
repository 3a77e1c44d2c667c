"""Monthly feedback report: on the 1st, the denial feedback report of the previous month for
clinical leadership (``claimwright report feedback`` does the same by hand).

A thin flow over :func:`claimwright.reports.write_feedback_report`: the files go to
``$CLAIMWRIGHT_REPORTS`` (default ``out/reports``); the run's markdown artifact holds the KPIs
and their trend only, no claim, patient, member or account.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from claimwright.permissions import startup
from claimwright.reports import month_or_previous, write_feedback_report
from claimwright.reports.feedback import headline, kpi_markdown
from claimwright.settings import Settings
from claimwright.storage import Ledger

ARTIFACT_KEY = "feedback-report-kpis"


@flow(name="monthly-feedback-report", log_prints=False)
def monthly_feedback_report(month: str | None = None) -> dict:
    """Write the report of ``month`` (``YYYY-MM``; default: the month before today)."""
    logger = get_run_logger()
    target = month_or_previous(month)
    settings = Settings.from_env()
    startup(settings, logger=logger)  # owner-only files; a warning when others can read them
    ledger = Ledger(settings.database_url)
    try:
        files = write_feedback_report(settings, ledger, target)
    finally:
        ledger.close()
    for line in headline(files.report):
        logger.info("%s", line)
    create_markdown_artifact(markdown=kpi_markdown(files.report), key=ARTIFACT_KEY,
                             description=f"Denial feedback report {target}: KPIs and trend "
                                         "(no patient data)")
    return {"month": str(target), "files": [str(p) for p in files.paths],
            "patterns": len(files.report.patterns)}
