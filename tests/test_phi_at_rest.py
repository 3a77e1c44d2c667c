"""PHI at rest: everything the project writes under its home and output folders is owner-only
(0700 folders, 0600 files) after a demo-sized run, the start-up check finds what is not, and a
kept Playwright trace holds no session cookie or authorization header."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from portal_fixtures import maintenance_after_sign_in, module_portal, portal_state, \
    write_sample_dataset

WIDE = (dt.date(2000, 1, 1), dt.date(2099, 12, 31))
_HEADERS = (b"cookie", b"set-cookie", b"authorization", b"proxy-authorization")

northwind_server, portal = module_portal(
    "northwind", lambda folder: write_sample_dataset("northwind", folder, count=3))


def _issued_tokens(server, monkeypatch) -> list[str]:
    """Every session token the portal hands out from now on (the cookies' values)."""
    state = portal_state(server)
    issued: list[str] = []
    original = state.open_session

    def open_session(username: str) -> str:
        issued.append(original(username))
        return issued[-1]

    monkeypatch.setattr(state, "open_session", open_session)
    return issued


def _zip_bytes(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        return b"".join(archive.read(name) for name in archive.namelist())


@pytest.mark.browser
def test_a_kept_trace_holds_no_session_cookie_or_authorization_header(
        portal, tmp_path, monkeypatch, fast_northwind_config):
    issued = _issued_tokens(portal, monkeypatch)
    fault = maintenance_after_sign_in(portal, fast_northwind_config, tmp_path, monkeypatch)
    trace = Path(fault.context["trace"])
    blob = _zip_bytes(trace)
    assert issued, "the bot signed in: the portal issued a session cookie"
    assert b"Scheduled maintenance" in blob  # still the trace of the failed step
    for token in issued:
        assert token.encode() not in blob
    lowered = blob.lower()
    for header in _HEADERS:
        assert b'"' + header + b'"' not in lowered, header
    assert b"NWSESSION" not in blob


# permissions after a demo-sized run ------------------------------------------------------------
def _not_private(*roots: Path) -> list[str]:
    """Every dir under ``roots`` that is not 0700 and every file that is not 0600."""
    wrong = []
    for root in roots:
        for path in [root, *root.rglob("*")]:
            mode = path.lstat().st_mode & 0o777
            want = 0o700 if path.is_dir() else 0o600
            if mode != want:
                wrong.append(f"{oct(mode)} {path.relative_to(root.parent)}")
    return wrong


@pytest.fixture
def shared_umask():
    """A umask that lets group and others read (022): the writers must make files private
    themselves, not rely on the entry points' umask."""
    old = __import__("os").umask(0o022)
    yield
    __import__("os").umask(old)


@pytest.mark.browser
def test_a_demo_sized_run_leaves_home_and_out_owner_only(
        shared_umask, workspace, northwind_env, portal, tmp_path, monkeypatch,
        fast_northwind_config):
    from portal_fixtures import SAMPLE_ANCHOR

    from claimwright.pipeline import Context, process_documents, pull_payer, write_outputs
    from claimwright.reports.months import Month
    from claimwright.reports.render import write_feedback_report

    env = northwind_env
    ctx = Context.from_settings()
    try:
        counts = pull_payer(ctx, "northwind", env.payment_dates[0], SAMPLE_ANCHOR,
                            base_url=env.base_url)
        assert counts.errors == [] and counts.downloaded >= 11
        process_documents(ctx, "northwind", counts)
        write_outputs(ctx, "northwind", as_of=SAMPLE_ANCHOR, counts=counts)
        assert counts.review_opened >= 1  # the unbalanced anomaly: review items exist
        files = write_feedback_report(workspace, ctx.ledger, Month.of(SAMPLE_ANCHOR))
        assert files.pdf.is_file()
    finally:
        ctx.ledger.close()
    # a fault keeps a screenshot and a trace in the evidence folder
    fault = maintenance_after_sign_in(portal, fast_northwind_config, workspace.home, monkeypatch)
    assert Path(fault.context["trace"]).is_file()
    assert list(workspace.packets.rglob("*.pdf")) and list(workspace.worklist.parent.glob("*.xlsx"))
    assert (workspace.home / "claimwright.db").is_file()
    wrong = _not_private(workspace.home, workspace.out)
    assert wrong == [], "\n".join(wrong)
