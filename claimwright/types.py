"""The small closed vocabularies every stage shares: units of work, fault codes, review kinds.

Each is a :class:`enum.StrEnum`, so a member is stored, logged and compared as its plain string
("session-lost" == FaultCode.SESSION_LOST), while a typo is an error where it is written
(``FaultCode("sesion-lost")`` raises) instead of a new review category nobody filters on.

- :class:`UnitKind` / :class:`UnitState`: the units of work (``claimwright.units``) and the one
  state machine they move through: pending -> in-progress -> done | failed-business |
  failed-system (a system failure is released again for the next run; a business failure waits
  for a person).
- :class:`FaultCode`: the machine code of every error (``claimwright.errors``), each system or
  business (:attr:`FaultCode.failure`).
- :class:`ReviewKind`: what a review item is about (what a person filters the queue on), each
  system or business (:attr:`ReviewKind.failure`); :class:`ReviewState`: open -> in-review ->
  resolved | dismissed; :class:`ReviewAbout`: the thing an item concerns (remittance, claim ...).
- :class:`Route`: the one place a denial finding goes (a packet, an owner's worklist, review).
"""

from __future__ import annotations

from enum import StrEnum


class Failure(StrEnum):
    """The two kinds of failure: the world misbehaved, or the data is wrong."""

    SYSTEM = "system"      # retried in one bounded layer, then queued for review
    BUSINESS = "business"  # never retried: straight to review


class UnitKind(StrEnum):
    """What a unit of work is (its key says which one)."""

    PULL = "pull"                  # one payer's portal session for a date window
    PARSE = "parse"                # one downloaded document into remittances
    OUTPUTS = "outputs"            # one parsed document's findings, packets and worklist rows
    WORKLIST = "worklist"          # the rows waiting for one worklist workbook
    STATUS_QUERY = "status-query"  # one payer's claim/appeal status queries of one day


class UnitState(StrEnum):
    PENDING = "pending"                  # waiting to be taken
    IN_PROGRESS = "in-progress"          # taken by a run, under a lease
    DONE = "done"                        # every output written
    FAILED_BUSINESS = "failed-business"  # bad data: one review item; a person decides
    FAILED_SYSTEM = "failed-system"      # the world failed after its retries: taken again

    @property
    def final(self) -> bool:
        return self in (UnitState.DONE, UnitState.FAILED_BUSINESS)


class ReviewKind(StrEnum):
    PORTAL_FAILURE = "portal-failure"            # a pull or status check the portal stopped
    DOCUMENT_FAILED = "document-failed"          # one listed document could not be taken
    UNREADABLE_DOCUMENT = "unreadable-document"  # corrupt, encrypted, not a PDF/835, no text
    UNKNOWN_LAYOUT = "unknown-layout"            # a PDF no layout file matches
    UNBALANCED = "unbalanced"                    # amounts do not add up
    UNKNOWN_CODE = "unknown-code"                # a code the tables or rules do not know
    RENDITIONS_DISAGREE = "renditions-disagree"  # the 835 and the PDF of one remittance differ
    OUTPUT_FAILED = "output-failed"              # a packet or worklist could not be written
    PACKET_CHECK = "packet-check"                # a packet was written but needs a look
    MISSING_DOCUMENT = "missing-document"        # a packet lacks a required document
    STATUS_ACTION = "status-action"              # a claim/appeal status a person must act on
    STATUS_UNREADABLE = "status-unreadable"      # the portal's status answer could not be read
    CONFIG_INVALID = "config-invalid"            # an admin-edited data file is invalid
    MFA_CODE_NEEDED = "mfa-code-needed"          # a portal sent a one-time code to a person

    @property
    def failure(self) -> Failure:
        """System (the world misbehaved: portal, download, a write that the next run redoes) or
        business (the data or a file is wrong: a person decides). The one place of this split."""
        return Failure.SYSTEM if self in _SYSTEM_KINDS else Failure.BUSINESS


#: Review kinds of system failures (the rest are business failures). ``output-failed`` is a
#: system failure: the rows or packet wait in the ledger and the next run that can write them
#: does; ``config-invalid`` is business: no retry fixes a wrong file.
_SYSTEM_KINDS = frozenset({ReviewKind.PORTAL_FAILURE, ReviewKind.DOCUMENT_FAILED,
                           ReviewKind.OUTPUT_FAILED, ReviewKind.MFA_CODE_NEEDED})


class ReviewState(StrEnum):
    """A review item's state (the ``status`` column): open -> in-review -> resolved | dismissed.

    Open and in-review items are *active*: a rerun meeting the same problem counts another
    occurrence on them (never a second item)."""

    OPEN = "open"
    IN_REVIEW = "in-review"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"

    @property
    def active(self) -> bool:
        return self in (ReviewState.OPEN, ReviewState.IN_REVIEW)


class ReviewAbout(StrEnum):
    """What a review item is about (from its kind and context: ``claimwright.review_view``)."""

    REMITTANCE = "remittance"
    CLAIM = "claim"
    PACKET = "packet"
    WORKLIST = "worklist"
    PAYER = "payer"
    CONFIG = "config"


class Route(StrEnum):
    """Where one denial finding goes: exactly one of these (``claimwright.pipeline.routing``)."""

    PACKET = "packet"                                  # an appeal packet for its claim
    CODING = "coding"                                  # the owners' worklists ...
    REGISTRATION = "registration"
    CLINICAL_DOCUMENTATION = "clinical documentation"
    BILLING = "billing"
    REVIEW = "review"                                  # the review queue (a person decides)

    @property
    def worklist(self) -> bool:
        return self not in (Route.PACKET, Route.REVIEW)


class FaultCode(StrEnum):
    """Every error's machine code. ``failure`` says which kind it is."""

    # generic (the base classes' defaults)
    ERROR = "error"
    BUSINESS_ERROR = "business-error"
    SYSTEM_FAULT = "system-fault"
    # portal and browser (system)
    TIMEOUT = "timeout"
    PORTAL_UNREACHABLE = "portal-unreachable"
    PORTAL_MAINTENANCE = "portal-maintenance"
    HTTP_5XX = "http-5xx"
    HTTP_4XX = "http-4xx"
    BROWSER_ERROR = "browser-error"
    BROWSER_LAUNCH_FAILED = "browser-launch-failed"
    BROWSER_MISSING = "browser-missing"
    SESSION_LOST = "session-lost"
    SESSION_DEADLINE = "session-deadline"  # a pull ran past CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S
    LOGIN_REJECTED = "login-rejected"
    CREDENTIALS_MISSING = "credentials-missing"
    MFA_NOT_CONFIGURED = "mfa-not-configured"
    MFA_REJECTED = "mfa-rejected"
    MFA_CODE_NEEDED = "mfa-code-needed"  # an SMS / e-mail code no one entered (in time)
    SECURITY_QUESTION_UNKNOWN = "security-question-unknown"
    CAPTCHA = "captcha"
    LOCATOR_NOT_FOUND = "locator-not-found"
    TABLE_CHANGED = "table-changed"
    SEARCH_REJECTED = "search-rejected"
    PAYER_NOT_OFFERED = "payer-not-offered"
    DOWNLOAD_INTERRUPTED = "download-interrupted"
    DOWNLOAD_TRUNCATED = "download-truncated"
    CIRCUIT_OPEN = "circuit-open"
    BAD_CONFIG = "bad-config"
    LAYOUT_FILE_INVALID = "layout-file-invalid"
    # documents and data (business)
    DOCUMENT_UNAVAILABLE = "document-unavailable"
    BAD_LISTING = "bad-listing"
    BAD_STATUS_ROW = "bad-status-row"
    NOT_A_PDF = "not-a-pdf"
    NOT_835 = "not-835"
    NOT_X12 = "not-x12"
    EMPTY_DOCUMENT = "empty-document"
    CORRUPT_PDF = "corrupt-pdf"
    TRUNCATED_PDF = "truncated-pdf"
    ENCRYPTED_PDF = "encrypted-pdf"
    NO_TEXT = "no-text"
    UNKNOWN_FORMAT = "unknown-format"
    UNREADABLE_DOCUMENT = "unreadable-document"
    UNKNOWN_LAYOUT = "unknown-layout"
    UNBALANCED = "unbalanced"
    RULES_INVALID = "rules-invalid"
    CODE_TABLE_INVALID = "code-table-invalid"
    WORKLIST_UNREADABLE = "worklist-unreadable"
    # hostile input: one verdict per document (issue 13, part "verdict")
    TOO_MANY_PAGES = "too-many-pages"
    MISSING_ENVELOPE = "missing-envelope"
    # hostile documents: the isolated parse (claimwright/parsing/isolation.py)
    PARSE_LIMIT_EXCEEDED = "parse-limit-exceeded"  # content, pages or memory over a limit
    PARSE_TIMEOUT = "parse-timeout"                # the parse ran past its wall-time limit
    PARSE_CRASHED = "parse-crashed"                # the parse process died (signal, abort)
    # downloads and worklists (hostile input)
    DOWNLOAD_PATH_UNSAFE = "download-path-unsafe"

    @property
    def failure(self) -> Failure:
        return Failure.BUSINESS if self in _BUSINESS else Failure.SYSTEM

    @property
    def review_kind(self) -> ReviewKind:
        """The review item a failure with this code opens when its stage names no kind."""
        if self in _UNREADABLE:
            return ReviewKind.UNREADABLE_DOCUMENT
        return _REVIEW_KIND.get(self) or (ReviewKind.DOCUMENT_FAILED
                                          if self.failure is Failure.BUSINESS
                                          else ReviewKind.PORTAL_FAILURE)


_UNREADABLE = frozenset({
    FaultCode.NOT_A_PDF, FaultCode.NOT_835, FaultCode.NOT_X12, FaultCode.EMPTY_DOCUMENT,
    FaultCode.CORRUPT_PDF, FaultCode.TRUNCATED_PDF, FaultCode.ENCRYPTED_PDF, FaultCode.NO_TEXT,
    FaultCode.UNKNOWN_FORMAT, FaultCode.UNREADABLE_DOCUMENT,
    FaultCode.TOO_MANY_PAGES, FaultCode.MISSING_ENVELOPE,  # part "verdict"
    # hostile documents: quarantined until a person's "retry now"
    FaultCode.PARSE_LIMIT_EXCEEDED, FaultCode.PARSE_TIMEOUT, FaultCode.PARSE_CRASHED})
_BUSINESS = _UNREADABLE | frozenset({
    FaultCode.BUSINESS_ERROR, FaultCode.DOCUMENT_UNAVAILABLE, FaultCode.BAD_LISTING,
    FaultCode.BAD_STATUS_ROW, FaultCode.UNKNOWN_LAYOUT, FaultCode.UNBALANCED,
    FaultCode.RULES_INVALID, FaultCode.CODE_TABLE_INVALID,
    FaultCode.DOWNLOAD_PATH_UNSAFE})  # downloads and worklists (hostile input)
_REVIEW_KIND = {
    FaultCode.UNKNOWN_LAYOUT: ReviewKind.UNKNOWN_LAYOUT,
    FaultCode.UNBALANCED: ReviewKind.UNBALANCED,
    FaultCode.RULES_INVALID: ReviewKind.CONFIG_INVALID,
    FaultCode.CODE_TABLE_INVALID: ReviewKind.CONFIG_INVALID,
    FaultCode.LAYOUT_FILE_INVALID: ReviewKind.CONFIG_INVALID,
    FaultCode.BAD_CONFIG: ReviewKind.CONFIG_INVALID,
    FaultCode.MFA_CODE_NEEDED: ReviewKind.MFA_CODE_NEEDED,
    FaultCode.WORKLIST_UNREADABLE: ReviewKind.OUTPUT_FAILED,
}
