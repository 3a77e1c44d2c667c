"""The one loader of the files admins edit: read, validate, say where it is wrong, reload.

Every admin-edited data file goes through here: PDF layouts (``claimwright/layouts/*.yaml``,
``$CLAIMWRIGHT_LAYOUTS_DIR``), denial rules and deadlines (``claimwright/rules/rules.yaml``, ``deadlines.yaml``), the
practice's local rules (``$CLAIMWRIGHT_HOME/local-rules.yaml``, read with rules.yaml), follow-up
rules (``claimwright/rules/followup.yaml``), the documentation elements of the feedback report
(``claimwright/rules/documentation.yaml``), the packet letter data (``claimwright/packets/*.yaml``,
``cover_letter.txt``), the review SLA (``claimwright/review_sla.yaml``), the code tables
(``claimwright/codes/``) and the payer selectors (``selectors/<payer>.yaml``, through
``bots.config.load_payer_config``); and, not edited but exported by the practice, the claim
export (``claimwright.claim_export``, a CSV).

- :func:`read_yaml` reads a YAML file; a syntax error names the file and the line.
- :meth:`YamlFile.line_of` gives the line of any field (a pydantic ``loc``), so
  :func:`validate` reports a schema error as ``file:line: field: problem``.
- :func:`load` returns what a parse function made of a file, parsing again only when the file
  changed. The key is the resolved path, ``st_mtime_ns`` and size (for a directory: those of every
  file in it), plus any ``depends`` value the parse also used; an edit takes effect on the next
  call, without a restart. A failed parse is not cached: the next call reads the file again.

Each kind of file keeps its own error class (rules and follow-up: ``RulesError``, layouts:
``LayoutFileError``, ...): the functions here take an ``error`` factory called as
``error(problem, file=..., line=..., field=...)``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Protocol, Sequence, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class ErrorFactory(Protocol):
    def __call__(self, problem: str, *, file: str, line: int | None = None,
                 field: str = "") -> Exception: ...


def where(file: str | Path, line: int | None = None, field: str = "") -> str:
    """``name:line: field`` (the parts known), the prefix of every data-file error."""
    text = Path(file).name if file else ""
    if line:
        text = f"{text}:{line}"
    return f"{text}: {field}" if field else text


def located(problem: str, *, file: str | Path, line: int | None = None, field: str = "") -> str:
    """``name:line: field: problem``."""
    prefix = where(file, line, field)
    return f"{prefix}: {problem}" if prefix else problem


_PATH_PART = re.compile(r"[^.\[\]]+")


def field_path(loc: Sequence[Any]) -> str:
    """A pydantic ``loc`` as admins read it: ``claim.statuses[1].follow_up_days``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


# ---------------------------------------------------------------------------------------------
# Reading


def read_text(path: str | Path, error: ErrorFactory) -> str:
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", file=str(path)) from None
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror}", file=str(path)) from None


def compose_yaml(path: str | Path, error: ErrorFactory) -> yaml.Node | None:
    """The YAML node tree of a file (``None`` for an empty file); nodes carry their lines."""
    path = Path(path)
    text = read_text(path, error)
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"not valid YAML: {problem}", file=str(path),
                    line=mark.line + 1 if mark else None) from None


@dataclass(frozen=True)
class YamlFile:
    path: Path
    data: Any  # what yaml.safe_load gives
    node: yaml.Node | None

    def line_of(self, loc: Sequence[Any] | str) -> int | None:
        """The 1-based line of the deepest part of ``loc`` present in the file (``loc``: a
        pydantic ``loc`` tuple, or a field path such as ``claims.table.columns[3].from``)."""
        if isinstance(loc, str):
            loc = [int(p) if p.isdigit() else p for p in _PATH_PART.findall(loc)]
        node = self.node
        if node is None:
            return None
        line = node.start_mark.line + 1
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value
                              if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
                if child is not None:
                    key = next(k for k, v in node.value if v is child)
                    line = key.start_mark.line + 1
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) \
                    and 0 <= part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


def read_yaml(path: str | Path, error: ErrorFactory) -> YamlFile:
    """Read and parse a YAML file (safe loader); syntax errors name file and line."""
    path = Path(path)
    node = compose_yaml(path, error)
    data = yaml.SafeLoader("").construct_document(node) if node is not None else None
    return YamlFile(path, data, node)


def validate(model: type[M], doc: YamlFile, error: ErrorFactory, **context: Any) -> M:
    """``model.model_validate(doc.data)``; the first problem raised as ``file:line: field``."""
    try:
        return model.model_validate(doc.data, **context)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise error(first["msg"].removeprefix("Value error, ") + more, file=str(doc.path),
                    line=doc.line_of(first["loc"]), field=field_path(first["loc"])) from None


# ---------------------------------------------------------------------------------------------
# Reloading


def stamp(path: Path) -> tuple | None:
    """What changes when a file (or a directory's files) is edited; ``None`` if missing."""
    try:
        st = path.stat()
        if path.is_dir():
            return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                         for p in sorted(path.iterdir()) if p.is_file())
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


_lock = threading.Lock()
_loaded: dict[tuple, tuple[tuple | None, Any]] = {}


def load(path: str | Path, parse: Callable[[Path], T], *, depends: Hashable = None) -> T:
    """``parse(path)``, re-run only when the file changed (or ``depends`` differs)."""
    path = Path(path)
    resolved = path.resolve()
    key = (parse.__module__, parse.__qualname__, str(resolved), depends)
    current = stamp(resolved)
    with _lock:
        hit = _loaded.get(key)
        if hit is not None and current is not None and hit[0] == current:
            return hit[1]
    value = parse(path)
    with _lock:
        _loaded[key] = (current, value)
    return value


def forget() -> None:
    """Drop everything loaded (tests; an admin tool that swaps files within one clock tick)."""
    with _lock:
        _loaded.clear()
