"""Stage 2, parse: every downloaded document into remittances in the ledger.

One unit per document (``UnitKind.PARSE``). Its output, the remittance rows, is written inside
the unit (an upsert by document and transaction index, so a second parse of a document whose
run died replaces, never duplicates); then the document's outputs unit is queued.
"""

from __future__ import annotations

from pathlib import Path

from ..parsing import parse_file
from ..phi import remember_claims
from ..renditions import reconcile
from ..storage import Document
from ..types import UnitKind
from .context import Context, Counts


def process_documents(ctx: Context, payer: str, counts: Counts | None = None) -> Counts:
    """Parse every downloaded, unparsed document of ``payer`` into the ledger."""
    counts = counts or Counts(payer)
    work = ctx.units(counts)
    for unit in work.take_each(UnitKind.PARSE, payer=payer):
        with unit:
            doc = ctx.ledger.document(unit.context["document_id"])
            remits = parse_file(doc.path)
            pdf_copy = pdf_rendition(doc)
            if pdf_copy is not None and remits and remits[0].format != "pdf":
                # The 835 is the record; its PDF twin must say the same and gives the pages.
                disagreements = reconcile(remits, parse_file(pdf_copy))
                remits[0].problems.extend(disagreements)
            for index, remit in enumerate(remits):
                remember_claims(remit.claims)  # masked wherever logs or artifacts show them
                ctx.ledger.save_remittance(doc.id, index, remit.to_json())
            work.add(UnitKind.OUTPUTS, unit.key, payer=payer, data=unit.context)
            counts.documents_parsed += 1
    return counts


def pdf_rendition(doc: Document) -> Path | None:
    """The PDF downloaded beside an 835 (``listed.renditions.pdf``), when there is one."""
    path = ((doc.listed or {}).get("renditions") or {}).get("pdf")
    return Path(path) if path and Path(path).is_file() else None
