"""Pytest fixtures for the mock payer portals (import them into conftest.py or a test module).

- ``portal_dataset`` (session): ``(folder, manifest)`` of the northwind synthetic remittances
  (``fixtures.remittances.build_dataset``, anchor 2024-06-28: 14 regular + 2 anomalies).
- ``northwind_portal`` (session): the northwind mock portal running on a free 127.0.0.1 port;
  a :class:`RunningPortal` (``base_url``, ``data_dir``, ``manifest``, ``account``).
- ``northwind_env`` (function): the bot's credential variables and ``CLAIMWRIGHT_NORTHWIND_URL``
  set for that portal (monkeypatched, so nothing leaks between tests).
- ``fast_northwind_config`` (function): the northwind bot config with millisecond backoff and
  short timeouts, for tests of faults.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

SAMPLE_ANCHOR = dt.date(2024, 6, 28)


def write_sample_dataset(payer: str, out_dir: Path, *, count: int = 14,
                         anchor: dt.date = SAMPLE_ANCHOR, ids: list[str] | None = None,
                         days_apart: int = 3) -> dict[str, Any]:
    """A small manifest of tiny one-page reportlab PDFs (the manifest shape of build_dataset),
    for tests that need particular ids or counts.

    Payment dates step back ``days_apart`` days from ``anchor - 1``; ids default to
    ``<PAYER>-RA-0001``... Custom ``ids`` allow odd (even hostile) remittance ids.
    """
    from reportlab.lib.pagesizes import letter
    from reportlab.pdfgen import canvas

    out_dir = Path(out_dir)
    (out_dir / "pdf").mkdir(parents=True, exist_ok=True)
    ids = ids or [f"{payer[:2].upper()}-RA-{n:04d}" for n in range(1, count + 1)]
    entries = []
    for n, rid in enumerate(ids):
        paid = anchor - dt.timedelta(days=1 + n * days_apart)
        amount = Decimal(1000 + 137 * n) + Decimal(n % 100) / 100
        pdf = out_dir / "pdf" / f"doc-{n:04d}.pdf"
        c = canvas.Canvas(str(pdf), pagesize=letter, invariant=1)
        c.setFont("Helvetica", 11)
        c.drawString(72, 720, f"{payer.title()} Health Plan - Remittance Advice (synthetic)")
        c.drawString(72, 700, f"Remittance {rid}  paid {paid.isoformat()}  amount {amount}")
        c.showPage()
        c.save()
        data = pdf.read_bytes()
        entries.append({
            "remittance_id": rid, "payment_date": paid.isoformat(),
            "trace_number": f"EFT{900000 + n:08d}", "payment_method": "ACH" if n % 3 else "CHK",
            "amount": str(amount), "claim_count": 1, "page_count": 1,
            "pdf": f"pdf/{pdf.name}", "truth": None, "sha256": hashlib.sha256(data).hexdigest(),
        })
    manifest = {"payer": payer, "seed": 0, "anchor": anchor.isoformat(), "remittances": entries}
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


def build_portal_dataset(payer: str, out_dir: Path) -> dict[str, Any]:
    """The synthetic dataset of ``fixtures.remittances`` (regular remittances + anomalies)."""
    from fixtures.remittances import build_dataset

    return build_dataset(payer, out_dir, anchor=SAMPLE_ANCHOR)


@dataclass(frozen=True)
class RunningPortal:
    payer: str
    base_url: str
    data_dir: Path
    manifest: dict[str, Any]

    @property
    def account(self):
        from fixtures.portals import demo_account

        return demo_account(self.payer)

    @property
    def payment_dates(self) -> list[dt.date]:
        return sorted(dt.date.fromisoformat(r["payment_date"]) for r in self.manifest["remittances"])


@pytest.fixture(scope="session")
def portal_dataset(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    # A fixed folder: when conftest and a test module both import this fixture, build_dataset
    # finds the first build there and reuses it.
    out_dir = tmp_path_factory.getbasetemp() / "portal-data" / "northwind"
    return out_dir, build_portal_dataset("northwind", out_dir)


@pytest.fixture(scope="session")
def northwind_portal(portal_dataset) -> Iterator[RunningPortal]:
    from fixtures.portals import running_portal

    data_dir, manifest = portal_dataset
    with running_portal("northwind", data_dir) as base_url:
        yield RunningPortal("northwind", base_url, data_dir, manifest)


@pytest.fixture
def northwind_env(northwind_portal, monkeypatch, tmp_path_factory) -> RunningPortal:
    from fixtures.portals import demo_environment

    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path_factory.mktemp("sessions")))
    for name, value in demo_environment("northwind").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CLAIMWRIGHT_NORTHWIND_URL", northwind_portal.base_url)
    return northwind_portal


@pytest.fixture
def fast_northwind_config():
    from bots import load_payer_config

    return load_payer_config("northwind").with_overrides(
        retry={"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
        timeouts={"action_ms": 2500, "navigation_ms": 10000, "download_ms": 10000})


def clean_portal(server: Any, payer: str, monkeypatch: pytest.MonkeyPatch,
                 tmp_path: Path) -> Iterator[Any]:
    """Body of a per-test ``portal`` fixture over a module-scoped portal server: faults and
    counters reset, the bot's credential and URL variables pointing at it, fresh sign-ins (a
    private session folder); everything reset again afterwards. Use with ``yield from``."""
    from fixtures.portals import demo_environment

    state = server.app.state.portal
    for name, value in demo_environment(payer).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(f"CLAIMWRIGHT_{payer.upper()}_URL", server.url)
    monkeypatch.setenv("CLAIMWRIGHT_SESSION_DIR", str(tmp_path / "sessions"))

    def reset() -> None:
        state.set_faults(**type(state.faults)().model_dump())
        state.hits.clear()

    reset()
    yield server
    reset()
    state.expire_all_sessions()


def fast_config(payer: str, *, action_ms: int = 2500, navigation_ms: int = 15000,
                download_ms: int = 15000) -> Any:
    """``payer``'s own config with millisecond backoff and short waits, for fault tests."""
    from bots import load_payer_config

    return load_payer_config(payer).with_overrides(
        retry={"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "jitter_s": 0.01},
        timeouts={"action_ms": action_ms, "navigation_ms": navigation_ms,
                  "download_ms": download_ms})


def portal_state(server: Any) -> Any:
    """The mock portal's state (faults, hit counters, sessions) of a running server."""
    return server.app.state.portal


def manifest_truth(server: Any) -> dict[str, dict]:
    """remittance id -> its manifest entry, for a server with a ``manifest``."""
    return {r["remittance_id"]: r for r in server.manifest["remittances"]}


def trace_blob(fault: Any) -> bytes:
    """All bytes of the Playwright trace a fault kept (asserting it exists)."""
    import zipfile

    trace = Path(fault.context["trace"])
    assert trace.is_file() and trace.name.endswith(".trace.zip")
    with zipfile.ZipFile(trace) as archive:
        return b"".join(archive.read(name) for name in archive.namelist())


def assert_secret_free(fault: Any, log_text: str, account: Any, signed_in: bytes) -> None:
    """No credential of ``account`` in the fault's message or context, the log, or the kept
    trace's bytes — which do hold the signed-in app (``signed_in`` appears in them)."""
    text = f"{fault!s} {fault.message} {fault.context!r} {log_text}"
    for secret in (account.password, account.username):
        assert secret not in text
    blob = trace_blob(fault)
    assert signed_in in blob  # the trace holds the signed-in app...
    for secret in (account.password, account.username):
        assert secret.encode() not in blob  # ...but never the sign-in


def after_sign_in(monkeypatch: pytest.MonkeyPatch, action: Any) -> None:
    """Run ``action`` once, right after the bot's first sign-in (faults that start mid-run):
    the first time a trace starts recording, which happens only once signed in."""
    from bots.evidence import Evidence

    original = Evidence.resume_trace
    done: list[bool] = []

    def resume_trace(self: Any) -> None:
        original(self)
        if not done:
            done.append(True)
            action()

    monkeypatch.setattr(Evidence, "resume_trace", resume_trace)


def module_portal(payer: str, build: Any, **server_options: Any) -> tuple[Any, Any]:
    """The two fixtures of a test module over one mock portal, to assign at module level:
    ``<payer>_server`` (module scope: the portal on a dataset ``build(out_dir)`` writes and
    returns the manifest of; ``.manifest`` and ``.data_dir`` set) and ``portal`` (per test:
    :func:`clean_portal` over it)."""
    @pytest.fixture(scope="module", name=f"{payer}_server")
    def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
        from fixtures.portals import running_portal_server

        data = tmp_path_factory.mktemp(f"{payer}-data")
        manifest = build(data)
        with running_portal_server(payer, data, **server_options) as running:
            running.manifest = manifest
            running.data_dir = data
            yield running

    @pytest.fixture(name="portal")
    def portal(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> Iterator[Any]:
        """The module's portal with clean faults/counters, the bot's env pointing at it, fresh
        sign-ins (a private session folder)."""
        yield from clean_portal(request.getfixturevalue(f"{payer}_server"), payer, monkeypatch,
                                tmp_path)

    return server, portal


def config_error(tmp_path: Path, payer: str, data: dict[str, Any], message: str) -> Any:
    """Load ``data`` as ``<tmp_path>/<payer>.yaml``: the ``ConfigError`` matching ``message``,
    which names the file and is a permanent ``bad-config`` fault."""
    import yaml

    from bots import ConfigError, load_payer_config

    path = tmp_path / f"{payer}.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=message) as info:
        load_payer_config(payer, directory=tmp_path)
    assert str(path) in str(info.value)
    assert info.value.retryable is False and info.value.code == "bad-config"
    return info.value


def maintenance_after_sign_in(server: Any, config: Any, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> Any:
    """Maintenance that starts right after sign-in and outlives the retry budget: the pull's
    fault, checked to be a permanent ``portal-maintenance`` at ``search`` after 3 attempts
    (3 maintenance answers), with a PNG screenshot in ``<tmp_path>/ev`` and nothing saved."""
    from bots import pull_remittances
    from claimwright.errors import SystemFault

    state = portal_state(server)
    after_sign_in(monkeypatch, lambda: state.set_faults(maintenance_first=99))
    evidence = tmp_path / "ev"
    with pytest.raises(SystemFault) as info:
        pull_remittances(config, dt.date(2000, 1, 1), dt.date(2099, 12, 31), tmp_path / "dl",
                         evidence_dir=evidence)
    fault = info.value
    assert fault.code == "portal-maintenance" and fault.retryable is False
    assert fault.context["step"] == "search" and fault.context["attempts"] == 3
    assert state.hits["maintenance"] == 3
    assert Path(fault.context["screenshot"]).parent == evidence
    assert Path(fault.context["screenshot"]).read_bytes().startswith(b"\x89PNG")
    assert not (tmp_path / "dl" / config.payer).exists()
    return fault
