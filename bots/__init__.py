"""Playwright bots driven by per-payer configs in ``selectors/<payer>.yaml``.

Entry points: :func:`pull_remittances` (remittance documents) and :func:`check_statuses`
(claim/appeal status pages). Layout: ``runtime`` (steps, retries, evidence, budgets),
``session`` (a browser context signed in), ``components`` (page components), ``portals``
(flows composed from them). Playwright is imported lazily (only when a browser starts), so
importing this package is cheap.
"""

from .browser import (
    CHROMIUM_ARGS,
    CHROMIUM_ENV,
    BrowserMissing,
    close_thread_browser,
    launch_browser,
    resolve_chromium,
    thread_browser,
)
from .config import (
    ConfigError,
    LocatorSpec,
    PayerConfig,
    load_payer_config,
    parse_payer_config,
    selectors_dir,
)
from .documents import document_path, pdf_problem, safe_stem
from .models import (
    DownloadedDocument,
    FailedDocument,
    ListedRemittance,
    PullResult,
    StatusQuery,
    StatusReport,
)
from .portals.claim_status import FailedQuery, StatusResult, check_statuses
from .pull import pull_remittances

__all__ = [
    "CHROMIUM_ARGS", "CHROMIUM_ENV", "BrowserMissing", "ConfigError", "DownloadedDocument",
    "FailedDocument", "FailedQuery", "ListedRemittance", "LocatorSpec", "PayerConfig",
    "PullResult", "StatusQuery", "StatusReport", "StatusResult", "check_statuses",
    "close_thread_browser", "document_path", "launch_browser", "load_payer_config",
    "parse_payer_config", "pdf_problem", "pull_remittances", "resolve_chromium", "safe_stem",
    "selectors_dir", "thread_browser",
]
