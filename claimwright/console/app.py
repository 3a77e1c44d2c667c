"""The review console's web app shell: sign-in, sessions, roles, CSRF, security headers.

:func:`create_app` builds a FastAPI app with server-rendered Jinja2 pages. Here are
``GET/POST /login``, ``POST /logout``, ``GET /health`` and the one stylesheet; the review pages
(the queue at ``/``, items, evidence, overview) are in :mod:`.pages`. What keeps it locked is in
:mod:`.auth` (the :class:`~.auth.Guard` middleware) and :mod:`.sessions`; docs/console.md explains it for admins.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..settings import Settings
from .actions import add_actions
from .auth import COOKIE, CSS_PATH, ConsoleUser, Guard, csrf_token, current_user
from .pages import add_pages
from .passwords import hash_password, verify_password
from .sessions import Clock, Session, SessionStore, Throttle
from .users import UsersFileError, load_users

log = logging.getLogger("claimwright.console")
HERE = Path(__file__).resolve().parent
LIFETIME_HOURS = 8  # a session ends this long after sign-in, however busy
FAILURES_PER_USER = 5  # failed sign-ins per user name within the window lock that name
FAILURES_PER_ADDRESS = 20  # ... per client address (higher: an office may share one address)
THROTTLE_MINUTES = 15  # the window and the lockout
FAILED = "The user name or password is not right."
LOCKED = f"Too many failed sign-ins. Try again in {THROTTLE_MINUTES} minutes."
UNKNOWN_USER = "(unknown user)"  # logged instead of a name nobody has (it may be a password)

EventHook = Callable[[str, str, dict[str, Any]], None]


def log_event(actor: str, action: str, detail: dict[str, Any]) -> None:
    """The default ``on_event``: one log line (user name, action, client address; no secrets)."""
    log.info("console %s: %s %s", action, actor,
             " ".join(f"{k}={v}" for k, v in sorted(detail.items())))


@dataclass
class Console:
    """What the app and its :class:`~.auth.Guard` share (``app.state.console``)."""

    settings: Settings
    store: SessionStore
    user_throttle: Throttle
    address_throttle: Throttle
    on_event: EventHook
    dummy_hash: str  # verified for unknown names, so they take as long as known ones
    templates: Jinja2Templates | None = None
    images: Any = None  # the rendered evidence images (.pages)
    _ledger: Any = None

    def users(self):
        return load_users(self.settings.console_users)

    def signed_in(self, token: str | None) -> tuple[Session | None, ConsoleUser | None]:
        """The session of ``token`` and its user, as the users file says now (a user removed
        from the file is signed out; a changed role counts from the next request)."""
        session = self.store.get(token)
        if session is None or session.user is None:
            return session, None
        try:
            entry = self.users().get(session.user)
        except UsersFileError as exc:
            log.error("console users file: %s", exc)
            entry = None
        if entry is None:
            self.store.delete(session.token)
            return None, None
        return session, ConsoleUser(session.user, entry.role)

    def render(self, request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
        """A page from ``templates/`` (every page gets ``csrf_token`` for its forms)."""
        return self.templates.TemplateResponse(
            request, name, {"csrf_token": csrf_token(request), **context}, status_code=status)

    def ledger(self):
        """The ledger of the settings, opened once per app (SQLAlchemy pools connections)."""
        if self._ledger is None:
            from ..storage import Ledger

            self._ledger = Ledger(self.settings.database_url)
        return self._ledger

    def queue(self):
        """The review queue over :meth:`ledger`."""
        from ..review import ReviewQueue

        return ReviewQueue(self.ledger())

    def secure(self, request: Request) -> bool:
        return self.settings.console_secure_cookies or request.url.scheme == "https"

    def set_cookie(self, request: Request, response: Response, session: Session) -> None:
        response.set_cookie(COOKIE, session.token, httponly=True, samesite="lax",
                            secure=self.secure(request), path="/")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               on_event: EventHook | None = None) -> FastAPI:
    """The console app. ``clock`` gives seconds (``time.monotonic``); ``on_event(actor, action,
    detail)`` hears sign-ins, failures, lockouts and sign-outs (default: :func:`log_event`)."""
    settings = settings or Settings.from_env()
    clock = clock or time.monotonic
    if settings.console_idle_minutes < 1:
        raise ValueError("CLAIMWRIGHT_CONSOLE_IDLE_MINUTES must be at least 1")
    window = THROTTLE_MINUTES * 60.0
    console = Console(
        settings=settings,
        store=SessionStore(idle=settings.console_idle_minutes * 60.0,
                           lifetime=LIFETIME_HOURS * 3600.0, clock=clock),
        user_throttle=Throttle(limit=FAILURES_PER_USER, window=window, lockout=window,
                               clock=clock),
        address_throttle=Throttle(limit=FAILURES_PER_ADDRESS, window=window, lockout=window,
                                  clock=clock),
        on_event=on_event or log_event,
        dummy_hash=hash_password("not anyone's password"))
    app = FastAPI(title="Claimwright review console", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.console = console
    app.add_middleware(Guard, console=console)
    console.templates = Jinja2Templates(directory=HERE / "templates")
    stylesheet = (HERE / "static" / "console.css").read_bytes()
    page = console.render

    @app.get("/health", response_class=PlainTextResponse)
    def health() -> str:
        return "ok"

    @app.get(CSS_PATH)
    def css() -> Response:
        return Response(stylesheet, media_type="text/css")

    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request) -> Response:
        if request.state.console_user is not None:
            return RedirectResponse("/", status_code=303)
        return _login_page(request, "", 200)

    def _login_page(request: Request, message: str, status: int) -> Response:
        session = request.state.console_session
        if session is None:
            session = request.state.console_session = console.store.create(None)
        response = page(request, "login.html", status, message=message)
        console.set_cookie(request, response, session)
        return response

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form()
        name = str(form.get("username") or "").strip().lower()[:64]
        password = str(form.get("password") or "")
        address = request.client.host if request.client else "unknown"
        user_key, address_key = f"user:{name}", f"address:{address}"
        try:
            entry = console.users().get(name)
        except UsersFileError as exc:
            log.error("console users file: %s", exc)
            return _login_page(request, "Sign-in is not available: the users file has an "
                               "error (see the server log).", 503)
        actor = name if entry is not None else UNKNOWN_USER
        if console.user_throttle.locked(user_key) or console.address_throttle.locked(address_key):
            console.on_event(actor, "sign-in refused (locked)", {"client": address})
            return _login_page(request, LOCKED, 429)
        good = verify_password(password, entry.password_hash if entry else console.dummy_hash)
        if not good or entry is None:
            console.on_event(actor, "sign-in failed", {"client": address})
            for throttle, key, by in ((console.user_throttle, user_key, "user name"),
                                      (console.address_throttle, address_key, "address")):
                if throttle.fail(key):
                    console.on_event(actor, "sign-in locked", {"client": address, "by": by})
            return _login_page(request, FAILED, 401)
        console.user_throttle.reset(user_key)
        session = console.store.rotate(request.state.console_session, name)
        console.on_event(name, "sign-in", {"client": address, "role": entry.role.value})
        response = RedirectResponse("/", status_code=303)
        console.set_cookie(request, response, session)
        return response

    @app.post("/logout")
    def logout(request: Request) -> Response:
        user = current_user(request)
        console.store.delete(request.state.console_session.token)
        console.on_event(user.name, "sign-out", {})
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                               secure=console.secure(request))
        return response

    add_pages(app, console)
    add_actions(app, console)
    return app
