"""The review console's resolution forms: ``POST /items/{id}/<action>`` (reviewer and admin).

:func:`add_actions` registers, for one item each:

- ``assign`` (``assignee``), ``start``, ``resolve`` (``note``), ``dismiss`` (``reason``,
  required), ``reopen`` (``why``): the life of the item (:class:`~claimwright.review.ReviewQueue`
  writes each to the audit trail);
- ``categorize`` (an ``unknown-code`` item), ``attach`` (a ``missing-document`` item: a PDF
  upload), ``retry`` (the item of a failed unit): the resolutions that feed back, shared with
  the CLI in :mod:`claimwright.resolutions`;
- ``code`` (an ``mfa-code-needed`` item whose nightly run waits): hand the one-time code a
  portal sent by SMS or e-mail to that paused run (``pipeline.one_time_codes.enter_code``).

Each answers with a redirect (303) to the item page with ``?done=<what happened>``; a refused
change answers 400 with the message on a page and the item's forms again, never a 500. The
:class:`~.auth.Guard` checks the session and the CSRF token before any of this runs; the
``require("reviewer")`` dependency refuses a viewer (403). ``templates/actions_item.html`` is the
forms, included by the item page (it gets ``item``, ``user``, ``csrf_token``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable
from urllib.parse import quote

from fastapi import Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from ..types import ReviewKind
from .auth import ConsoleUser, require

if TYPE_CHECKING:
    from .app import Console

#: routes added here (for the tests: each must refuse a viewer)
ACTIONS = ("assign", "start", "resolve", "dismiss", "reopen", "categorize", "attach", "correct",
           "retry", "code")
MAX_MESSAGE = 300  # characters of the flash message carried in the redirect
#: review kinds whose item page has "Retry now": system failures, and an unreadable document
#: (e.g. one quarantined because its parse passed a limit or crashed: the file may be replaced)
RETRYABLE = sorted({str(k) for k in ReviewKind if k.failure == "system"}
                   | {str(ReviewKind.UNREADABLE_DOCUMENT)})


def add_actions(app: FastAPI, console: Console) -> None:
    """Register the resolution routes of :mod:`this module <claimwright.console.actions>`."""
    from ..rules.ruleset import ACTIONS as RULE_ACTIONS
    from ..rules.ruleset import APPEALABLE, CATEGORIES, OWNERS

    console.templates.env.globals["resolution_choices"] = {
        "categories": CATEGORIES, "owners": OWNERS, "actions": RULE_ACTIONS,
        "appealable": APPEALABLE,
        "retryable": RETRYABLE}
    reviewer = Depends(require("reviewer"))

    def context():
        from ..pipeline import Context

        return Context(console.settings, console.ledger(), console.queue())

    def act(request: Request, item_id: int, call: Callable[[], str]) -> Response:
        from ..resolutions import ResolutionError
        from ..storage import ReviewStateError

        try:
            message = call()
        except (ReviewStateError, ResolutionError, KeyError) as exc:
            text = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
            item = console.queue().get(item_id)
            return console.render(request, "actions_refused.html", 404 if item is None else 400,
                                  item=item, item_id=item_id, error=str(text),
                                  user=request.state.console_user)
        return RedirectResponse(f"/items/{item_id}?done={quote(message[:MAX_MESSAGE])}",
                                status_code=303)

    @app.post("/items/{item_id}/assign")
    def assign(request: Request, item_id: int, assignee: str = Form(""),
               user: ConsoleUser = reviewer) -> Response:
        return act(request, item_id, lambda: _said(
            console.queue().assign(item_id, assignee, by=user.name), f"Assigned to {assignee}."))

    @app.post("/items/{item_id}/start")
    def start(request: Request, item_id: int, user: ConsoleUser = reviewer) -> Response:
        return act(request, item_id, lambda: _said(
            console.queue().start(item_id, by=user.name), "In review."))

    @app.post("/items/{item_id}/resolve")
    def resolve(request: Request, item_id: int, note: str = Form(""),
                user: ConsoleUser = reviewer) -> Response:
        return act(request, item_id, lambda: _said(
            console.queue().resolve(item_id, note, by=user.name), "Resolved."))

    @app.post("/items/{item_id}/dismiss")
    def dismiss(request: Request, item_id: int, reason: str = Form(""),
                user: ConsoleUser = reviewer) -> Response:
        return act(request, item_id, lambda: _said(
            console.queue().dismiss(item_id, reason, by=user.name), "Dismissed."))

    @app.post("/items/{item_id}/reopen")
    def reopen(request: Request, item_id: int, why: str = Form(""),
               user: ConsoleUser = reviewer) -> Response:
        return act(request, item_id, lambda: _said(
            console.queue().reopen(item_id, by=user.name, why=why), "Reopened."))

    @app.post("/items/{item_id}/categorize")
    def categorize(request: Request, item_id: int, category: str = Form(""),
                   owner: str = Form(""), action: str = Form(""), appealable: str = Form("no"),
                   condition: str = Form(""), why: str = Form(""),
                   user: ConsoleUser = reviewer) -> Response:
        from ..resolutions import categorize_item

        return act(request, item_id, lambda: categorize_item(
            context(), item_id, category=category, owner=owner, action=action,
            appealable=appealable, condition=condition, why=why, by=user.name).message)

    @app.post("/items/{item_id}/attach")
    def attach(request: Request, item_id: int, kind: str = Form(""),
               document: UploadFile | None = File(None),
               user: ConsoleUser = reviewer) -> Response:
        from ..resolutions import MAX_UPLOAD_BYTES, ResolutionError, attach_document

        def call() -> str:
            if document is None:
                raise ResolutionError("choose the PDF to attach")
            data = document.file.read(MAX_UPLOAD_BYTES + 1)  # bounded: never the whole body
            return attach_document(context(), item_id, data, kind, by=user.name).message

        return act(request, item_id, call)

    @app.post("/items/{item_id}/correct")
    def correct(request: Request, item_id: int, changes: str = Form(""), line: str = Form(""),
                why: str = Form(""), user: ConsoleUser = reviewer) -> Response:
        from ..corrections import CorrectionError, parse_changes
        from ..resolutions import ResolutionError, correct_item

        def call() -> str:
            try:
                parsed = parse_changes(changes.splitlines())
            except CorrectionError as exc:
                raise ResolutionError(str(exc)) from exc
            number = int(line) if line.strip().isdigit() else None
            if line.strip() and number is None:
                raise ResolutionError("the line is a number (1 for the first service line)")
            return correct_item(context(), item_id, parsed, why=why, by=user.name,
                                line=number).message

        return act(request, item_id, call)

    @app.post("/items/{item_id}/retry")
    def retry(request: Request, item_id: int, user: ConsoleUser = reviewer) -> Response:
        from ..retries import retry_item

        return act(request, item_id, lambda: retry_item(context(), item_id, by=user.name,
                                                        background=True).message)

    @app.post("/items/{item_id}/code")
    def code(request: Request, item_id: int, code: str = Form(""),
             user: ConsoleUser = reviewer) -> Response:
        from ..pipeline.one_time_codes import enter_code

        return act(request, item_id, lambda: enter_code(context(), item_id, code, by=user.name))


def _said(_item, message: str) -> str:
    return message
