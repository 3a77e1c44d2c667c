"""Every ``CLAIMWRIGHT_*`` environment variable, its default and what it means, in one object.

``Settings.from_env()`` reads them all (pass ``env`` to read a dict instead of ``os.environ``);
modules take their path or URL from a :class:`Settings`, never from the environment directly.
Settings are read when asked for, so a changed variable counts from the next call on.

| variable | default | what |
| --- | --- | --- |
| CLAIMWRIGHT_HOME | ./var | working state: ledger database, downloads, evidence, portal data |
| CLAIMWRIGHT_OUT | ./out | outputs people use: packets, worklists, reports |
| CLAIMWRIGHT_OUTPUT_STORE | local | where outputs are written: ``local`` (the folder CLAIMWRIGHT_OUT); other kinds plug in (claimwright/output_store.py) |
| CLAIMWRIGHT_DATABASE_URL | sqlite:///$CLAIMWRIGHT_HOME/claimwright.db | the ledger (any SQLAlchemy URL) |
| CLAIMWRIGHT_PRACTICE | claimwright/packets/practice.yaml | the signing practice of appeal letters (replaces the shipped file whole) |
| CLAIMWRIGHT_LETTERS | (unset: the shipped letters only) | a folder of appeal letter templates searched before claimwright/packets/letters/ (same file names; ``payers/<payer id>/`` for one payer's wording) |
| CLAIMWRIGHT_RULES | claimwright/rules/rules.yaml | denial rules, the unknown-code decision, priority settings |
| CLAIMWRIGHT_LOCAL_RULES | $CLAIMWRIGHT_HOME/local-rules.yaml | rules people of the practice added (``claimwright rules categorize``), tried before the shipped rules; no file: none (docs/rules.md) |
| CLAIMWRIGHT_DEADLINES | claimwright/rules/deadlines.yaml | appeal and resubmission windows per payer |
| CLAIMWRIGHT_CODES | claimwright/codes/ | directory of the code tables (CSV files + tables.yaml) |
| CLAIMWRIGHT_FOLLOWUP | claimwright/rules/followup.yaml | follow-up rules: portal status text -> status, next check |
| CLAIMWRIGHT_DOCUMENTATION | claimwright/rules/documentation.yaml | the documentation or coding element each denial reason points to (feedback report) |
| CLAIMWRIGHT_REPORTS | $CLAIMWRIGHT_OUT/reports | the monthly feedback reports (xlsx, pdf, chart images) |
| CLAIMWRIGHT_CLAIM_EXPORT | $CLAIMWRIGHT_HOME/claim-export.csv | the practice's claim export (CSV from the practice-management system): dates of birth, diagnosis codes, rendering providers the remittances do not print; no file: no enrichment (docs/claim-export.md) |
| CLAIMWRIGHT_DOCUMENTS | $CLAIMWRIGHT_HOME/documents | supporting documents of appeal packets, one folder per patient account (docs/forms-and-documents.md) |
| CLAIMWRIGHT_FORMS | claimwright/packets/forms.yaml | the payers' appeal forms and how their fields are filled (docs/forms-and-documents.md) |
| CLAIMWRIGHT_REVIEW_SLA | claimwright/review_sla.yaml | days a review item may wait, per kind, before it is an SLA breach (docs/operations.md) |
| CLAIMWRIGHT_REWORK_COST | 25.00 | estimated cost of working one denied claim again, in dollars (feedback report) |
| CLAIMWRIGHT_SELECTORS_DIR | selectors/ | per-payer bot configs (``<payer>.yaml``) |
| CLAIMWRIGHT_LAYOUTS_DIR | (unset: the shipped layouts only) | folders of PDF layout files (``*.yaml``), several separated by ``os.pathsep`` (``:``), searched before claimwright/layouts/ (always last); a layout there overrides a shipped one of the same ``name`` (docs/layouts.md) |
| CLAIMWRIGHT_SESSION_DIR | $XDG_STATE_HOME/claimwright/sessions (~/.local/state/...) | saved portal sign-ins (outside the project) |
| CLAIMWRIGHT_WORKLIST_VERSIONS | 5 | previous versions of each worklist workbook kept in ``out/worklists/.versions/`` (0: none) |
| CLAIMWRIGHT_CONSOLE_USERS | $CLAIMWRIGHT_HOME/console-users.yaml | the review console's users, roles and password hashes (``claimwright console user-add``; docs/console.md) |
| CLAIMWRIGHT_CONSOLE_IDLE_MINUTES | 15 | a console session ends after this many minutes without a request (at least 1) |
| CLAIMWRIGHT_CONSOLE_URL | http://127.0.0.1:8765 | where people open the review console: the base of the console links in run artifacts |
| CLAIMWRIGHT_CONSOLE_SECURE_COOKIES | 0 | 1: the console's cookies are ``Secure`` (always behind https); 0: only when the request came over https |
| CLAIMWRIGHT_CHROMIUM | (unset: /usr/bin/chromium, else Playwright's) | Chromium executable for the bots |
| CLAIMWRIGHT_PARSE_ISOLATION | 1 | 1: the pipeline parses each document in a reused worker process under the limits below (docs/operations.md, "Hostile documents"); 0: in the run's own process, without the memory and time limits (debugging only) |
| CLAIMWRIGHT_PARSE_MEMORY_MB | 3072 | address-space limit of a parse worker process, MB (0: none) |
| CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S | 2700 | wall time one payer's portal session (a pull) may take; past it the pull stops, keeping what it downloaded, seconds (0: none) |
| CLAIMWRIGHT_PARSE_TIMEOUT_S | 180 | wall time one document's parse may take before its worker is killed, seconds (0: none) |
| CLAIMWRIGHT_PARSE_PAGE_CONTENT_MB | 16 | decompressed content streams one PDF page may hold, MB, checked before the page is parsed (0: none) |
| CLAIMWRIGHT_<PAYER>_URL | (unset: ``portal.base_url`` of the payer's selectors file) | a payer portal's base URL, e.g. CLAIMWRIGHT_NORTHWIND_URL; the selectors file names the variable (``portal.base_url_env``) |

Not read here, on purpose: ``CLAIMWRIGHT_<PAYER>_USERNAME`` / ``_PASSWORD`` / ``_TOTP`` (credential
*references* a selectors file names; the bot reads them at sign-in and nothing keeps them) and
``CLAIMWRIGHT_ROOT`` (used by ``prefect.yaml`` on the worker machine only).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Mapping

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
_PORTAL_URL = re.compile(r"^CLAIMWRIGHT_([A-Z0-9_]+)_URL$")
_NOT_PORTALS = {"DATABASE"}
DEFAULT_REWORK_COST = Decimal("25.00")
CLAIM_EXPORT_NAME = "claim-export.csv"  # the claim export's default name, in CLAIMWRIGHT_HOME
CONSOLE_USERS_NAME = "console-users.yaml"  # the console's users file, in CLAIMWRIGHT_HOME
DEFAULT_CONSOLE_URL = "http://127.0.0.1:8765"  # ``claimwright console serve``'s default
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}
LOCAL_RULES_NAME = "local-rules.yaml"  # the local rules file's default name, in CLAIMWRIGHT_HOME


class SettingsError(ValueError):
    """A ``CLAIMWRIGHT_*`` variable holds a value that cannot be used; names the variable."""


@dataclass(frozen=True)
class Variable:
    name: str
    field: str  # the Settings attribute it sets
    meaning: str
    kind: str = "path"  # "path", "paths" (os.pathsep-separated), "url" (text), "count" (a whole
    # number >= 0), "money" (dollars), "flag" (1/true/yes/on or 0/false/no/off)


#: The variables :meth:`Settings.from_env` reads, for help texts and checks.
VARIABLES = (
    Variable("CLAIMWRIGHT_HOME", "home", "working state: ledger, downloads, evidence"),
    Variable("CLAIMWRIGHT_OUT", "out", "outputs people use: packets, worklists"),
    Variable("CLAIMWRIGHT_OUTPUT_STORE", "output_store",
             "output storage kind (local: the folder CLAIMWRIGHT_OUT)", kind="url"),
    Variable("CLAIMWRIGHT_DATABASE_URL", "database_url", "the ledger (SQLAlchemy URL)",
             kind="url"),
    Variable("CLAIMWRIGHT_PRACTICE", "practice", "the signing practice of appeal letters"),
    Variable("CLAIMWRIGHT_LETTERS", "letters", "appeal letter templates searched first"),
    Variable("CLAIMWRIGHT_RULES", "rules", "denial rules file"),
    Variable("CLAIMWRIGHT_LOCAL_RULES", "local_rules",
             "local rules (codes categorized by people), tried before the shipped rules"),
    Variable("CLAIMWRIGHT_DEADLINES", "deadlines", "appeal windows file"),
    Variable("CLAIMWRIGHT_CODES", "codes", "code table directory"),
    Variable("CLAIMWRIGHT_FOLLOWUP", "followup", "follow-up rules file"),
    Variable("CLAIMWRIGHT_DOCUMENTATION", "documentation", "documentation elements file"),
    Variable("CLAIMWRIGHT_REPORTS", "reports", "feedback reports directory"),
    Variable("CLAIMWRIGHT_CLAIM_EXPORT", "claim_export",
             "the practice's claim export (CSV): dates of birth, diagnoses, providers"),
    Variable("CLAIMWRIGHT_DOCUMENTS", "documents", "supporting documents folder (appeal packets)"),
    Variable("CLAIMWRIGHT_FORMS", "forms", "payer appeal forms file"),
    Variable("CLAIMWRIGHT_REVIEW_SLA", "review_sla", "review SLA file (days per kind)"),
    Variable("CLAIMWRIGHT_REWORK_COST", "rework_cost", "cost of reworking one denied claim",
             kind="money"),
    Variable("CLAIMWRIGHT_SELECTORS_DIR", "selectors_dir", "per-payer bot configs"),
    Variable("CLAIMWRIGHT_LAYOUTS_DIR", "layouts_dirs",
             "PDF layout folders searched before the shipped ones", kind="paths"),
    Variable("CLAIMWRIGHT_SESSION_DIR", "session_dir", "saved portal sign-ins"),
    Variable("CLAIMWRIGHT_CONSOLE_USERS", "console_users", "the review console's users file"),
    Variable("CLAIMWRIGHT_CONSOLE_IDLE_MINUTES", "console_idle_minutes",
             "console session idle timeout, minutes", kind="count"),
    Variable("CLAIMWRIGHT_CONSOLE_URL", "console_url", "the review console's base URL (links)",
             kind="url"),
    Variable("CLAIMWRIGHT_CONSOLE_SECURE_COOKIES", "console_secure_cookies",
             "console cookies always Secure", kind="flag"),
    Variable("CLAIMWRIGHT_CHROMIUM", "chromium", "Chromium executable for the bots"),
    Variable("CLAIMWRIGHT_WORKLIST_VERSIONS", "worklist_versions",
             "previous worklist versions kept", kind="count"),
    Variable("CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S", "portal_session_limit_s",
             "wall time of one payer's portal session, seconds (0: none)", kind="count"),
    # hostile documents: the isolated parse (claimwright/parsing/isolation.py)
    Variable("CLAIMWRIGHT_PARSE_ISOLATION", "parse_isolation",
             "parse documents in a worker process with limits", kind="flag"),
    Variable("CLAIMWRIGHT_PARSE_MEMORY_MB", "parse_memory_mb",
             "parse worker address-space limit, MB (0: none)", kind="count"),
    Variable("CLAIMWRIGHT_PARSE_TIMEOUT_S", "parse_timeout_s",
             "wall-time limit of one document's parse, seconds (0: none)", kind="count"),
    Variable("CLAIMWRIGHT_PARSE_PAGE_CONTENT_MB", "parse_page_content_mb",
             "decompressed content limit per PDF page, MB (0: none)", kind="count"),
)


def _default_session_dir(env: Mapping[str, str]) -> Path:
    state_home = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state_home / "claimwright" / "sessions"


@dataclass(frozen=True)
class Settings:
    home: Path
    out: Path
    database_url: str
    practice: Path = PACKAGE_DIR / "packets" / "practice.yaml"
    letters: Path | None = None  # None: the shipped letters only (claimwright/packets/letters)
    rules: Path = PACKAGE_DIR / "rules" / "rules.yaml"
    local_rules: Path = None  # type: ignore[assignment]  # None: home / local-rules.yaml
    deadlines: Path = PACKAGE_DIR / "rules" / "deadlines.yaml"
    codes: Path = PACKAGE_DIR / "codes"
    followup: Path = PACKAGE_DIR / "rules" / "followup.yaml"
    documentation: Path = PACKAGE_DIR / "rules" / "documentation.yaml"
    reports: Path = None  # type: ignore[assignment]  # None given: $CLAIMWRIGHT_OUT/reports
    documents: Path = None  # type: ignore[assignment]  # None given: $CLAIMWRIGHT_HOME/documents
    forms: Path = PACKAGE_DIR / "packets" / "forms.yaml"
    review_sla: Path = PACKAGE_DIR / "review_sla.yaml"
    rework_cost: Decimal = DEFAULT_REWORK_COST  # dollars per denied claim worked again
    claim_export: Path = None  # type: ignore[assignment]  # None: home / claim-export.csv
    selectors_dir: Path = PROJECT_DIR / "selectors"
    layouts_dirs: tuple[Path, ...] = ()  # admins' layout folders; claimwright/layouts/ comes last
    session_dir: Path = field(default_factory=lambda: _default_session_dir(os.environ))
    chromium: Path | None = None  # None: /usr/bin/chromium when present, else Playwright's
    portal_urls: Mapping[str, str] = field(default_factory=dict)  # payer -> base URL
    worklist_versions: int = 5
    console_users: Path = None  # type: ignore[assignment]  # None: home / console-users.yaml
    console_idle_minutes: int = 15
    console_secure_cookies: bool = False
    console_url: str = DEFAULT_CONSOLE_URL  # the console as people open it (artifact links)
    # hostile documents: the isolated parse (claimwright/parsing/isolation.py)
    parse_isolation: bool = True
    parse_memory_mb: int = 3072
    #: below the pull unit's 60-minute lease, so a pull never outlives its lease
    portal_session_limit_s: int = 2700
    parse_timeout_s: int = 180
    parse_page_content_mb: int = 16
    output_store: str = "local"  # claimwright/output_store.py

    def __post_init__(self) -> None:
        if self.reports is None:
            object.__setattr__(self, "reports", self.out / "reports")
        if self.claim_export is None:
            object.__setattr__(self, "claim_export", self.home / CLAIM_EXPORT_NAME)
        if self.documents is None:
            object.__setattr__(self, "documents", self.home / "documents")
        if self.console_users is None:
            object.__setattr__(self, "console_users", self.home / CONSOLE_USERS_NAME)
        if self.local_rules is None:
            object.__setattr__(self, "local_rules", self.home / LOCAL_RULES_NAME)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)

        def given(name: str) -> str:
            return (env.get(name) or "").strip()

        def path(name: str, default: Path) -> Path:
            return Path(given(name)).expanduser() if given(name) else default

        def count(name: str, default: int) -> int:
            text = given(name)
            if not text:
                return default
            if not text.isdigit():
                raise SettingsError(f"{name}={text!r}: expected a whole number (0 or more)")
            return int(text)

        def flag(name: str, default: bool) -> bool:
            text = given(name).lower()
            if not text:
                return default
            if text not in _TRUE | _FALSE:
                raise SettingsError(f"{name}={given(name)!r}: expected 1 or 0 (true/false)")
            return text in _TRUE

        home = Path(given("CLAIMWRIGHT_HOME") or "var").resolve()
        out = Path(given("CLAIMWRIGHT_OUT") or "out").resolve()
        urls = {m.group(1).lower(): value.strip() for name, value in env.items()
                if (m := _PORTAL_URL.match(name)) and m.group(1) not in _NOT_PORTALS
                and value.strip()}
        return cls(
            home=home, out=out,
            database_url=given("CLAIMWRIGHT_DATABASE_URL") or f"sqlite:///{home / 'claimwright.db'}",
            practice=path("CLAIMWRIGHT_PRACTICE", cls.practice),
            letters=Path(given("CLAIMWRIGHT_LETTERS")).expanduser()
            if given("CLAIMWRIGHT_LETTERS") else None,
            rules=path("CLAIMWRIGHT_RULES", cls.rules),
            local_rules=path("CLAIMWRIGHT_LOCAL_RULES", home / LOCAL_RULES_NAME),
            deadlines=path("CLAIMWRIGHT_DEADLINES", cls.deadlines),
            codes=path("CLAIMWRIGHT_CODES", cls.codes),
            followup=path("CLAIMWRIGHT_FOLLOWUP", cls.followup),
            documentation=path("CLAIMWRIGHT_DOCUMENTATION", cls.documentation),
            reports=path("CLAIMWRIGHT_REPORTS", out / "reports"),
            claim_export=path("CLAIMWRIGHT_CLAIM_EXPORT", home / CLAIM_EXPORT_NAME),
            documents=path("CLAIMWRIGHT_DOCUMENTS", home / "documents"),
            forms=path("CLAIMWRIGHT_FORMS", cls.forms),
            review_sla=path("CLAIMWRIGHT_REVIEW_SLA", cls.review_sla),
            rework_cost=_amount("CLAIMWRIGHT_REWORK_COST", given("CLAIMWRIGHT_REWORK_COST"),
                                DEFAULT_REWORK_COST),
            selectors_dir=path("CLAIMWRIGHT_SELECTORS_DIR", cls.selectors_dir),
            layouts_dirs=tuple(Path(part.strip()).expanduser() for part in
                               given("CLAIMWRIGHT_LAYOUTS_DIR").split(os.pathsep)
                               if part.strip()),
            session_dir=path("CLAIMWRIGHT_SESSION_DIR", _default_session_dir(env)),
            chromium=Path(given("CLAIMWRIGHT_CHROMIUM")).expanduser()
            if given("CLAIMWRIGHT_CHROMIUM") else None,
            worklist_versions=count("CLAIMWRIGHT_WORKLIST_VERSIONS", cls.worklist_versions),
            console_users=path("CLAIMWRIGHT_CONSOLE_USERS", home / CONSOLE_USERS_NAME),
            console_idle_minutes=count("CLAIMWRIGHT_CONSOLE_IDLE_MINUTES",
                                       cls.console_idle_minutes),
            console_secure_cookies=flag("CLAIMWRIGHT_CONSOLE_SECURE_COOKIES",
                                        cls.console_secure_cookies),
            console_url=(given("CLAIMWRIGHT_CONSOLE_URL") or cls.console_url).rstrip("/"),
            portal_urls=urls,
            parse_isolation=flag("CLAIMWRIGHT_PARSE_ISOLATION", cls.parse_isolation),
            parse_memory_mb=count("CLAIMWRIGHT_PARSE_MEMORY_MB", cls.parse_memory_mb),
            portal_session_limit_s=count("CLAIMWRIGHT_PORTAL_SESSION_LIMIT_S",
                                         cls.portal_session_limit_s),
            parse_timeout_s=count("CLAIMWRIGHT_PARSE_TIMEOUT_S", cls.parse_timeout_s),
            parse_page_content_mb=count("CLAIMWRIGHT_PARSE_PAGE_CONTENT_MB",
                                        cls.parse_page_content_mb),
            output_store=given("CLAIMWRIGHT_OUTPUT_STORE") or cls.output_store,
        )

    def portal_url(self, payer: str) -> str | None:
        """``$CLAIMWRIGHT_<PAYER>_URL`` when set (``None``: use the selectors file's base_url)."""
        return self.portal_urls.get(payer.lower().replace("-", "_"))

    @property
    def layout_search_path(self) -> tuple[Path, ...]:
        """Where PDF layouts are looked for, in order: CLAIMWRIGHT_LAYOUTS_DIR's folders, then
        the shipped ``claimwright/layouts/`` (always last, never twice)."""
        shipped = PACKAGE_DIR / "layouts"
        mine = [p for p in self.layouts_dirs if p.resolve() != shipped]
        return (*dict.fromkeys(mine), shipped)

    @property
    def downloads(self) -> Path:
        return self.home / "downloads"

    @property
    def evidence(self) -> Path:
        return self.home / "evidence"

    @property
    def portal_data(self) -> Path:
        return self.home / "portal-data"

    @property
    def packets(self) -> Path:
        return self.out / "packets"

    @property
    def worklist(self) -> Path:
        """The coding worklist (see :meth:`worklist_for` for every owner's)."""
        return self.worklist_for("coding")

    def worklist_for(self, owner: str) -> Path:
        """The worklist workbook of ``owner``: ``out/worklists/<owner>-worklist.xlsx``."""
        return self.out / "worklists" / f"{owner.replace(' ', '-')}-worklist.xlsx"

    def feedback_report(self, month: str, suffix: str) -> Path:
        """``reports/feedback-<YYYY-MM><suffix>``: ``.xlsx``, ``.pdf``, ``-patterns.png`` ..."""
        return self.reports / f"feedback-{month}{suffix}"

    def ensure_dirs(self) -> None:
        """The working folders, created owner-only (0700)."""
        from .fileio import private_dir

        for path in (self.home, self.downloads, self.evidence, self.packets, self.worklist.parent):
            private_dir(path)


def _amount(name: str, text: str, default: Decimal) -> Decimal:
    """A dollar amount from a variable ("25", "31.50"); the default when unset."""
    if not text:
        return default
    from .models import money

    try:
        value = money(text)
    except ValueError:
        raise SettingsError(f"{name} must be a dollar amount such as 25.00, not {text!r}") \
            from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, not {text!r}")
    return value
