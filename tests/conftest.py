"""Shared fixtures. Browser and Prefect-server fixtures are session-scoped: start once."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """A real local Prefect server (SQLite) for end-to-end flow runs; stopped after the session."""
    from claimwright.services import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-home"), ui=False) as api:
        yield api


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL on 127.0.0.1 with databases ``prefect`` and ``ledger`` (tests/pg.py);
    stopped after the session. No PostgreSQL here: skipped locally, a failure in CI (CI=true)."""
    from pg import NoPostgres, running_postgres, unavailable

    try:
        with running_postgres() as pg:
            yield pg
    except NoPostgres as exc:
        unavailable(str(exc))


@pytest.fixture(scope="session")
def remittance_dataset(tmp_path_factory):
    """``remittance_dataset(payer, anchor, **options)`` -> ``(directory, manifest)``: the
    synthetic dataset of ``fixtures.remittances.build_dataset``, built once per session for each
    distinct set of arguments."""
    from fixtures.remittances import build_dataset

    built: dict[tuple, tuple] = {}

    def dataset(payer: str, anchor, **options):
        key = (payer, anchor, tuple(sorted(options.items())))
        if key not in built:
            out = tmp_path_factory.mktemp(payer)
            built[key] = (out, build_dataset(payer, out, anchor=anchor, **options))
        return built[key]

    return dataset


@pytest.fixture(scope="session", autouse=True)
def _close_shared_browser():
    """The test run shares ONE Chromium: the main thread's (``bots.browser.thread_browser``),
    which every bot called from a test reuses (a fresh context per pull or status check). It
    starts on first use and is closed when the session ends."""
    yield
    from bots.browser import close_thread_browser

    close_thread_browser()


@pytest.fixture(scope="session")
def shared_browser(_close_shared_browser):
    """The test run's one Chromium (for tests that open their own context)."""
    from bots.browser import thread_browser

    return thread_browser()


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """CLAIMWRIGHT_HOME / CLAIMWRIGHT_OUT in a temp dir: nothing leaks between tests."""
    from claimwright.settings import Settings

    monkeypatch.setenv("CLAIMWRIGHT_HOME", str(tmp_path / "var"))
    monkeypatch.setenv("CLAIMWRIGHT_OUT", str(tmp_path / "out"))
    monkeypatch.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
    return Settings.from_env()


from portal_fixtures import (  # noqa: E402,F401  (shared mock-portal fixtures)
    fast_northwind_config,
    northwind_env,
    northwind_portal,
    portal_dataset,
)
