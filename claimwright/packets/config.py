"""Who signs appeal letters: ``practice.yaml`` (replaced as a whole by the file named in
``CLAIMWRIGHT_PRACTICE``), and the error every packet data file raises. The letters themselves are
in :mod:`.letters`, the payers' forms in :mod:`.forms`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import datafiles
from ..settings import Settings

DEFAULT_PRACTICE = Settings.practice  # the packaged file ($CLAIMWRIGHT_PRACTICE replaces it)


class PacketConfigError(ValueError):
    """A packet data file is missing a key or holds something the letter cannot use."""

    @classmethod
    def at(cls, problem: str, *, file: str, line: int | None = None,
           field: str = "") -> PacketConfigError:
        """``name:line: field: problem`` (the :mod:`claimwright.datafiles` error factory)."""
        return cls(datafiles.located(problem, file=file, line=line, field=field))


@dataclass(frozen=True)
class Practice:
    name: str
    address: tuple[str, ...]
    phone: str
    signer_name: str
    signer_title: str = ""
    fax: str = ""
    email: str = ""
    npi: str = ""
    tax_id: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    payer_addresses: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _text(data: dict, key: str, source: object, *, required: bool = True) -> str:
    value = data.get(key)
    if value in (None, ""):
        if required:
            raise PacketConfigError(f"{source}: missing required key {key!r}")
        return ""
    if isinstance(value, (dict, list)):
        raise PacketConfigError(f"{source}: {key!r} must be text")
    return str(value).strip()


def _lines(value: Any, source: object, key: str) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        return tuple(x.strip() for x in value.splitlines() if x.strip())
    if isinstance(value, list) and all(isinstance(x, (str, int)) for x in value):
        return tuple(str(x).strip() for x in value if str(x).strip())
    raise PacketConfigError(f"{source}: {key!r} must be a list of lines")


def load_practice(path: Path | str | None = None, *, env: dict[str, str] | None = None) -> Practice:
    """The practice from ``path``, else ``Settings.practice`` ($CLAIMWRIGHT_PRACTICE, else the
    packaged file); re-read when the file changes."""
    source = Path(path) if path else Settings.from_env(env).practice
    return datafiles.load(source, _read_practice)


def _read_practice(source: Path) -> Practice:
    data = datafiles.read_yaml(source, PacketConfigError.at).data
    if not isinstance(data, dict):
        raise PacketConfigError(f"{source}: expected a mapping")
    signer = data.get("signer") or {}
    contact = data.get("contact") or {}
    if not isinstance(signer, dict) or not isinstance(contact, dict):
        raise PacketConfigError(f"{source}: 'signer' and 'contact' must be mappings")
    address = _lines(data.get("address"), source, "address")
    if not address:
        raise PacketConfigError(f"{source}: missing required key 'address'")
    payer_addresses = {}
    for payer_id, lines in (data.get("payer_addresses") or {}).items():
        payer_addresses[str(payer_id)] = _lines(lines, source, f"payer_addresses.{payer_id}")
    name = _text(data, "name", source)
    phone = _text(data, "phone", source)
    signer_name = _text(signer, "name", f"{source}: signer")
    email = _text(data, "email", source, required=False)
    return Practice(
        name=name,
        address=address,
        phone=phone,
        signer_name=signer_name,
        signer_title=_text(signer, "title", source, required=False),
        fax=_text(data, "fax", source, required=False),
        email=email,
        npi=_text(data, "npi", source, required=False),
        tax_id=_text(data, "tax_id", source, required=False),
        contact_name=_text(contact, "name", source, required=False) or signer_name,
        contact_phone=_text(contact, "phone", source, required=False) or phone,
        contact_email=_text(contact, "email", source, required=False) or email,
        payer_addresses=payer_addresses,
    )
