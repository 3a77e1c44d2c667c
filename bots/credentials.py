"""Portal credentials: read from the environment variable, else the Prefect Secret block, named
in the payer config (never from YAML). Missing ones fail before any browser starts."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from claimwright.errors import SystemFault
from claimwright.types import FaultCode

from .config import PayerConfig

log = logging.getLogger("claimwright.bots")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    totp_secret: str | None = None
    #: (question words, answer) of each ``credentials.security_answers`` entry
    answers: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:
        return "Credentials(***)"

    @property
    def secrets(self) -> tuple[str | None, ...]:
        """The values no log, fault, trace or screenshot may show."""
        return (self.username, self.password, self.totp_secret, *(a for _, a in self.answers))


def secret_block_value(name: str) -> str:
    """The value of Prefect Secret block ``name`` ("" when it cannot be read)."""
    try:
        from prefect.blocks.system import Secret

        value = Secret.load(name).get()
    except Exception as exc:  # noqa: BLE001 - missing block, no API: reported as missing
        log.warning("Prefect Secret block %r not readable (%s)", name, type(exc).__name__)
        return ""
    return value if isinstance(value, str) else ""


def _reference_value(env: str | None, block: str | None) -> str:
    value = os.environ.get(env, "") if env else ""
    return value or (secret_block_value(block) if block else "")


def read_credentials(config: PayerConfig) -> Credentials:
    """The login from ``credentials``: a set environment variable, else the Prefect Secret block;
    security answers likewise, each from its own reference."""
    creds = config.credentials
    items = ["username", "password"] + (["totp_secret"] if creds.has_totp else [])
    values: list[str] = []
    missing: list[str] = []
    names: list[str] = []
    for item in items:
        env, block = getattr(creds, f"{item}_env"), getattr(creds, f"{item}_block")
        value = _reference_value(env, block)
        if not value:
            missing.append(creds.source(item))
            names.append(env or f"block:{block}")
        values.append(value)
    answers = []
    for entry in creds.security_answers:
        answer = _reference_value(entry.answer_env, entry.answer_block)
        if not answer:
            missing.append(entry.source())
            names.append(entry.answer_env or f"block:{entry.answer_block}")
        answers.append((entry.question, answer))
    if not creds.has_totp:
        values.append("")
    if missing:
        raise SystemFault(f"{config.payer}: portal credentials not set: {', '.join(missing)} "
                          "empty or missing", retryable=False, code=FaultCode.CREDENTIALS_MISSING,
                          payer=config.payer, step="credentials", variables=names)
    return Credentials(values[0], values[1], values[2] or None, tuple(answers))
