"""The weekly review-queue digest: how the queue stands, for whoever runs the review team.

Counts of open and in-review items by kind and age band, the SLA breaches and the oldest items
(id, kind, payer, state, age, due date): never an item's reason or context, which may name a
patient, member or account. Built on :func:`claimwright.review_view.overview` (the console's
overview), written as markdown to ``$CLAIMWRIGHT_REPORTS/review-digest-YYYY-Www.md`` (ISO week,
owner-only) and published by ``flows/review_digest.py`` as the run's artifact.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from .output_store import store_at
from .review import ACTIVE, ReviewQueue
from .review_sla import ReviewSla, load_review_sla
from .review_view import BUCKETS, Overview, ReviewView, overview
from .storage import Ledger, utcnow

__all__ = ["Digest", "digest_markdown", "digest_path", "iso_week", "kind_rows",
           "write_review_digest"]


@dataclass(frozen=True)
class Digest:
    week: str
    overview: Overview
    markdown: str
    path: Path


def iso_week(day: dt.date | dt.datetime) -> str:
    """``YYYY-Www`` (ISO 8601 week: 2026-12-28 is in 2026-W53, 2027-01-04 in 2027-W01)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def digest_path(reports: Path, week: str) -> Path:
    return Path(reports) / f"review-digest-{week}.md"


def kind_rows(ov: Overview) -> list[dict]:
    """One row per kind: open items, per age band, breaches, oldest age (the table artifact)."""
    return [{"kind": r.kind, "failure": str(r.failure), "open": r.open,
             **{f"{name} days": r.buckets[name] for name, _, _ in BUCKETS},
             "sla breached": r.breached, "oldest (days)": r.oldest_days} for r in ov.kinds]


def _item_line(v: ReviewView) -> str:
    # ids, kinds, payers, ages only: an item's reason and context may hold PHI
    return (f"| {v.id} | {v.kind} | {v.payer or '-'} | {v.state} | {v.age_days} "
            f"| {v.due:%Y-%m-%d} | {'yes' if v.breached else 'no'} |")


def digest_markdown(ov: Overview, week: str) -> str:
    """The digest as markdown (the file and the artifact): counts, per kind, breaches, oldest."""
    bands = " | ".join(f"{name} days" for name, _, _ in BUCKETS)
    lines = [f"# Review queue digest {week}", "",
             f"As of {ov.now:%Y-%m-%d %H:%M} UTC: **{ov.total}** active items "
             f"({ov.by_state.get('open', 0)} open, {ov.by_state.get('in-review', 0)} in review), "
             f"**{len(ov.breaches)}** past their SLA.", "",
             "Ids, kinds, payers and ages only: open an item (`claimwright review show ID` or "
             "the console) for its reason and evidence.", "",
             "## By kind and age", "",
             f"| kind | failure | open | {bands} | SLA breached | oldest (days) |",
             "| --- | --- | ---: | " + " | ".join("---:" for _ in BUCKETS) + " | ---: | ---: |"]
    for r in ov.kinds:
        counts = " | ".join(str(r.buckets[name]) for name, _, _ in BUCKETS)
        lines.append(f"| {r.kind} | {r.failure} | {r.open} | {counts} | {r.breached} "
                     f"| {r.oldest_days} |")
    if not ov.kinds:
        lines.append("| (none) | | 0 | " + " | ".join("0" for _ in BUCKETS) + " | 0 | 0 |")
    header = ["| id | kind | payer | state | age (days) | SLA due | breached |",
              "| ---: | --- | --- | --- | ---: | --- | --- |"]
    for title, views in (("SLA breaches", ov.breaches), ("Oldest items", ov.oldest)):
        lines += ["", f"## {title}", ""]
        lines += [*header, *map(_item_line, views)] if views else ["None."]
    return "\n".join(lines) + "\n"


def write_review_digest(settings, ledger: Ledger, *, now: dt.datetime | None = None,
                        sla: ReviewSla | None = None, oldest: int = 10) -> Digest:
    """Build the digest of the ledger's active items at ``now`` (naive UTC; default: now) and
    write it, owner-only, to ``settings.reports/review-digest-<week>.md``."""
    if oldest < 1:
        raise ValueError(f"oldest must be at least 1 (got {oldest})")
    now = now or utcnow()
    items = ReviewQueue(ledger).items(ACTIVE)
    ov = overview(items, now, sla or load_review_sla(settings.review_sla), oldest=oldest)
    week = iso_week(now)
    markdown = digest_markdown(ov, week)
    path = digest_path(settings.reports, week)
    store, key = store_at(path, settings)
    store.put_bytes(key, markdown.encode("utf-8"))
    return Digest(week, ov, markdown, path)
