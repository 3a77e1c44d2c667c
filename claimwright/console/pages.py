"""The review console's pages: the queue list, an item's page with its evidence, the overview.

:func:`add_pages` adds the routes to the app of :func:`~.app.create_app` (the :class:`~.auth.Guard`
already refuses every request without a session):

- ``GET /`` and ``GET /items``: the queue, filtered by the query string (``kind``, ``payer``,
  ``state`` -- ``active`` by default, ``all`` or one state --, ``assignee``, ``min_age`` days,
  ``breached=1``), counts per state and per kind, oldest first, at most :data:`PAGE_SIZE` rows.
  PHI is masked in the list for every role (:mod:`claimwright.phi`, the one masking policy).
- ``GET /items/{id}``: everything about one item. Reviewers and admins see its PHI in full (each
  such page view is one ``viewed-phi`` event in the item's audit trail): this page carries PHI by
  design. A viewer sees it masked and no evidence content.
- ``GET /items/{id}/evidence/{n}``: ``item.evidence[n]`` (reviewer and admin), only from under the
  project's home/out folders; images inline, anything else as an attachment (a download is a
  ``viewed-phi`` event too).
- ``GET /items/{id}/evidence/{n}/marked/{k}``: page ``k`` of the remittance PDF ``n`` with the
  failing claim's rows boxed, as a PNG (rendered once, cached in memory).
- ``GET /overview``: active items by kind and age bucket, the oldest, the SLA breaches.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from ..phi import mask_text, masked, phi_values
from ..review_sla import load_review_sla
from ..review_view import ReviewView, overview
from ..storage import utcnow
from ..types import ReviewKind, ReviewState
from .auth import current_user, require
from .evidence import ImageCache, download_name, evidence_file, kind_of, marked_pages

PAGE_SIZE = 200  # rows of the queue list at most (the counts cover everything)
PHI_ROLE = "reviewer"  # reviewers and admins see PHI in full
#: context keys the item page does not list as details: the problems have their table, files
#: are shown as evidence (by index), never as server paths
_NOT_DETAILS = {"problems", "file", "screenshot", "trace", "path"}
_MARKED = "marked"  # the cache key's tag of a remittance page image


# filters --------------------------------------------------------------------------------------
def _state_filter(state: str) -> tuple[str, ...] | None:
    if state in ("", "active"):
        return tuple(s.value for s in ReviewState if s.active)
    if state == "all":
        return None
    try:
        return (ReviewState(state).value,)
    except ValueError:
        raise HTTPException(400, f"unknown state {state!r}") from None


def _matches(view: ReviewView, *, kind: str, payer: str, assignee: str, min_age: int | None,
             breached: bool) -> bool:
    return ((not kind or view.kind == kind) and (not payer or view.payer == payer)
            and (not assignee or view.assignee == assignee)
            and (min_age is None or view.age_days >= min_age)
            and (not breached or view.breached))


def _days(text: str) -> int | None:
    if not text.strip():
        return None
    if not text.strip().isdigit() or int(text) > 3650:
        raise HTTPException(400, "age: a whole number of days")
    return int(text)


def add_pages(app: FastAPI, console) -> None:
    """The queue, item, evidence and overview routes (see the module docstring)."""
    page = console.render
    images = ImageCache()
    roots = [console.settings.home, console.settings.out]
    console.images = images

    def sla():
        return load_review_sla(console.settings.review_sla)

    def item_or_404(item_id: int):
        item = console.queue().get(item_id)
        if item is None:
            raise HTTPException(404, "No such review item.")
        return item

    @app.get("/", response_class=HTMLResponse)
    @app.get("/items", response_class=HTMLResponse)
    def queue_list(request: Request, kind: str = "", payer: str = "", state: str = "active",
                   assignee: str = "", min_age: str = "", breached: bool = False) -> Response:
        user = current_user(request)
        min_age = _days(min_age)  # the form sends an empty box as ""
        if kind and kind not in {k.value for k in ReviewKind}:
            raise HTTPException(400, f"unknown kind {kind!r}")
        states = _state_filter(state)
        now, limits = utcnow(), sla()
        items = {i.id: i for i in console.queue().items(None)}
        views = sorted((ReviewView.of(i, now, limits) for i in items.values()),
                       key=lambda v: (v.first_seen, v.id))
        filters = dict(payer=payer, assignee=assignee, min_age=min_age, breached=breached)
        per_state = Counter(str(v.state) for v in views if _matches(v, kind=kind, **filters))
        in_state = [v for v in views if states is None or str(v.state) in states]
        per_kind = Counter(v.kind for v in in_state if _matches(v, kind="", **filters))
        shown = [v for v in in_state if _matches(v, kind=kind, **filters)]
        reasons = {v.id: mask_text(v.reason, phi_values(items[v.id].context))
                   for v in shown[:PAGE_SIZE]}
        return page(request, "queue.html", user=user, rows=shown[:PAGE_SIZE], total=len(shown),
                    page_size=PAGE_SIZE, reasons=reasons, per_state=per_state,
                    per_kind=sorted(per_kind.items()), states=[s.value for s in ReviewState],
                    kinds=sorted(k.value for k in ReviewKind),
                    payers=sorted({v.payer for v in views if v.payer}),
                    form=dict(kind=kind, payer=payer, state=state or "active",
                              assignee=assignee, min_age="" if min_age is None else min_age,
                              breached=breached),
                    query={k: v for k, v in dict(kind=kind, payer=payer, state=state,
                                                 assignee=assignee, min_age=min_age,
                                                 breached=1 if breached else None).items()
                           if v not in ("", None)})

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    def item_page(request: Request, item_id: int) -> Response:
        user = current_user(request)
        queue = console.queue()
        item = item_or_404(item_id)
        full = user.allows(PHI_ROLE)
        values = phi_values(item.context)
        context = dict(item.context) if full else masked(item.context, values)
        reason = item.reason if full else mask_text(item.reason, values)
        if full:
            queue.record(item.id, "viewed-phi", by=user.name, detail="item page")
        files = []
        for n, path in enumerate(item.evidence or []):
            entry = {"n": n, "name": download_name(Path(path)), "kind": kind_of(path),
                     "marked": 0}
            if full and entry["kind"] == "pdf" and evidence_file(item, n, roots):
                entry["marked"] = len(_marked(item, n))
            files.append(entry)
        problems = [p for p in context.get("problems") or [] if isinstance(p, dict)]
        retry = None
        if ReviewKind(item.kind).failure == "system":  # the items "Retry now" is for
            from ..retries import last_retry

            retry = last_retry(queue, item.id)
        return page(request, "item.html", user=user, item=item, retry=retry,
                    view=ReviewView.of(item, utcnow(), sla()), reason=reason,
                    context={k: v for k, v in context.items() if k not in _NOT_DETAILS},
                    problems=problems, files=files, full=full,
                    resolution=item.resolution if full else mask_text(item.resolution, values),
                    history=[(e, e.detail if full else mask_text(e.detail, values))
                             for e in queue.history(item.id)])

    def _marked(item, n: int) -> list[bytes]:
        key = (_MARKED, item.id, n)
        cached = images.get(key)
        if cached is not None:
            return cached
        path = evidence_file(item, n, roots)
        return images.put(key, marked_pages(path, console.ledger(), item.context)
                          if path else [])

    @app.get("/items/{item_id}/evidence/{n}")
    def evidence(request: Request, item_id: int, n: int,
                 user=Depends(require(PHI_ROLE))) -> Response:
        item = item_or_404(item_id)
        path = evidence_file(item, n, roots)
        if path is None:
            raise HTTPException(404, "No such evidence.")
        if kind_of(str(path)) == "screenshot":
            key = ("file", item.id, n)
            data = images.get(key) or images.put(key, [path.read_bytes()])
            return Response(data[0], media_type="image/png",
                            headers={"content-disposition": "inline"})
        console.queue().record(item.id, "viewed-phi", by=user.name,
                               detail=f"downloaded evidence {n}")
        media = {"trace": "application/zip", "pdf": "application/pdf"}.get(
            kind_of(str(path)), "application/octet-stream")
        return FileResponse(path, media_type=media, filename=download_name(path),
                            content_disposition_type="attachment")

    @app.get("/items/{item_id}/evidence/{n}/marked/{k}")
    def marked_page(item_id: int, n: int, k: int, user=Depends(require(PHI_ROLE))) -> Response:
        item = item_or_404(item_id)
        pages = _marked(item, n)
        if not 0 <= k < len(pages):
            raise HTTPException(404, "No such page image.")
        return Response(pages[k], media_type="image/png",
                        headers={"content-disposition": "inline"})

    @app.get("/overview", response_class=HTMLResponse)
    def overview_page(request: Request) -> Response:
        user = current_user(request)
        items = console.queue().items(tuple(s.value for s in ReviewState if s.active))
        return page(request, "overview.html", user=user,
                    summary=overview(items, utcnow(), sla(), oldest=20))
