"""The appeal letters: one Jinja2 template per denial category, chosen by category and payer.

``claimwright/packets/letters/`` holds ``letters.yaml`` (each category's label, template and the
supporting documents it requires), ``base.txt`` (the letter every category's template extends)
and one template per category. A folder named by ``CLAIMWRIGHT_LETTERS`` is searched first (same
file names; its own ``letters.yaml`` replaces the shipped one), and in each folder
``payers/<payer id>/`` first of all, for one payer's wording. Templates use ``StrictUndefined``:
a variable that does not exist stops the build of that packet instead of printing a blank.

Everything is checked when loaded (every category's template exists, parses and defines the
``argument`` and ``action`` blocks; every document key is known), with ``file:line`` errors, and
read again when a file changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict, Field

from .. import datafiles
from ..settings import Settings
from .config import PacketConfigError

LETTERS_DIR = Path(__file__).resolve().parent / "letters"
LETTERS_FILE = "letters.yaml"
BASE = "base.txt"
BLOCKS = ("letterhead", "recipient", "re", "denied_lines", "arguments", "enclosures", "signature")
CATEGORY_BLOCKS = ("argument", "action")
_BLOCK_RE = re.compile(r"^\[\[\s*([a-z_]+)\s*\]\]$")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")


class _Level(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    phrase: str


class _Category(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str
    template: str
    requires: list[str] = Field(default_factory=list)
    optional: list[str] = Field(default_factory=list)


class _LettersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    levels: dict[str, dict[int, _Level]]
    documents: dict[str, str]
    aliases: dict[str, str] = Field(default_factory=dict)
    categories: dict[str, _Category]


@dataclass(frozen=True)
class Level:
    number: int
    name: str    # the letter's heading
    phrase: str  # "redetermination", "reconsideration (level 1 appeal)", ...


@dataclass(frozen=True)
class Category:
    key: str  # normalized category name
    label: str
    template: str
    requires: tuple[str, ...]
    optional: tuple[str, ...]


@dataclass(frozen=True)
class Letters:
    folders: tuple[Path, ...]  # searched in order (the admin's, then the shipped one)
    levels: dict[str, dict[int, Level]]  # payer kind -> level -> text
    documents: dict[str, str]  # document key -> label
    categories: dict[str, Category]
    aliases: dict[str, str]

    def category(self, name: str) -> tuple[Category, bool]:
        """The category ``name`` and whether it was found (False: ``default`` was used)."""
        key = normalize_category(name)
        key = self.aliases.get(key, key)
        if key != "default" and key in self.categories:
            return self.categories[key], True
        return self.categories["default"], False

    def level(self, payer_kind: str, number: int) -> Level:
        """The level's wording for the payer's kind (``commercial`` when the kind has none)."""
        table = self.levels.get(payer_kind) or self.levels.get("commercial") or {}
        return table.get(number) or Level(number, f"Level {number} appeal",
                                          f"level {number} appeal")

    def render_letter(self, category: Category, payer_id: str,
                      context: dict[str, Any]) -> list[tuple[str, str]]:
        """The letter of ``category`` as ``[("para", markup) | ("block", name)]``."""
        text = _environment(self.folders, payer_id).get_template(category.template) \
            .render(**context)
        return split_letter(text, category.template)

    def argument(self, category: Category, payer_id: str,
                 context: dict[str, Any]) -> tuple[str, str]:
        """(argument, action) of ``category``'s template, rendered with ``context``."""
        template = _environment(self.folders, payer_id).get_template(category.template)
        out = []
        for name in CATEGORY_BLOCKS:
            block = template.blocks[name]
            out.append(" ".join("".join(block(template.new_context(dict(context)))).split()))
        return out[0], out[1]


def normalize_category(name: str) -> str:
    return " ".join(str(name or "").casefold().split())


def split_letter(text: str, template: str) -> list[tuple[str, str]]:
    """Rendered letter text -> paragraphs and ``[[block]]`` markers."""
    parts: list[tuple[str, str]] = []
    for chunk in re.split(r"\n[ \t]*\n", text):
        chunk = " ".join(chunk.split())
        if not chunk:
            continue
        match = _BLOCK_RE.match(chunk)
        if match:
            if match.group(1) not in BLOCKS:
                raise PacketConfigError(f"{template}: unknown block [[{match.group(1)}]] "
                                        f"(known: {', '.join(BLOCKS)})")
            parts.append(("block", match.group(1)))
        else:
            parts.append(("para", chunk))
    return parts


def load_letters(settings: Settings | None = None) -> Letters:
    """The letters of ``settings`` (default: from the environment), checked whole."""
    settings = settings or Settings.from_env()
    folders = tuple(p for p in (settings.letters, LETTERS_DIR) if p is not None)
    source = next((f / LETTERS_FILE for f in folders if (f / LETTERS_FILE).is_file()),
                  LETTERS_DIR / LETTERS_FILE)
    stamps = tuple(_folder_stamp(f) for f in folders)
    return datafiles.load(source, lambda path: _read(path, folders), depends=stamps)


def _folder_stamp(folder: Path) -> tuple:
    """Every template file's identity (an edited template is checked again)."""
    if not folder.is_dir():
        return ()
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                 for p in sorted(folder.rglob("*.txt")))


def _read(path: Path, folders: tuple[Path, ...]) -> Letters:
    doc = datafiles.read_yaml(path, PacketConfigError.at)
    data = datafiles.validate(_LettersFile, doc, PacketConfigError.at)

    def fail(problem: str, loc: tuple) -> PacketConfigError:
        return PacketConfigError.at(problem, file=str(path), line=doc.line_of(loc),
                                    field=".".join(str(x) for x in loc))

    from ..documents import DOCUMENT_KINDS

    for need in ("remittance", "form"):
        if need not in data.documents:
            raise fail(f"must define {need!r}", ("documents",))
    for key in data.documents:  # the documents source finds these kinds only
        if key not in ("remittance", "form", *DOCUMENT_KINDS):
            raise fail(f"the documents source knows no kind {key!r} (known: "
                       f"{', '.join(DOCUMENT_KINDS)})", ("documents", key))
    categories: dict[str, Category] = {}
    for raw, entry in data.categories.items():
        for group in ("requires", "optional"):
            unknown = [k for k in getattr(entry, group) if k not in data.documents]
            if unknown:
                raise fail(f"unknown document(s) {unknown} (known: "
                           f"{', '.join(sorted(data.documents))})", ("categories", raw, group))
        _check_template(entry.template, folders, fail, ("categories", raw, "template"))
        key = normalize_category(raw)
        categories[key] = Category(key, entry.label.strip(), entry.template,
                                   tuple(entry.requires), tuple(entry.optional))
    if "default" not in categories:
        raise fail("must define 'default'", ("categories",))
    aliases = {}
    for alias, target in data.aliases.items():
        if normalize_category(target) not in categories:
            raise fail(f"points to unknown category {target!r}", ("aliases", alias))
        aliases[normalize_category(alias)] = normalize_category(target)
    levels = {kind: {n: Level(n, lv.name.strip(), lv.phrase.strip()) for n, lv in table.items()}
              for kind, table in data.levels.items()}
    return Letters(folders, levels, {k: v.strip() for k, v in data.documents.items()},
                   categories, aliases)


def _check_template(name: str, folders: tuple[Path, ...], fail, loc: tuple) -> None:
    """The template exists, parses (with what it extends) and defines the category blocks; a
    payer's copy of it is checked the same way."""
    copies = [f / name for f in folders if (f / name).is_file()]
    copies += sorted(p for f in folders if (f / "payers").is_dir()
                     for p in (f / "payers").glob(f"*/{name}"))
    if not any(p.parent in folders for p in copies):
        raise fail(f"no template {name!r} in {', '.join(str(f) for f in folders)}", loc)
    for copy in copies:
        payer = copy.parent.name if copy.parent.parent.name == "payers" else ""
        try:
            template = _environment(folders, payer).get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise PacketConfigError.at(f"template error: {exc.message}",
                                       file=exc.filename or str(copy), line=exc.lineno) from None
        except jinja2.TemplateNotFound as exc:
            raise PacketConfigError.at(f"extends a template that does not exist: {exc.name}",
                                       file=str(copy)) from None
        missing = [b for b in CATEGORY_BLOCKS if b not in template.blocks]
        if missing:
            raise PacketConfigError.at(
                f"defines no {' or '.join(repr(b) for b in missing)} block (every category's "
                "letter needs {% block argument %} and {% block action %})", file=str(copy))


def safe_payer_id(payer_id: str) -> str:
    return _SAFE_ID.sub("_", str(payer_id or "")).strip("._") or "_"


@lru_cache(maxsize=64)
def _environment(folders: tuple[Path, ...], payer_id: str) -> jinja2.Environment:
    search = []
    for folder in folders:
        if payer_id:
            search.append(str(folder / "payers" / safe_payer_id(payer_id)))
        search.append(str(folder))
    return jinja2.Environment(loader=jinja2.FileSystemLoader(search), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                              auto_reload=True)


def render_string(source: str, context: dict[str, Any]) -> str:
    """A Jinja2 snippet (strict, escaped for reportlab markup)."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(source).render(**context).strip()
