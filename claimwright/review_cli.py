"""``claimwright review ...``: the review queue for people at a terminal and for scripts.

``list`` / ``show`` / ``history`` / ``overview`` read; ``assign`` / ``start`` / ``resolve`` /
``dismiss`` / ``reopen`` change an item's state, each one event of its audit trail with the
actor (``--by``, default the OS user name); ``attach`` / ``retry`` are the console's resolutions
for scripts (the same code: :mod:`claimwright.resolutions`). ``list`` and ``show`` carry no PHI:
every text of an item (reason, context, problem messages, resolution, evidence paths) is masked by
the one policy of :mod:`claimwright.phi` (by key, and by the PHI values its context holds wherever
they occur); lists show the reason and ids, never the context. ``history`` is masked alike.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from .cli_common import actor as _by
from .cli_common import fail as _fail
review_app = typer.Typer(help="The human review queue.", no_args_is_help=True)

By = Annotated[Optional[str], typer.Option(
    "--by", help="Who does it (default: the OS user name).")]


def _queue():
    from .pipeline import Context

    return Context.from_settings().queue


def _sla():
    from .review_sla import ReviewSlaError, load_review_sla

    try:
        return load_review_sla()
    except ReviewSlaError as exc:
        _fail(str(exc))


def _now():
    from .storage import utcnow

    return utcnow()


def _change(what: str, call, item_id: int) -> None:
    from .storage import ReviewStateError

    try:
        call()
    except ReviewStateError as exc:
        _fail(str(exc))
    except KeyError as exc:
        _fail(str(exc.args[0]))
    typer.echo(f"{what} #{item_id}.")


@review_app.command("list")
def review_list(all_items: Annotated[bool, typer.Option(
                    "--all", help="Include resolved and dismissed.")] = False,
                kind: Annotated[Optional[str], typer.Option(help="Only this kind.")] = None,
                payer: Annotated[Optional[str], typer.Option(help="Only this payer.")] = None,
                state: Annotated[Optional[str], typer.Option(
                    help="Only this state: open, in-review, resolved, dismissed.")] = None,
                assignee: Annotated[Optional[str], typer.Option(
                    help="Only items assigned to this user ('' for unassigned).")] = None,
                only_breached: Annotated[bool, typer.Option(
                    "--breached", help="Only items past their SLA.")] = False,
                as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")]
                = False) -> None:
    """List review items (open and in review by default), with state, assignee, age and SLA
    breach. PHI in context is masked (and the context is not listed)."""
    from .review import ACTIVE
    from .review_view import ReviewView
    from .types import ReviewKind, ReviewState

    if state is not None and state not in list(ReviewState):
        _fail(f"unknown state {state!r}; one of: {', '.join(ReviewState)}")
    if kind is not None and kind not in list(ReviewKind):
        _fail(f"unknown kind {kind!r}; one of: {', '.join(ReviewKind)}")
    status = state or (None if all_items else ACTIVE)
    items = _queue().items(status=status, kind=kind, payer=payer, assignee=assignee)
    now, sla = _now(), _sla()
    views = [ReviewView.of(i, now, sla) for i in items]
    if only_breached:
        views = [v for v in views if v.breached]
    by_id = {i.id: i for i in items}
    if as_json:
        typer.echo(json.dumps([item_json(by_id[v.id]) | _masked_view(v, by_id[v.id])
                               for v in views], indent=2, default=str))
        return
    if not views:
        typer.echo("No review items." if all_items or state or only_breached or kind or payer
                   or assignee is not None else "No open review items.")
        return
    for v in views:
        mask = _masker(by_id[v.id])
        seen = f" (seen {v.occurrences}x)" if v.occurrences > 1 else ""
        late = f" SLA BREACHED (due {v.due:%Y-%m-%d})" if v.breached else ""
        typer.echo(f"#{v.id:<4} {v.state:<9} {v.kind:<20} {v.payer:<10} "
                   f"{v.assignee or '-':<12} {v.age_days:>3}d {v.failure}/{v.about} "
                   f"{v.first_seen:%Y-%m-%d %H:%M}{seen}{late}")
        typer.echo(f"      {mask(v.reason)}")
        for path in v.evidence:
            typer.echo(f"      evidence: {mask(path)}")
    typer.echo(f"{len(views)} item(s), {sum(v.breached for v in views)} past their SLA.")


@review_app.command("show")
def review_show(item_id: int) -> None:
    """Show one review item with its full context (PHI masked: the console's item page shows
    it to reviewers)."""
    from .review_view import ReviewView

    item = _queue().get(item_id)
    if item is None:
        _fail(f"no review item {item_id}")
    view = _masked_view(ReviewView.of(item, _now(), _sla()), item)
    typer.echo(json.dumps(item_json(item) | {
        k: view[k] for k in ("state", "assignee", "failure", "about", "age_days", "due",
                             "breached")}, indent=2, default=str))


@review_app.command("history")
def review_history(item_id: int,
                   as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")]
                   = False) -> None:
    """The item's audit trail: who did what when (UTC)."""
    queue = _queue()
    try:
        events = queue.history(item_id)
    except KeyError as exc:
        _fail(str(exc.args[0]))
    mask = _masker(queue.get(item_id))
    if as_json:
        typer.echo(json.dumps([{"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
                                "detail": mask(e.detail)} for e in events], indent=2))
        return
    for e in events:
        typer.echo(f"{e.at:%Y-%m-%d %H:%M:%S}Z  {e.actor:<14} {e.action:<18} {mask(e.detail)}")


@review_app.command("overview")
def review_overview(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")]
                    = False) -> None:
    """Open and in-review items by kind and age (days), oldest first, and SLA breaches."""
    from .review import ACTIVE
    from .review_view import BUCKETS, overview

    items = _queue().items(status=ACTIVE)
    ov = overview(items, _now(), _sla())
    if as_json:
        by_id = {i.id: i for i in items}
        data = ov.to_json() | {k: [_masked_view(v, by_id.get(v.id)) for v in getattr(ov, k)]
                               for k in ("oldest", "breaches")}
        typer.echo(json.dumps(data, indent=2))
        return
    if not ov.total:
        typer.echo("No open review items.")
        return
    names = [name for name, _, _ in BUCKETS]
    typer.echo(f"{'kind':<20} {'failure':<8} {'open':>5} " + " ".join(f"{n:>5}" for n in names)
               + f" {'late':>5} {'oldest':>6}")
    for r in ov.kinds:
        typer.echo(f"{r.kind:<20} {r.failure:<8} {r.open:>5} "
                   + " ".join(f"{r.buckets[n]:>5}" for n in names)
                   + f" {r.breached:>5} {r.oldest_days:>5}d")
    typer.echo(f"{ov.total} open ({ov.by_state['in-review']} in review), "
               f"{len(ov.breaches)} past their SLA.")
    if ov.oldest:
        typer.echo("Oldest:")
        for v in ov.oldest:
            late = " SLA BREACHED" if v.breached else ""
            typer.echo(f"  #{v.id:<4} {v.kind:<20} {v.payer:<10} {v.age_days:>3}d "
                       f"{v.assignee or '-'}{late}")


@review_app.command("assign")
def review_assign(item_id: int, user: str, by: By = None) -> None:
    """Assign an open or in-review item to USER."""
    _change(f"Assigned to {user}:", lambda: _queue().assign(item_id, user, by=_by(by)), item_id)


@review_app.command("start")
def review_start(item_id: int, by: By = None) -> None:
    """Put an open item in review (assigned to you if no one has it)."""
    _change("In review:", lambda: _queue().start(item_id, by=_by(by)), item_id)


@review_app.command("resolve")
def review_resolve(item_id: int,
                   note: Annotated[str, typer.Option(help="What was done (no PHI).")],
                   by: By = None) -> None:
    """Mark a review item resolved with a note."""
    _change("Resolved", lambda: _queue().resolve(item_id, note, by=_by(by)), item_id)


@review_app.command("dismiss")
def review_dismiss(item_id: int,
                   reason: Annotated[str, typer.Option(help="Why no one will act (no PHI).")],
                   by: By = None) -> None:
    """Dismiss a review item with a reason (its evidence and context are kept)."""
    _change("Dismissed", lambda: _queue().dismiss(item_id, reason, by=_by(by)), item_id)


@review_app.command("reopen")
def review_reopen(item_id: int,
                  why: Annotated[str, typer.Option(help="Why it needs work again (no PHI).")],
                  by: By = None) -> None:
    """Open a resolved or dismissed item again."""
    _change("Reopened", lambda: _queue().reopen(item_id, by=_by(by), why=why), item_id)


def _resolution(call) -> None:
    """Run a shared resolution (claimwright.resolutions) over the settings' ledger."""
    from .pipeline import Context
    from .resolutions import ResolutionError
    from .storage import ReviewStateError

    ctx = Context.from_settings()
    try:
        outcome = call(ctx)
    except (ResolutionError, ReviewStateError) as exc:
        _fail(str(exc))
    finally:
        ctx.ledger.close()
    typer.echo(f"#{outcome.item.id} {outcome.item.status}: {outcome.message}")


@review_app.command("attach")
def review_attach(item_id: int,
                  file: Annotated[Path, typer.Argument(help="The PDF to attach.")],
                  kind: Annotated[str, typer.Option(help="Which missing document it is.")],
                  by: By = None) -> None:
    """Attach the missing document of a missing-document item; its packet is rebuilt."""
    from .resolutions import MAX_UPLOAD_BYTES, attach_document

    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_UPLOAD_BYTES + 1)
    except OSError as exc:
        _fail(f"{file}: {exc.strerror}")
    _resolution(lambda ctx: attach_document(ctx, item_id, data, kind, by=_by(by)))


@review_app.command("retry")
def review_retry(item_id: int, by: By = None) -> None:
    """Retry now: the item's failed unit is reset and run again: through Prefect when a server
    with the retry-review-item deployment is configured, here otherwise (a pull signs in with
    a browser, then that payer's documents are processed and outputs made)."""
    from .retries import retry_item

    _resolution(lambda ctx: retry_item(ctx, item_id, by=_by(by)))


def _masker(item):
    """A function masking any text about ``item`` (:func:`claimwright.phi.mask_item`)."""
    from .phi import mask_known, mask_text, phi_values

    values = phi_values(item.context) if item is not None else {}
    return lambda text: mask_known(mask_text(text or "", values)) if text else text


def _masked_view(view, item) -> dict:
    """``view.to_json()`` with its texts masked by ``item``'s PHI."""
    mask = _masker(item)
    data = view.to_json()
    return {k: ([mask(p) for p in v] if isinstance(v, list) and all(isinstance(p, str) for p in v)
                else mask(v) if isinstance(v, str) else v) for k, v in data.items()}


def item_json(item) -> dict:
    """An item as ``list --json`` / ``show`` print it: no PHI (see the module doc)."""
    from .phi import masked, phi_values

    values = phi_values(item.context)
    data = {"id": item.id, "kind": item.kind, "status": item.status, "payer": item.payer,
            "reason": item.reason, "occurrences": item.occurrences,
            "created_at": item.created_at, "last_seen_at": item.last_seen_at,
            "context": item.context, "evidence": item.evidence,
            "resolution": item.resolution}
    shown = masked({k: v for k, v in data.items() if k not in ("created_at", "last_seen_at")},
                   values)
    return data | shown


@review_app.command("serve")
def review_serve(host: Annotated[str, typer.Option(
                     help="Address to bind (default: this machine only).")] = "127.0.0.1",
                 port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765) -> None:
    """Serve the review console in a browser (the same as ``claimwright console serve``)."""
    from .console.cli import serve

    serve(host=host, port=port)
