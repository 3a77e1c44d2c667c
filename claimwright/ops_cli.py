"""``claimwright ops start|stop|status``: the persistent local Prefect stack (claimwright.ops)."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from .cli_common import EXIT_SYSTEM
from .cli_common import fail as _fail
from .settings import Settings, SettingsError

ops_app = typer.Typer(help="Prefect operations for admins: server, work pool, limits, "
                      "deployments, worker (docs/operations.md).", no_args_is_help=True)

AUTH_HELP = ("USER:PASS: the server requires basic auth (PREFECT_SERVER_API_AUTH_STRING); the "
             "worker started here sends it. Default: $PREFECT_SERVER_API_AUTH_STRING.")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        _fail(str(exc))


@ops_app.command("start")
def ops_start(
        port: Annotated[int, typer.Option(help="The server's port on 127.0.0.1.")] = 4200,
        pool_limit: Annotated[int, typer.Option(
            min=1, help="Flow runs at once on the work pool claimwright-process.")] = 4,
        worker_limit: Annotated[int, typer.Option(
            min=1, help="Flow runs at once on the worker started here.")] = 2,
        browsers: Annotated[int, typer.Option(
            min=1, help="Browsers at once on this host (limit browsers-<host>).")] = 2,
        auth_string: Annotated[Optional[str], typer.Option(
            envvar="PREFECT_SERVER_API_AUTH_STRING", show_envvar=False, help=AUTH_HELP)] = None,
        ui: Annotated[bool, typer.Option(help="Serve the Prefect UI.")] = True,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for server and worker.")]
        = 120) -> None:
    """Start (or reuse) a persistent Prefect server and worker; create the pool, the limits and every deployment of prefect.yaml. Running it again updates them in place."""  # noqa: E501
    from .ops import Options, OpsError, start

    if auth_string is not None and ":" not in auth_string:
        _fail("--auth-string must be USER:PASS")
    try:
        start(_settings(), Options(port=port, pool_limit=pool_limit, worker_limit=worker_limit,
                                   browsers=browsers, auth_string=auth_string or None,
                                   ui=ui, timeout=timeout), echo=typer.echo)
    except OpsError as exc:
        _fail(str(exc), EXIT_SYSTEM)


@ops_app.command("stop")
def ops_stop() -> None:
    """Stop the worker and the server `claimwright ops start` started (nothing else)."""
    from .ops import stop

    if not stop(_settings(), echo=typer.echo):
        typer.echo("nothing to stop")


@ops_app.command("status")
def ops_status(as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
               ) -> None:
    """The server (URL, health), the worker, the pool, the limits, the deployments."""
    import os

    from .ops import status

    auth = os.environ.get("PREFECT_API_AUTH_STRING") or \
        os.environ.get("PREFECT_SERVER_API_AUTH_STRING")
    got = status(_settings(), auth_string=auth)
    if as_json:
        typer.echo(json.dumps(got, indent=2))
        return
    health = "answers" if got["healthy"] else "does not answer"
    server = (f"pid {got['server_pid']}" if got["server_pid"] else
              "not started by ops" if got["healthy"] else "not running: claimwright ops start")
    typer.echo(f"server: {got['api']} {health} ({server}); UI {got['ui']}")
    typer.echo(f"worker: {'pid %d' % got['worker_pid'] if got['worker_pid'] else 'not running'}")
    if "auth" in got:
        typer.echo(f"auth: {got['auth']}")
    if got.get("pool"):
        pool = got["pool"]
        typer.echo(f"pool: {pool['name']} limit {pool['limit']}, workers: "
                   f"{', '.join(pool['workers']) or 'none'}")
    elif got["healthy"] and "auth" not in got:
        typer.echo("pool: claimwright-process does not exist (claimwright ops start)")
    for name, limit in sorted(got.get("limits", {}).items()):
        typer.echo(f"limit: {name} = {limit}")
    if "deployments" in got:
        typer.echo(f"deployments: {got['deployments']}")
    if got["healthy"]:
        typer.echo(f"export PREFECT_API_URL={got['api']}")
    else:
        raise typer.Exit(EXIT_SYSTEM)
