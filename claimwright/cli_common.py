"""What every ``claimwright`` command module shares: how a command fails, who acts, and the one
verdict (and exit code) a remittance document gets.

Exit codes (docs/cli.md), the same for a given outcome in every command:

- 0 ``EXIT_OK``: done; for a document, it was read and it balances.
- 1 ``EXIT_UNVERIFIED``: a document was read but does not balance or is damaged (it has
  problems): its numbers cannot be trusted.
- 2 ``EXIT_REFUSED``: a usage error, or a typed business error (:func:`exit_code`): the input
  cannot be used at all (an unreadable document, an unknown layout, an invalid data file).
- 3 ``EXIT_SYSTEM``: a typed system fault (the world misbehaved; trying again may help).
"""

from __future__ import annotations

import getpass
from enum import StrEnum
from typing import TYPE_CHECKING, NoReturn

import typer

from .errors import ClaimwrightError
from .types import Failure, FaultCode

if TYPE_CHECKING:  # pragma: no cover
    from .models import Remittance

EXIT_OK = 0
EXIT_UNVERIFIED = 1
EXIT_REFUSED = 2
EXIT_SYSTEM = 3


def fail(message: str, code: int = EXIT_REFUSED) -> NoReturn:
    """``error: message`` on stderr, then exit with ``code`` (2: usage or refused)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def exit_code(code: FaultCode | str) -> int:
    """The exit code of a command ended by a typed error with this code: the one mapping
    FaultCode -> exit code (business: 2, system: 3)."""
    return EXIT_SYSTEM if FaultCode(code).failure is Failure.SYSTEM else EXIT_REFUSED


def fail_error(exc: ClaimwrightError, prefix: str = "") -> NoReturn:
    """End a command on a typed error: ``error: [prefix]code: message``, exit :func:`exit_code`."""
    fail(f"{prefix}{exc.code}: {exc}", exit_code(exc.code))


class Verdict(StrEnum):
    """What a remittance document is worth: the same for ``parse`` and ``categorize``."""

    BALANCED = "balanced"      # read, and every balancing and structural check passed
    UNVERIFIED = "unverified"  # read, but it has problems: the numbers cannot be trusted
    UNREADABLE = "unreadable"  # not read at all (a typed DocumentError)

    @property
    def exit_code(self) -> int:
        return {Verdict.BALANCED: EXIT_OK, Verdict.UNVERIFIED: EXIT_UNVERIFIED}.get(
            self, EXIT_REFUSED)


def document_verdict(remits: list[Remittance]) -> Verdict:
    """Balanced only when every remittance of the document is."""
    return Verdict.BALANCED if all(r.balanced for r in remits) else Verdict.UNVERIFIED


def verdict_line(remits: list[Remittance]) -> str:
    """One line saying the verdict; for an unverified document, which kinds of problem (codes
    only: messages may quote PHI) and that its numbers cannot be trusted."""
    if document_verdict(remits) is Verdict.BALANCED:
        return "balanced: every amount adds up"
    codes = sorted({p.code for r in remits for p in r.problems})
    count = sum(len(r.problems) for r in remits)
    return (f"unverified: the document does not balance or is damaged ({count} problem(s): "
            f"{', '.join(codes)}); its numbers cannot be trusted")


def read_document(file, *, layout: str | None = None) -> list[Remittance]:
    """Parse a remittance file; a typed error ends the command (verdict unreadable)."""
    from .parsing import parse_file

    try:
        return parse_file(file, layout=layout)
    except ClaimwrightError as exc:
        fail_error(exc)


def actor(by: str | None) -> str:
    """The name a command records as having acted: ``--by``, else the OS user name."""
    if by and by.strip():
        return by.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "unknown"
