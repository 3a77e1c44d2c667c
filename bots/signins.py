"""Saved sign-ins (Playwright ``storage_state``): a credential, kept outside the repo, owner-only.

A pull reuses the saved state of its payer/portal/user so it need not sign in (and answer a
one-time code) every run. The file holds session cookies, so it is treated like a password:

- it lives in ``$CLAIMWRIGHT_SESSION_DIR`` (default ``$XDG_STATE_HOME/claimwright/sessions``, i.e.
  ``~/.local/state/claimwright/sessions``), never inside the project folder;
- the folder is ``0700`` and the file ``0600``, written atomically;
- before reuse the file must belong to this user and be unreadable by others; otherwise it is
  deleted and the bot signs in afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from .config import ConfigError

log = logging.getLogger("claimwright.bots")

SESSION_DIR_ENV = "CLAIMWRIGHT_SESSION_DIR"
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_session_dir(env: dict[str, str] | None = None) -> Path:
    """``Settings.session_dir``: $CLAIMWRIGHT_SESSION_DIR, else $XDG_STATE_HOME/claimwright/..."""
    from claimwright.settings import Settings

    return Settings.from_env(env).session_dir


def state_path(session_dir: Path, payer: str, base_url: str, username: str) -> Path:
    """One file per payer, portal and user; the name reveals neither URL nor user."""
    session_dir = Path(session_dir).expanduser().resolve()
    if session_dir.is_relative_to(PROJECT_ROOT):
        raise ConfigError(f"saved sign-ins are credentials and must live outside the project "
                          f"folder, not in {session_dir} (set {SESSION_DIR_ENV})",
                          variable=SESSION_DIR_ENV, path=str(session_dir))
    key = hashlib.sha256(f"{base_url}\n{username}".encode()).hexdigest()[:16]
    return session_dir / f"{payer}-{key}.json"


def _private(path: Path) -> bool:
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)


def usable_state(path: Path) -> str | None:
    """``path`` as a string when it is safe to reuse; an unsafe file is deleted."""
    if not path.is_file():
        return None
    try:
        if _private(path) and _private(path.parent):
            json.loads(path.read_text(encoding="utf-8"))
            return str(path)
        log.warning("saved sign-in %s is readable by others or not ours: deleted, signing in "
                    "afresh", path.name)
    except (OSError, ValueError):
        log.warning("saved sign-in %s is unreadable: deleted, signing in afresh", path.name)
    path.unlink(missing_ok=True)
    return None


def save_state(state: dict[str, Any], path: Path) -> None:
    """Write ``state`` to ``path`` with mode 0600 in a 0700 folder, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state, handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def forget_state(path: Path) -> None:
    path.unlink(missing_ok=True)
