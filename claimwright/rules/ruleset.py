"""Load and validate ``rules.yaml`` into a :class:`RuleSet` (rules, overrides, the unknown-code
decision, the priority settings).

Loading validates everything (vocabularies, codes against the code tables, dates, amounts,
shadowed rules) and raises :class:`RulesError` naming file, line and field. ``current_rules()``
re-reads the file when it changes (:func:`claimwright.datafiles.load`; ``Settings.rules``,
$CLAIMWRIGHT_RULES, points at an admin copy), and adds the practice's local rules
(``Settings.local_rules``, :mod:`claimwright.rules.local`), re-read when that file changes too.
docs/rules.md is the admin's guide.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

from .. import codes as codes_mod
from .. import datafiles
from ..settings import Settings
from .match import Match, is_glob
from .source import LList, LMap, RulesError, load_located

CATEGORIES = (
    "coding/bundling", "modifier", "medical necessity", "authorization", "eligibility/coverage",
    "timely filing", "duplicate", "documentation request", "coordination of benefits",
    "non-covered", "billing data error", "contractual", "patient responsibility",
    "payer processing", "unknown",
)
OWNERS = ("coding", "registration", "clinical documentation", "billing", "payer")
ACTIONS = ("appeal", "corrected claim", "new claim", "records response", "rebill other payer",
           "bill patient", "write off", "review", "none")
APPEALABLE = ("yes", "no", "conditional")
MATCH_KEYS = ("group", "carc", "rarc", "no_rarc", "payer", "procedure", "amount_min",
              "amount_max")
THEN_KEYS = ("denial", "category", "owner", "action", "appealable", "condition")
PRIORITY_WEIGHTS = ("dollars", "recovery", "urgency")


@dataclass(frozen=True)
class Rule:
    id: str
    when: Match
    then: dict[str, Any]
    why: str
    line: int
    override: bool = False


@dataclass(frozen=True)
class LocalRule(Rule):
    """A rule a person of the practice added (the local rules file): who, when. It names its
    codes exactly, and the codes it names are known for this practice (``Decision.known``) when
    it matches, although the code tables do not list them."""

    added_by: str = ""
    added_on: dt.date | None = None


@dataclass(frozen=True)
class LearningConfig:
    """When the practice's own appeal outcomes replace the table's recovery likelihood
    (:mod:`claimwright.appeals.learning`): from ``min_decided`` decided appeals of a payer and
    category on, shrunk toward the table's value with the weight of ``prior_weight`` appeals."""

    min_decided: int = 10
    prior_weight: Decimal = Decimal(10)


@dataclass(frozen=True)
class PriorityConfig:
    weights: dict[str, Decimal]
    dollars_full_scale: Decimal
    urgency_horizon_days: int
    overdue_recovery_factor: Decimal
    recovery_likelihood: dict[str, Decimal]
    learning: LearningConfig = LearningConfig()


@dataclass
class RuleSet:
    path: Path
    version: str
    rules: list[Rule]
    overrides: list[Rule]
    unknown: dict[str, Any]
    unknown_why: str
    priority: PriorityConfig
    local: list[LocalRule] = field(default_factory=list)  # tried before ``rules``
    local_path: Path | None = None

    def rule(self, rule_id: str) -> Rule | None:
        for rule in self.local + self.rules + self.overrides:
            if rule.id == rule_id:
                return rule
        return None


class _Checker:
    def __init__(self, path: Path, tables: codes_mod.CodeTables, *,
                 unknown_ok: Iterable[str] = ()) -> None:
        self.path = path
        self.tables = tables
        self.unknown_ok = frozenset(unknown_ok)  # tables whose unknown codes are accepted

    def fail(self, message: str, line: int | None, field: str = "") -> None:
        raise RulesError(message, file=str(self.path), line=line, field=field)

    def mapping(self, value: Any, line: int, field: str) -> LMap:
        if not isinstance(value, LMap):
            self.fail("must be a mapping (key: value lines)", line, field)
        return value

    def unknown_keys(self, m: LMap, allowed: Iterable[str], field: str) -> None:
        allowed = tuple(allowed)
        for key in m.keys():
            if key not in allowed:
                self.fail(f"unknown key {key!r} (allowed: {', '.join(allowed)})", m.line_of(key),
                          f"{field}.{key}" if field else key)

    def text(self, value: Any, line: int, field: str, *, required: bool = True) -> str:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.fail("is required", line, field)
            return ""
        if isinstance(value, (LMap, LList)):
            self.fail("must be text", line, field)
        return str(value).strip()

    def decimal(self, value: Any, line: int, field: str, *, low: Decimal | None = None,
                high: Decimal | None = None) -> Decimal:
        try:
            number = Decimal(str(value).replace(",", ""))
        except (InvalidOperation, ValueError):
            number = None
        if number is None or not number.is_finite() or isinstance(value, bool):
            self.fail(f"not a number: {value!r}", line, field)
        if low is not None and number < low:
            self.fail(f"must be at least {low}, found {number}", line, field)
        if high is not None and number > high:
            self.fail(f"must be at most {high}, found {number}", line, field)
        return number

    def codes(self, value: Any, line: int, field: str, table: str | None) -> tuple[str, ...]:
        items: list[tuple[Any, int]]
        if isinstance(value, LList):
            items = list(zip(value.items, value.item_lines))
            if not items:
                self.fail("an empty list matches nothing; remove the key to match anything",
                          line, field)
        elif isinstance(value, LMap):
            self.fail("must be a code or a list of codes", line, field)
        else:
            items = [(value, line)]
        out = []
        for raw, item_line in items:
            if raw is None or isinstance(raw, (LMap, LList, bool)):
                self.fail(f"not a code: {raw!r}", item_line, field)
            text = str(raw).strip().upper()
            if not text:
                self.fail("empty code", item_line, field)
            if table and not is_glob(text):
                text = codes_mod.normalize(table, text)
                if table not in self.unknown_ok and not self.tables.table(table).is_known(text):
                    self.fail(f"{text} is not in the {table} code table (typo? add it to "
                              f"{table}.csv first)", item_line, field)
            out.append(text)
        return tuple(out)

    def match(self, value: Any, line: int, field: str) -> Match:
        m = self.mapping(value, line, field)
        self.unknown_keys(m, MATCH_KEYS, field)
        kw: dict[str, Any] = {}
        for key, table in (("group", "groups"), ("carc", "carc"), ("rarc", "rarc"),
                           ("payer", None), ("procedure", None)):
            if key in m:
                kw[key] = self.codes(m.get(key), m.line_of(key), f"{field}.{key}", table)
        if "no_rarc" in m:
            flag = m.get("no_rarc")
            if not isinstance(flag, bool):
                self.fail("must be true or false", m.line_of("no_rarc"), f"{field}.no_rarc")
            kw["no_rarc"] = flag
            if flag and "rarc" in m:
                self.fail("cannot require a remark code and no remark code at once",
                          m.line_of("no_rarc"), f"{field}.no_rarc")
        for key in ("amount_min", "amount_max"):
            if key in m:
                kw[key] = self.decimal(m.get(key), m.line_of(key), f"{field}.{key}")
        if ("amount_min" in kw and "amount_max" in kw and kw["amount_min"] > kw["amount_max"]):
            self.fail("amount_min is above amount_max", m.line_of("amount_min"),
                      f"{field}.amount_min")
        return Match(**kw)

    def outcome(self, value: Any, line: int, field: str, *, partial: bool) -> dict[str, Any]:
        m = self.mapping(value, line, field)
        self.unknown_keys(m, THEN_KEYS, field)
        out: dict[str, Any] = {}
        required = () if partial else ("denial", "category", "owner", "action", "appealable")
        for key in required:
            if key not in m:
                self.fail("is required", m.line, f"{field}.{key}")
        if "denial" in m:
            if not isinstance(m.get("denial"), bool):
                self.fail("must be true or false", m.line_of("denial"), f"{field}.denial")
            out["denial"] = m.get("denial")
        for key, vocab in (("category", CATEGORIES), ("owner", OWNERS), ("action", ACTIONS)):
            if key in m:
                text = self.text(m.get(key), m.line_of(key), f"{field}.{key}")
                if text not in vocab:
                    self.fail(f"{text!r} is not a known {key} (allowed: {', '.join(vocab)})",
                              m.line_of(key), f"{field}.{key}")
                out[key] = text
        if "appealable" in m:
            raw = m.get("appealable")
            text = ("yes" if raw else "no") if isinstance(raw, bool) else str(raw).strip()
            if text not in APPEALABLE:
                self.fail(f"{text!r} must be one of {', '.join(APPEALABLE)}",
                          m.line_of("appealable"), f"{field}.appealable")
            out["appealable"] = text
        if "condition" in m:
            out["condition"] = self.text(m.get("condition"), m.line_of("condition"),
                                         f"{field}.condition", required=False)
        if not partial or "appealable" in out:
            if out.get("appealable") == "conditional" and not out.get("condition"):
                self.fail("appealable is 'conditional': say the condition", m.line,
                          f"{field}.condition")
        if out.get("action") == "appeal" and out.get("appealable") == "no":
            self.fail("action 'appeal' contradicts appealable 'no'", m.line_of("action"),
                      f"{field}.action")
        return out


def load_rules(path: str | Path | None = None, *,
               tables: codes_mod.CodeTables | None = None) -> RuleSet:
    """Read and validate a rules file (default: $CLAIMWRIGHT_RULES or the packaged one)."""
    path = Path(path) if path else default_rules_path()
    tables = tables or codes_mod.tables()
    doc = load_located(path)
    c = _Checker(path, tables)
    c.unknown_keys(doc, ("version", "unknown", "priority", "rules", "overrides"), "")
    version = c.text(doc.get("version"), doc.line_of("version"), "version")

    unknown_map = c.mapping(doc.get("unknown"), doc.line_of("unknown"), "unknown")
    unknown_why = str(unknown_map.get("why") or "")
    stripped = LMap({k: v for k, v in unknown_map.values.items() if k != "why"},
                    unknown_map.line, {k: v for k, v in unknown_map.key_lines.items()
                                       if k != "why"})
    unknown = c.outcome(stripped, unknown_map.line, "unknown", partial=False)

    priority = _load_priority(c, doc)

    rules = _load_rule_list(c, doc, "rules", override=False)
    overrides = _load_rule_list(c, doc, "overrides", override=True) if "overrides" in doc else []
    seen: dict[str, int] = {}
    for rule in rules + overrides:
        if rule.id in seen:
            c.fail(f"rule id {rule.id!r} already used on line {seen[rule.id]}", rule.line, "id")
        seen[rule.id] = rule.line
    for i, later in enumerate(rules):
        for earlier in rules[:i]:
            if earlier.when.covers(later.when):
                c.fail(f"rule {later.id!r} can never match: rule {earlier.id!r} on line "
                       f"{earlier.line} above it already matches everything it matches; "
                       f"put the more specific rule first", later.line, "when")
    if not rules:
        c.fail("at least one rule is required", doc.line_of("rules"), "rules")
    return RuleSet(path=path, version=version, rules=rules, overrides=overrides,
                   unknown=unknown, unknown_why=unknown_why, priority=priority)


def _load_rule_list(c: _Checker, doc: LMap, key: str, *, override: bool) -> list[Rule]:
    value = doc.get(key)
    if not isinstance(value, LList):
        c.fail("must be a list of rules (lines starting with '- id:')", doc.line_of(key), key)
    out = []
    for index, (item, line) in enumerate(zip(value.items, value.item_lines), start=1):
        where = f"{key}[{index}]"
        m = c.mapping(item, line, where)
        c.unknown_keys(m, ("id", "when", "then", "why"), where)
        rule_id = c.text(m.get("id"), m.line_of("id"), f"{where}.id")
        where = f"{key}[{rule_id}]"
        if "when" not in m:
            c.fail("is required", m.line, f"{where}.when")
        if "then" not in m:
            c.fail("is required", m.line, f"{where}.then")
        when = c.match(m.get("when"), m.line_of("when"), f"{where}.when")
        then = c.outcome(m.get("then"), m.line_of("then"), f"{where}.then", partial=override)
        if override and not then:
            c.fail("an override must change at least one field", m.line_of("then"),
                   f"{where}.then")
        why = c.text(m.get("why"), m.line_of("why"), f"{where}.why", required=False)
        out.append(Rule(rule_id, when, then, why, m.line, override))
    return out


def _load_priority(c: _Checker, doc: LMap) -> PriorityConfig:
    p = c.mapping(doc.get("priority"), doc.line_of("priority"), "priority")
    c.unknown_keys(p, ("weights", "dollars_full_scale", "urgency_horizon_days",
                       "overdue_recovery_factor", "recovery_likelihood", "learning"), "priority")
    w = c.mapping(p.get("weights"), p.line_of("weights"), "priority.weights")
    c.unknown_keys(w, PRIORITY_WEIGHTS, "priority.weights")
    weights = {}
    for key in PRIORITY_WEIGHTS:
        if key not in w:
            c.fail("is required", w.line, f"priority.weights.{key}")
        weights[key] = c.decimal(w.get(key), w.line_of(key), f"priority.weights.{key}",
                                 low=Decimal(0))
    if sum(weights.values()) != 100:
        c.fail(f"weights must add up to 100, found {sum(weights.values())}", w.line,
               "priority.weights")
    scale = c.decimal(p.get("dollars_full_scale"), p.line_of("dollars_full_scale"),
                      "priority.dollars_full_scale", low=Decimal("1"))
    horizon = p.get("urgency_horizon_days")
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon < 1:
        c.fail(f"must be a whole number of days >= 1, found {horizon!r}",
               p.line_of("urgency_horizon_days"), "priority.urgency_horizon_days")
    factor = c.decimal(p.get("overdue_recovery_factor"), p.line_of("overdue_recovery_factor"),
                       "priority.overdue_recovery_factor", low=Decimal(0), high=Decimal(1))
    rl = c.mapping(p.get("recovery_likelihood"), p.line_of("recovery_likelihood"),
                   "priority.recovery_likelihood")
    likelihood = {}
    for key in rl.keys():
        if key not in CATEGORIES:
            c.fail(f"{key!r} is not a category (allowed: {', '.join(CATEGORIES)})",
                   rl.line_of(key), f"priority.recovery_likelihood.{key}")
        likelihood[key] = c.decimal(rl.get(key), rl.line_of(key),
                                    f"priority.recovery_likelihood.{key}", low=Decimal(0),
                                    high=Decimal(1))
    missing = [cat for cat in CATEGORIES if cat not in likelihood]
    if missing:
        c.fail(f"missing categories: {', '.join(missing)}", rl.line,
               "priority.recovery_likelihood")
    learning = _load_learning(c, p) if "learning" in p else LearningConfig()
    return PriorityConfig(weights, scale, horizon, factor, likelihood, learning)


def _load_learning(c: _Checker, p: LMap) -> LearningConfig:
    """``priority.learning`` (optional: without it, 10 and 10)."""
    m = c.mapping(p.get("learning"), p.line_of("learning"), "priority.learning")
    c.unknown_keys(m, ("min_decided", "prior_weight"), "priority.learning")
    minimum = m.get("min_decided", LearningConfig.min_decided)
    if not isinstance(minimum, int) or isinstance(minimum, bool) or minimum < 1:
        c.fail(f"must be a whole number of decided appeals >= 1, found {minimum!r}",
               m.line_of("min_decided"), "priority.learning.min_decided")
    weight = c.decimal(m.get("prior_weight", LearningConfig.prior_weight),
                       m.line_of("prior_weight"), "priority.learning.prior_weight",
                       low=Decimal(0), high=Decimal(10000))
    return LearningConfig(minimum, weight)


def default_rules_path() -> Path:
    """``Settings.rules``: $CLAIMWRIGHT_RULES or the packaged rules.yaml."""
    return Settings.from_env().rules


def current_rules() -> RuleSet:
    """The rules in force: the shipped (or admin) rules plus the local rules, re-read when
    either file (or the code tables) changed since last time."""
    from .local import file_identity, load_local_rules

    tables = codes_mod.tables()
    local_path = Settings.from_env().local_rules

    def parse(path: Path) -> RuleSet:
        ruleset = load_rules(path, tables=tables)
        local = load_local_rules(local_path, tables=tables) if local_path.exists() else []
        shipped = {r.id: r.line for r in ruleset.rules + ruleset.overrides}
        for rule in local:
            if rule.id in shipped:
                raise RulesError(f"rule id {rule.id!r} is already used in {path.name} (line "
                                 f"{shipped[rule.id]})", file=str(local_path), line=rule.line,
                                 field="id")
        return dataclasses.replace(ruleset, local=local, local_path=local_path)

    return datafiles.load(default_rules_path(), parse,
                          depends=(id(tables), str(local_path), file_identity(local_path)))

