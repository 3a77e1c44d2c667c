"""Page components: the parts a portal flow is composed of (Playwright's page-object model).

- :class:`PortalPage`: the tab (navigation with status checks, locators, frames);
- :class:`LoginForm`: sign-in (one-page or identifier-first), one-time codes (TOTP, or SMS /
  e-mail codes a person enters) and security questions;
- :class:`SearchForm`: date-range search, an option picked from a list, its outcome;
- :class:`ResultsTable`: the one results-row reader (headers -> columns, unreadable rows);
- :class:`DocumentDownload`: fetch, check, save a document; the one HTTP-answer classification;
- :class:`DownloadButton`: documents that come from pressing a row's button (download events,
  inline answers);
- :class:`StatusPage`: a claim/appeal status page.

Each takes the session's :class:`PortalPage`; faults are made with ``portal.rt.fault`` and steps
run with ``portal.rt.step`` (the one retry layer).
"""

from .download import DocumentDownload, SavedFile
from .download_button import DownloadButton
from .login import LoginForm
from .page import MAINTENANCE_TEXT, PortalPage
from .results import ResultsPage, ResultsTable, Row, norm, parse_amount
from .search import SearchForm
from .status_page import StatusPage

__all__ = [
    "MAINTENANCE_TEXT", "DocumentDownload", "DownloadButton", "LoginForm", "PortalPage",
    "ResultsPage", "ResultsTable", "Row", "SavedFile", "SearchForm", "StatusPage", "norm",
    "parse_amount",
]
