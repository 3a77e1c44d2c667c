"""The weekly review-queue digest: counts by kind and age band, breaches, oldest items; no PHI."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest

from claimwright.review import ReviewQueue
from claimwright.review_digest import iso_week, kind_rows, write_review_digest
from claimwright.review_sla import ReviewSla
from claimwright.storage import Ledger

NOW = dt.datetime(2026, 11, 30, 12, 0)  # a Monday: ISO week 2026-W49
PHI = {"name": "MARGARET QUILLFEATHER", "member": "ZQX987654321", "account": "ACCT-55501234"}


def _clock(days_ago: int, now: dt.datetime = NOW):
    return lambda: now - dt.timedelta(days=days_ago, minutes=1)


@pytest.fixture
def ledger(workspace):
    ledger = Ledger(workspace.database_url)
    yield ledger
    ledger.close()


def _open(ledger, kind, key, days_ago, payer="northwind", now=NOW):
    queue = ReviewQueue(ledger, clock=_clock(days_ago, now))
    context = {"patient_name": PHI["name"], "member_id": PHI["member"],
               "claim": PHI["account"], "payer_claim_id": "PCN-77781"}
    reason = f"claim {PHI['account']} of {PHI['name']} does not balance"
    return queue.open(kind, reason, key=key, payer=payer, context=context).item


def test_the_digest_counts_by_kind_and_age_lists_breaches_and_oldest_without_phi(
        workspace, ledger):
    old = _open(ledger, "unbalanced", "u1", days_ago=40)
    mid = _open(ledger, "unbalanced", "u2", days_ago=5, payer="summit")
    new = _open(ledger, "unknown-code", "c1", days_ago=0)
    started = _open(ledger, "packet-check", "p1", days_ago=9)
    closed = _open(ledger, "unknown-code", "c2", days_ago=60)
    queue = ReviewQueue(ledger, clock=lambda: NOW)
    queue.start(started.id, by="alice")
    queue.resolve(closed.id, "added to the code table", by="alice")
    sla = ReviewSla(default_days=7)

    digest = write_review_digest(workspace, ledger, now=NOW, sla=sla, oldest=3)

    assert digest.week == "2026-W49"
    assert digest.path == workspace.reports / "review-digest-2026-W49.md"
    assert digest.path.read_text() == digest.markdown
    assert stat.S_IMODE(digest.path.stat().st_mode) == 0o600
    ov = digest.overview
    assert ov.total == 4 and ov.by_state == {"open": 3, "in-review": 1}
    assert ov.buckets == {"0-1": 1, "2-7": 1, "8-30": 1, "31+": 1}
    assert {v.id for v in ov.breaches} == {old.id, started.id}  # past 7 days, still active
    assert [v.id for v in ov.oldest] == [old.id, started.id, mid.id]
    rows = {r["kind"]: r for r in kind_rows(ov)}
    assert set(rows) == {"unbalanced", "unknown-code", "packet-check"}  # resolved one left out
    assert rows["unbalanced"]["open"] == 2 and rows["unbalanced"]["31+ days"] == 1
    assert rows["unbalanced"]["2-7 days"] == 1 and rows["unbalanced"]["sla breached"] == 1
    assert rows["unknown-code"]["open"] == 1 and rows["unknown-code"]["0-1 days"] == 1

    md = digest.markdown
    assert "**4** active items (3 open, 1 in review), **2** past their SLA" in md
    assert "| unbalanced | business | 2 | 0 | 1 | 0 | 1 | 1 | 40 |" in md
    assert f"| {old.id} | unbalanced | northwind | open | 40 | 2026-10-28 | yes |" in md
    assert f"| {started.id} | packet-check | northwind | in-review | 9 |" in md
    assert f"| {new.id} | unknown-code |" not in md.split("## Oldest items")[1]  # only 3 oldest
    assert f"\n| {closed.id} | " not in md
    for value in (*PHI.values(), "PCN-77781", "does not balance", "5501234", "QUILLFEATHER"):
        assert value not in md, value


def test_an_empty_queue_still_writes_a_digest(workspace, ledger):
    digest = write_review_digest(workspace, ledger, now=NOW)
    assert digest.overview.total == 0
    assert "**0** active items" in digest.markdown and "None." in digest.markdown
    assert digest.path.exists()


def test_iso_weeks_and_a_bad_oldest():
    assert iso_week(dt.date(2026, 12, 28)) == "2026-W53"
    assert iso_week(dt.date(2027, 1, 4)) == "2027-W01"
    assert iso_week(dt.date(2027, 1, 1)) == "2026-W53"
    with pytest.raises(ValueError, match="oldest must be at least 1"):
        write_review_digest(None, None, oldest=0)


def test_the_flow_is_a_thin_wrapper_with_a_valid_artifact_key():
    import re

    from flows.review_digest import ARTIFACT_KEY, TABLE_KEY, weekly_review_digest

    assert weekly_review_digest.name == "weekly-review-digest"
    assert weekly_review_digest.parameters.properties["oldest"]["default"] == 10
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", k) for k in (ARTIFACT_KEY, TABLE_KEY))


@pytest.mark.e2e
def test_the_weekly_flow_publishes_the_digest_on_the_prefect_api_without_phi(
        workspace, ledger, prefect_api):
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.review_digest import ARTIFACT_KEY, TABLE_KEY, weekly_review_digest

    from claimwright.storage import utcnow

    item = _open(ledger, "unbalanced", "u1", days_ago=12, now=utcnow())
    result = weekly_review_digest()
    assert result["active"] == 1 and result["breaches"] == 1  # the shipped SLA: under 12 days
    written = Path(result["file"]).read_text()
    with get_client(sync_client=True) as client:
        def latest(key):
            [artifact] = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])), limit=1,
                sort="CREATED_DESC")
            return artifact

        markdown, table = latest(ARTIFACT_KEY), latest(TABLE_KEY)
    assert markdown.type == "markdown" and markdown.data == written
    assert f"| {item.id} | unbalanced | northwind | open | 12 |" in markdown.data
    assert table.type == "table" and "unbalanced" in str(table.data)
    for data in (markdown.data, str(table.data), markdown.description or ""):
        for value in (*PHI.values(), "PCN-77781", "does not balance"):
            assert value not in data, value
