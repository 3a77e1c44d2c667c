"""The console's users file (``CLAIMWRIGHT_CONSOLE_USERS``), read and written.

```yaml
users:
  jdoe:
    role: reviewer            # viewer < reviewer < admin
    password_hash: "scrypt$32768$8$1$<salt base64>$<hash base64>"
```

Names are lower-case letters, digits and ``. _ - @`` (1 to 64 characters). Loaded through
:func:`claimwright.datafiles.load`: an edit takes effect on the next sign-in or request, and an
error names the file and line (unknown role, malformed hash, unknown key). :func:`set_user`
(``claimwright console user-add``) rewrites the file atomically, owner-only (0600); comments in
the file are not kept.
"""

from __future__ import annotations

import enum
import os
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, field_validator

from .. import datafiles
from ..errors import BusinessError
from ..fileio import write_atomic
from .passwords import HashFormatError, parse_hash

NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{0,63}$")


class Role(str, enum.Enum):
    viewer = "viewer"
    reviewer = "reviewer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role | str) -> bool:
        """A role allows what it needs and everything below it (viewer < reviewer < admin)."""
        return self.rank >= Role(needed).rank


class UsersFileError(BusinessError):
    """The users file cannot be used; the message is ``file:line: field: problem``."""

    def __init__(self, problem: str, *, file: str, line: int | None = None,
                 field: str = "") -> None:
        super().__init__(datafiles.located(problem, file=file, line=line, field=field),
                         file=Path(file).name if file else "", line=line)


class UserEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    role: Role
    password_hash: str

    @field_validator("password_hash")
    @classmethod
    def _hash(cls, value: str) -> str:
        try:
            parse_hash(value)
        except HashFormatError as exc:
            raise ValueError(f"malformed password hash: {exc}") from None
        return value


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    users: dict[str, UserEntry] = {}

    @field_validator("users", mode="before")
    @classmethod
    def _names(cls, value):
        value = {} if value is None else value
        if isinstance(value, dict):
            bad = next((k for k in value if not isinstance(k, str) or not NAME.match(k)), None)
            if bad is not None:
                raise ValueError(f"user name {bad!r}: lower-case letters, digits and . _ - @, "
                                 "1 to 64 characters")
        return value


def _parse(path: Path) -> dict[str, UserEntry]:
    doc = datafiles.read_yaml(path, UsersFileError)
    if doc.data is None:
        return {}
    return datafiles.validate(UsersFile, doc, UsersFileError).users


def load_users(path: Path) -> dict[str, UserEntry]:
    """The users by name (empty for an empty file); raises :class:`UsersFileError`."""
    return datafiles.load(path, _parse)


def set_user(path: Path, name: str, role: Role | str, password_hash: str) -> bool:
    """Add or replace one user; the file is written atomically, 0600. True when it was new."""
    if not NAME.match(name):
        raise ValueError(f"user name {name!r}: lower-case letters, digits and . _ - @, "
                         "1 to 64 characters")
    path = Path(path)
    users = dict(_parse(path)) if path.exists() else {}
    new = name not in users
    users[name] = UserEntry(role=Role(role), password_hash=password_hash)
    data = {"users": {n: {"role": u.role.value, "password_hash": u.password_hash}
                      for n, u in sorted(users.items())}}
    text = ("# Review console users (claimwright console user-add). Roles: viewer, reviewer, "
            "admin.\n" + yaml.safe_dump(data, sort_keys=False))
    write_atomic(path, text.encode("utf-8"))  # a mkstemp file: created 0600
    os.chmod(path, 0o600)
    return new
