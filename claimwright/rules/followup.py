"""What a portal's claim or appeal status means for Claimwright: normalized status, next step.

The mapping is data, ``claimwright/rules/followup.yaml`` (``$CLAIMWRIGHT_FOLLOWUP`` overrides the
path), validated on load: a mistake raises :class:`claimwright.rules.source.RulesError` naming the
file and the field (``followup.yaml: claim.statuses[1].follow_up_days: ...``). The file is read
again when it changes, so an admin's edit takes effect on the next run.

:func:`interpret` turns one portal answer into an :class:`Outcome`: the normalized status
(``paid``, ``denied``, ``pending``, ``info-requested``, ``not-found`` for claims; ``received``,
``under-review``, ``upheld``, ``overturned``, ``partial``, ``info-requested``, ``not-found`` for
appeals; ``unrecognized`` when no pattern matches), whether it is final, whether a person must
act and who, and the next follow-up date.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .. import datafiles
from ..settings import Settings
from .source import RulesError

DEFAULT_PATH = Settings.followup  # the packaged file ($CLAIMWRIGHT_FOLLOWUP overrides it)
KINDS = ("claim", "appeal")
NOT_FOUND = "not-found"
UNRECOGNIZED = "unrecognized"
Owner = Literal["appeals", "coding", "billing"]
StatusName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Treatment(_Strict):
    """What follows from a status (shared by listed statuses and ``unrecognized``)."""

    final: bool = False
    needs_action: bool
    owner: Owner
    follow_up_days: Annotated[int, Field(ge=1, le=365)] | None = None

    @model_validator(mode="after")
    def _follow_up(self) -> Treatment:
        if not self.final and self.follow_up_days is None:
            raise ValueError("follow_up_days is required unless final is true")
        if self.final and self.follow_up_days is not None:
            raise ValueError("a final status is never checked again: remove follow_up_days")
        return self


class StatusRule(Treatment):
    status: StatusName
    match: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _patterns(self) -> StatusRule:
        if self.status == NOT_FOUND and self.match:
            raise ValueError("not-found is set by the bot; it takes no match patterns")
        if self.status != NOT_FOUND and not self.match:
            raise ValueError("match: needs at least one pattern")
        if self.status == UNRECOGNIZED:
            raise ValueError("'unrecognized' is its own section, not a status entry")
        return self


class KindRules(_Strict):
    statuses: Annotated[list[StatusRule], Field(min_length=1)]
    unrecognized: Treatment

    @model_validator(mode="after")
    def _unique_with_not_found(self) -> KindRules:
        names = [s.status for s in self.statuses]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"status listed twice: {', '.join(dupes)}")
        if NOT_FOUND not in names:
            raise ValueError("statuses: needs a 'not-found' entry (what to do when the portal "
                             "has no record)")
        return self


class FollowUpRules(_Strict):
    version: int
    claim: KindRules
    appeal: KindRules


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: str            # normalized
    portal_status: str     # as the portal printed it ("" when not found)
    final: bool
    needs_action: bool
    owner: str
    next_follow_up: dt.date | None  # None when final


def parse_followup(data: object, source: str | Path = "followup.yaml") -> FollowUpRules:
    """Validate loaded YAML (a dict, or a :class:`datafiles.YamlFile` to get line numbers);
    errors name the file, the line when known, and the field."""
    doc = data if isinstance(data, datafiles.YamlFile) else \
        datafiles.YamlFile(Path(source), data, None)
    if not isinstance(doc.data, dict):
        raise RulesError("expected a mapping at the top level", file=str(doc.path))
    return datafiles.validate(FollowUpRules, doc, RulesError)


def followup_path() -> Path:
    """``Settings.followup``: $CLAIMWRIGHT_FOLLOWUP or the packaged followup.yaml."""
    return Settings.from_env().followup


def _read_followup(path: Path) -> FollowUpRules:
    return parse_followup(datafiles.read_yaml(path, RulesError))


def load_followup(path: Path | None = None) -> FollowUpRules:
    """The follow-up rules (re-read when the file changes: :func:`datafiles.load`)."""
    return datafiles.load(Path(path or followup_path()), _read_followup)


def _matches(pattern: str, text: str) -> bool:
    pattern = pattern.casefold()
    if "*" not in pattern and "?" not in pattern:
        return pattern == text
    return fnmatch.fnmatchcase(text, pattern)


def normalize(kind: str, portal_status: str, *, found: bool = True,
              rules: FollowUpRules | None = None) -> tuple[str, Treatment]:
    """(normalized status, its treatment) for a portal's status text."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    rules = rules or load_followup()
    section: KindRules = getattr(rules, kind)
    if not found:
        return NOT_FOUND, next(s for s in section.statuses if s.status == NOT_FOUND)
    text = re.sub(r"\s+", " ", portal_status).strip().casefold()
    for rule in section.statuses:
        if any(_matches(p, text) for p in rule.match):
            return rule.status, rule
    return UNRECOGNIZED, section.unrecognized


def interpret(kind: str, portal_status: str, *, found: bool = True, checked_on: dt.date,
              rules: FollowUpRules | None = None) -> Outcome:
    status, treatment = normalize(kind, portal_status, found=found, rules=rules)
    follow = (None if treatment.final
              else checked_on + dt.timedelta(days=treatment.follow_up_days or 1))
    return Outcome(kind=kind, status=status, portal_status=portal_status if found else "",
                   final=treatment.final, needs_action=treatment.needs_action,
                   owner=treatment.owner, next_follow_up=follow)
