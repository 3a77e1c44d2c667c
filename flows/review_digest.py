"""Weekly review-queue digest: Monday morning, how the review queue stands.

A thin flow over :func:`claimwright.review_digest.write_review_digest`: the markdown goes to
``$CLAIMWRIGHT_REPORTS/review-digest-YYYY-Www.md`` (owner-only) and is the run's markdown
artifact; a table artifact holds the counts per kind. Ids, kinds, payers and ages only: no
item's reason or context (they may hold PHI).
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from claimwright.permissions import startup
from claimwright.review_digest import kind_rows, write_review_digest
from claimwright.settings import Settings
from claimwright.storage import Ledger

ARTIFACT_KEY = "review-queue-digest"
TABLE_KEY = "review-queue-digest-kinds"


@flow(name="weekly-review-digest", log_prints=False)
def weekly_review_digest(oldest: int = 10) -> dict:
    """Write and publish the digest; ``oldest``: how many of the oldest items it lists."""
    logger = get_run_logger()
    settings = Settings.from_env()
    startup(settings, logger=logger)  # owner-only files; a warning when others can read them
    ledger = Ledger(settings.database_url)
    try:
        digest = write_review_digest(settings, ledger, oldest=oldest)
    finally:
        ledger.close()
    ov = digest.overview
    logger.info("review queue %s: %d active (%d open, %d in review), %d past their SLA",
                digest.week, ov.total, ov.by_state.get("open", 0),
                ov.by_state.get("in-review", 0), len(ov.breaches))
    create_markdown_artifact(markdown=digest.markdown, key=ARTIFACT_KEY,
                             description=f"Review queue digest {digest.week} (no patient data)")
    create_table_artifact(table=kind_rows(ov), key=TABLE_KEY,
                          description=f"Review queue {digest.week}: active items per kind")
    return {"week": digest.week, "file": str(digest.path), "active": ov.total,
            "breaches": len(ov.breaches)}
