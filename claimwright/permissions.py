"""Owner-only files: the process umask and the start-up check of the home and output folders.

Everything Claimwright writes under ``CLAIMWRIGHT_HOME`` and ``CLAIMWRIGHT_OUT`` holds PHI or
secrets (the ledger, downloads, evidence and traces, packets, worklists, reports): folders are
0700, files 0600. Two layers:

- :func:`private_process` sets the umask to 077 at every entry point (the CLI, the flows, the
  console, the demo, a retry's child process), so whatever a library creates is owner-only;
- the writers make their files owner-only themselves (:mod:`claimwright.fileio`), so an import
  from another program with a looser umask is safe too.

:func:`check_private` walks both folders (at most :data:`CHECK_LIMIT` entries, stopping after
:data:`MAX_FINDINGS` findings) and :func:`warn_if_shared` logs one warning naming the count, the
first paths and the fix. The CLI and the flows call :func:`startup` before they work.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .settings import Settings

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
MAX_FINDINGS = 20  # the check stops after this many paths others can reach
CHECK_LIMIT = 200_000  # entries walked at most (a start-up check must stay quick)
_SHOWN = 3  # paths named in the warning


@dataclass
class Findings:
    """What :func:`check_private` found: paths group or others can read, write or enter."""
    paths: list[Path] = field(default_factory=list)
    walked: int = 0
    complete: bool = True  # False: stopped at MAX_FINDINGS or CHECK_LIMIT

    def __bool__(self) -> bool:
        return bool(self.paths)

    def message(self, roots: list[Path]) -> str:
        more = "+" if not self.complete else ""
        shown = ", ".join(str(p) for p in self.paths[:_SHOWN])
        rest = f" and {len(self.paths) - _SHOWN}{more} more" if len(self.paths) > _SHOWN else ""
        return (f"{len(self.paths)}{more} path(s) under the Claimwright folders can be read by "
                f"other users (they hold PHI): {shown}{rest}. Fix: chmod -R go-rwx "
                + " ".join(str(r) for r in roots))


def private_process() -> int:
    """Make every file this process creates owner-only (umask 077); the previous umask."""
    return os.umask(PRIVATE_UMASK)


def roots(settings: Settings) -> list[Path]:
    """The folders the project writes PHI under: home and out (and reports when elsewhere)."""
    found: list[Path] = []
    for path in (settings.home, settings.out, settings.reports):
        if not any(path == r or r in path.parents for r in found):
            found.append(path)
    return found


def check_private(settings: Settings, *, limit: int = MAX_FINDINGS,
                  walk_limit: int = CHECK_LIMIT) -> Findings:
    """Every folder or file under home and out that group or others may use (bounded)."""
    findings = Findings()
    for root in roots(settings):
        if not root.exists():
            continue
        for path in _walk(root):
            findings.walked += 1
            try:
                mode = path.lstat().st_mode
            except OSError:  # gone meanwhile
                continue
            if not stat.S_ISLNK(mode) and mode & 0o077:
                findings.paths.append(path)
            if len(findings.paths) >= limit or findings.walked >= walk_limit:
                findings.complete = False
                return findings
    return findings


def _walk(root: Path):
    yield root
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            yield Path(folder) / name


def warn_if_shared(settings: Settings, logger: logging.Logger | logging.LoggerAdapter | None
                   = None) -> Findings:
    """Log one warning (on ``logger``, e.g. a Prefect run logger) when :func:`check_private`
    finds anything; the findings."""
    findings = check_private(settings)
    if findings:
        (logger or log).warning("%s", findings.message(roots(settings)))
    return findings


def startup(settings: Settings | None = None, *,
            logger: logging.Logger | logging.LoggerAdapter | None = None) -> Findings:
    """What every entry point does first: owner-only umask, then the check (a warning)."""
    private_process()
    return warn_if_shared(settings or Settings.from_env(), logger)
