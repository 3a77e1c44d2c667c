"""The data an appeal letter is made of: the practice, the letter template, per-category text.

- ``practice.yaml``: who signs (overridden as a whole by the file named in ``CLAIMWRIGHT_PRACTICE``)
- ``cover_letter.txt``: the Jinja2 letter template
- ``arguments.yaml``: argument, requested action and enclosures by denial category
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from .. import datafiles
from ..settings import Settings

HERE = Path(__file__).resolve().parent
DEFAULT_PRACTICE = Settings.practice  # the packaged file ($CLAIMWRIGHT_PRACTICE replaces it)
ARGUMENTS_FILE = HERE / "arguments.yaml"
LETTER_TEMPLATE = "cover_letter.txt"
BLOCKS = ("letterhead", "recipient", "re", "denied_lines", "arguments", "enclosures", "signature")
_BLOCK_RE = re.compile(r"^\[\[\s*([a-z_]+)\s*\]\]$")


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


@dataclass(frozen=True)
class CategoryText:
    key: str
    label: str
    argument: str  # Jinja2 source
    action: str  # Jinja2 source
    enclosures: tuple[str, ...]


@dataclass(frozen=True)
class LetterText:
    appeal_level: str
    request_phrase: str
    enclosure_labels: dict[str, str]
    categories: dict[str, CategoryText]  # by normalized key
    aliases: dict[str, str]  # normalized alias -> normalized category key

    def category(self, name: str) -> tuple[CategoryText, bool]:
        """The text for ``name`` and whether it was found (False: the default text was used)."""
        key = normalize_category(name)
        key = self.aliases.get(key, key)
        if key != "default" and key in self.categories:
            return self.categories[key], True
        return self.categories["default"], False


def normalize_category(name: str) -> str:
    return " ".join(str(name or "").casefold().split())


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


def load_letter_text(path: Path = ARGUMENTS_FILE) -> LetterText:
    """Per-category arguments, actions and enclosures; checked whole at load time, re-read when
    the file changes."""
    return datafiles.load(Path(path), _read_letter_text)


def _read_letter_text(path: Path) -> LetterText:
    data = datafiles.read_yaml(path, PacketConfigError.at).data
    if not isinstance(data, dict):
        raise PacketConfigError(f"{path}: expected a mapping")
    letter = data.get("letter") or {}
    labels = {str(k): str(v).strip() for k, v in (data.get("enclosures") or {}).items()}
    if "remittance" not in labels:
        raise PacketConfigError(f"{path}: enclosures must define 'remittance'")
    categories: dict[str, CategoryText] = {}
    for raw_key, entry in (data.get("categories") or {}).items():
        key = normalize_category(raw_key)
        where = f"{path}: categories.{raw_key}"
        if not isinstance(entry, dict):
            raise PacketConfigError(f"{where}: expected a mapping")
        enclosures = tuple(str(e) for e in entry.get("enclosures") or ())
        unknown = [e for e in enclosures if e not in labels]
        if unknown:
            raise PacketConfigError(f"{where}: unknown enclosure(s) {unknown}")
        text = CategoryText(key=key, label=_text(entry, "label", where),
                            argument=_text(entry, "argument", where),
                            action=_text(entry, "action", where), enclosures=enclosures)
        for source in (text.argument, text.action):  # template syntax errors surface here
            _ENV.parse(source)
        categories[key] = text
    if "default" not in categories:
        raise PacketConfigError(f"{path}: categories must define 'default'")
    aliases = {}
    for alias, target in (data.get("aliases") or {}).items():
        norm_target = normalize_category(target)
        if norm_target not in categories:
            raise PacketConfigError(f"{path}: alias {alias!r} points to unknown {target!r}")
        aliases[normalize_category(alias)] = norm_target
    return LetterText(
        appeal_level=_text(letter, "appeal_level", f"{path}: letter"),
        request_phrase=_text(letter, "request_phrase", f"{path}: letter"),
        enclosure_labels=labels, categories=categories, aliases=aliases)


_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          keep_trailing_newline=False)


def render_string(source: str, context: dict[str, Any]) -> str:
    """Render a Jinja2 snippet from the data files; values are escaped for reportlab markup."""
    return _ENV.from_string(source).render(**context).strip()


def _read_template(path: Path) -> jinja2.Template:
    source = datafiles.read_text(path, PacketConfigError.at)
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PacketConfigError.at(f"template error: {exc.message}", file=str(path),
                                   line=exc.lineno) from None


def render_letter(context: dict[str, Any],
                  template: str = LETTER_TEMPLATE) -> list[tuple[str, str]]:
    """The letter as ``[("para", markup) | ("block", name)]`` in template order (the template
    file, ``cover_letter.txt`` by default, is re-read when it changes)."""
    text = datafiles.load(HERE / template, _read_template).render(**context)
    parts: list[tuple[str, str]] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        chunk = " ".join(chunk.split())
        if not chunk:
            continue
        match = _BLOCK_RE.match(chunk)
        if match:
            if match.group(1) not in BLOCKS:
                raise PacketConfigError(
                    f"{template}: unknown block [[{match.group(1)}]] (known: {', '.join(BLOCKS)})")
            parts.append(("block", match.group(1)))
        else:
            parts.append(("para", chunk))
    return parts
