"""Stage 3b, appeal packets: every appeal that is still being prepared, brought up to date.

A document's outputs unit queues a *packet input* per appealable denied claim (an outbox row:
the remittance and the findings). Each run then, for every appeal of the payer that is not sent
yet (level 1 from those inputs; level 2 and up proposed by the status check after an upheld
decision):

1. gathers what the packet is made of: the claim (filled in from the practice's claim export
   where the remittance does not say), its findings, the source remittance PDF, the supporting
   documents from the documents source, the payer's form;
2. hashes it (:func:`claimwright.packets.inputs_digest`): when the hash and the file are the same
   as the ledger's, nothing is written;
3. otherwise builds the packet, records it in the ledger (``appeals``, ``outputs``), and keeps
   exactly one ``missing-document`` review item open while a required document is missing (it
   is resolved by the run that completes the packet).

A sent or decided appeal's packet is never rebuilt: what went to the payer stays as it was. One
packet that cannot be built (a letter or form that cannot be filled, a source PDF gone) is one
review item; the other packets go on.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

from ..models import Remittance
from ..review import Opened
from ..rules.engine import categorize_remittance
from ..rules.findings import Finding
from ..storage import Document
from ..types import ReviewKind
from .context import Context, Counts
from .parse import pdf_rendition

log = logging.getLogger(__name__)

PACKET_INPUT = "packet-input"  # output kind of the outbox rows packets are built from


def queue_packet(ctx: Context, doc: Document, remittance_record_id: int, remit: Remittance,
                 claim_id: str, findings: list[Finding]) -> None:
    """Queue the packet input of one appealable claim of a parsed document."""
    key = f"{remit.payer.id}:{claim_id}"
    ctx.ledger.queue_outputs(PACKET_INPUT, str(ctx.settings.packets / doc.payer), {key: {
        "document": doc.id, "remittance": remittance_record_id, "payer_id": remit.payer.id,
        "payer_claim_id": claim_id, "findings": sorted(f.key for f in findings)}},
        source=f"remittance:{remittance_record_id}")


def write_packets(ctx: Context, payer: str, counts: Counts, *,
                  as_of: dt.date | None = None) -> None:
    """Build or refresh every packet of ``payer`` not sent yet (see the module doc)."""
    from ..documents import documents_source
    from ..packets import load_letters, load_practice

    as_of = as_of or dt.date.today()
    inputs = {rec.key: rec for rec in ctx.ledger.queued_outputs(
        PACKET_INPUT, str(ctx.settings.packets / payer))}
    if not inputs:
        return
    letters, practice = load_letters(ctx.settings), load_practice(ctx.settings.practice)
    source = documents_source(ctx.settings)
    export = _claim_export(ctx, payer, counts)
    records = {a.key: a for a in ctx.ledger.appeals(payer=payer)}  # one query, not one each
    todo: list[tuple[str, int, str]] = [(key, 1, "") for key in inputs]  # (input, level, prev)
    for appeal in records.values():
        base = f"{appeal.payer_id}:{appeal.payer_claim_id}"
        if appeal.level > 1 and appeal.status == "prepared" and base in inputs:
            todo.append((base, appeal.level, appeal.previous_key))
    cache: dict[int, tuple[Remittance, list[Finding]]] = {}
    for key, level, previous in todo:
        appeal_key = f"{key}:L{level}"
        record = records.get(appeal_key)
        if record is not None and record.status != "prepared":
            continue  # sent or decided: the packet is what went to the payer
        with ctx.queue.capture(key=f"packet-failed:{appeal_key}", payer=payer,
                               kind=ReviewKind.OUTPUT_FAILED,
                               context={"payer": payer, "appeal": appeal_key}) as failed:
            _packet(ctx, payer, inputs[key].data, level, previous, record, letters, practice,
                    source, export, cache, counts, as_of)
        if failed.error is not None:
            counts.errors.append(f"packet {appeal_key}: {failed.error}")
            counts.note_review(failed, failed="packet")


def _claim_export(ctx: Context, payer: str, counts: Counts):
    """The practice's claim export; a file that cannot be used is one review item, and the
    packets are built from what the remittances say."""
    from ..claim_export import ClaimExport, ClaimExportError, load_claim_export

    path = ctx.settings.claim_export
    try:
        export = load_claim_export(path)
    except ClaimExportError as exc:
        counts.note_review(ctx.queue.open(
            ReviewKind.CONFIG_INVALID, f"claim export {path.name}: {exc}; appeal packets are "
            "built without it (no date of birth or diagnoses where the remittance has none)",
            key=f"config:claim-export:{path}", payer=payer,
            context={"file": str(path), "problems": exc.problems[:20]}))
        return ClaimExport()
    ctx.ledger.resolve_open_item(f"config:claim-export:{path}", "the claim export is valid")
    return export


def _packet(ctx, payer, data, level, previous, record, letters, practice, source, export,
            cache, counts, as_of) -> None:
    from ..documents import ClaimRef
    from ..packets import build_appeal_packet, inputs_digest, needed_documents, packet_filename
    from ..packets.forms import form_for

    doc = ctx.ledger.document(data["document"])
    remit, findings = _remittance(ctx, data["remittance"], cache, as_of)
    wanted = set(data["findings"])
    mine = [f for f in findings if f.key in wanted]
    if not mine:
        raise ValueError("the findings this packet was queued for are gone from the remittance")
    claim, notes = export.enrich(mine[0].claim)
    remit = _with_claim_in(remit, mine[0].claim, claim)
    mine = [_with_claim(f, claim) for f in mine]
    claim_id = data["payer_claim_id"]
    required, optional = needed_documents(mine, letters)
    found = source.find(ClaimRef(claim.patient_account, remit.payer.id, claim_id,
                                 tuple(claim.dates_of_service)), required + optional)
    documents = {k: v for k, v in found.documents.items() if v}
    form = form_for(remit.payer.id, remit.payer.name, level)
    source_pdf = Path(doc.path) if remit.format == "pdf" else pdf_rendition(doc)
    previous_text, decided_on = _previous_decision(ctx, previous)
    due = record.appeal_due if record is not None and level > 1 else None  # the level's own
    digest = inputs_digest(remit, claim, mine, source_pdf=source_pdf, level=level,
                           documents=documents, form=form, practice=practice,
                           previous_decision=previous_text, decided_on=decided_on,
                           appeal_due=due, letters=letters)
    out = ctx.settings.packets / payer / packet_filename(remit.payer.id, claim_id, level)
    appeal_key = f"{remit.payer.id}:{claim_id}:L{level}"
    if record is not None and record.inputs_hash == digest and out.exists():
        counts.packets_existing += 1
        return
    info = build_appeal_packet(remit, claim, mine, out, source_pdf=source_pdf, as_of=as_of,
                               practice=practice, level=level, documents=documents, form=form,
                               previous_decision=previous_text, decided_on=decided_on,
                           appeal_due=due, letters=letters, settings=ctx.settings)
    dues = [f.appeal_due for f in mine if f.appeal_due]
    denials = [f.denial_date for f in mine if f.denial_date]
    ctx.ledger.prepare_appeal(
        payer=payer, payer_id=remit.payer.id, payer_claim_id=claim_id,
        patient_account=claim.patient_account, level=level,
        categories="; ".join(sorted({f.decision.category for f in mine})),
        denied_amount=info.denied_amount, denial_date=min(denials) if denials else None,
        appeal_due=due or (min(dues) if dues else None),
        packet_path=str(out), inputs_hash=digest, complete=info.complete,
        missing=list(info.missing), prepared_on=as_of, previous_key=previous)
    ctx.ledger.save_packet(appeal_key if level > 1 else f"{remit.payer.id}:{claim_id}",
                           str(out), info.sha256)
    counts.packets_written += 1
    counts.packets_incomplete += not info.complete
    warnings = list(info.warnings) + notes + found.problems
    _missing_documents(ctx, payer, doc, appeal_key, info, letters, counts)
    if warnings:
        counts.note_review(ctx.queue.open(
            ReviewKind.PACKET_CHECK, f"appeal packet {out.name}: " + "; ".join(warnings),
            key=f"packet-check:{appeal_key}", payer=payer,
            context={**doc.context(), "payer_claim_id": claim_id, "level": level,
                     "warnings": warnings}, evidence=[str(out)]))


def _missing_documents(ctx, payer, doc, appeal_key, info, letters, counts) -> None:
    key = f"missing-document:{appeal_key}"
    if info.complete:
        if ctx.ledger.resolve_open_item(key, "the document(s) arrived; the packet was "
                                             "completed"):
            log.info("packet %s completed: its missing-document item is resolved",
                     info.path.name)
        return
    labels = "; ".join(letters.documents[k] for k in info.missing)
    opened: Opened = ctx.queue.open(
        ReviewKind.MISSING_DOCUMENT,
        f"appeal packet {info.path.name} is incomplete: missing {labels}. Put the document(s) "
        "in the claim's folder of the documents source; the next run completes the packet",
        key=key, payer=payer,
        context={**doc.context(), "payer_claim_id": info.claim_id, "level": info.level,
                 "missing": list(info.missing)},
        evidence=[str(info.path)])
    counts.note_review(opened)


def _remittance(ctx, record_id: int, cache: dict, as_of: dt.date):
    if record_id not in cache:
        data = ctx.ledger.remittance_data(record_id)
        remit = Remittance.from_json(data)
        cache[record_id] = (remit, categorize_remittance(remit, as_of=as_of))
    return cache[record_id]


def _with_claim(f: Finding, claim) -> Finding:
    line = claim.lines[f.line_number - 1] if f.line_number else None
    return dataclasses.replace(f, claim=claim, line=line)


def _with_claim_in(remit: Remittance, old, new) -> Remittance:
    if old is new:
        return remit
    return dataclasses.replace(remit, claims=[new if c is old else c for c in remit.claims])


def _previous_decision(ctx: Context, previous_key: str) -> tuple[str, dt.date | None]:
    """What the letter of a later level says about the decision it appeals, and its date."""
    if not previous_key:
        return "", None
    prev = ctx.ledger.appeal(previous_key)
    if prev is None or prev.decided_on is None:
        return "", None
    return (f"The payer's decision of {prev.decided_on.isoformat()} on our level "
            f"{prev.level} appeal upheld the denial; we ask for the next level of review.",
            prev.decided_on)
