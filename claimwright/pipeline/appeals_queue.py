"""Stage 4, the appeals queue: every packet, most urgent first, with priorities of today.

A denial's priority depends on the day (urgency grows as its deadline nears), so the priorities
of open denials are recomputed as of the run's day before the queue is written: the queue is
never sorted by the priority of the day a denial was first found.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from ..fileio import private_dir
from ..output_store import store_at
from ..types import ReviewKind
from .context import Context

FIELDS = ["priority", "appeal_due", "payer_id", "payer_claim_id", "denied_amount", "reasons",
          "categories", "packet"]


def refresh_priorities(ctx: Context, as_of: dt.date) -> int:
    """Recompute every denial's priority as of ``as_of``; returns how many changed. The
    recovery likelihood of a (payer, category) with enough decided appeals is the one learned
    from them (:mod:`claimwright.appeals.learning`), else the table's."""
    from ..appeals.learning import learned_likelihoods
    from ..rules.ruleset import current_rules
    from ..rules.priority import score_denial

    config = current_rules().priority
    learned = learned_likelihoods(ctx.ledger, config)
    priorities = {f.key: score_denial(f.amount, f.category, f.internal_target, f.appeal_due,
                                      config, as_of=as_of,
                                      likelihood=learned.get((f.payer_id, f.category)))
                  for f in ctx.ledger.findings(denials_only=True)
                  if f.prioritized_on != as_of}
    return ctx.ledger.set_priorities(priorities, as_of) if priorities else 0


def write_appeals_queue(ctx: Context, as_of: dt.date | None = None) -> Path:
    """The appeals team's to-do list: every packet, most urgent first (highest priority as of
    ``as_of``, default today, then earliest due date), as ``out/packets/appeals-queue.csv``.
    Rewritten only when it changed."""
    refresh_priorities(ctx, as_of or dt.date.today())
    packets = {rec.key: rec for rec in ctx.ledger.outputs("packet")}
    by_claim: dict[str, list] = defaultdict(list)
    for f in ctx.ledger.findings(denials_only=True):
        key = f"{f.payer_id}:{f.payer_claim_id}"
        if key in packets and f.action == "appeal":
            by_claim[key].append(f)
    rows = []
    for key, found in by_claim.items():
        dues = [f.appeal_due for f in found if f.appeal_due]
        rows.append({
            "priority": max(f.priority for f in found),
            "appeal_due": min(dues).isoformat() if dues else "",
            "payer_id": found[0].payer_id, "payer_claim_id": found[0].payer_claim_id,
            "denied_amount": sum((f.amount for f in found), Decimal(0)),
            "reasons": " ".join(sorted({f"{f.group_code}-{f.carc}" for f in found})),
            "categories": "; ".join(sorted({f.category for f in found})),
            "packet": packets[key].path,
        })
    rows.sort(key=lambda r: (-r["priority"], r["appeal_due"] or "9999", r["payer_claim_id"]))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path = ctx.settings.packets / "appeals-queue.csv"
    store, key = store_at(path, ctx.settings)
    store.put_bytes(key, buffer.getvalue().encode(), skip_if_same=True)
    priorities = {key: max(f.priority for f in found) for key, found in by_claim.items()}
    write_morning_batch(ctx, as_of or dt.date.today(), priorities)
    return path


def write_morning_batch(ctx: Context, as_of: dt.date,
                        priorities: dict[str, Decimal] | None = None) -> Path | None:
    """Read back what the team marked sent in the batch indexes, then write the day's index
    (:mod:`claimwright.packets.batch`); returns its path (None: open in Excel, untouched)."""
    from ..packets import load_letters
    from ..packets.batch import batch_rows, index_path, read_sent_marks, write_batch_index
    from ..worklists.files import locked

    packets = ctx.settings.packets
    today = index_path(packets, as_of)
    private_dir(today.parent)
    with locked(today, wait=120):
        marks, bad = read_sent_marks(packets, as_of)
        for mark in marks:
            try:
                ctx.ledger.record_sent(mark.key, sent_on=mark.sent_on, channel=mark.channel,
                                       by=mark.by)
            except (KeyError, ValueError) as exc:
                bad.append(_bad(mark.where, str(exc)))
        for b in bad:
            ctx.queue.open(ReviewKind.OUTPUT_FAILED, f"appeal batch index {b.where}: {b.problem}",
                           key=f"batch-index:{b.where}", context={"where": b.where})
        listed = set()
        json_path = today.with_suffix(".json")
        if json_path.exists():
            try:
                listed = {r["key"] for r in json.loads(json_path.read_text())["packets"]}
            except (ValueError, KeyError, TypeError):
                listed = set()
        appeals = [a for a in ctx.ledger.appeals()
                   if (a.status == "prepared" and a.packet_path)
                   or (a.key in listed and a.status == "sent")]
        if priorities is None:
            priorities = {}
            for f in ctx.ledger.findings(denials_only=True):
                key = f"{f.payer_id}:{f.payer_claim_id}"
                priorities[key] = max(priorities.get(key, Decimal(0)), f.priority)
        labels = load_letters(ctx.settings).documents
        return write_batch_index(packets, batch_rows(appeals, priorities, as_of, packets, labels),
                                 as_of)


def _bad(where: str, problem: str):
    from ..packets.batch import BadMark

    return BadMark(where, problem)
