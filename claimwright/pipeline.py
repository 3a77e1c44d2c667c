"""The plain, testable steps the Prefect flows call.

pull_payer()        bot downloads new remittances, recorded in the ledger (dedupe: id + SHA-256)
process_documents() parse + balance + categorize every downloaded document not yet parsed
write_outputs()     appeal packets, coding worklist rows and review items for parsed documents
write_appeals_queue() the appeals team's list of packets, most urgent first

Each step works through the ledger, so a crash between steps resumes on the next run and a rerun
adds nothing twice. Each unit of work (a payer's pull, a document) is guarded by the review queue:
one failure becomes one review item, never a crashed batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from .denials import Finding, categorize_remittance
from .errors import SystemFault
from .fileio import write_atomic
from .models import Remittance
from .parsing import parse_file
from .renditions import CODE as RENDITIONS_CODE
from .renditions import reconcile
from .review import Opened, ReviewQueue
from .settings import Settings
from .storage import Document, Ledger
from .types import ReviewKind

if TYPE_CHECKING:
    from bots import PullResult

log = logging.getLogger(__name__)

PARSED, DONE, FAILED = "parsed", "done", "failed"


class RunCounts:
    """What run-count dataclasses share: review items opened or seen again, and a plain dict."""

    review_opened: int
    review_seen_again: int

    def note_review(self, created: bool) -> None:
        if created:
            self.review_opened += 1
        else:
            self.review_seen_again += 1

    def as_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class Counts(RunCounts):
    """What one payer's run did; every field is a plain count (safe for logs and artifacts)."""

    payer: str
    listed: int = 0
    downloaded: int = 0
    already_had: int = 0
    documents_parsed: int = 0
    remittances: int = 0
    claims: int = 0
    denial_findings: int = 0
    denied_claims: int = 0
    packets_written: int = 0
    packets_existing: int = 0
    worklist_added: int = 0
    worklist_updated: int = 0
    review_opened: int = 0
    review_seen_again: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class Context:
    settings: Settings
    ledger: Ledger
    queue: ReviewQueue

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Context:
        settings = settings or Settings.from_env()
        settings.ensure_dirs()
        ledger = Ledger(settings.database_url)
        return cls(settings, ledger, ReviewQueue(ledger))


# 1. pull --------------------------------------------------------------------------------------
def pull_payer(ctx: Context, payer: str, start: dt.date, end: dt.date, *,
               base_url: str | None = None, counts: Counts | None = None) -> Counts:
    """Download the payer's remittances for [start, end] that the ledger does not hold yet.

    When the portal fails part-way, what was already downloaded is still recorded (so the next
    run does not fetch it again) and the failure becomes one review item.
    """
    from bots import pull_remittances  # Playwright is imported only where a browser is needed

    counts = counts or Counts(payer)
    known = ctx.ledger.known_remittance_ids(payer)
    with ctx.queue.capture(key=f"pull:{payer}:{start}:{end}", payer=payer,
                           kind=ReviewKind.PORTAL_FAILURE,
                           context={"payer": payer, "start": str(start), "end": str(end)}) as cap:
        try:
            result = pull_remittances(payer, start, end, ctx.settings.downloads,
                                      is_known=known.__contains__, base_url=base_url,
                                      evidence_dir=ctx.settings.evidence)
        except SystemFault as fault:
            partial = getattr(fault, "partial_result", None)
            if partial is not None:
                _record_pull(ctx, payer, partial, counts)
            raise
        _record_pull(ctx, payer, result, counts)
    if cap.error is not None:
        counts.errors.append(f"pull {payer}: {cap.error}")
        counts.note_review(cap.created)
    return counts


def _record_pull(ctx: Context, payer: str, result: PullResult, counts: Counts) -> None:
    """Ledger rows for what a pull downloaded, review items for what it could not take."""
    counts.listed += result.listed
    counts.already_had += len(result.skipped_known)
    for doc in result.downloaded:
        _, created = ctx.ledger.add_document(
            payer=payer, remittance_id=doc.remittance_id, sha256=doc.sha256,
            path=str(doc.path), size=doc.size,
            listed={"payment_date": doc.payment_date, "trace_number": doc.trace_number,
                    "amount": doc.amount, "kind": doc.kind,
                    "renditions": {k: str(v) for k, v in doc.renditions.items()}})
        if created:
            counts.downloaded += 1
        else:  # same bytes under another id: keep one copy, say so
            counts.already_had += 1
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
        counts.note_review(opened.created)


def import_document(ctx: Context, payer: str, path: Path, remittance_id: str | None = None) -> bool:
    """Register a file that arrived by other means (an operator's upload); True when new."""
    data = path.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    _, created = ctx.ledger.add_document(payer=payer, remittance_id=remittance_id or path.stem,
                                         sha256=sha, path=str(path.resolve()), size=len(data))
    return created


# 2. parse -------------------------------------------------------------------------------------
def process_documents(ctx: Context, payer: str, counts: Counts | None = None) -> Counts:
    """Parse every downloaded, unparsed document of ``payer`` into the ledger."""
    counts = counts or Counts(payer)
    for doc in ctx.ledger.documents(status="downloaded", payer=payer):
        with ctx.queue.capture(key=f"document:{payer}:{doc.remittance_id}", payer=payer,
                               context=_doc_context(doc)) as cap:
            remits = parse_file(doc.path)
            pdf_copy = _pdf_rendition(doc)
            if pdf_copy is not None and remits and remits[0].format != "pdf":
                # The 835 is the record; its PDF twin must say the same and gives the pages.
                disagreements = reconcile(remits, parse_file(pdf_copy))
                remits[0].problems.extend(disagreements)
            for index, remit in enumerate(remits):
                ctx.ledger.save_remittance(doc.id, index, remit.to_json())
            ctx.ledger.set_document_status(doc.id, PARSED)
            counts.documents_parsed += 1
        if cap.error is not None:
            ctx.ledger.set_document_status(doc.id, FAILED)
            counts.errors.append(f"document {doc.remittance_id}: {cap.error}")
            counts.note_review(cap.created)
    return counts


# 3. outputs -----------------------------------------------------------------------------------
def write_outputs(ctx: Context, payer: str, *, as_of: dt.date | None = None,
                  counts: Counts | None = None) -> Counts:
    """Categorize parsed documents and write packets, worklist rows and review items."""
    from .packets import build_appeal_packet, packet_filename
    from .worklists import upsert_coding_worklist, worklist_row_from_finding

    counts = counts or Counts(payer)
    as_of = as_of or dt.date.today()
    docs = ctx.ledger.documents(status=PARSED, payer=payer)
    worklist_rows = []
    packets_done = ctx.ledger.output_keys("packet")
    for doc in docs:
        with ctx.queue.capture(key=f"outputs:{payer}:{doc.remittance_id}", payer=payer,
                               kind=ReviewKind.OUTPUT_FAILED, context=_doc_context(doc)) as cap:
            for rec_id, remit in _load_remittances(ctx, doc):
                trusted = _review_problems(ctx, doc, remit, counts)
                findings = categorize_remittance(remit, as_of=as_of)
                ctx.ledger.save_findings(rec_id, [_finding_row(f) for f in findings])
                counts.remittances += 1
                counts.claims += len(remit.claims)
                denials = [f for f in findings if f.decision.is_denial]
                counts.denial_findings += len(denials)
                counts.denied_claims += len({f.claim.payer_claim_id for f in denials})
                for f in findings:
                    if not f.decision.known:
                        counts.note_review(_review_unknown_code(ctx, doc, f).created)
                usable = [f for f in denials if f.decision.known
                          and f.claim.patient_account in trusted]
                worklist_rows += [worklist_row_from_finding(f, first_seen=as_of)
                                  for f in usable if f.decision.owner == "coding"]
                for claim_id, claim_findings in _appealable_by_claim(usable).items():
                    key = f"{remit.payer.id}:{claim_id}"
                    if key in packets_done:
                        counts.packets_existing += 1
                        continue
                    out = ctx.settings.packets / payer / packet_filename(remit.payer.id, claim_id)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    info = build_appeal_packet(
                        remit, claim_findings[0].claim, claim_findings, out,
                        source_pdf=Path(doc.path) if remit.format == "pdf" else _pdf_rendition(doc),
                        as_of=as_of)
                    ctx.ledger.record_outputs("packet", [(key, str(info.path), info.sha256)])
                    packets_done.add(key)
                    counts.packets_written += 1
                    if info.warnings:
                        counts.note_review(ctx.queue.open(
                            ReviewKind.PACKET_CHECK,
                            f"appeal packet {info.path.name}: " + "; ".join(info.warnings),
                            key=f"packet-check:{key}", payer=payer,
                            context={**_doc_context(doc), "payer_claim_id": claim_id,
                                     "warnings": list(info.warnings)},
                            evidence=[str(info.path)]).created)
            ctx.ledger.set_document_status(doc.id, DONE)
        if cap.error is not None:
            counts.errors.append(f"outputs {doc.remittance_id}: {cap.error}")
            counts.note_review(cap.created)
    if worklist_rows:
        result = upsert_coding_worklist(ctx.settings.worklist, worklist_rows)
        ctx.ledger.record_outputs("worklist-row",
                                  [(r.key, str(ctx.settings.worklist), "") for r in worklist_rows])
        counts.worklist_added += result.added
        counts.worklist_updated += result.updated
        for warning in result.warnings:
            log.warning("worklist: %s", warning)
            counts.note_review(ctx.queue.open(
                ReviewKind.OUTPUT_FAILED, f"coding worklist: {warning}",
                key=f"worklist:{hashlib.sha256(warning.encode()).hexdigest()[:16]}",
                payer=payer, context={"worklist": str(ctx.settings.worklist)},
                evidence=[str(ctx.settings.worklist)]).created)
    return counts


def write_appeals_queue(ctx: Context) -> Path:
    """The appeals team's to-do list: every packet, most urgent first (highest priority, then
    earliest due date), as ``out/packets/appeals-queue.csv``. Rewritten only when it changed."""
    import csv
    import io

    packets = {rec.key: rec for rec in ctx.ledger.outputs("packet")}
    by_claim: dict[str, list] = defaultdict(list)
    for f in ctx.ledger.findings(denials_only=True):
        key = f"{f.payer_id}:{f.payer_claim_id}"
        if key in packets and f.action == "appeal":
            by_claim[key].append(f)
    rows = []
    for key, found in by_claim.items():
        dues = [f.appeal_due for f in found if f.appeal_due]
        rows.append({
            "priority": max(f.priority for f in found),
            "appeal_due": min(dues).isoformat() if dues else "",
            "payer_id": found[0].payer_id, "payer_claim_id": found[0].payer_claim_id,
            "denied_amount": sum((f.amount for f in found), Decimal(0)),
            "reasons": " ".join(sorted({f"{f.group_code}-{f.carc}" for f in found})),
            "categories": "; ".join(sorted({f.category for f in found})),
            "packet": packets[key].path,
        })
    rows.sort(key=lambda r: (-r["priority"], r["appeal_due"] or "9999", r["payer_claim_id"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["priority", "appeal_due", "payer_id",
                                                "payer_claim_id", "denied_amount", "reasons",
                                                "categories", "packet"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = ctx.settings.packets / "appeals-queue.csv"
    write_atomic(path, buffer.getvalue().encode(), skip_if_same=True)
    return path


def _pdf_rendition(doc: Document) -> Path | None:
    """The PDF downloaded beside an 835 (``listed.renditions.pdf``), when there is one."""
    path = ((doc.listed or {}).get("renditions") or {}).get("pdf")
    return Path(path) if path and Path(path).is_file() else None


def _load_remittances(ctx: Context, doc: Document) -> list[tuple[int, Remittance]]:
    return [(rec.id, Remittance.from_json(rec.data)) for rec in ctx.ledger.remittances(doc.id)]


def _review_problems(ctx: Context, doc: Document, remit: Remittance, counts: Counts) -> set[str]:
    """Open one review item per unbalanced claim (and one for the remittance total).

    Returns the patient accounts of the claims whose numbers can be trusted for outputs.
    """
    by_claim = defaultdict(list)
    for problem in remit.problems:
        by_claim[problem.claim or ""].append(problem)
    for claim_account, problems in by_claim.items():
        where = f"claim {claim_account}" if claim_account else "remittance total"
        kind = (ReviewKind.RENDITIONS_DISAGREE if all(p.code == RENDITIONS_CODE for p in problems)
                else ReviewKind.UNBALANCED)
        opened = ctx.queue.open(
            kind,
            f"{doc.remittance_id} {where}: " + "; ".join(p.message for p in problems),
            key=f"{kind}:{doc.payer}:{doc.remittance_id}:{claim_account or '-'}",
            payer=doc.payer,
            context={**_doc_context(doc), "claim": claim_account,
                     "problems": [p.to_json() for p in problems]},
            evidence=[doc.path] + [str(p) for p in [_pdf_rendition(doc)] if p is not None])
        counts.note_review(opened.created)
    return {c.patient_account for c in remit.claims if c.patient_account not in by_claim}


def _review_unknown_code(ctx: Context, doc: Document, f: Finding) -> Opened:
    codes = ", ".join(f.decision.unknown_codes) or f.adjustment.code
    return ctx.queue.open(
        ReviewKind.UNKNOWN_CODE,
        f"{doc.remittance_id} claim {f.claim.payer_claim_id}: unknown code {codes} "
        f"({f.adjustment.amount}); categorize it and add it to the code tables",
        key=f"unknown-code:{f.key}", payer=doc.payer,
        context={**_doc_context(doc), "payer_claim_id": f.claim.payer_claim_id,
                 "line": f.line_number, "adjustment": f.adjustment.to_json(),
                 "remarks": f.remarks, "pages": f.claim.pages},
        evidence=[doc.path])


def _appealable_by_claim(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.decision.action == "appeal" and f.decision.appealable in ("yes", "conditional"):
            out[f.claim.payer_claim_id].append(f)
    return out


def _finding_row(f: Finding) -> dict:
    return {
        "key": f.key, "payer_id": f.payer_id, "payer_claim_id": f.claim.payer_claim_id,
        "patient_account": f.claim.patient_account, "line_number": f.line_number,
        "procedure": f.line.procedure if f.line else "", "group_code": f.adjustment.group,
        "carc": f.adjustment.carc, "rarcs": list(f.remarks), "amount": f.adjustment.amount,
        "is_denial": f.decision.is_denial, "category": f.decision.category,
        "owner": f.decision.owner, "action": f.decision.action,
        "appealable": f.decision.appealable, "rule_id": f.decision.rule_id,
        "appeal_due": f.appeal_due, "priority": f.priority,
    }


def _doc_context(doc: Document) -> dict:
    return {"payer": doc.payer, "remittance_id": doc.remittance_id, "file": doc.path,
            "sha256": doc.sha256}
