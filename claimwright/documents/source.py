"""What a documents source is: the supporting documents of one claim's appeal, by kind.

An appeal packet encloses, besides the letter and the remittance page(s), documents the practice
holds elsewhere (docs/forms-and-documents.md): the progress notes of the date(s) of service, a
letter of medical necessity, the authorization approval, proof of timely filing, the primary
payer's remittance, and so on. The packet builder asks a :class:`DocumentsSource` for the kinds
a denial calls for (the ``requires`` and ``optional`` documents of ``claimwright/packets/letters/letters.yaml``) and attaches
what it gets.

The contract every source keeps (the folder source, :class:`~.folder.FolderSource`, today; an
EHR export adapter later):

- ``find(claim, kinds)`` returns a :class:`Found` whose ``documents`` has a key for *every* kind
  asked for (an empty list when none was found), each list in a deterministic order (by date,
  undated last, then by name), so the same files give byte-identical packets.
- Only documents of that claim's patient account are returned; for ``medical_records`` only the
  notes of the claim's dates of service (a note whose date is not known counts). Practice-wide
  kinds (``enrollment``, ``fee_schedule``) do not depend on the patient.
- Each :class:`SupportingDocument` names a local, readable PDF file (an adapter that fetches
  from elsewhere first copies into an owner-only folder of its own), with the SHA-256 of its
  bytes and its page count; the file was opened as a PDF and has at least one page.
- A document that cannot be used (unreadable, too large, a link leaving the source's folder) is
  left out and described in ``problems``: never an exception, and no PHI in the text beyond a
  file name (no patient name, member ID, account number or date of birth).
- ``find`` raises :class:`DocumentsError` only for a caller's mistake: a kind not in
  :data:`DOCUMENT_KINDS`.
- ``find`` only reads: it never changes, moves or deletes a document.
- PDFium (used to open the PDFs) is not thread-safe: call one source from one thread at a time
  (use processes to go parallel).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..models import Claim
    from ..settings import Settings

#: The document kinds, as the document keys of ``claimwright/packets/letters/letters.yaml`` name them
#: (the copy of the remittance page(s) is not one: the packet always carries it).
DOCUMENT_KINDS: tuple[str, ...] = (
    "medical_records",           # progress notes for the date(s) of service
    "medical_necessity_letter",  # letter of medical necessity from the treating provider
    "authorization",             # authorization (approval) letter
    "timely_filing",             # clearinghouse acceptance report
    "primary_remittance",        # the primary payer's remittance (coordination of benefits)
    "eligibility",               # eligibility verification for the date(s) of service
    "enrollment",                # provider enrollment / credentialing confirmation
    "fee_schedule",              # excerpt of the contracted fee schedule
)

#: Kinds that belong to the practice, not to one patient.
PRACTICE_KINDS: tuple[str, ...] = ("enrollment", "fee_schedule")

#: Kinds whose date is the date of service: only those of the claim's dates count.
DATE_OF_SERVICE_KINDS: tuple[str, ...] = ("medical_records",)

#: A document's title is this label, followed by its date when known (no PHI).
KIND_TITLES: dict[str, str] = {
    "medical_records": "Progress note",
    "medical_necessity_letter": "Letter of medical necessity",
    "authorization": "Authorization approval",
    "timely_filing": "Clearinghouse acceptance report",
    "primary_remittance": "Primary payer remittance",
    "eligibility": "Eligibility verification",
    "enrollment": "Provider enrollment confirmation",
    "fee_schedule": "Contracted fee schedule",
}


class DocumentsError(ValueError):
    """A caller's mistake in asking a documents source (an unknown kind, an unusable claim)."""


def check_kinds(kinds: Iterable[str]) -> tuple[str, ...]:
    """``kinds`` without repeats, in the order given; an unknown one raises
    :class:`DocumentsError` naming it."""
    if isinstance(kinds, str):  # one kind given as text: not a list of characters
        kinds = (kinds,)
    out: list[str] = []
    for kind in kinds:
        if kind not in DOCUMENT_KINDS:
            raise DocumentsError(f"unknown document kind {kind!r} (known: "
                                 f"{', '.join(DOCUMENT_KINDS)})")
        if kind not in out:
            out.append(kind)
    return tuple(out)


@dataclass(frozen=True)
class ClaimRef:
    """The claim whose appeal needs documents: what a source may match on."""

    patient_account: str
    payer_id: str
    payer_claim_id: str
    dates_of_service: tuple[dt.date, ...] = ()

    def __post_init__(self) -> None:
        dates = tuple(sorted(set(self.dates_of_service or ())))
        if any(not isinstance(d, dt.date) or isinstance(d, dt.datetime) for d in dates):
            raise DocumentsError("dates_of_service must be dates")
        object.__setattr__(self, "dates_of_service", dates)

    @classmethod
    def from_claim(cls, claim: Claim, payer_id: str) -> ClaimRef:
        """The reference of a model :class:`~claimwright.models.Claim` of ``payer_id``."""
        return cls(claim.patient_account, payer_id, claim.payer_claim_id,
                   tuple(claim.dates_of_service))


@dataclass(frozen=True)
class SupportingDocument:
    kind: str  # one of DOCUMENT_KINDS
    title: str  # human label, e.g. "Progress note 2026-11-03" (no PHI)
    path: Path  # a readable local PDF
    sha256: str  # of the file's bytes
    pages: int  # at least 1
    date: dt.date | None = None  # e.g. the note's date of service, when known


@dataclass
class Found:
    """What :meth:`DocumentsSource.find` found: documents by kind, and what could not be used."""

    documents: dict[str, list[SupportingDocument]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # no PHI beyond a file name

    @property
    def missing(self) -> tuple[str, ...]:
        """The kinds asked for of which nothing usable was found."""
        return tuple(kind for kind, docs in self.documents.items() if not docs)

    def all(self) -> list[SupportingDocument]:
        """Every document found, kind by kind in the order asked."""
        return [doc for docs in self.documents.values() for doc in docs]


@runtime_checkable
class DocumentsSource(Protocol):
    """Where supporting documents come from (see the module doc for the contract)."""

    name: str

    def find(self, claim: ClaimRef, kinds: Iterable[str]) -> Found: ...


def documents_source(settings: Settings | None = None) -> DocumentsSource:
    """The source configured by ``CLAIMWRIGHT_DOCUMENTS``: a :class:`~.folder.FolderSource` of
    that folder (default ``$CLAIMWRIGHT_HOME/documents``)."""
    from ..settings import Settings
    from .folder import FolderSource

    settings = settings or Settings.from_env()
    return FolderSource(settings.documents)
