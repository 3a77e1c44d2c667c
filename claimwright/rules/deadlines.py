"""Appeal and resubmission deadlines from ``deadlines.yaml`` (dated, per payer).

For a denial the window depends on the action the rules chose:

==================  ===========================  ===============================================
action              window                       clock starts
==================  ===========================  ===============================================
new claim           timely_filing_days           earliest date of service (denial date if none)
corrected claim     corrected_claim_days         denial (remittance) date
records response    records_response_days        denial date
anything else       appeal_level_1_days          denial date (+ receipt_days: Medicare presumes
                                                 the notice is received 5 days after its date)
==================  ===========================  ===============================================

``due = start + receipt_days + window`` and the internal target is
``start + floor(0.8 x window)``: escalate when 80% of the window has passed.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import datafiles
from ..settings import Settings
from .source import LList, LMap, RulesError, load_located

WINDOW_KEYS = ("appeal_level_1_days", "appeal_level_2_days", "corrected_claim_days",
               "timely_filing_days", "records_response_days")
KINDS = ("commercial", "medicare", "medicaid", "erisa", "workers comp", "other")
TARGET_SHARE_NUM, TARGET_SHARE_DEN = 4, 5  # internal target at 80% of the window


@dataclass(frozen=True)
class PayerWindows:
    id: str
    name: str
    kind: str
    effective_from: dt.date
    windows: dict[str, int]
    receipt_days: int = 0
    ids: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    source: str = ""
    line: int = 0
    later_levels: str = ""  # what comes after level 2 (Claimwright does not follow it)

    def matches(self, payer_id: str, payer_name: str) -> bool:
        pid = (payer_id or "").strip().upper()
        if pid and (pid == self.id.upper() or pid in (i.upper() for i in self.ids)):
            return True
        name = (payer_name or "").strip().upper()
        return bool(name) and any(fnmatch.fnmatchcase(name, p.upper()) for p in self.names)


@dataclass(frozen=True)
class Due:
    due: dt.date | None
    target: dt.date | None
    window_days: int | None
    basis: str


@dataclass
class Deadlines:
    path: Path
    version: str
    default: PayerWindows
    payers: list[PayerWindows] = field(default_factory=list)

    def for_payer(self, payer_id: str, payer_name: str = "",
                  on: dt.date | None = None) -> PayerWindows:
        """The payer's entry in force on ``on`` (latest effective_from not after it)."""
        on = on or dt.date.today()
        candidates = [p for p in self.payers if p.matches(payer_id, payer_name)
                      and p.effective_from <= on]
        if not candidates:
            return self.default
        return max(candidates, key=lambda p: p.effective_from)

    def due_dates(self, payer_id: str, payer_name: str, action: str,
                  denial_date: dt.date | None, dates_of_service: list[dt.date]) -> Due:
        if denial_date is None and not (action == "new claim" and dates_of_service):
            return Due(None, None, None, "no denial date on the remittance: due date unknown")
        payer = self.for_payer(payer_id, payer_name, denial_date or dates_of_service[0])
        receipt = 0
        if action == "new claim":
            key = "timely_filing_days"
            start = min(dates_of_service) if dates_of_service else denial_date
            what = "timely filing from the date of service"
        elif action == "corrected claim":
            key, start, what = "corrected_claim_days", denial_date, "corrected claim"
        elif action == "records response":
            key, start, what = "records_response_days", denial_date, "records response"
        else:
            key, start, what = "appeal_level_1_days", denial_date, "appeal level 1"
            receipt = payer.receipt_days
        assert start is not None
        window = payer.windows[key]
        due = start + dt.timedelta(days=receipt + window)
        target = start + dt.timedelta(days=(window * TARGET_SHARE_NUM) // TARGET_SHARE_DEN)
        who = payer.name or payer.id or "default"
        receipt_text = f" from receipt (notice date + {receipt} days)" if receipt else ""
        basis = (f"{who} ({payer.kind}, from {payer.effective_from.isoformat()}): {what} "
                 f"{window} days{receipt_text}")
        return Due(due, target, window, basis)


def _int(c_fail, value: Any, line: int, field: str, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        c_fail(f"must be a whole number of days >= {low}, found {value!r}", line, field)
    return value


def _entry(path: Path, m: Any, line: int, where: str, *, default: bool) -> PayerWindows:
    def fail(message: str, at: int, field: str) -> None:
        raise RulesError(message, file=str(path), line=at, field=field)

    if not isinstance(m, LMap):
        fail("must be a mapping", line, where)
    allowed = ("id", "name", "ids", "names", "kind", "effective_from", "receipt_days", "source",
               "later_levels") + WINDOW_KEYS
    for key in m.keys():
        if key not in allowed:
            fail(f"unknown key {key!r} (allowed: {', '.join(allowed)})", m.line_of(key),
                 f"{where}.{key}")
    pid = "" if default else str(m.get("id") or "").strip()
    if not default and not pid:
        fail("is required", m.line, f"{where}.id")
    if pid:
        where = f"payers[{pid}]"
    kind = str(m.get("kind") or "").strip()
    if kind not in KINDS:
        fail(f"{kind!r} must be one of {', '.join(KINDS)}", m.line_of("kind"), f"{where}.kind")
    eff = m.get("effective_from")
    if not isinstance(eff, dt.date):
        fail(f"must be a date YYYY-MM-DD, found {eff!r}", m.line_of("effective_from"),
             f"{where}.effective_from")
    windows = {}
    for key in WINDOW_KEYS:
        if key not in m:
            fail("is required", m.line, f"{where}.{key}")
        windows[key] = _int(fail, m.get(key), m.line_of(key), f"{where}.{key}", low=1)
    receipt = _int(fail, m.get("receipt_days", 0), m.line_of("receipt_days"),
                   f"{where}.receipt_days")
    lists = {}
    for key in ("ids", "names"):
        value = m.get(key)
        if value is None:
            lists[key] = ()
        elif isinstance(value, LList) and all(isinstance(v, (str, int)) for v in value.items):
            lists[key] = tuple(str(v) for v in value.items)
        else:
            fail("must be a list of text values", m.line_of(key), f"{where}.{key}")
    return PayerWindows(id=pid, name=str(m.get("name") or "").strip(), kind=kind,
                        effective_from=eff, windows=windows, receipt_days=receipt,
                        ids=lists["ids"], names=lists["names"],
                        source=str(m.get("source") or ""), line=m.line,
                        later_levels=str(m.get("later_levels") or "").strip())


def load_deadlines(path: str | Path | None = None) -> Deadlines:
    path = Path(path) if path else default_deadlines_path()
    doc = load_located(path)
    for key in doc.keys():
        if key not in ("version", "default", "payers"):
            raise RulesError(f"unknown key {key!r} (allowed: version, default, payers)",
                             file=str(path), line=doc.line_of(key), field=key)
    version = str(doc.get("version") or "").strip()
    if not version:
        raise RulesError("is required", file=str(path), line=doc.line, field="version")
    if "default" not in doc:
        raise RulesError("is required", file=str(path), line=doc.line, field="default")
    default = _entry(path, doc.get("default"), doc.line_of("default"), "default", default=True)
    payers = []
    raw = doc.get("payers")
    if raw is not None:
        if not isinstance(raw, LList):
            raise RulesError("must be a list of payer entries", file=str(path),
                             line=doc.line_of("payers"), field="payers")
        seen: dict[tuple[str, dt.date], int] = {}
        for index, (item, line) in enumerate(zip(raw.items, raw.item_lines), start=1):
            entry = _entry(path, item, line, f"payers[{index}]", default=False)
            key = (entry.id.upper(), entry.effective_from)
            if key in seen:
                raise RulesError(f"payer {entry.id} already has an entry effective "
                                 f"{entry.effective_from} (line {seen[key]})", file=str(path),
                                 line=entry.line, field=f"payers[{entry.id}].effective_from")
            seen[key] = entry.line
            payers.append(entry)
    return Deadlines(path=path, version=version, default=default, payers=payers)


def default_deadlines_path() -> Path:
    """``Settings.deadlines``: $CLAIMWRIGHT_DEADLINES or the packaged deadlines.yaml."""
    return Settings.from_env().deadlines


def current_deadlines() -> Deadlines:
    """The deadlines in force: re-read whenever the file changes (:func:`datafiles.load`)."""
    return datafiles.load(default_deadlines_path(), load_deadlines)
