"""Masking for anything that leaves the ledger: logs, Prefect artifacts, terminal listings.

Names, member ids and account numbers are PHI even when synthetic; credentials never appear at all.
"""

from __future__ import annotations

import re

_SECRET_KEYS = re.compile(r"pass(word)?|secret|token|totp|otp|credential|cookie|auth", re.I)
_PHI_KEYS = {"patient_name", "member_id", "patient_account", "name", "dob", "patient_dob"}
_BIRTH_DATE_KEYS = {"dob", "patient_dob"}  # no part of a date of birth is shown


def mask_name(name: str) -> str:
    """"DOE, JANE" -> "D**, J***": enough to tell rows apart, not to identify anyone."""
    return re.sub(r"[A-Za-z]+", lambda m: m.group(0)[0] + "*" * (len(m.group(0)) - 1), name or "")


def mask_id(value: str, keep: int = 4) -> str:
    """"W123456789" -> "******6789"."""
    value = value or ""
    if len(value) <= keep:
        return "*" * len(value)
    return "*" * (len(value) - keep) + value[-keep:]


def redact(data):
    """A copy of ``data`` (dicts/lists/scalars) with secrets removed and PHI masked by key."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            k = str(key)
            if _SECRET_KEYS.search(k):
                out[key] = "[redacted]"
            elif k in _PHI_KEYS and isinstance(value, str):
                out[key] = ("*" * len(value) if k in _BIRTH_DATE_KEYS
                            else mask_name(value) if "name" in k else mask_id(value))
            else:
                out[key] = redact(value)
        return out
    if isinstance(data, (list, tuple)):
        return [redact(v) for v in data]
    return data
