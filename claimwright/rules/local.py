"""The practice's local rules: codes a person categorized once (``claimwright rules categorize``).

``Settings.local_rules`` ($CLAIMWRIGHT_LOCAL_RULES, default ``$CLAIMWRIGHT_HOME/local-rules.yaml``)
holds rules in the format of ``rules.yaml``'s ``rules:`` entries (``id``, ``when``, ``then``,
``why``) plus who added each (``added_by``) and when (``added_on``). A missing file means no
local rules. The file is validated like ``rules.yaml`` (same vocabularies, line-numbered
errors), with three differences:

- a local rule names its codes exactly: ``when`` needs ``carc`` and takes no wildcards;
- its CARC and remark codes need not be in the code tables: categorizing an unknown code is the
  point. The code tables are not edited; a matching local rule makes the codes it names *known
  for this practice* (``Decision.known``, :func:`claimwright.rules.engine.explain`);
- ids start with ``local-``; :func:`rule_id` makes them (``local-<group or any>-<carc>``).

Local rules are tried before the shipped rules (``RuleSet.local``); the shipped ``overrides``
still apply to their denial decisions (a payer's "no appeal rights" remark counts for any code).
:func:`categorize_code` adds one rule; a rule for the same ``when`` is refused (edit the file to
change it), never silently replaced. docs/rules.md, "Categorizing an unknown code".
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .. import codes as codes_mod
from ..fileio import private_dir, temp_path, write_atomic
from ..settings import Settings
from .ruleset import APPEALABLE, LocalRule, _Checker
from .source import LList, LMap, RulesError, load_located

ENTRY_KEYS = ("id", "when", "then", "why", "added_by", "added_on")
LOCAL_WHEN_KEYS = ("group", "carc", "rarc", "no_rarc")
_CODE = re.compile(r"^[A-Z0-9]{1,8}$")
HEADER = """\
# Local rules: codes categorized by people of this practice (claimwright rules categorize).
# Tried before the shipped rules; same format as rules.yaml's rules, plus added_by / added_on.
# A rule names its codes exactly; the codes it names count as known here. docs/rules.md,
# "Categorizing an unknown code". Validated on load: `claimwright rules check`.
version: 1
rules:
"""

__all__ = ["LocalRule", "categorize_code", "file_identity", "load_local_rules",
           "local_rules_path", "rule_id"]


def local_rules_path() -> Path:
    """``Settings.local_rules``: $CLAIMWRIGHT_LOCAL_RULES (default in $CLAIMWRIGHT_HOME)."""
    return Settings.from_env().local_rules


def file_identity(path: Path) -> tuple | None:
    """What changes when the file is replaced or edited (``None``: no file): the rules cache
    key (an atomic replace gives a new inode even within one clock tick)."""
    try:
        st = Path(path).stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def rule_id(group: str | None, carc: str) -> str:
    """``local-co-z98``; ``local-any-z98`` for every group."""
    return f"local-{(group or 'any').lower()}-{carc.lower()}"


def load_local_rules(path: str | Path | None = None, *,
                     tables: codes_mod.CodeTables | None = None) -> list[LocalRule]:
    """Read and validate a local rules file; :class:`RulesError` names file, line, field."""
    path = Path(path) if path else local_rules_path()
    tables = tables or codes_mod.tables()
    doc = load_located(path)
    c = _Checker(path, tables, unknown_ok=("carc", "rarc"))
    c.unknown_keys(doc, ("version", "rules"), "")
    value = doc.get("rules")
    if value is None:
        return []
    if not isinstance(value, LList):
        c.fail("must be a list of rules (lines starting with '- id:')", doc.line_of("rules"),
               "rules")
    out: list[LocalRule] = []
    seen: dict[str, int] = {}
    for index, (item, line) in enumerate(zip(value.items, value.item_lines), start=1):
        rule = _entry(c, item, line, f"rules[{index}]")
        if rule.id in seen:
            c.fail(f"rule id {rule.id!r} already used on line {seen[rule.id]}", rule.line, "id")
        seen[rule.id] = rule.line
        for earlier in out:
            if earlier.when.covers(rule.when):
                c.fail(f"rule {rule.id!r} can never match: rule {earlier.id!r} on line "
                       f"{earlier.line} above it already matches everything it matches",
                       rule.line, f"rules[{rule.id}].when")
        out.append(rule)
    return out


def _entry(c: _Checker, item: Any, line: int, where: str) -> LocalRule:
    m = c.mapping(item, line, where)
    c.unknown_keys(m, ENTRY_KEYS, where)
    rid = c.text(m.get("id"), m.line_of("id"), f"{where}.id")
    where = f"rules[{rid}]"
    if not rid.startswith("local-"):
        c.fail("a local rule's id starts with 'local-'", m.line_of("id"), f"{where}.id")
    for key in ("when", "then", "added_by", "added_on"):
        if key not in m:
            c.fail("is required", m.line, f"{where}.{key}")
    when_map = c.mapping(m.get("when"), m.line_of("when"), f"{where}.when")
    c.unknown_keys(when_map, LOCAL_WHEN_KEYS, f"{where}.when")
    if "carc" not in when_map:
        c.fail("a local rule names the CARC it categorizes", when_map.line, f"{where}.when.carc")
    when = c.match(when_map, m.line_of("when"), f"{where}.when")
    for key in ("group", "carc", "rarc"):
        for code in getattr(when, key) or ():
            if not _CODE.match(code):
                c.fail(f"{code!r}: a local rule names its codes exactly (letters and digits, "
                       "no wildcards)", when_map.line_of(key), f"{where}.when.{key}")
    then = c.outcome(m.get("then"), m.line_of("then"), f"{where}.then", partial=False)
    why = c.text(m.get("why"), m.line_of("why"), f"{where}.why")
    added_by = c.text(m.get("added_by"), m.line_of("added_by"), f"{where}.added_by")
    added_on = m.get("added_on")
    if not isinstance(added_on, dt.date):
        c.fail(f"must be a date YYYY-MM-DD, found {added_on!r}", m.line_of("added_on"),
               f"{where}.added_on")
    return LocalRule(rid, when, then, why, m.line, added_by=added_by, added_on=added_on)


# ---------------------------------------------------------------------------------------------
# Writing


def categorize_code(*, group: str | None, carc: str, category: str, owner: str, action: str,
                    appealable: str = "no", by: str, why: str, denial: bool = True,
                    condition: str = "", path: str | Path | None = None,
                    today: dt.date | None = None) -> LocalRule:
    """Add the local rule "``group``-``carc`` (any group when None) is ``category``, worked by
    ``owner`` with ``action``" to the local rules file and return it as loaded.

    The values are checked against the rules' vocabularies first; a rule for the same codes
    (or one above that already matches them) is refused. The file is written atomically
    (owner-only) and only when the whole file, with the new rule, loads: otherwise nothing is
    written and :class:`RulesError` says why. Re-deciding the stored findings is
    :func:`claimwright.pipeline.redecide.redecide`'s job."""
    path = Path(path) if path else local_rules_path()
    tables = codes_mod.tables()
    group = group.strip().upper() if group and group.strip() else None
    code = codes_mod.normalize("carc", carc.strip())
    if not _CODE.match(code or ""):
        raise RulesError(f"{carc!r} is not a code (letters and digits)", field="carc")
    if group is not None and not tables.groups.is_known(group):
        raise RulesError(f"{group!r} is not a group code (one of: "
                         f"{', '.join(e.code for e in tables.groups)})", field="group")
    for name, value in (("by", by), ("why", why)):
        if not value or not value.strip() or "\n" in value:
            raise RulesError("is required (one line)", field=name)
    if appealable not in APPEALABLE:
        raise RulesError(f"{appealable!r} must be one of {', '.join(APPEALABLE)}",
                         field="appealable")
    then = {"denial": denial, "category": category, "owner": owner, "action": action,
            "appealable": appealable, **({"condition": condition} if condition else {})}
    try:  # the vocabularies, as the loader checks them
        _Checker(path, tables).outcome(_as_lmap(then), 0, "then", partial=False)
    except RulesError as exc:
        name = exc.field.removeprefix("then.")
        raise RulesError(f"{name}: {exc.problem}", field=name) from None
    with _locked(path):  # two people categorizing at once: one after the other
        return _append(path, group, code, then, by=by.strip(), why=why.strip(),
                       today=today or dt.date.today(), tables=tables)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``.<name>.lock`` beside the file (owner-only), for the
    read-append-replace of :func:`categorize_code`."""
    private_dir(path.parent)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _append(path: Path, group: str | None, code: str, then: dict[str, Any], *, by: str,
            why: str, today: dt.date, tables: codes_mod.CodeTables) -> LocalRule:
    existing = load_local_rules(path, tables=tables) if path.exists() else []
    when = _Checker(path, tables, unknown_ok=("carc",)).match(
        _as_lmap({"carc": code, **({"group": group} if group else {})}), 0, "when")
    rule = LocalRule(rule_id(group, code), when, then, why, 0, added_by=by, added_on=today)
    for other in existing:
        if other.when.covers(rule.when) or other.id == rule.id:
            how = ("already categorized" if other.when == rule.when or other.id == rule.id
                   else "already covered")
            raise RulesError(
                f"{group or 'any group'}-{code} is {how} by local rule {other.id!r} (line "
                f"{other.line}, added by {other.added_by} on {other.added_on}): edit or "
                "remove it in the file to change it", file=str(path), line=other.line,
                field="when")
    text = (path.read_text(encoding="utf-8") if path.exists() else HEADER)
    if not text.endswith("\n"):
        text += "\n"
    text += _entry_text(rule)
    _check_candidate(path, text, tables)
    write_atomic(path, text.encode("utf-8"))
    path.chmod(0o600)
    loaded = next(r for r in load_local_rules(path, tables=tables) if r.id == rule.id)
    return loaded


def _as_lmap(values: dict[str, Any]) -> LMap:
    return LMap(dict(values), 0, {})


def _entry_text(rule: LocalRule) -> str:
    when = {k: v[0] if len(v) == 1 else list(v) for k, v in
            (("group", rule.when.group), ("carc", rule.when.carc)) if v}
    entry = {"id": rule.id, "when": when, "then": rule.then, "why": rule.why,
             "added_by": rule.added_by, "added_on": rule.added_on}
    dumped = yaml.safe_dump([entry], sort_keys=False, default_flow_style=None, width=100,
                            allow_unicode=True)
    return "".join(f"  {line}\n" for line in dumped.splitlines())


def _check_candidate(path: Path, text: str, tables: codes_mod.CodeTables) -> None:
    """Load ``text`` as the local rules file would be; nothing is written when it fails."""
    private_dir(path.parent)
    candidate = temp_path(path)
    try:
        candidate.write_text(text, encoding="utf-8")
        try:
            load_local_rules(candidate, tables=tables)
        except RulesError as exc:
            raise RulesError(f"the file would not load with the new rule, nothing written: "
                             f"{exc.problem}", file=str(path), line=exc.line,
                             field=exc.field) from None
    finally:
        candidate.unlink(missing_ok=True)
