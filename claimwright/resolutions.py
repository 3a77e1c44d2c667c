"""Resolutions that feed back into the pipeline: one function per resolution, shared by the
review console's forms (:mod:`claimwright.console.actions`) and ``claimwright review ...``.

- :func:`categorize_item`: an ``unknown-code`` item's code becomes a local rule, the stored
  findings with it are re-decided and that payer's outputs made again at once;
- :func:`attach_document`: a ``missing-document`` item's document is checked (size, a PDF that
  opens), stored in the documents source's folder under a name of our own, and the payer's
  packets are rebuilt, so the item resolves when the packet is complete;
- :func:`correct_item`: an ``unbalanced`` item's claim gets a person's values (the original
  kept) and the payer's outputs are made again;
- "Retry now" for a failed unit's item is :mod:`claimwright.retries` (in Prefect, in a thread
  or here).

Each records its event in the item's audit trail (``document-attached``, ``categorized``,
``retried``) with who, and never PHI in the detail. A person's mistake raises
:class:`ResolutionError` with a message to show; nothing is deleted, evidence is kept.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .pipeline import Context, Counts, write_outputs
from .storage import ReviewItemRecord
from .types import ReviewKind

log = logging.getLogger(__name__)

#: the largest upload taken for a missing document (a bigger one is usually a whole chart)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
ACTIVE_STATES = ("open", "in-review")
#: one pipeline re-run at a time in this process: the console serves requests from threads,
#: and PDFium (parsing, packets) is not thread-safe (other processes are kept apart by units)
PIPELINE_LOCK = threading.RLock()


def today() -> dt.date:
    """The day the resolutions work for (outputs ``as_of``, an upload's date); tests set it."""
    return dt.date.today()


class ResolutionError(ValueError):
    """A resolution that cannot be done as asked; the message is for the person (no PHI)."""


@dataclass
class Outcome:
    item: ReviewItemRecord
    message: str


def _item(ctx: Context, item_id: int, kinds: tuple[ReviewKind, ...] | None = None,
          *, active: bool = True) -> ReviewItemRecord:
    item = ctx.queue.get(item_id)
    if item is None:
        raise ResolutionError(f"there is no review item {item_id}")
    if kinds is not None and item.kind not in {str(k) for k in kinds}:
        raise ResolutionError(f"item {item_id} is a {item.kind} item; this resolution is for "
                              + " or ".join(str(k) for k in kinds) + " items")
    if active and str(item.status) not in ACTIVE_STATES:
        raise ResolutionError(f"item {item_id} is {item.status}: reopen it first")
    return item


# ---- categorize an unknown code ---------------------------------------------------------------

def categorize_item(ctx: Context, item_id: int, *, category: str, owner: str, action: str,
                    appealable: str = "no", why: str, by: str, condition: str = "",
                    any_group: bool = False) -> Outcome:
    """Categorize the code of ``unknown-code`` item ``item_id`` (a local rule for its group and
    CARC, or every group with ``any_group``), re-decide its findings and make the payer's
    outputs again now. Vocabulary mistakes and a rule that exists raise ResolutionError."""
    from .errors import ClaimwrightError
    from .pipeline.redecide import redecide
    from .rules.local import categorize_code

    item = _item(ctx, item_id, (ReviewKind.UNKNOWN_CODE,))
    adjustment = (item.context or {}).get("adjustment") or {}
    carc = str(adjustment.get("carc") or "").strip()
    if not carc:
        raise ResolutionError(f"item {item_id} does not name its code")
    group = None if any_group else (str(adjustment.get("group") or "").strip() or None)
    if not (why or "").strip():
        raise ResolutionError("say why (one sentence, no patient data)")
    try:
        rule = categorize_code(group=group, carc=carc, category=category.strip(),
                               owner=owner.strip(), action=action.strip(),
                               appealable=appealable.strip() or "no", by=by, why=why.strip(),
                               condition=condition.strip())
    except (ClaimwrightError, ValueError) as exc:
        raise ResolutionError(str(exc)) from exc
    ctx.queue.record(item_id, "categorized", by=by,
                     detail=f"local rule {rule.id}: {category}, {owner}, {action}")
    with PIPELINE_LOCK:
        result = redecide(ctx, [carc])
        counts = write_outputs(ctx, item.payer, as_of=today()) if item.payer else None
    message = f"Rule {rule.id} added. {result.summary()}."
    if counts is not None:
        message += f" Outputs made again: {_routed(counts)}."
    current = ctx.queue.get(item_id)
    if str(current.status) in ACTIVE_STATES:  # e.g. its document busy in a run: say so
        message += " The item stays open until its document's outputs are made again."
    return Outcome(current, message)


def correct_item(ctx: Context, item_id: int, changes: dict[str, str], *, why: str, by: str,
                 line: int | None = None) -> Outcome:
    """Correct the values of an ``unbalanced`` (or ``renditions-disagree``) item's claim
    (:func:`claimwright.corrections.correct`: the original kept, who and why recorded) and make
    the payer's outputs again now, so a claim that balances leaves review for its worklist or
    packet. A correction that cannot be recorded raises ResolutionError."""
    from .corrections import CorrectionError, correct

    item = _item(ctx, item_id, (ReviewKind.UNBALANCED, ReviewKind.RENDITIONS_DISAGREE))
    try:
        c = correct(ctx, item_id, changes, by=by, why=why, line=line)
    except CorrectionError as exc:
        raise ResolutionError(str(exc)) from exc
    with PIPELINE_LOCK:
        counts = write_outputs(ctx, item.payer, as_of=today()) if item.payer else None
    fields = ", ".join(sorted(changes))
    message = f"Correction #{c.id} recorded ({fields})."
    if counts is not None:
        message += f" Outputs made again: {_routed(counts)}."
    current = ctx.queue.get(item_id)
    message += (" The claim still does not balance: the item stays open."
                if str(current.status) in ACTIVE_STATES else " The item is resolved.")
    return Outcome(current, message)


def _routed(counts: Counts) -> str:
    return (f"{counts.remittances} remittance(s), {counts.worklist_added} worklist row(s) "
            f"added, {counts.packets_written} packet(s) written")


# ---- attach a missing document ----------------------------------------------------------------

def attach_document(ctx: Context, item_id: int, data: bytes, kind: str, *, by: str,
                    on: dt.date | None = None) -> Outcome:
    """Store ``data`` as the ``kind`` document the packet of ``missing-document`` item
    ``item_id`` lacks, then rebuild that payer's packets (the item resolves when its packet is
    complete). The file is checked first: at most :data:`MAX_UPLOAD_BYTES`, a PDF that PDFium
    opens with every page. It is named by us, never by the client, and never replaces a file."""
    from .documents import PRACTICE_FOLDER, PRACTICE_KINDS
    from .documents.folder import folder_name, pdf_pages, payer_token
    from .pipeline.packets import write_packets

    item = _item(ctx, item_id, (ReviewKind.MISSING_DOCUMENT,))
    context = item.context or {}
    missing = [str(k) for k in context.get("missing") or ()]
    if kind not in missing:
        raise ResolutionError(f"this packet does not miss a {kind or '(no kind)'} document "
                              f"(it misses: {', '.join(missing) or 'nothing'})")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ResolutionError(f"the file is larger than the {MAX_UPLOAD_BYTES // 2**20} MB "
                              f"limit")
    with PIPELINE_LOCK:
        pages, problem = pdf_pages(data)
    if problem:
        raise ResolutionError(f"the file is not a readable PDF ({problem})")
    appeal = _appeal(ctx, item)
    day = on or today()
    root = Path(ctx.settings.documents)
    if kind in PRACTICE_KINDS:
        folder = root / PRACTICE_FOLDER
        stem = f"{kind}-for-{payer_token(appeal.payer_id)}-{day.isoformat()}"
    else:
        folder = root / folder_name(appeal.patient_account)
        stem = f"{kind}-{_document_date(ctx, appeal, kind, day).isoformat()}"
    path = _store(folder, stem, data)
    ctx.queue.record(item_id, "document-attached", by=by,
                     detail=f"{kind}: {path.name} ({pages} page(s), {len(data)} bytes)")
    with PIPELINE_LOCK:
        write_packets(ctx, item.payer, Counts(item.payer), as_of=day)
    current = ctx.queue.get(item_id)
    if str(current.status) in ACTIVE_STATES:
        message = (f"Stored {path.name}; the packet was rebuilt but is still incomplete "
                   f"(missing: {', '.join(_still_missing(current)) or '?'}).")
    else:
        message = f"Stored {path.name}; the packet was rebuilt complete and the item resolved."
    return Outcome(current, message)


def _appeal(ctx: Context, item: ReviewItemRecord):
    appeal_key = item.key.removeprefix("missing-document:")
    appeal = next((a for a in ctx.ledger.appeals(payer=item.payer) if a.key == appeal_key),
                  None)
    if appeal is None:
        raise ResolutionError(f"the packet of item {item.id} is not in the ledger any more")
    return appeal


def _still_missing(item: ReviewItemRecord) -> list[str]:
    return [str(k) for k in (item.context or {}).get("missing") or ()]


def _document_date(ctx: Context, appeal, kind: str, day: dt.date) -> dt.date:
    """Today, except for a kind filed by date of service (a progress note): the claim's first
    date of service, so the documents source matches it to this claim."""
    from .documents import DATE_OF_SERVICE_KINDS
    from .models import Remittance
    from .pipeline.packets import PACKET_INPUT

    if kind not in DATE_OF_SERVICE_KINDS:
        return day
    base = f"{appeal.payer_id}:{appeal.payer_claim_id}"
    for rec in ctx.ledger.queued_outputs(PACKET_INPUT, str(ctx.settings.packets / appeal.payer)):
        if rec.key != base:
            continue
        remit = Remittance.from_json(ctx.ledger.remittance_data(rec.data["remittance"]))
        for claim in remit.claims:
            if claim.payer_claim_id == appeal.payer_claim_id and claim.dates_of_service:
                return min(claim.dates_of_service)
    raise ResolutionError("the claim's date of service is not known: file the progress note "
                          "in the documents folder by hand")


def _store(folder: Path, stem: str, data: bytes) -> Path:
    """Write ``data`` as ``folder/<stem>.pdf`` (or ``<stem>-2.pdf``... when taken): a temp file
    (owner-only), fsync, then a hard link, which never replaces an existing file."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        for n in range(1, 100):
            target = folder / (f"{stem}.pdf" if n == 1 else f"{stem}-{n}.pdf")
            try:
                os.link(tmp, target)
            except FileExistsError:
                continue
            return target
        raise ResolutionError("too many documents of this kind and day in the folder")
    finally:
        os.unlink(tmp)
