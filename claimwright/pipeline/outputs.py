"""Stage 3, outputs: each parsed document's findings, appeal packets, worklist rows, review items.

One unit per document (``UnitKind.OUTPUTS``), done only when all its outputs exist: findings
saved (refreshed by key), review items filed (deduplicated by key), and its packet inputs and
worklist rows queued in the ledger (an outbox). The packets are then brought up to date by
:mod:`.packets` (built when their inputs changed, never once sent). The rows waiting
for a workbook are then written by one more unit (``UnitKind.WORKLIST``): a workbook that cannot
be written (corrupt, locked) is one review item, the rows stay queued, and the next run that can
write it does. No row is lost between a document and a coder.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from ..corrections import apply_corrections, resolve_corrected
from ..rules.engine import categorize_remittance
from ..rules.findings import Finding
from ..errors import SystemFault
from ..output_store import output_store
from ..models import Remittance
from ..phi import remember_claims
from ..review import Opened
from ..renditions import CODE as RENDITIONS_CODE
from ..storage import Document
from ..types import FaultCode, ReviewKind, Route, UnitKind, UnitState
from .context import Context, Counts
from .packets import queue_packet, write_packets
from .parse import pdf_rendition
from .routing import WORKLIST_ROUTES, count_field, route

log = logging.getLogger(__name__)

WORKLIST_ROW = "worklist-row"  # output kind of a coding worklist row


def write_outputs(ctx: Context, payer: str, *, as_of: dt.date | None = None,
                  counts: Counts | None = None) -> Counts:
    """Categorize parsed documents and write packets, worklist rows and review items."""
    counts = counts or Counts(payer)
    as_of = as_of or dt.date.today()
    work = ctx.units(counts)
    store = output_store(ctx.settings)
    for folder in (f"packets/{payer}", "worklists"):
        store.sweep(folder)  # what a killed run half-wrote
    for unit in work.take_each(UnitKind.OUTPUTS, payer=payer,
                               review_kind=ReviewKind.OUTPUT_FAILED):
        with unit:
            _document_outputs(ctx, ctx.ledger.document(unit.context["document_id"]), as_of,
                              counts)
    write_packets(ctx, payer, counts, as_of=as_of)
    write_worklist(ctx, counts, as_of=as_of)
    return counts


def _document_outputs(ctx: Context, doc: Document, as_of: dt.date, counts: Counts) -> None:
    from ..worklists import worklist_row_from_finding

    corrections = ctx.ledger.corrections(document_id=doc.id)  # people's, on copies
    for rec in ctx.ledger.remittances(doc.id):
        mine = [c for c in corrections if c.remittance_id == rec.id]
        remit = Remittance.from_json(apply_corrections(rec.data, mine) if mine else rec.data)
        remember_claims(remit.claims)  # masked wherever logs or artifacts would show them
        trusted = _review_problems(ctx, doc, remit, counts)
        resolve_corrected(ctx, doc, remit, mine)
        findings = categorize_remittance(remit, as_of=as_of)
        ctx.ledger.save_findings(rec.id, [f.to_row() for f in findings])
        counts.remittances += 1
        counts.claims += len(remit.claims)
        denials = [f for f in findings if f.decision.is_denial]
        counts.denial_findings += len(denials)
        counts.denied_claims += len({f.claim.payer_claim_id for f in denials})
        for f in findings:
            if not f.decision.known:
                counts.note_review(_review_unknown_code(ctx, doc, f))
        routes = {f.key: route(f, trusted=f.claim.patient_account in trusted) for f in denials}
        for f in denials:
            category = f.decision.category
            counts.denials_by_category[category] = counts.denials_by_category.get(category, 0) + 1
        for destination in routes.values():
            field_name = count_field(destination)
            setattr(counts, field_name, getattr(counts, field_name) + 1)
        by_owner: dict[str, dict[str, dict]] = defaultdict(dict)
        for f in denials:
            if routes[f.key].worklist:
                row = worklist_row_from_finding(f, first_seen=as_of)
                by_owner[routes[f.key].value][row.key] = row.to_json()
        for owner, rows in by_owner.items():
            ctx.ledger.queue_outputs(WORKLIST_ROW, str(ctx.settings.worklist_for(owner)), rows,
                                     source=f"remittance:{rec.id}")
        packets = defaultdict(list)
        for f in denials:
            if routes[f.key] is Route.PACKET:
                packets[f.claim.payer_claim_id].append(f)
        for claim_id, claim_findings in packets.items():
            queue_packet(ctx, doc, rec.id, remit, claim_id, claim_findings)


def write_worklist(ctx: Context, counts: Counts, *, as_of: dt.date | None = None) -> None:
    """Bring every owner's workbook up to date, one unit per workbook (see the module doc)."""
    from .appeals_queue import refresh_priorities

    as_of = as_of or dt.date.today()
    cache: dict[str, dict] = {}

    def findings() -> dict:
        """Denial findings by key with the day's priority: computed once, and only when a
        workbook is really written."""
        if "all" not in cache:
            refresh_priorities(ctx, as_of)
            cache["all"] = {f.key: f for f in ctx.ledger.findings(denials_only=True)}
        return cache["all"]

    for owner in WORKLIST_ROUTES:
        _write_workbook(ctx, counts, owner, ctx.settings.worklist_for(owner), as_of, findings)


def _write_workbook(ctx: Context, counts: Counts, owner: str, path: Path,
                    as_of: dt.date, findings: Callable[[], dict]) -> None:
    """Add the rows waiting in the ledger, refresh the rows still in the workbook (priority and
    due date of the day), read back what people wrote. A workbook that cannot be read or is
    open in Excel: one review item, and the waiting rows go to its side file as well."""
    from ..worklists import WorklistError, merge_side_file, side_file, side_marks, upsert_worklist

    pending = ctx.ledger.pending_outputs(WORKLIST_ROW, str(path))
    side = side_file(path)
    if not (pending or path.exists() or side.exists()):
        return
    if not (pending or side.exists()):
        last = ctx.ledger.unit(UnitKind.WORKLIST, path.name)
        if (last is not None and last.state == UnitState.DONE
                and (last.data or {}).get("read") == _fingerprint(path, as_of)):
            return  # read today already and untouched since: nothing could have changed
    unit = ctx.units(counts).take(UnitKind.WORKLIST, path.name, payer=counts.payer,
                                  review_key=f"worklist:{path.name}",
                                  context={"worklist": str(path), "waiting": len(pending)})
    if unit is None:
        log.info("worklist %s: another run is writing it; %d row(s) wait", path.name,
                 len(pending))
        return
    title = f"{owner.capitalize()} worklist"
    with unit:
        rows = _rows_of_the_day(ctx, path, findings())
        waiting = [rows[r.key] for r in pending]
        waiting_keys = {r.key for r in pending}
        try:
            result = upsert_worklist(path, waiting, title=title, as_of=as_of,
                                     refresh=[row for key, row in rows.items()
                                              if key not in waiting_keys],
                                     carry=side_marks(path),
                                     versions=ctx.settings.worklist_versions)
        except WorklistError as exc:
            where = _write_side(path, waiting, title, as_of)
            raise SystemFault(f"{owner} worklist: {exc}. Its {len(pending)} new "
                              f"row(s) wait in the ledger{where}; the next run that can write "
                              "the workbook adds them", retryable=False,
                              code=FaultCode.WORKLIST_UNREADABLE, worklist=str(path),
                              side_file=str(side) if side.exists() else "") from None
        ctx.ledger.mark_written(WORKLIST_ROW, [r.key for r in pending])
        ctx.ledger.save_marks(path.name,
                              {k: dataclasses.asdict(m) for k, m in result.marks.items()},
                              read_on=as_of)
        unit.note(read=_fingerprint(path, as_of))
        merged = merge_side_file(path)
        if merged is not None:
            log.info("worklist %s: side file merged (kept as %s)", path.name, merged.name)
        counts.worklist_added += result.added
        counts.worklist_updated += result.updated
        for warning in result.warnings:
            log.warning("worklist %s: %s", path.name, warning)
            counts.note_review(ctx.queue.open(
                ReviewKind.OUTPUT_FAILED, f"{owner} worklist: {warning}",
                key=f"worklist:{hashlib.sha256(warning.encode()).hexdigest()[:16]}",
                payer=counts.payer, context={"worklist": str(path)},
                evidence=[str(p) for p in (path, result.backup) if p]))


def _fingerprint(path: Path, as_of: dt.date) -> str:
    """The day and the workbook file's identity (a person saving it changes both mtime and
    size or at least mtime)."""
    st = path.stat()
    return f"{as_of.isoformat()}:{st.st_mtime_ns}:{st.st_size}"


def _rows_of_the_day(ctx: Context, path: Path, findings: dict) -> dict:
    """Every row queued for the workbook at ``path`` (written or not), by key, with the
    priority and due date of the day (``findings`` by key, priorities refreshed for the day)."""
    from ..worklists import WorklistRow

    out = {}
    for rec in ctx.ledger.queued_outputs(WORKLIST_ROW, str(path)):
        row = WorklistRow.from_json(rec.data)
        f = findings.get(rec.key)
        if f is not None:
            row = dataclasses.replace(row, priority=f.priority, appeal_due=f.appeal_due)
        out[rec.key] = row
    return out


def _write_side(path: Path, rows: list, title: str, as_of: dt.date) -> str:
    """Put the waiting rows in the workbook's side file; says where (or why not)."""
    from ..worklists import WorklistError, write_side_file

    if not rows:
        return ""
    try:
        side = write_side_file(path, rows, title=title, as_of=as_of)
    except WorklistError as exc:
        log.warning("worklist %s: side file not written either: %s", path.name, exc)
        return " (the side file could not be written either)"
    return (f" and are in the side file {path.stem}.waiting{path.suffix} "
            f"({side.added} added) for people to work meanwhile")


def _review_problems(ctx: Context, doc: Document, remit: Remittance, counts: Counts) -> set[str]:
    """Open one review item per unbalanced claim (and one for the remittance total).

    Returns the patient accounts of the claims whose numbers can be trusted for outputs.
    """
    by_claim = defaultdict(list)
    for problem in remit.problems:
        by_claim[problem.claim or ""].append(problem)
    for claim_account, problems in by_claim.items():
        where = f"claim {claim_account}" if claim_account else "remittance total"
        kind = (ReviewKind.RENDITIONS_DISAGREE
                if all(p.code == RENDITIONS_CODE for p in problems) else ReviewKind.UNBALANCED)
        opened = ctx.queue.open(
            kind,
            f"{doc.remittance_id} {where}: " + "; ".join(p.message for p in problems),
            key=f"{kind}:{doc.payer}:{doc.remittance_id}:{claim_account or '-'}",
            payer=doc.payer,
            context={**doc.context(), "claim": claim_account,
                     "problems": [p.to_json() for p in problems]},
            evidence=[doc.path] + [str(p) for p in [pdf_rendition(doc)] if p is not None])
        counts.note_review(opened)
    return {c.patient_account for c in remit.claims if c.patient_account not in by_claim}


def _review_unknown_code(ctx: Context, doc: Document, f: Finding) -> Opened:
    codes = ", ".join(f.decision.unknown_codes) or f.adjustment.code
    return ctx.queue.open(
        ReviewKind.UNKNOWN_CODE,
        f"{doc.remittance_id} claim {f.claim.payer_claim_id}: unknown code {codes} "
        f"({f.adjustment.amount}); categorize it once ('claimwright rules categorize "
        f"--carc {f.adjustment.carc} ...', a local rule) and its findings are re-decided",
        key=f"unknown-code:{f.key}", payer=doc.payer,
        context={**doc.context(), "payer_claim_id": f.claim.payer_claim_id,
                 "line": f.line_number, "adjustment": f.adjustment.to_json(),
                 "remarks": f.remarks, "pages": f.claim.pages},
        evidence=[doc.path])
