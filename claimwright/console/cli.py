"""``claimwright console ...``: manage the console's users and serve it.

- ``claimwright console user-add NAME --role reviewer``: adds or changes a user; the password is
  prompted twice without echo (or read from stdin with ``--password-stdin``) and never printed.
- ``claimwright console serve [--host 127.0.0.1] [--port 8765]``: runs the console with uvicorn.
"""

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import Annotated

import typer

from ..cli_common import fail as _fail
from ..settings import Settings, SettingsError
from .passwords import MIN_PASSWORD, hash_password
from .users import NAME, Role, UsersFileError, load_users, set_user

console_app = typer.Typer(help="The review console: its users, and serving it.",
                          no_args_is_help=True)


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))
        raise  # unreachable


@console_app.command("user-add")
def user_add(
        name: Annotated[str, typer.Argument(help="User name: lower-case letters, digits, . _ - @")],
        role: Annotated[Role, typer.Option(help="viewer, reviewer or admin.")] = Role.viewer,
        password_stdin: Annotated[bool, typer.Option(
            "--password-stdin", help="Read the password from the first line of stdin.")]
        = False) -> None:
    """Add a console user, or change one's role and password (the users file is written 0600)."""
    if not NAME.match(name):
        _fail(f"user name {name!r}: lower-case letters, digits and . _ - @, 1 to 64 characters")
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < MIN_PASSWORD:
        _fail(f"the password must have at least {MIN_PASSWORD} characters")
    try:
        new = set_user(settings.console_users, name, role, hash_password(password))
    except UsersFileError as exc:
        _fail(f"{exc} (fix the users file first)")
    typer.echo(f"{'added' if new else 'changed'} {name} ({role.value}) in "
               f"{settings.console_users}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@console_app.command()
def serve(host: Annotated[str, typer.Option(help="Address to bind (default: this machine only).")]
          = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765) -> None:
    """Serve the review console (uvicorn). Refuses to start without any user."""
    settings = _settings()
    path = settings.console_users
    if not path.exists():
        _fail(f"no console users file at {path}: add a user first with "
              "claimwright console user-add NAME --role admin (or set CLAIMWRIGHT_CONSOLE_USERS)")
    try:
        users = load_users(path)
    except UsersFileError as exc:
        _fail(str(exc))
    if not users:
        _fail(f"{path} has no users: add one with claimwright console user-add NAME --role admin")
    if not _loopback(host) and not settings.console_secure_cookies:
        typer.echo(f"warning: serving on {host}, beyond this machine, without "
                   "CLAIMWRIGHT_CONSOLE_SECURE_COOKIES=1: put https in front and set it, or "
                   "session cookies can travel in clear text", err=True)
    import uvicorn

    from .app import create_app

    if not logging.getLogger().handlers:  # sign-ins, failures, lockouts: to stderr with uvicorn's
        logging.basicConfig(level=logging.WARNING,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("claimwright.console").setLevel(logging.INFO)

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info",
                server_header=False)
