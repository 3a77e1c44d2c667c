"""Prefect operations for admins (``claimwright ops start|stop|status``, ``make serve|stop``).

``start`` brings up, or reuses, a persistent local Prefect stack and configures it:

- a Prefect server (SQLite, 127.0.0.1:4200 by default), detached: it outlives the command. Its
  PREFECT_HOME, pid file and log are under ``$CLAIMWRIGHT_HOME/prefect-server/`` (owner-only);
- the process work pool ``claimwright-process`` with a bounded concurrency limit;
- the global concurrency limits ``portal-<payer>`` (each payer's ``portal.max_sessions``, 1 by
  default) and ``browsers-<host>`` (browsers open at once on this machine);
- every deployment of prefect.yaml (``prefect --no-prompt deploy --all``, CLAIMWRIGHT_ROOT set to
  this project);
- one worker on the pool (``prefect worker start --limit N``), detached, with its pid and log.

Running it again reuses the server and worker that run and updates the pool and limits in place.
``stop`` ends the worker and the server these pid files name, only when the process there is
still the one started (its command line is checked): never a foreign process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from .concurrency import browser_limit_name, portal_limit_name
from .fileio import make_private, open_private, pid_alive, private_dir, write_atomic
from .services import prefect_answers, wait_http
from .settings import PROJECT_DIR, Settings

POOL = "claimwright-process"
DEFAULT_PORT = 4200
DEFAULT_POOL_LIMIT = 4  # flow runs at once on the pool, every worker together
DEFAULT_WORKER_LIMIT = 2  # flow runs at once on the worker this command starts
DEFAULT_BROWSERS = 2  # browsers at once on this host (a 2-core machine)
SERVER, WORKER = "server", "worker"
Echo = Callable[[str], None]


class OpsError(RuntimeError):
    """Something ``ops`` could not do; the message says what and where to look."""


@dataclass(frozen=True)
class Options:
    port: int = DEFAULT_PORT
    pool_limit: int = DEFAULT_POOL_LIMIT
    worker_limit: int = DEFAULT_WORKER_LIMIT
    browsers: int = DEFAULT_BROWSERS
    auth_string: str | None = None  # USER:PASS: the server requires it (basic auth)
    ui: bool = True  # the server serves the Prefect UI
    timeout: float = 120


def state_dir(settings: Settings) -> Path:
    return settings.home / "prefect-server"


def _pid_file(settings: Settings, what: str) -> Path:
    return state_dir(settings) / f"{what}.pid"


def _log_file(settings: Settings, what: str) -> Path:
    return state_dir(settings) / f"{what}.log"


def _state_file(settings: Settings) -> Path:
    return state_dir(settings) / "ops.json"


def worker_name() -> str:
    return f"claimwright-{socket.gethostname().lower()}"


def api_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/api"


# -- processes ----------------------------------------------------------------------------------

def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _is_ours(pid: int, what: str, marker: str) -> bool:
    """Whether ``pid`` runs the ``prefect server|worker start`` we started (``marker``: its port or
    pool on the command line): a pid reused by another program is never ours."""
    words = _cmdline(pid)
    return (pid_alive(pid) and "prefect" in " ".join(words) and what in words
            and "start" in words and marker in words)


def _running(settings: Settings, what: str, marker: str) -> int | None:
    """The pid of our running ``what`` (its pid file names it and it is ours), else None."""
    try:
        pid = int(_pid_file(settings, what).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_ours(pid, what, marker) else None


_DETACHED: list[subprocess.Popen] = []  # kept: this process may poll them while it runs


def _spawn(settings: Settings, what: str, args: list[str],
           env: dict[str, str]) -> subprocess.Popen:
    """Start ``python -m prefect ARGS`` detached (own session, survives this command); its output
    appended to ``<what>.log``, its pid in ``<what>.pid`` (both owner-only)."""
    with open_private(_log_file(settings, what), "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "prefect", *args], env=env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=PROJECT_DIR, start_new_session=True)
    _DETACHED.append(proc)
    _write_private(_pid_file(settings, what), f"{proc.pid}\n")
    return proc


def _stop_pid(pid: int, timeout: float = 20) -> None:
    """SIGTERM the process group ``pid`` leads (the server's or worker's children with it), then
    SIGKILL after ``timeout`` s."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.2)


def _env(settings: Settings, api: str, opts: Options) -> dict[str, str]:
    """The environment of the server and worker: this one, plus where Prefect and the project
    are (absolute: runs execute in CLAIMWRIGHT_ROOT)."""
    env = dict(os.environ, PREFECT_HOME=str(state_dir(settings) / "home"), PREFECT_API_URL=api,
               PREFECT_SERVER_ANALYTICS_ENABLED="false", CLAIMWRIGHT_ROOT=str(PROJECT_DIR),
               PREFECT_SERVER_UI_ENABLED=str(opts.ui).lower(),
               CLAIMWRIGHT_HOME=str(settings.home), CLAIMWRIGHT_OUT=str(settings.out))
    if opts.auth_string:
        env["PREFECT_SERVER_API_AUTH_STRING"] = opts.auth_string  # the server checks it
        env["PREFECT_API_AUTH_STRING"] = opts.auth_string  # clients (worker, deploy) send it
    else:
        env.pop("PREFECT_API_AUTH_STRING", None)
    return env


# -- Prefect objects (through the client) ---------------------------------------------------------

def _client(api: str, auth_string: str | None):
    """A sync Prefect client for ``api``, sending ``auth_string`` when given."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    updates = {PREFECT_API_URL: api}
    if auth_string:
        updates[PREFECT_API_AUTH_STRING] = auth_string
    with temporary_settings(updates=updates):
        return get_client(sync_client=True)


def payer_limits() -> dict[str, int]:
    """``portal-<payer>`` -> its limit: the payer's ``portal.max_sessions`` (1 when its selectors
    file does not load: the safe bound)."""
    from bots.config import ConfigError, configured_payers, load_payer_config

    limits = {}
    for payer in configured_payers():
        try:
            limit = load_payer_config(payer).portal.max_sessions
        except ConfigError:
            limit = 1
        limits[portal_limit_name(payer)] = limit
    return limits


def ensure_pool_and_limits(client, opts: Options) -> dict[str, int]:
    """Create or update the work pool (its concurrency limit) and every global concurrency limit;
    returns the limits by name (the pool's as ``pool:<name>``)."""
    from prefect.client.schemas.actions import (GlobalConcurrencyLimitCreate,
                                                GlobalConcurrencyLimitUpdate, WorkPoolCreate,
                                                WorkPoolUpdate)
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        client.create_work_pool(WorkPoolCreate(
            name=POOL, type="process", concurrency_limit=opts.pool_limit,
            base_job_template=ProcessWorker.get_default_base_job_template(),
            description="Claimwright flow runs (claimwright ops start)"))
    except ObjectAlreadyExists:
        client.update_work_pool(POOL, WorkPoolUpdate(concurrency_limit=opts.pool_limit))
    limits = payer_limits() | {browser_limit_name(): opts.browsers}
    for name, limit in limits.items():
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=limit))
                continue
            except ObjectAlreadyExists:  # another start made it meanwhile
                pass
        client.update_global_concurrency_limit(
            name, GlobalConcurrencyLimitUpdate(limit=limit, active=True))
    return {f"pool:{POOL}": opts.pool_limit} | limits


def deploy_all(env: dict[str, str], echo: Echo) -> None:
    """``prefect --no-prompt deploy --all`` from the project root (updates in place)."""
    began = time.monotonic()
    prefect = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect)] if prefect.exists() else [sys.executable, "-m", "prefect"]
    done = subprocess.run([*cmd, "--no-prompt", "deploy", "--all"], cwd=PROJECT_DIR,
                          env=dict(env, PREFECT_CLI_PROMPT="false"), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise OpsError("prefect deploy --all failed:\n" + (done.stdout + done.stderr)[-3000:])
    echo(f"deployments: prefect.yaml deployed (prefect deploy --all, "
         f"{time.monotonic() - began:.0f} s)")


def _wait_server(settings: Settings, api: str, timeout: float,
                 proc: subprocess.Popen | None = None) -> None:
    try:
        wait_http(f"{api}/health", timeout, proc, _log_file(settings, SERVER))
    except RuntimeError as exc:  # it exited: the log's tail says why
        raise OpsError(str(exc)) from exc
    except TimeoutError as exc:
        raise OpsError(f"{exc}; its log: {_log_file(settings, SERVER)} (`claimwright ops stop` "
                       "stops it)") from exc


def _wait_worker(client, name: str, pid: int, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise OpsError(f"the worker exited before it registered; its log {log}:\n{tail}")
        if any(w.name == name for w in client.read_workers_for_work_pool(POOL)):
            return
        time.sleep(0.5)
    raise OpsError(f"the worker did not register on {POOL} within {timeout:.0f} s; log: {log}")


# -- the commands ----------------------------------------------------------------------------------

def start(settings: Settings, opts: Options, echo: Echo = print) -> dict:
    """Start (or reuse) the server and worker, configure pool, limits and deployments; returns
    what runs (api, ui, server and worker pids, limits)."""
    private_dir(state_dir(settings))
    private_dir(state_dir(settings) / "home")
    previous = _read_state(settings)
    port = previous.get("port", opts.port)
    server = _running(settings, SERVER, str(port))
    if server is None:
        port = opts.port
    api = api_url(port)
    env = _env(settings, api, opts)
    if server is not None:  # ours, running: reuse it (once it answers: it may be booting)
        _wait_server(settings, api, opts.timeout)
        echo(f"server: already running (pid {server}) at {api}")
        if port != opts.port:
            echo(f"  (on port {port}, not {opts.port}: `claimwright ops stop` first to move it)")
    else:
        if prefect_answers(api):
            raise OpsError(f"port {port} already answers and it is not a server ops started: "
                           "stop that server or choose --port")
        proc = _spawn(settings, SERVER, ["server", "start", "--host", "127.0.0.1", "--port",
                                         str(port)], env)
        server = proc.pid
        _write_state(settings, port=port)  # now: `ops stop` finds it even if it never answers
        echo(f"server: started (pid {server}), waiting for {api}/health ...")
        began = time.monotonic()
        _wait_server(settings, api, opts.timeout, proc)
        echo(f"server: ready in {time.monotonic() - began:.0f} s")
    _write_state(settings, port=port)
    with _client(api, opts.auth_string) as client:
        try:
            limits = ensure_pool_and_limits(client, opts)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 401:
                raise OpsError("the server requires basic auth: pass --auth-string USER:PASS "
                               "(or set PREFECT_SERVER_API_AUTH_STRING)") from exc
            raise
        echo(f"work pool: {POOL} (at most {opts.pool_limit} flow runs at once)")
        for name, limit in limits.items():
            if not name.startswith("pool:"):
                echo(f"concurrency limit: {name} = {limit}")
        name = worker_name()
        worker = _running(settings, WORKER, POOL)
        fresh = worker is None
        if fresh:  # started before the deploy: it registers meanwhile
            worker_env = {k: v for k, v in env.items() if k != "PREFECT_SERVER_API_AUTH_STRING"}
            worker = _spawn(settings, WORKER, ["worker", "start", "--pool", POOL, "--limit",
                                               str(opts.worker_limit), "--name", name],
                            worker_env).pid
        deploy_all(env, echo)
        if fresh:
            _wait_worker(client, name, worker, _log_file(settings, WORKER), opts.timeout)
            echo(f"worker: started (pid {worker}) as {name} on {POOL}, "
                 f"at most {opts.worker_limit} flow runs")
        else:
            echo(f"worker: already running (pid {worker}) on {POOL}")
    ui = api.removesuffix("/api")
    echo(f"\nPrefect UI: {ui if opts.ui else '(off: --no-ui)'}")
    echo(f"For the CLI and other workers:\n  export PREFECT_API_URL={api}")
    if opts.auth_string:
        echo("  export PREFECT_API_AUTH_STRING=...   (the same USER:PASS as --auth-string)")
    echo(f"Logs and pid files: {state_dir(settings)}")
    return {"api": api, "ui": ui, "server_pid": server, "worker_pid": worker, "limits": limits}


def stop(settings: Settings, echo: Echo = print) -> list[str]:
    """Stop the worker, then the server, that ``start`` started; returns what was stopped."""
    port = str(_read_state(settings).get("port", DEFAULT_PORT))
    stopped = []
    for what, marker in ((WORKER, POOL), (SERVER, port)):
        pid_file = _pid_file(settings, what)
        pid = _running(settings, what, marker)
        if pid is None:
            if pid_file.exists():
                echo(f"{what}: not running (stale pid file removed; a pid now used by another "
                     "program is never touched)")
                pid_file.unlink()
            else:
                echo(f"{what}: not running")
            continue
        _stop_pid(pid)
        pid_file.unlink(missing_ok=True)
        stopped.append(what)
        echo(f"{what}: stopped (pid {pid})")
    return stopped


def status(settings: Settings, auth_string: str | None = None) -> dict:
    """What runs: the server (URL, health), the worker, the pool, the limits, deployments."""
    port = _read_state(settings).get("port", DEFAULT_PORT)
    api = api_url(port)
    server = _running(settings, SERVER, str(port))
    worker = _running(settings, WORKER, POOL)
    out: dict = {"api": api, "ui": api.removesuffix("/api"), "server_pid": server,
                 "healthy": prefect_answers(api), "worker_pid": worker}
    if not out["healthy"]:
        return out
    from prefect.exceptions import ObjectNotFound

    try:
        with _client(api, auth_string) as client:
            try:
                pool = client.read_work_pool(POOL)
                out["pool"] = {"name": POOL, "limit": pool.concurrency_limit,
                               "workers": sorted(w.name for w in
                                                 client.read_workers_for_work_pool(POOL))}
            except ObjectNotFound:
                out["pool"] = None
            out["limits"] = {gcl.name: gcl.limit for gcl in
                             client.read_global_concurrency_limits(limit=200)
                             if gcl.name.startswith(("portal-", "browsers-"))}
            out["deployments"] = len(client.read_deployments())
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code != 401:
            raise
        out["auth"] = "required: set PREFECT_API_AUTH_STRING"
    return out


def _read_state(settings: Settings) -> dict:
    try:
        return json.loads(_state_file(settings).read_text())
    except (OSError, ValueError):
        return {}


def _write_state(settings: Settings, **values) -> None:
    _write_private(_state_file(settings), json.dumps(_read_state(settings) | values))


def _write_private(path: Path, text: str) -> None:
    write_atomic(path, text.encode())
    make_private(path)  # whatever the umask
