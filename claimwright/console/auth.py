"""Who is signed in, once for every route: the :class:`Guard` middleware and the dependencies.

:class:`Guard` wraps the whole ASGI app, so a route added later cannot forget it:

- every response gets the security headers (:data:`SECURITY_HEADERS`, ``Cache-Control: no-store``);
- a request to any path but :data:`PUBLIC` needs a signed-in session: a GET/HEAD without one is
  redirected to ``/login`` (303), anything else gets 401; an unknown path is treated the same
  (no route listing for strangers); websockets are closed;
- every request that is not GET/HEAD/OPTIONS needs the session's CSRF token, in the form field
  ``csrf_token`` or the header ``X-CSRF-Token``, compared in constant time; the login form's token
  belongs to its sign-in session (see :mod:`.sessions`). Missing or wrong: 403.

Routes read the user with the dependencies :func:`current_user` and :func:`require`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from fastapi import Depends, HTTPException, Request
from starlette.datastructures import MutableHeaders
from starlette.responses import PlainTextResponse, RedirectResponse

from .users import Role

if TYPE_CHECKING:
    from .app import Console

COOKIE = "claimwright_session"
CSS_PATH = "/static/console.css"
PUBLIC = frozenset({"/login", "/health", CSS_PATH})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_BODY = 32 * 2**20  # bytes buffered to find the form's CSRF token (uploads come later)
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
}


@dataclass(frozen=True)
class ConsoleUser:
    name: str
    role: Role

    def allows(self, role: Role | str) -> bool:
        return self.role.allows(role)


class Guard:
    def __init__(self, app, console: Console) -> None:
        self.app, self.console = app, console

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        request = Request(scope)
        session, user = self.console.signed_in(request.cookies.get(COOKIE))
        state = scope.setdefault("state", {})
        state["console_session"], state["console_user"] = session, user
        method = scope["method"]
        if scope["path"] not in PUBLIC and user is None:
            response = (RedirectResponse("/login", status_code=303) if method in ("GET", "HEAD")
                        else PlainTextResponse("Sign in first.", status_code=401))
            await response(scope, receive, send_with_headers)
            return
        if method not in SAFE_METHODS:
            body = await _read_body(receive)
            if body is None:
                await PlainTextResponse("Request too large.", status_code=413)(
                    scope, receive, send_with_headers)
                return
            receive = _replay(body)
            given = request.headers.get("x-csrf-token") or await _form_token(scope, body)
            if session is None or not given or not hmac.compare_digest(
                    given.encode("utf-8"), session.csrf.encode("utf-8")):
                await PlainTextResponse(
                    "This form has expired or did not come from this console. Reload the page "
                    "and try again.", status_code=403)(scope, _replay(body), send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)


async def _read_body(receive) -> bytes | None:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _form_token(scope, body: bytes) -> str | None:
    content_type = Request(scope).headers.get("content-type", "")
    if not content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return None
    request = Request(dict(scope), receive=_replay(body))
    try:
        form = await request.form()
    except Exception:  # a malformed body has no token
        return None
    try:
        value = form.get("csrf_token")
        return value if isinstance(value, str) else None
    finally:
        await form.close()


def current_user(request: Request) -> ConsoleUser:
    """The signed-in user (the :class:`Guard` has already refused requests without one)."""
    user = request.scope.get("state", {}).get("console_user")
    if user is None:
        raise HTTPException(status_code=401, detail="Sign in first.")
    return user


def require(role: Role | str) -> Callable[..., ConsoleUser]:
    """A dependency: the signed-in user when their role is ``role`` or above, else 403."""
    needed = Role(role)

    def dependency(user: ConsoleUser = Depends(current_user)) -> ConsoleUser:
        if not user.allows(needed):
            raise HTTPException(status_code=403, detail=f"This needs the {needed.value} role.")
        return user

    dependency.__name__ = f"require_{needed.value}"
    return dependency


def csrf_token(request: Request) -> str:
    """The CSRF token forms of this session carry (``<input name="csrf_token">``)."""
    session = request.scope.get("state", {}).get("console_session")
    return session.csrf if session is not None else ""
