"""How long a review item may wait, per kind: ``claimwright/review_sla.yaml``.

The file (replaced whole by ``CLAIMWRIGHT_REVIEW_SLA``) gives a ``default`` and, per review kind,
the days within which an item should be resolved or dismissed, counted from when it was first
seen. Every key under ``kinds`` must be a :class:`~claimwright.types.ReviewKind`; a wrong file is
refused when loaded with ``file:line: field: problem``.

- :func:`age`: whole days since first seen (until closed, for a closed item);
- :func:`sla_due`: when it should be done; :func:`breached`: an active item past that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ConfigDict, Field

from .datafiles import load, located, read_yaml, validate
from .errors import ClaimwrightError
from .types import FaultCode, ReviewKind, ReviewState

DEFAULT_FILE = Path(__file__).resolve().parent / "review_sla.yaml"


class ReviewSlaError(ClaimwrightError):
    """The review SLA file is invalid. ``str()`` reads ``file:line: field: problem``."""

    code = FaultCode.BAD_CONFIG

    def __init__(self, problem: str, *, file: str = "", line: int | None = None,
                 field: str = "") -> None:
        super().__init__(located(problem, file=file, line=line, field=field), file=file,
                         line=line, field=field)
        self.problem, self.file, self.line, self.field = problem, file, line, field


class _Limit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days: int = Field(ge=1, le=365)
    why: str = ""


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: _Limit
    kinds: dict[str, _Limit] = Field(default_factory=dict)


@dataclass(frozen=True)
class ReviewSla:
    """Days allowed per kind (``days_for``); kinds the file does not name get ``default_days``."""

    default_days: int = 3
    days: Mapping[str, int] = field(default_factory=dict)
    file: str = ""

    def days_for(self, kind: ReviewKind | str) -> int:
        return self.days.get(str(kind), self.default_days)


def parse_review_sla(path: Path) -> ReviewSla:
    doc = read_yaml(path, ReviewSlaError)
    model = validate(_File, doc, ReviewSlaError)
    known = {k.value for k in ReviewKind}
    for kind in model.kinds:
        if kind not in known:
            raise ReviewSlaError(f"unknown review kind {kind!r}; one of: "
                                 f"{', '.join(sorted(known))}", file=str(path),
                                 line=doc.line_of(("kinds", kind)), field=f"kinds.{kind}")
    return ReviewSla(model.default.days, {k: v.days for k, v in model.kinds.items()},
                     str(path))


def load_review_sla(path: str | Path | None = None) -> ReviewSla:
    """The SLA file at ``path`` (default: ``Settings.from_env().review_sla``), parsed again only
    when it changed."""
    if path is None:
        from .settings import Settings

        path = Settings.from_env().review_sla
    return load(Path(path), parse_review_sla)


def age(item, now: dt.datetime) -> int:
    """Whole days since the item was first seen; a closed item's age stops when it closed."""
    end = now if ReviewState(item.status).active or item.resolved_at is None else item.resolved_at
    return max(0, (end - item.created_at).days)


def sla_due(item, sla: ReviewSla | None = None) -> dt.datetime:
    """When the item should be resolved or dismissed (UTC): first seen + its kind's days."""
    sla = sla or load_review_sla()
    return item.created_at + dt.timedelta(days=sla.days_for(item.kind))


def breached(item, now: dt.datetime, sla: ReviewSla | None = None) -> bool:
    """An open or in-review item past its SLA (a closed item is never in breach)."""
    return ReviewState(item.status).active and now > sla_due(item, sla)
