"""Stage 2, parse: every downloaded document into remittances in the ledger.

One unit per document (``UnitKind.PARSE``). Its output, the remittance rows, is written inside
the unit (an upsert by document and transaction index, so a second parse of a document whose
run died replaces, never duplicates); then the document's outputs unit is queued.

Each document is parsed in a reused worker process under memory and time limits
(:mod:`claimwright.parsing.isolation`; ``CLAIMWRIGHT_PARSE_ISOLATION=0`` parses here instead):
a document that passes them, or whose parse crashes, fails its unit for a business reason (one
``unreadable-document`` review item; quarantined until a person's "retry now") and the batch goes
on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..models import Remittance
from ..parsing import parse_file, pdf_limits
from ..parsing.isolation import Limits, shared_workers
from ..phi import remember_claims
from ..renditions import reconcile
from ..settings import Settings
from ..storage import Document
from ..timing import timed
from ..types import UnitKind
from .context import Context, Counts


def process_documents(ctx: Context, payer: str, counts: Counts | None = None) -> Counts:
    """Parse every downloaded, unparsed document of ``payer`` into the ledger."""
    with timed("parse"):
        return _process_documents(ctx, payer, counts or Counts(payer))


def _process_documents(ctx: Context, payer: str, counts: Counts) -> Counts:
    work = ctx.units(counts)
    parse = document_parser(ctx.settings)
    for unit in work.take_each(UnitKind.PARSE, payer=payer):
        with unit:
            doc = ctx.ledger.document(unit.context["document_id"])
            remits = parse(doc.path)
            pdf_copy = pdf_rendition(doc)
            if pdf_copy is not None and remits and remits[0].format != "pdf":
                # The 835 is the record; its PDF twin must say the same and gives the pages.
                disagreements = reconcile(remits, parse(pdf_copy))
                remits[0].problems.extend(disagreements)
            for index, remit in enumerate(remits):
                remember_claims(remit.claims)  # masked wherever logs or artifacts show them
                ctx.ledger.save_remittance(doc.id, index, remit.to_json())
            work.add(UnitKind.OUTPUTS, unit.key, payer=payer, data=unit.context)
            counts.documents_parsed += 1
    return counts


def document_parser(settings: Settings) -> Callable[[Path | str], list[Remittance]]:
    """How the pipeline parses a file: in the shared worker processes under the settings'
    limits, or (``parse_isolation`` off: debugging) here with :func:`parse_file`."""
    if not settings.parse_isolation:
        pdf_limits.MAX_PAGE_CONTENT = settings.parse_page_content_mb << 20  # this process's
        return lambda path: parse_file(path)
    return shared_workers(Limits.from_settings(settings)).parse_file


def pdf_rendition(doc: Document) -> Path | None:
    """The PDF downloaded beside an 835 (``listed.renditions.pdf``), when there is one."""
    path = ((doc.listed or {}).get("renditions") or {}).get("pdf")
    return Path(path) if path and Path(path).is_file() else None
