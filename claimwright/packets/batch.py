"""The morning batch: ``out/packets/<run date>/index.xlsx`` (and ``index.json``), every appeal
packet waiting to be sent, the most urgent first, and what the appeals team types back.

Rows: every appeal still being prepared (any level), plus those already in the day's index and
not decided (so a row a person marked sent stays where they typed). Sorted by due date, then priority (highest
first). The workbook has a frozen header, a filter, widths, money and date formats, and colours:
light red when the appeal is overdue or the packet is incomplete, amber when due within 7 days.

The team fills **Sent on**, **Channel** (portal, fax, mail) and **Sent by**; each run reads those
columns back from the index files of the last :data:`READ_BACK_DAYS` days and records the appeal
as sent (as ``claimwright appeals sent`` does). A value that cannot be used is one review item
naming the file, row and column; the rest is read. The files are rewritten only when their
content changed (``index.json`` is the comparison), and never while Excel has one open.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from ..output_store import store_at
from ..worklists.files import UNREADABLE_WORKBOOK

log = logging.getLogger(__name__)

READ_BACK_DAYS = 60
DUE_SOON_DAYS = 7
CHANNELS = ("portal", "fax", "mail")
_RED = PatternFill("solid", fgColor="FDE7EA")
_AMBER = PatternFill("solid", fgColor="FFF1C2")
_HEADER = PatternFill("solid", fgColor="DDE3EA")
_PERSON = PatternFill("solid", fgColor="E2F0D9")
_BOLD = Font(bold=True)

# (header, json field, kind, width); the last three are the team's
COLUMNS = [
    ("Due date", "appeal_due", "date", 11), ("Days left", "days_left", "number", 8),
    ("Priority", "priority", "number", 8), ("Payer", "payer", "text", 11),
    ("Payer claim #", "payer_claim_id", "text", 18),
    ("Patient account", "patient_account", "text", 15), ("Level", "level", "number", 6),
    ("Amount", "denied_amount", "money", 11), ("Category", "categories", "text", 22),
    ("Complete", "completeness", "text", 26), ("Packet", "packet", "text", 40),
    ("Appeal key", "key", "text", 24),
    ("Sent on", "sent_on", "date", 11), ("Channel", "channel", "text", 9),
    ("Sent by", "sent_by", "text", 14),
]
PERSON_FIELDS = ("sent_on", "channel", "sent_by")


@dataclass(frozen=True)
class SentMark:
    key: str
    sent_on: dt.date
    channel: str
    by: str
    where: str  # "index.xlsx (2026-12-01) row 4"


@dataclass(frozen=True)
class BadMark:
    where: str
    problem: str


def index_path(packets: Path, day: dt.date) -> Path:
    return packets / day.isoformat() / "index.xlsx"


def batch_rows(appeals, priorities: dict[str, Decimal], as_of: dt.date,
               packets: Path | None = None, labels: dict[str, str] | None = None) -> list[dict]:
    """The index rows of ``appeals`` (ledger records), sorted by due date then priority; packet
    paths relative to ``packets`` (the folder can be moved or shared as a whole)."""
    rows = []
    for a in appeals:
        base = f"{a.payer_id}:{a.payer_claim_id}"
        missing = list(a.missing or [])
        rows.append({
            "key": a.key, "appeal_due": a.appeal_due.isoformat() if a.appeal_due else None,
            "days_left": (a.appeal_due - as_of).days if a.appeal_due else None,
            "priority": str(priorities.get(base, Decimal(0))), "payer": a.payer,
            "payer_claim_id": a.payer_claim_id, "patient_account": a.patient_account,
            "level": a.level, "denied_amount": str(a.denied_amount), "categories": a.categories,
            "complete": bool(a.complete),
            "completeness": "yes" if a.complete else "INCOMPLETE: missing " + "; ".join(
                (labels or {}).get(k, k) for k in missing),
            "missing": missing, "packet": _relative(a.packet_path, packets), "status": a.status,
            "sent_on": a.sent_on.isoformat() if a.sent_on else None,
            "channel": a.channel or "", "sent_by": a.sent_by or "",
        })
    rows.sort(key=lambda r: (r["appeal_due"] or "9999-12-31", -Decimal(r["priority"]),
                             r["key"]))
    return rows


def _relative(path: str, packets: Path | None) -> str:
    if not path or packets is None:
        return path
    try:
        return Path(path).resolve().relative_to(Path(packets).resolve()).as_posix()
    except ValueError:
        return path


def write_batch_index(packets: Path, rows: list[dict], as_of: dt.date) -> Path | None:
    """Write the day's index (xlsx + json) when its content changed; returns the xlsx path, or
    None when Excel has it open (left untouched)."""
    path = index_path(packets, as_of)
    store, key = store_at(path)
    json_key = key[:-len(path.suffix)] + ".json"
    if store.exists(key[:-len(path.name)] + f"~${path.name}"):
        log.warning("%s is open in Excel: the day's index was not rewritten", path)
        return None
    body = json.dumps({"run_date": as_of.isoformat(), "packets": rows}, indent=1,
                      sort_keys=True).encode() + b"\n"
    if store.exists(key) and store.exists(json_key) and store.get_bytes(json_key) == body:
        return path
    from ..worklists.files import save_atomic

    wb = Workbook()
    ws = wb.active
    ws.title = "Packets"
    for c, (header, _, kind, width) in enumerate(COLUMNS, 1):
        cell = ws.cell(row=1, column=c, value=header)
        cell.font, cell.fill = _BOLD, (_PERSON if COLUMNS[c - 1][1] in PERSON_FIELDS
                                       else _HEADER)
        letter = get_column_letter(c)
        ws.column_dimensions[letter].width = width
        if kind == "date":
            ws.column_dimensions[letter].number_format = "yyyy-mm-dd"
    for r, row in enumerate(rows, 2):
        fill = None
        if not row["complete"] or (row["days_left"] is not None and row["days_left"] < 0):
            fill = _RED
        elif row["days_left"] is not None and row["days_left"] <= DUE_SOON_DAYS:
            fill = _AMBER
        for c, (_, name, kind, _) in enumerate(COLUMNS, 1):
            cell = ws.cell(row=r, column=c)
            _set(cell, row.get(name), kind)
            if fill is not None and name not in PERSON_FIELDS:
                cell.fill = fill
        packet = ws.cell(row=r, column=[n for _, n, _, _ in COLUMNS].index("packet") + 1)
        if row["packet"]:  # relative to the index's folder: works wherever the folder goes
            packet.hyperlink = row["packet"] if Path(row["packet"]).is_absolute() \
                else f"../{row['packet']}"
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{max(len(rows) + 1, 2)}"
    ws.page_setup.orientation = "landscape"
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.print_title_rows = "1:1"
    wb.properties.creator = "Claimwright"
    save_atomic(wb, path)  # owner-only, through the store
    store.put_bytes(json_key, body)
    return path


def _set(cell, value, kind: str) -> None:
    from ..worklists.cells import set_cell

    if value in (None, ""):
        return
    if kind == "date":
        set_cell(cell, dt.date.fromisoformat(value), "date")
    elif kind == "money":
        set_cell(cell, Decimal(value), "money")
    elif kind == "number":
        set_cell(cell, Decimal(str(value)), "number")
    else:
        set_cell(cell, value, "text")


def read_sent_marks(packets: Path, as_of: dt.date) -> tuple[list[SentMark], list[BadMark]]:
    """What the team typed in the Sent columns of the index files of the last
    :data:`READ_BACK_DAYS` days (oldest first, so the latest file wins)."""
    marks: list[SentMark] = []
    bad: list[BadMark] = []
    first = as_of - dt.timedelta(days=READ_BACK_DAYS)
    for folder in sorted(p for p in packets.iterdir() if p.is_dir()) if packets.is_dir() else []:
        try:
            day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        path = folder / "index.xlsx"
        if day < first or not path.is_file():
            continue
        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - a damaged index is one review item
            bad.append(BadMark(f"{path.parent.name}/index.xlsx", f"cannot be read ({exc})"))
            continue
        try:  # read-only sheets are parsed lazily: damage shows only while reading the rows
            _read_sheet(wb.worksheets[0], f"{folder.name}/index.xlsx", marks, bad)
        except UNREADABLE_WORKBOOK as exc:
            bad.append(BadMark(f"{path.parent.name}/index.xlsx",
                               f"cannot be read ({type(exc).__name__}: {exc})"))
        finally:
            wb.close()
    return marks, bad


def _read_sheet(ws, name: str, marks: list[SentMark], bad: list[BadMark]) -> None:
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None) or ()
    at = {str(h).strip().casefold(): i for i, h in enumerate(header) if h is not None}
    need = ("appeal key", "sent on", "channel", "sent by")
    if any(h not in at for h in need[:3]):
        bad.append(BadMark(name, "the columns Appeal key, Sent on and Channel are needed to "
                                 "read back what was sent"))
        return
    for r, values in enumerate(rows, 2):
        def get(h):
            i = at.get(h)
            return values[i] if i is not None and i < len(values) else None

        key, sent, channel, by = (get(h) for h in need)
        if not key or (sent in (None, "") and channel in (None, "")):
            continue
        where = f"{name} row {r}"
        if isinstance(sent, dt.datetime):
            sent = sent.date()
        elif isinstance(sent, str):
            try:
                sent = dt.date.fromisoformat(sent.strip())
            except ValueError:
                bad.append(BadMark(where, f"Sent on {sent!r} is not a date (YYYY-MM-DD)"))
                continue
        if not isinstance(sent, dt.date):
            bad.append(BadMark(where, "Channel is filled but Sent on is empty"))
            continue
        channel = str(channel or "").strip().casefold()
        if channel not in CHANNELS:
            bad.append(BadMark(where, f"Channel {channel!r} is not one of "
                                      f"{', '.join(CHANNELS)}"))
            continue
        marks.append(SentMark(str(key).strip(), sent, channel, str(by or "").strip(), where))
