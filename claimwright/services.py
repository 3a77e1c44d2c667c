"""Local services for the demo, one-off runs and end-to-end tests: a Prefect server (SQLite) on
127.0.0.1.

Prefect's ephemeral mode is slow and prints "database is locked" under concurrency, so the demo
and the end-to-end tests run flows against a real ``prefect server start``; it is stopped again
by the same context manager that started it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from .fileio import open_private, private_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float, proc: subprocess.Popen | None = None,
              log_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:] if log_path else ""
            raise RuntimeError(f"service exited with code {proc.returncode} before {url} "
                               f"answered:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@contextmanager
def prefect_server(home: Path, *, port: int | None = None, ui: bool = True,
                   timeout: float = 120, database_url: str | None = None) -> Iterator[str]:
    """Start ``prefect server start`` with its own PREFECT_HOME; yields the API URL.

    ``database_url``: Prefect's own database (``PREFECT_API_DATABASE_CONNECTION_URL``, e.g.
    ``postgresql+asyncpg://user@host:5432/prefect``; the database must exist and have the
    ``pg_trgm`` extension available); default: SQLite under ``home``.

    Sets PREFECT_API_URL for the duration, both in the environment (child processes) and in
    Prefect's settings context (Prefect reads the environment only once, at import).
    """
    private_dir(home)
    port = port or free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = dict(os.environ, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_UI_ENABLED=str(ui).lower(), PREFECT_API_URL=api,
               PREFECT_SERVER_API_HOST="127.0.0.1", PREFECT_SERVER_API_PORT=str(port))
    if database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
    log_path = home / "server.log"
    with open_private(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
             "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    previous = {k: os.environ.get(k) for k in ("PREFECT_API_URL", "PREFECT_HOME")}
    try:
        wait_http(f"{api}/health", timeout, proc, log_path)
        os.environ["PREFECT_API_URL"] = api
        os.environ["PREFECT_HOME"] = str(home)
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api}):
            try:
                yield api
            finally:
                flush_prefect()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prefect_answers(api: str, timeout: float = 3) -> bool:
    """Whether the Prefect API at ``api`` answers its health check (a 401 of a server behind
    basic auth counts: it is there)."""
    try:
        return httpx.get(f"{api.rstrip('/')}/health", timeout=timeout).status_code < 500
    except httpx.HTTPError:
        return False


def prefect_refuses(api: str, timeout: float = 3) -> bool:
    """Whether the Prefect API at ``api`` refuses this process (401: it requires basic auth and
    PREFECT_API_AUTH_STRING is not set, or wrong)."""
    import base64

    from prefect.settings import PREFECT_API_AUTH_STRING

    auth = PREFECT_API_AUTH_STRING.value()
    auth = auth.get_secret_value() if hasattr(auth, "get_secret_value") else auth
    headers = {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()} if auth \
        else {}
    try:
        return httpx.get(f"{api.rstrip('/')}/admin/version", headers=headers,
                         timeout=timeout).status_code == 401
    except httpx.HTTPError:
        return False


@contextmanager
def prefect_for_run(home: Path, echo: Callable[[str], None]) -> Iterator[str]:
    """The Prefect API a one-off run (``claimwright run``, ``status-check``) talks to; yields its
    URL. ``PREFECT_API_URL`` (environment or Prefect profile) when set: it must answer, else a
    :class:`SystemFault` at once, saying what to do. Unset: a local server under ``home`` for
    the run (as the demo does), said in one line through ``echo``; never Prefect's ephemeral
    mode, which can take ~50 s to fail on a first start."""
    from prefect.settings import PREFECT_API_URL

    from .errors import SystemFault

    api = PREFECT_API_URL.value()
    if api:
        if not prefect_answers(api):
            raise SystemFault(
                f"PREFECT_API_URL={api} does not answer: start that server (prefect server "
                "start) or unset PREFECT_API_URL to run on a local server started for this run",
                retryable=False)
        if prefect_refuses(api):
            raise SystemFault(
                f"the Prefect server at {api} requires basic auth: set PREFECT_API_AUTH_STRING="
                "USER:PASS (docs/operations.md, \"Basic auth\")", retryable=False)
        yield api
        return
    echo(f"No Prefect server set (PREFECT_API_URL): starting a local one for this run "
         f"(its history in {home}) ...")
    with ExitStack() as stack:
        try:  # only the start is caught: errors of the run itself are the run's
            api = stack.enter_context(prefect_server(home, ui=False))
        except (RuntimeError, TimeoutError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise SystemFault(f"the local Prefect server did not start ({reason}); its log: "
                              f"{home / 'server.log'}", retryable=False) from exc
        yield api


def flush_prefect() -> None:
    """Send buffered run logs and events (task runs reach the server as events) now: before the
    server goes away (else: "Error logging to API"), or before reading them back."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=10)
    EventsWorker.drain_all(timeout=10)
