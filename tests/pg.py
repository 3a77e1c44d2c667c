"""A throwaway PostgreSQL cluster for tests: ``initdb`` + ``pg_ctl`` in a temp dir, listening on
127.0.0.1:<free port> only (its unix socket in the temp dir too), databases ``prefect`` and
``ledger``; stopped (and removed) at the end.

Binaries: ``initdb``/``pg_ctl`` on PATH, else the newest ``/usr/lib/postgresql/*/bin`` (Debian's
``postgresql`` package; ``make postgres`` installs it). PostgreSQL refuses to run as root: as root
the cluster runs as the ``postgres`` user (``runuser -u postgres --``), its dir chowned to it.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

DATABASES = ("prefect", "ledger")


class NoPostgres(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def find_bindir() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``; :class:`NoPostgres` when none."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(os.path.realpath(on_path)).parent
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                         key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit()
                         else 0, reverse=True):
        if os.access(f"{bindir}/initdb", os.X_OK) and os.access(f"{bindir}/pg_ctl", os.X_OK):
            return Path(bindir)
    raise NoPostgres("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in "
                     "/usr/lib/postgresql/*/bin: `make postgres` installs Debian's postgresql")


@dataclass(frozen=True)
class RunningPostgres:
    host: str
    port: int
    user: str
    bindir: Path
    root: Path

    def url(self, database: str, driver: str = "psycopg") -> str:
        """SQLAlchemy URL of ``database`` (driver ``psycopg`` for the ledger, ``asyncpg`` for
        Prefect)."""
        return f"postgresql+{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres"):
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=self.user,
                               dbname=database, autocommit=True, connect_timeout=10)


def unavailable(reason: str) -> None:
    """No PostgreSQL: the tests needing it are skipped here, but fail in CI (``CI=true``), which
    must run them (``make postgres`` installs it)."""
    import pytest

    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"CI must run the PostgreSQL tests: {reason}", pytrace=False)
    pytest.skip(reason)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@contextmanager
def running_postgres(port: int | None = None, timeout: int = 60) -> Iterator[RunningPostgres]:
    """Start a private cluster; yields where it listens. Stopped and removed on exit."""
    from claimwright.services import free_port

    bindir = find_bindir()
    if os.geteuid() == 0:
        import pwd

        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise NoPostgres("PostgreSQL refuses to run as root and there is no `postgres` user "
                             "to run it as (Debian's postgresql package makes one)") from None
    root = Path(tempfile.mkdtemp(prefix="claimwright-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
        shutil.chown(sockets, "postgres", "postgres")
    port = port or free_port()
    user = "postgres"
    try:
        _run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", user, "-A", "trust",
                           "-E", "UTF8", "--no-sync", "--no-instructions"]), timeout)
        options = (f"-h 127.0.0.1 -p {port} -k {sockets} -F -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
                           "-w", "-t", str(timeout), "start"]), timeout + 10, log)
        pg = RunningPostgres("127.0.0.1", port, user, bindir, root)
        try:
            with pg.connect() as conn:
                if conn.execute("SELECT 1 FROM pg_available_extensions "
                                "WHERE name = 'pg_trgm'").fetchone() is None:
                    raise NoPostgres(f"PostgreSQL at {bindir} lacks the pg_trgm extension "
                                     "Prefect needs (Debian: postgresql-contrib)")
                for name in DATABASES:
                    conn.execute(f'CREATE DATABASE "{name}"')
            with pg.connect("prefect") as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            yield pg
        finally:
            subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                         "-w", "stop"]), capture_output=True, timeout=60)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run(cmd: list[str], timeout: int, log: Path | None = None) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, cwd="/")
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        raise RuntimeError(f"{' '.join(cmd[-3:])} failed ({done.returncode}): "
                           f"{done.stderr[-2000:]}{tail}")
