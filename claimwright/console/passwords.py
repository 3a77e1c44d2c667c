"""Password hashes: the standard library's scrypt, encoded ``scrypt$n$r$p$salt_b64$hash_b64``.

- :func:`hash_password` draws a random 16-byte salt and uses n=2**15, r=8, p=1 by default
  (32 MiB of memory; about 0.11 s per hash on this project's machines, measured), 32-byte keys.
- :func:`verify_password` recomputes with the parameters the hash names and compares in constant
  time (``hmac.compare_digest``); a malformed or tampered hash is simply "no match".
- :func:`parse_hash` checks an encoded hash (the users file validates every entry with it):
  n a power of two between 2**14 and 2**20, r 8..32, p 1..16, salt >= 16 bytes, key 32..64 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

N, R, P = 2**15, 8, 1
SALT_BYTES, KEY_BYTES = 16, 32
MIN_N, MAX_N = 2**14, 2**20
MIN_PASSWORD = 12  # characters, for user-add


class HashFormatError(ValueError):
    """An encoded password hash that is not ``scrypt$n$r$p$salt_b64$hash_b64`` within bounds."""


@dataclass(frozen=True)
class ScryptHash:
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def encode(self) -> str:
        b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
        return f"scrypt${self.n}${self.r}${self.p}${b64(self.salt)}${b64(self.key)}"


def _derive(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=128 * r * (n + p + 2) + 2**20)


def hash_password(password: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """The encoded scrypt hash of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    result = ScryptHash(n, r, p, salt, _derive(password, salt, n, r, p, KEY_BYTES))
    parse_hash(result.encode())  # the bounds apply to what we write, too
    return result.encode()


def parse_hash(encoded: str) -> ScryptHash:
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        raise HashFormatError("expected scrypt$n$r$p$salt$hash (from claimwright console user-add)")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        raise HashFormatError("n, r, p must be numbers and salt, hash base64") from None
    if not (MIN_N <= n <= MAX_N and n & (n - 1) == 0):
        raise HashFormatError(f"n must be a power of two from {MIN_N} to {MAX_N}, not {n}")
    if not (8 <= r <= 32 and 1 <= p <= 16):
        raise HashFormatError(f"r must be 8..32 and p 1..16, not r={r} p={p}")
    if len(salt) < SALT_BYTES or not 32 <= len(key) <= 64:
        raise HashFormatError("salt must be at least 16 bytes and the hash 32 to 64 bytes")
    return ScryptHash(n, r, p, salt, key)


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; False for a wrong password or a bad hash."""
    try:
        h = parse_hash(encoded)
    except HashFormatError:
        return False
    return hmac.compare_digest(_derive(password, h.salt, h.n, h.r, h.p, len(h.key)), h.key)
