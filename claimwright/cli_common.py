"""What every ``claimwright`` command module shares: how a command fails, and who acts."""

from __future__ import annotations

import getpass

import typer


def fail(message: str, code: int = 2) -> None:
    """``error: message`` on stderr, then exit with ``code`` (2: usage or refused)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def actor(by: str | None) -> str:
    """The name a command records as having acted: ``--by``, else the OS user name."""
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "unknown"
