"""Scrub a Playwright trace of secrets before it is kept as evidence.

A trace (``*.trace.zip``) is a zip of JSON-lines event files (``trace.trace``, ``trace.network``,
``*.trace``/``*.network`` of later chunks, ``trace.stacks``) and resources (page snapshots,
screenshots, bodies). Its network log records every request's ``Cookie`` and every response's
``Set-Cookie`` header, their parsed ``cookies`` lists, and ``Authorization`` headers; the context
options and API calls may carry a storage state, cookies, HTTP credentials or extra headers.

:func:`scrub_trace` rewrites the zip (same entry names, order and compression) with, in every
JSON event: no ``cookies`` lists, no ``storageState`` / ``httpCredentials``, and no header entry
named ``Cookie``, ``Set-Cookie``, ``Authorization`` or ``Proxy-Authorization`` (in a list of
``{name, value}`` or a mapping). The values given (the session's cookie values, the credentials)
are then blanked, length for length, in every text entry, and any event line that does not parse
as JSON. Images are left alone (a screenshot holds pixels, never headers). The result is still a
valid trace: ``playwright show-trace`` opens it.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from claimwright.fileio import make_private, temp_path

SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
_DROPPED_KEYS = frozenset({"cookies", "storageState", "httpCredentials"})
_EVENT_SUFFIXES = (".trace", ".network", ".stacks")
_BINARY_SUFFIXES = (".jpeg", ".jpg", ".png", ".webp", ".gif", ".woff", ".woff2", ".ttf")
_MIN_SECRET = 6  # shorter values (a flag, an id like "1") would blank ordinary text


def scrub_value(data: Any) -> Any:
    """``data`` (a decoded JSON event) without cookies, storage state or secret headers."""
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if key in _DROPPED_KEYS:
                out[key] = [] if isinstance(value, list) else None
            elif isinstance(key, str) and key.lower() in SECRET_HEADERS:
                continue  # a headers mapping: {"Authorization": "..."}
            elif isinstance(value, list) and key.lower().endswith("headers"):
                out[key] = [scrub_value(h) for h in value if not _secret_header(h)]
            else:
                out[key] = scrub_value(value)
        return out
    if isinstance(data, list):
        return [scrub_value(v) for v in data]
    return data


def _secret_header(entry: Any) -> bool:
    return (isinstance(entry, dict) and isinstance(entry.get("name"), str)
            and entry["name"].lower() in SECRET_HEADERS)


def _blank(data: bytes, secrets: list[bytes]) -> bytes:
    for secret in secrets:
        data = data.replace(secret, b"*" * len(secret))
    return data


def _scrub_events(data: bytes, secrets: list[bytes]) -> bytes:
    lines = []
    for line in data.split(b"\n"):
        if line.strip():
            try:
                line = json.dumps(scrub_value(json.loads(line)), separators=(",", ":"),
                                  ensure_ascii=False).encode()
            except ValueError:
                pass  # not JSON: only blanked below
        lines.append(_blank(line, secrets))
    return b"\n".join(lines)


def scrub_entry(name: str, data: bytes, secrets: Iterable[str] = ()) -> bytes:
    """One zip entry of a trace, scrubbed (see the module doc)."""
    values = sorted({s.encode() for s in secrets if s and len(s) >= _MIN_SECRET},
                    key=len, reverse=True)
    if name.endswith(_EVENT_SUFFIXES):
        return _scrub_events(data, values)
    if name.lower().endswith(_BINARY_SUFFIXES):
        return data
    return _blank(data, values)


def scrub_trace(path: Path, secrets: Iterable[str] = ()) -> Path:
    """Rewrite the trace zip at ``path`` scrubbed (see the module doc), owner-only; atomically
    (a temp file beside it, renamed over it). Raises on a zip that cannot be read."""
    path = Path(path)
    secrets = list(secrets)
    tmp = temp_path(path)
    try:
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp, "w") as dst:
            for info in src.infolist():
                data = scrub_entry(info.filename, src.read(info), secrets)
                dst.writestr(info, data, compress_type=info.compress_type)
        make_private(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
