"""Generic Playwright bot engine driven by per-payer configs in ``selectors/<payer>.yaml``.

Main entry point: :func:`pull_remittances`. Playwright is imported lazily (only when a pull
starts), so importing this package is cheap.
"""

from .browser import CHROMIUM_ARGS, CHROMIUM_ENV, BrowserMissing, launch_browser, resolve_chromium
from .config import (
    ConfigError,
    LocatorSpec,
    PayerConfig,
    load_payer_config,
    parse_payer_config,
    selectors_dir,
)
from .documents import document_path, pdf_problem, safe_stem
from .engine import (
    DownloadedDocument,
    FailedDocument,
    ListedRemittance,
    PullResult,
    pull_remittances,
)

__all__ = [
    "CHROMIUM_ARGS", "CHROMIUM_ENV", "BrowserMissing", "ConfigError", "DownloadedDocument",
    "FailedDocument", "ListedRemittance", "LocatorSpec", "PayerConfig", "PullResult",
    "document_path", "launch_browser", "load_payer_config", "parse_payer_config", "pdf_problem",
    "pull_remittances", "resolve_chromium", "safe_stem", "selectors_dir",
]
