"""Shared fixtures. Browser and Prefect-server fixtures are session-scoped: start once."""

from __future__ import annotations

import contextlib

import pytest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """A real local Prefect server (SQLite) for end-to-end flow runs; stopped after the session."""
    from claimwright.services import prefect_server

    with prefect_server(tmp_path_factory.mktemp("prefect-home"), ui=True) as api:
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


# ---- the northwind demo data worked once per session ------------------------------------------
# Many tests start from the same state: the northwind dataset with its supporting documents and
# claim export, imported and run through the pipeline (parse -> decide -> outputs). Building it
# takes seconds each time; the session builds it once per variant in its own workspace and each
# test gets a COPY of that workspace (var/ and out/, the SQLite ledger copied with SQLite's
# backup), its absolute paths rewritten to the test's own folders.

_PATH_FILES = (".csv", ".json")  # text outputs that may name absolute paths (appeals-queue.csv)


@pytest.fixture(scope="session")
def worked_northwind(tmp_path_factory, remittance_dataset):
    """``worked_northwind(settings, downloads=False, appeals_queue=False) -> (counts, written)``:
    ``settings``' workspace holds the northwind demo data worked once, exactly as if the test
    had run, itself: ``write_documents(settings.documents, folder)``, ``write_claim_export``,
    ``import_document`` of every remittance (from the dataset folder, or with ``downloads``
    copied first to ``home/downloads/northwind`` as the pull puts them), ``process_documents``,
    ``write_outputs(as_of=SAMPLE_ANCHOR)`` and, with ``appeals_queue``,
    ``write_appeals_queue(ctx, SAMPLE_ANCHOR)``. ``counts`` is the run's Counts, ``written`` what
    ``write_documents`` returned. Each call is a fresh copy: tests may change it freely."""
    import copy

    built: dict[tuple, tuple] = {}

    def worked(settings, *, downloads: bool = False, appeals_queue: bool = False):
        key = (downloads, appeals_queue)
        if key not in built and appeals_queue:  # the plain run's copy, then the queue
            root = tmp_path_factory.mktemp("worked-northwind")
            counts, written = worked(_settings_at(root), downloads=downloads)
            _write_appeals_queue(root)
            built[key] = (root, counts, written)
        if key not in built:
            root = tmp_path_factory.mktemp("worked-northwind")
            built[key] = (root, *_work_northwind(root, remittance_dataset, downloads))
        root, counts, written = built[key]
        _restore_workspace(root, settings)
        return copy.deepcopy(counts), copy.deepcopy(written)

    return worked


def _settings_at(root):
    from claimwright.settings import Settings

    return Settings.from_env({"CLAIMWRIGHT_HOME": str(root / "var"),
                              "CLAIMWRIGHT_OUT": str(root / "out")})


@contextlib.contextmanager
def _environment_at(root):
    """CLAIMWRIGHT_HOME / CLAIMWRIGHT_OUT under ``root`` (SQLite ledger there) for the block; the
    data files cached before and after are forgotten, so nothing leaks into the tests."""
    from claimwright import datafiles

    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLAIMWRIGHT_HOME", str(root / "var"))
        env.setenv("CLAIMWRIGHT_OUT", str(root / "out"))
        env.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
        datafiles.forget()
        try:
            yield
        finally:
            datafiles.forget()


def _write_appeals_queue(root) -> None:
    from portal_fixtures import SAMPLE_ANCHOR

    from claimwright.pipeline import Context
    from claimwright.pipeline.appeals_queue import write_appeals_queue

    with _environment_at(root):
        ctx = Context.from_settings()
        try:
            write_appeals_queue(ctx, SAMPLE_ANCHOR)
        finally:
            ctx.ledger.close()


def _work_northwind(root, remittance_dataset, downloads: bool):
    import shutil
    from pathlib import Path

    from portal_fixtures import SAMPLE_ANCHOR

    from claimwright.pipeline import Context, import_document, process_documents, write_outputs
    from claimwright.settings import Settings
    from fixtures.documents import write_documents
    from fixtures.remittances.claim_export import write_claim_export

    folder, manifest = remittance_dataset("northwind", SAMPLE_ANCHOR)
    with _environment_at(root):
        settings = Settings.from_env()
        written = write_documents(settings.documents, folder)
        write_claim_export(settings.claim_export, [manifest])
        ctx = Context.from_settings(settings)
        try:
            into = settings.home / "downloads" / "northwind"
            if downloads:
                into.mkdir(parents=True, exist_ok=True)
            for entry in manifest["remittances"]:
                pdf = folder / entry["pdf"]
                if downloads:
                    pdf = Path(shutil.copy(pdf, into / entry["pdf"]))
                import_document(ctx, "northwind", pdf, entry["remittance_id"])
            counts = process_documents(ctx, "northwind")
            write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)
        finally:
            ctx.ledger.close()
    return counts, written


def _restore_workspace(root, settings) -> None:
    """Copy the workspace under ``root`` (var/, out/) into ``settings``' home and out; every
    absolute path into them (ledger rows, CSV/JSON outputs) names the copy instead."""
    import os
    import shutil
    import sqlite3

    moves = [(str(root / "var"), str(settings.home)), (str(root / "out"), str(settings.out))]
    db_name = "claimwright.db"
    skip = shutil.ignore_patterns(db_name, f"{db_name}-wal", f"{db_name}-shm")
    shutil.copytree(root / "var", settings.home, dirs_exist_ok=True, ignore=skip)
    shutil.copytree(root / "out", settings.out, dirs_exist_ok=True)
    for top in (settings.home, settings.out):
        for path in top.rglob("*"):
            if path.suffix in _PATH_FILES and path.is_file():
                text = path.read_text(encoding="utf-8")
                if any(old in text for old, _ in moves):
                    st = path.stat()
                    for old, new in moves:
                        text = text.replace(old, new)
                    path.write_text(text, encoding="utf-8")
                    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    # the ledger: SQLite's backup into the test's database (which may be open already)
    target = settings.database_url.removeprefix("sqlite:///")
    assert target != settings.database_url, "worked_northwind copies SQLite ledgers only"
    os.makedirs(os.path.dirname(target), exist_ok=True)
    src, dst = sqlite3.connect(root / "var" / db_name), sqlite3.connect(target)
    try:
        src.backup(dst)
        tables = [r[0] for r in dst.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        with dst:
            for table in tables:
                for column in [r[1] for r in dst.execute(f"PRAGMA table_info([{table}])")]:
                    for old, new in moves:
                        dst.execute(f"UPDATE [{table}] SET [{column}] = "
                                    f"replace([{column}], ?, ?) WHERE typeof([{column}]) = "
                                    f"'text' AND instr([{column}], ?) > 0", (old, new, old))
    finally:
        src.close()
        dst.close()
    os.chmod(target, 0o600)


@pytest.fixture(scope="session")
def nightly_northwind(tmp_path_factory, prefect_api, request):
    """The nightly flow run once over the northwind portal on the session's Prefect server, in
    its own workspace (as ``workspace`` + ``northwind_env`` would set it up):
    ``nightly_northwind(settings, sessions=None) -> (state, results)``, ``state`` the flow run's
    final state (``return_state=True``), ``results`` its list of per-payer counts; ``settings``'
    workspace then holds a copy of what the run left (var/, out/; see :func:`worked_northwind`),
    and the folder ``sessions`` the run's saved sign-in. The run's parameters are
    ``nightly_params``. Tests that read only the Prefect side pass None."""
    import copy
    import shutil

    from flows.nightly import nightly_denials
    from fixtures.portals import demo_environment

    portal = request.getfixturevalue("northwind_portal")
    root = tmp_path_factory.mktemp("nightly-northwind")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLAIMWRIGHT_HOME", str(root / "var"))
        env.setenv("CLAIMWRIGHT_OUT", str(root / "out"))
        env.delenv("CLAIMWRIGHT_DATABASE_URL", raising=False)
        env.setenv("CLAIMWRIGHT_SESSION_DIR", str(root / "sessions"))
        for name, value in demo_environment("northwind").items():
            env.setenv(name, value)
        env.setenv("CLAIMWRIGHT_NORTHWIND_URL", portal.base_url)
        state = nightly_denials(**nightly_params(portal), return_state=True)
        results = state.result()

    def run(settings, sessions=None):
        if settings is not None:
            _restore_workspace(root, settings)
        if sessions and (root / "sessions").is_dir():  # the run's saved sign-in, too
            shutil.copytree(root / "sessions", sessions, dirs_exist_ok=True)
        return state, copy.deepcopy(results)

    return run


def nightly_params(portal) -> dict:
    """The nightly flow's parameters over all of ``portal``'s remittances."""
    from portal_fixtures import SAMPLE_ANCHOR

    return dict(payers=["northwind"], start=portal.payment_dates[0], end=SAMPLE_ANCHOR,
                portal_urls={"northwind": portal.base_url})
