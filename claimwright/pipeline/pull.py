"""Stage 1, pull: a payer's portal session downloads the remittances the ledger does not hold.

The pull is one unit (``UnitKind.PULL``, key = the payer), so two runs never drive one payer's
portal at once. Each document is recorded the moment it is saved (the ledger queues its parse
unit with it), so a pull stopped part-way, by a portal fault or a killed process, never fetches
it again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import SystemFault
from ..fileio import remove_stale_parts
from ..timing import timed
from ..types import FaultCode, ReviewKind, UnitKind
from .context import Context, Counts
from .one_time_codes import CodeWaiter, code_asker

if TYPE_CHECKING:
    from bots import DownloadedDocument, PullResult


def pull_payer(ctx: Context, payer: str, start: dt.date, end: dt.date, *,
               base_url: str | None = None, counts: Counts | None = None,
               code_waiter: CodeWaiter | None = None) -> Counts:
    """Download the payer's remittances for [start, end] that the ledger does not hold yet.

    When the portal fails part-way, what was already downloaded stays recorded and the failure
    becomes one review item. ``code_waiter``: how this run asks a person for a one-time code
    the portal sends by SMS or e-mail (``pipeline.one_time_codes``); without one such a payer
    stops at once with an ``mfa-code-needed`` item.
    """
    from bots import pull_remittances  # Playwright is imported only where a browser is needed
    from bots.documents import payer_folder

    counts = counts or Counts(payer)
    unit = ctx.units(counts).take(
        UnitKind.PULL, payer, payer=payer, review_key=f"pull:{payer}:{start}:{end}",
        review_kind=ReviewKind.PORTAL_FAILURE,
        context={"payer": payer, "start": str(start), "end": str(end)})
    if unit is None:
        counts.problem(f"pull {payer}: another run is pulling this payer now; skipped")
        return counts
    recorded: set[str] = set()

    def on_downloaded(doc: DownloadedDocument) -> None:
        record_download(ctx, doc, counts)
        recorded.add(doc.remittance_id)
        unit.renew()

    with unit:
        # checked against the download root first: a payer folder that is a link leading
        # elsewhere is one review item (download-path-unsafe), nothing there is touched
        remove_stale_parts(payer_folder(ctx.settings.downloads, payer))  # a killed run's halves
        known = ctx.ledger.known_remittance_ids(payer)
        ask_code = (code_asker(ctx, code_waiter, review_key=unit.review_key)
                    if code_waiter is not None else None)
        try:
            with timed("portal"):  # the bot's session; its ledger rows count as the ledger's
                result = pull_remittances(payer, start, end, ctx.settings.downloads,
                                          is_known=known.__contains__, base_url=base_url,
                                          evidence_dir=ctx.settings.evidence,
                                          on_downloaded=on_downloaded, ask_code=ask_code,
                                          time_limit_s=ctx.settings.portal_session_limit_s)
        except SystemFault as fault:
            if fault.code == FaultCode.MFA_CODE_NEEDED:  # its own kind: a person must act
                unit.review_kind = ReviewKind.MFA_CODE_NEEDED
            partial = getattr(fault, "partial_result", None)
            if partial is not None:
                _record_listing(ctx, payer, partial, counts, recorded)
            raise
        _record_listing(ctx, payer, result, counts, recorded)
    return counts


def record_download(ctx: Context, doc: DownloadedDocument, counts: Counts) -> None:
    """The ledger row and the parse unit of one downloaded document."""
    _, created = ctx.ledger.add_document(
        payer=doc.payer, remittance_id=doc.remittance_id, sha256=doc.sha256,
        path=str(doc.path), size=doc.size,
        listed={"payment_date": doc.payment_date, "trace_number": doc.trace_number,
                "amount": doc.amount, "kind": doc.kind,
                "renditions": {k: str(v) for k, v in doc.renditions.items()}})
    if created:
        counts.downloaded += 1
    else:  # same bytes under another id: keep one copy, say so
        counts.already_had += 1


def _record_listing(ctx: Context, payer: str, result: PullResult, counts: Counts,
                    recorded: set[str]) -> None:
    """Counts of what was listed; review items for what the pull could not take."""
    counts.listed += result.listed
    counts.already_had += len(result.skipped_known)
    for doc in result.downloaded:  # a bot that did not report a document as it saved it
        if doc.remittance_id not in recorded:
            record_download(ctx, doc, counts)
    for failure in result.failed:
        opened = ctx.queue.open(
            ReviewKind.DOCUMENT_FAILED, failure.reason, payer=payer,
            key=f"download:{payer}:{failure.remittance_id}",
            context={"payer": payer, "remittance_id": failure.remittance_id,
                     "url": failure.url, "error": failure.code,
                     "step": failure.context.get("step")},
            # a document whose portal fault outlived its retries carries its evidence
            evidence=[str(failure.context[k]) for k in ("screenshot", "trace")
                      if failure.context.get(k)])
        counts.note_review(opened, failed="download")


def import_document(ctx: Context, payer: str, path: Path, remittance_id: str | None = None) -> bool:
    """Register a file that arrived by other means (an operator's upload); True when new."""
    data = path.read_bytes()
    _, created = ctx.ledger.add_document(payer=payer, remittance_id=remittance_id or path.stem,
                                         sha256=hashlib.sha256(data).hexdigest(),
                                         path=str(path.resolve()), size=len(data))
    return created
